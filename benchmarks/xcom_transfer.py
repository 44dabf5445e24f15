"""Export/import throughput of ``xcomkit xcom export`` / ``import`` on SQLite.

    .venv/bin/python benchmarks/xcom_transfer.py [--xcoms 10000] [--workers 8]

Starts two xcomkit servers (``xcomkit serve``, one worker, fresh SQLite files, the demo
DAG), then, each timed as a user runs it (the CLI as a subprocess, start-up included):

1. ``import`` of a generated JSONL file of N XComs on ``xcom_demo/run_1`` into server A;
2. ``export xcom_demo run_1`` from A;
3. ``import`` of that export into the empty server B, then ``export`` of B, which must
   equal A's export line for line (the stores are equal).

Prints XComs/s for each step. Numbers only: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import os
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


def start(workdir: Path, name: str) -> tuple[str, object]:
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
    return url, stopper(proc)


def cli(workdir: Path, *args: str, stdout: object = subprocess.PIPE) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [xcomkit_bin(), "xcom", *args], cwd=workdir, stdout=stdout, stderr=subprocess.PIPE,
        text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"xcomkit xcom {' '.join(args)}: {result.stderr}")
    return elapsed, (result.stdout or "") + result.stderr


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


def report(step: str, xcoms: int, seconds: float, out: str = "") -> float:
    """Print one step's rate; return it (XComs per second)."""
    rate = xcoms / seconds
    print(f"{step:<15} {rate:8,.0f} XComs/s  ({seconds:.2f} s) {out.strip()}")
    return rate


def run_transfer(xcoms: int = 10_000, workers: int = 8) -> dict[str, object]:
    """The three timed steps (see the module docstring); prints and returns the figures.

    Returns:
        ``{"xcoms", "workers", "import_a", "export_a", "import_b"`` (XComs/s),
        ``"stores_equal"}``.
    """
    flags = ["--workers", str(workers)]
    with tempfile.TemporaryDirectory(prefix="xcomkit-transfer-") as tmp:
        workdir = Path(tmp)
        saved = os.environ.get("XDG_CONFIG_HOME")
        os.environ["XDG_CONFIG_HOME"] = str(workdir / "config")
        source = workdir / "source.jsonl"
        source.write_text(records(xcoms))
        a_url, stop_a = start(workdir, "a")
        b_url, stop_b = start(workdir, "b")
        try:
            seconds, out = cli(workdir, "import", str(source), "--api-url", a_url, *flags)
            import_a = report("import into A", xcoms, seconds, out)
            exported = workdir / "a.jsonl"
            with exported.open("w") as f:
                seconds, _ = cli(workdir, "export", "xcom_demo", "run_1", "--api-url", a_url,
                                 *flags, stdout=f)  # fmt: skip
            export_a = report("export from A", xcoms, seconds)
            seconds, out = cli(workdir, "import", str(exported), "--api-url", b_url, *flags)
            import_b = report("import into B", xcoms, seconds, out)
            again = workdir / "b.jsonl"
            with again.open("w") as f:
                cli(workdir, "export", "xcom_demo", "run_1", "--api-url", b_url, stdout=f)
            lines = exported.read_text().splitlines()
            equal = lines == again.read_text().splitlines() and len(lines) == xcoms
            print(f"stores equal: {equal} ({len(lines)} XComs exported from each)")
        finally:
            stop_a()  # type: ignore[operator]
            stop_b()  # type: ignore[operator]
            if saved is None:
                os.environ.pop("XDG_CONFIG_HOME", None)
            else:
                os.environ["XDG_CONFIG_HOME"] = saved
    return {
        "xcoms": xcoms,
        "workers": workers,
        "import_a": round(import_a),
        "export_a": round(export_a),
        "import_b": round(import_b),
        "stores_equal": equal,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--xcoms", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=8)
    args = p.parse_args(argv)
    return 0 if run_transfer(args.xcoms, args.workers)["stores_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
