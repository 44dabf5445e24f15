"""Start-up time and memory of ``xcomkit serve``, as ``make bench`` spawns it.

Each round spawns the server exactly as ``benchmarks/run.py`` does (a fresh SQLite file
with the bench user created first, then ``xcomkit serve --db ... --dags
tests/data/manifest.yaml --port P --workers 1``) and times spawn -> the first 200 on
``/api/v2/monitor/health`` (the GET ``make bench`` polls), then reads the process's RSS
once it is idle. The bare FastAPI baseline (``benchmarks/bare_app.py``) is spawned the
same way in each round, so a busy machine shows in both columns.

``--src NAME=DIR`` (repeatable) runs another source tree with this venv (its ``src``
directory first on ``PYTHONPATH``), interleaved round by round with the others, e.g.
the tree before a change, from ``git archive``:

    git archive <commit> src | tar -x -C /tmp/before
    python benchmarks/startup.py --src before=/tmp/before/src --src after=src

Each tree is compiled to bytecode first, as ``pip install`` of a wheel and ``make bench``
do (:func:`benchmarks.run.compile_bytecode`); ``NAME=DIR,source`` instead runs a copy
without bytecode under ``PYTHONDONTWRITEBYTECODE=1``, so every start compiles it from
source (an editable install on a machine that sets that variable).

``--load SECONDS`` also loads each xcomkit server (after the timed start) with wrk (1
thread, 16 connections) on GET one, the list of 50 and create, and reports the worker's
peak RSS (VmHWM) over the load (reset after the bench user's login, whose argon2 hash
takes 64 MiB for a moment by design). ``--postgres`` runs every xcomkit server on a
fresh database of one throw-away PostgreSQL cluster (``tests/pg.py``) instead of SQLite.

Prints, per server, the median, min and max of each figure over ``--runs`` rounds.
Numbers only: nothing here asserts a target (docs/performance.md, "Start-up").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.run import (  # noqa: E402  (after the sys.path entry above)
    BASELINES,
    BENCH_USER,
    MANIFEST,
    compile_bytecode,
    free_port,
    stopper,
    wait_ready,
    xcomkit_bin,
)
from tests import pg  # noqa: E402

TI = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"
CREATE = "/api/v2/dags/xcom_demo/dagRuns/run_2/taskInstances/transform/xcomEntries"

#: wrk scenarios for ``--load``: (name, path, Lua body of ``request``).
LOAD = (
    ("get_one", TI + "/bench_key_0007", None),
    ("list_ti", TI, None),
    (
        "create",
        CREATE,
        'counter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format("POST", '
        'nil, nil, string.format(\'{"key":"%s_%d","value":{"rows":1},"map_index":-1}\', '
        "PREFIX, counter))\nend\n",
    ),
)


def _status_kb(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` figure in KiB (VmRSS, VmHWM), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) ``pid`` has used so far: on a busy
    machine this moves much less than the wall-clock time to ready."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    return env


def _tree(spec: str, scratch: Path) -> tuple[str, Path]:
    """``NAME=DIR[,source]`` -> (name, the directory to put first on PYTHONPATH)."""
    name, _, where = spec.partition("=")
    where, _, mode = where.partition(",")
    src = Path(where).resolve()
    if mode == "source":
        copy = scratch / name
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
        return name, copy
    if mode:
        raise SystemExit(f"--src {spec}: unknown mode {mode!r} (only 'source')")
    compile_bytecode(src)
    return name, src


def _load(proc_pid: int, base: str, password: str, seconds: int, workdir: Path) -> None:
    """Put 50 XComs, then run each :data:`LOAD` scenario with wrk for ``seconds``."""
    token = httpx.post(
        f"{base}/auth/token", json={"username": BENCH_USER, "password": password}, timeout=30
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for i in range(50):
            body = {"key": f"bench_key_{i:04d}", "value": {"rows": i}, "map_index": -1}
            client.post(TI, json=body)
    # The login above hashed a password (argon2, 64 MiB by design, returned right after):
    # the peak measured is that of the load, as benchmarks/run.py measures it.
    Path(f"/proc/{proc_pid}/clear_refs").write_text("5")  # VmHWM := current RSS
    for name, path, lua in LOAD:
        script = workdir / f"{name}.lua"
        prefix = f"k{secrets.token_hex(4)}"
        script.write_text(
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'PREFIX = "{prefix}"\n' + (lua or "")
        )
        done = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(script), base + path],
            check=True,
            capture_output=True,
            text=True,
        )
        if "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
            raise RuntimeError(f"{name}: errors under load:\n{done.stdout}")


def xcomkit_round(
    src: Path | None, db: str | None, load_s: int, workdir: Path, extra: dict[str, str]
) -> dict[str, float]:
    """One spawn of ``xcomkit serve``: ready seconds, idle RSS MiB (and peak, with load).

    ``extra``: environment variables for the server (``XCOMKIT_*`` settings)."""
    env = {**_env(src), **extra}
    password = secrets.token_urlsafe(16)
    url = db or f"sqlite:///{workdir / 'xcomkit.db'}"
    create = [xcomkit_bin(), "users", "create", BENCH_USER, "--role", "admin"]
    create += ["--password", password, "--db", url]
    subprocess.run(create, check=True, capture_output=True, cwd=workdir, env=env)
    port = free_port()
    cmd = [xcomkit_bin(), "serve", "--db", url, "--dags", str(MANIFEST), "--port", str(port)]
    cmd += ["--workers", "1"]
    started = time.perf_counter()
    proc = _spawn(cmd, env, workdir, workdir / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        figures = {"ready_s": wait_ready(proc, f"{base}/api/v2/monitor/health", started, 60)}
        figures["ready_cpu_s"] = _cpu_s(proc.pid)
        time.sleep(0.5)  # let the lifespan's background work settle before reading RSS
        figures["idle_rss_mb"] = _status_kb(proc.pid, "VmRSS") / 1024
        if load_s:
            _load(proc.pid, base, password, load_s, workdir)
            figures["peak_rss_mb"] = _status_kb(proc.pid, "VmHWM") / 1024
    finally:
        stopper(proc)()
    return figures


def baseline_round(name: str, workdir: Path) -> dict[str, float]:
    """One spawn of a baseline under uvicorn, as ``benchmarks/run.py`` starts it."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", BASELINES[name], "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log"]
    started = time.perf_counter()
    proc = _spawn(cmd, dict(os.environ), REPO, workdir / f"{name}.log")
    try:
        health = f"http://127.0.0.1:{port}/api/v2/monitor/health"
        figures = {
            "ready_s": wait_ready(proc, health, started, 60),
            "ready_cpu_s": _cpu_s(proc.pid),
        }
        time.sleep(0.5)
        figures["idle_rss_mb"] = _status_kb(proc.pid, "VmRSS") / 1024
    finally:
        stopper(proc)()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--src", action="append", default=[], metavar="NAME=DIR[,source]", help="a source tree"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="a fresh PostgreSQL database per start"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        type=lambda text: tuple(text.split("=", 1)),
        metavar="NAME=VALUE",
        help="a setting for every xcomkit server, e.g. XCOMKIT_OBJECT_STORE=s3://bucket/values",
    )
    parser.add_argument("--load", type=int, default=0, metavar="SECONDS", help="wrk per scenario")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare FastAPI baseline")
    args = parser.parse_args()
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # ",source" trees stay without bytecode
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xcomkit-src-")))
        trees: list[tuple[str, Path | None]] = [_tree(spec, scratch) for spec in args.src]
        if not trees:
            compile_bytecode()
            trees = [("xcomkit", None)]
        admin_url = stack.enter_context(pg.temporary_cluster()) if args.postgres else None
        results = run_rounds(args, trees, admin_url)
    print(f"{'server':10} {'figure':12} {'median':>8} {'min':>8} {'max':>8}")
    for name, rounds in results.items():
        for figure in rounds[0]:
            values = [r[figure] for r in rounds]
            print(
                f"{name:10} {figure:12} {statistics.median(values):8.2f}"
                f" {min(values):8.2f} {max(values):8.2f}"
            )


def run_rounds(
    args: argparse.Namespace, trees: list[tuple[str, Path | None]], admin_url: str | None
) -> dict[str, list[dict[str, float]]]:
    """``args.runs`` rounds of each tree (and the bare app), interleaved; figures by server."""
    results: dict[str, list[dict[str, float]]] = {}
    for i in range(args.runs):
        for name, src in trees:
            db = None
            if admin_url is not None:
                db = pg.create_database(admin_url, f"startup_{name.replace('-', '_')}_{i}")
            with tempfile.TemporaryDirectory(prefix="xcomkit-startup-") as tmp:
                figures = xcomkit_round(src, db, args.load, Path(tmp), dict(args.env))
                results.setdefault(name, []).append(figures)
        if not args.no_bare:
            with tempfile.TemporaryDirectory(prefix="xcomkit-startup-") as tmp:
                results.setdefault("bare", []).append(baseline_round("bare", Path(tmp)))
        print(f"round {i + 1}/{args.runs}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
