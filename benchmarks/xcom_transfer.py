"""Export/import throughput of ``xcomkit xcom export`` / ``import`` on SQLite.

    .venv/bin/python benchmarks/xcom_transfer.py [--xcoms 10000] [--workers 16] [--bulk-only]

For each path, the bulk one (the CLI's default against xcomkit: ``/xcomkit/v1``) and the
per-XCom REST one (``--per-xcom``, what a real Airflow gets), it starts two xcomkit
servers (``xcomkit serve``, one worker, fresh SQLite files, the demo DAG), then, each
timed as a user runs it (the CLI as a subprocess, start-up included):

1. ``import`` of a generated JSONL file of N XComs on ``xcom_demo/run_1`` into server A;
2. ``export xcom_demo run_1`` from A;
3. ``import`` of that export into the empty server B, then ``export`` of B, which must
   equal A's export line for line (the stores are equal).

Both paths' exports must be equal too. A table puts the two paths' rates side by side.

Prints XComs/s for each step, with the CPU milliseconds per XCom of the CLI and of the
server, the server's ceiling (XComs/s one server process could reach on a core of its
own, from its CPU per XCom), and how much of the step's time the server spent on a CPU
or waiting for one (near 100% together: the server was the bound). Linux only (``/proc``).
Numbers only: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import free_port, stopper, wait_ready, xcomkit_bin

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo_dags.yaml"
USER = "bench"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sched_seconds(pid: int) -> tuple[float, float]:
    """``(on-CPU, waiting for a CPU)`` seconds of every thread of ``pid`` so far (Linux
    ``/proc/<pid>/task/*/schedstat``): a server whose two add up to the wall time was the
    bound, whether it ran or waited for a core the machine's other work held."""
    running = waiting = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            on_cpu, queued, _ = stat.read_text().split()
        except (OSError, ValueError):
            continue  # a thread that just ended
        running += int(on_cpu)
        waiting += int(queued)
    return running / 1e9, waiting / 1e9


def start(workdir: Path, name: str) -> tuple[str, object, int]:
    db = f"sqlite:///{workdir / (name + '.db')}"
    password = secrets.token_urlsafe(16)
    subprocess.run(
        [xcomkit_bin(), "users", "create", USER, "--role", "admin", "--password", password,
         "--db", db],
        check=True, capture_output=True, cwd=workdir,
    )  # fmt: skip
    port = free_port()
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [xcomkit_bin(), "serve", "--db", db, "--dags", str(DEMO), "--port", str(port)],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, f"{url}/api/v2/monitor/health", started, 60)
    subprocess.run(
        [xcomkit_bin(), "login", "--api-url", url, "-u", USER],
        input=password + "\n", text=True, check=True, capture_output=True, cwd=workdir,
    )  # fmt: skip
    return url, stopper(proc), proc.pid


def cli(workdir: Path, *args: str, stdout: object = subprocess.PIPE) -> tuple[float, float, str]:
    """Run ``xcomkit xcom ARGS``; return ``(wall seconds, its CPU seconds, output)``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [xcomkit_bin(), "xcom", *args], cwd=workdir, stdout=stdout, stderr=subprocess.PIPE,
        text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if result.returncode != 0:
        raise RuntimeError(f"xcomkit xcom {' '.join(args)}: {result.stderr}")
    return elapsed, cpu, (result.stdout or "") + result.stderr


def records(n: int) -> str:
    tasks = ("extract", "transform", "load")
    lines = []
    for i in range(n):
        value: object = [i, {"big": 2**70 + i, "f": i / 7, "s": f"v{i}"}] if i % 2 else i
        lines.append(
            json.dumps(
                {
                    "dag_id": "xcom_demo",
                    "run_id": "run_1",
                    "task_id": tasks[i % 3],
                    "map_index": -1 if i % 5 else i,
                    "key": f"key_{i:06}",
                    "value": value,
                }
            )
        )
    return "\n".join(lines) + "\n"


def step(
    name: str, xcoms: int, server_pid: int, workdir: Path, *args: str, stdout: object = None
) -> dict[str, float]:
    """Run one timed CLI step against the server ``server_pid``; print and return its figures.

    Returns:
        ``{"rate"`` (XComs/s, wall clock, CLI start-up included), ``"seconds"``,
        ``"client_ms"``, ``"server_ms"`` (CPU milliseconds per XCom of the CLI process
        and of the server process)``}``.
    """
    server_before = cpu_seconds(server_pid)
    ran_before, waited_before = sched_seconds(server_pid)
    if stdout is None:
        seconds, client_cpu, out = cli(workdir, *args)
    else:
        seconds, client_cpu, out = cli(workdir, *args, stdout=stdout)
    server_cpu = cpu_seconds(server_pid) - server_before
    ran, waited = sched_seconds(server_pid)
    figures = {
        "rate": round(xcoms / seconds),
        "seconds": round(seconds, 2),
        "client_ms": round(client_cpu * 1000 / xcoms, 3),
        "server_ms": round(server_cpu * 1000 / xcoms, 3),
        # What one server process could do if it had a core to itself: 1 / its CPU per XCom.
        "server_ceiling": round(xcoms / server_cpu) if server_cpu else 0,
        "server_on_cpu": round((ran - ran_before) / seconds, 2),
        "server_waiting_for_cpu": round((waited - waited_before) / seconds, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(
        f"{name:<15} {figures['rate']:8,} XComs/s  ({seconds:.2f} s) {out.strip()}\n"
        f"{'':15} CPU per XCom: client {figures['client_ms']:.2f} ms, server "
        f"{figures['server_ms']:.2f} ms (one server process's ceiling "
        f"{figures['server_ceiling']:,}/s); server threads on a CPU "
        f"{figures['server_on_cpu']:.0%} and waiting for one "
        f"{figures['server_waiting_for_cpu']:.0%} of the time (summed); load average "
        f"{figures['load_average']}"
    )
    return figures


def run_path(
    workdir: Path, source: Path, xcoms: int, flags: list[str], name: str
) -> tuple[dict[str, object], list[str]]:
    """The three timed steps on two fresh servers, the CLI run with ``flags``; returns
    the figures (``import_a``, ``export_a``, ``import_b``, ``stores_equal``) and A's export."""
    print(f"-- {name} path --")
    a_url, stop_a, a_pid = start(workdir, f"{name}-a")
    b_url, stop_b, b_pid = start(workdir, f"{name}-b")
    try:
        import_a = step("import into A", xcoms, a_pid, workdir,
                        "import", str(source), "--api-url", a_url, *flags)  # fmt: skip
        exported = workdir / f"{name}-a.jsonl"
        with exported.open("w") as f:
            export_a = step("export from A", xcoms, a_pid, workdir,
                            "export", "xcom_demo", "run_1", "--api-url", a_url, *flags,
                            stdout=f)  # fmt: skip
        import_b = step("import into B", xcoms, b_pid, workdir,
                        "import", str(exported), "--api-url", b_url, *flags)  # fmt: skip
        again = workdir / f"{name}-b.jsonl"
        with again.open("w") as f:
            cli(workdir, "export", "xcom_demo", "run_1", "--api-url", b_url, *flags, stdout=f)
        lines = exported.read_text().splitlines()
        equal = lines == again.read_text().splitlines() and len(lines) == xcoms
        print(f"stores equal: {equal} ({len(lines)} XComs exported from each)")
    finally:
        stop_a()  # type: ignore[operator]
        stop_b()  # type: ignore[operator]
    figures = {"import_a": import_a, "export_a": export_a, "import_b": import_b}
    return {**figures, "stores_equal": equal}, lines


def run_transfer(
    xcoms: int = 10_000, workers: int | None = None, per_xcom: bool = True
) -> dict[str, object]:
    """The three timed steps (see the module docstring) on the bulk path, then (with
    ``per_xcom``) on the per-XCom REST path; prints and returns the figures.

    Args:
        workers: ``--workers`` of the CLI (requests in flight on the per-XCom path);
            ``None``: its default.

    Returns:
        ``{"xcoms", "workers", "import_a", "export_a", "import_b"`` (each the dict of
        :func:`step`, bulk path), ``"stores_equal"`` (every store equal, across paths
        too), ``"per_xcom"`` (the same figures of the per-XCom path, or None)``}``.
    """
    flags = [] if workers is None else ["--workers", str(workers)]
    with tempfile.TemporaryDirectory(prefix="xcomkit-transfer-") as tmp:
        workdir = Path(tmp)
        saved = os.environ.get("XDG_CONFIG_HOME")
        os.environ["XDG_CONFIG_HOME"] = str(workdir / "config")
        source = workdir / "source.jsonl"
        source.write_text(records(xcoms))
        try:
            bulk, bulk_lines = run_path(workdir, source, xcoms, flags, "bulk")
            rest: dict[str, object] | None = None
            equal = bool(bulk["stores_equal"])
            if per_xcom:
                rest, rest_lines = run_path(
                    workdir, source, xcoms, [*flags, "--per-xcom"], "per-xcom"
                )
                same = bulk_lines == rest_lines
                print(f"bulk and per-XCom exports equal: {same}")
                equal = equal and bool(rest["stores_equal"]) and same
        finally:
            if saved is None:
                os.environ.pop("XDG_CONFIG_HOME", None)
            else:
                os.environ["XDG_CONFIG_HOME"] = saved
    if rest is not None:
        print(f"\n{'XComs/s':<22} {'bulk':>8} {'per-XCom':>9}")
        for key, label in (
            ("import_a", "import (empty server)"),
            ("export_a", "export"),
            ("import_b", "import of the export"),
        ):
            b, r = bulk[key], rest[key]
            print(f"{label:<22} {b['rate']:>8,} {r['rate']:>9,}")  # type: ignore[index]
    return {
        "xcoms": xcoms,
        "workers": workers,
        "import_a": bulk["import_a"],
        "export_a": bulk["export_a"],
        "import_b": bulk["import_b"],
        "stores_equal": equal,
        "per_xcom": rest,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--xcoms", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=None, help="the CLI's --workers")
    p.add_argument(
        "--bulk-only", action="store_true", help="skip the per-XCom path (minutes at 10,000)"
    )
    args = p.parse_args(argv)
    figures = run_transfer(args.xcoms, args.workers, per_xcom=not args.bulk_only)
    return 0 if figures["stores_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
