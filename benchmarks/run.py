"""xcomkit's performance harness (``make bench``): xcomkit vs Airflow 3.3.2 vs a bare app.

In one run, side by side on this machine:

1. installs wrk if missing (``apt-get install -y wrk``);
2. SQLite phase: starts xcomkit (one worker, fresh SQLite file, the test manifest, a
   benchmark admin) and two baselines under the same uvicorn: ``benchmarks/bare_app.py``
   (FastAPI, ``async def`` routes, constant bodies) and ``benchmarks/raw_app.py`` (raw
   ASGI, the ceiling); with
   ``--airflow-sqlite`` also Airflow 3.3.2 on its SQLite (off by default: it stalls under
   concurrent load, so it gives no valid ratio);
3. PostgreSQL phase (``--postgres``, default where ``initdb`` is installed): one
   throw-away PostgreSQL cluster (``tests/pg.py``) with databases ``xcomkit_bench`` and
   ``airflow_bench``; xcomkit on the first and, where Airflow's venv exists (or
   ``--airflow`` forces it), Airflow's api-server on the second through
   ``compat/airflow_ref.py`` (psycopg2-binary installed into its venv first);
4. puts the same 50 XComs on ``xcom_demo/run_1/extract`` of each server;
5. for each scenario, loads each server of a phase in turn with wrk (1 thread, 16
   connections, warm-up, then a fixed duration), with a bearer token:

   (TI = /api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries)
   get_one          GET   TI/bench_key_0007
   list_ti          GET   TI  (its 50 rows, one page)
   list_wild        GET   /api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries  (first page)
   list_wild_filter GET   the same with ?xcom_key_pattern=bench_key_00
   create           POST  .../xcom_demo/dagRuns/run_2/taskInstances/transform/xcomEntries
                          (unique keys from a Lua counter)
   create_64        the same with 64 connections: 64 concurrent writers, 0 errors expected
   update           PATCH TI/bench_key_00NN  (NN cycling over the 50 keys)

6. with ``--profile`` (default): records py-spy samples of the xcomkit worker (on SQLite,
   and on PostgreSQL) under get_one, list_ti, list_wild, create and update and summarizes
   where the time goes;
7. with ``--scale`` (default): seeds a second SQLite database with 1,000,000 XComs over
   10,000 DAG runs (``xcomkit.seed``), starts xcomkit on it next to the empty one and
   repeats the read scenarios on both, interleaved (``--scale-xcoms N``: another size);
   then times each ``*_pattern`` filter on that database in process, through the
   search index and by the plain scan (benchmarks/search_scale.py);
8. with ``--transfer`` (default): ``xcomkit xcom import`` of 10,000 XComs into an empty
   server, ``export`` of them, ``import`` of that export into a second empty server,
   in XComs/s each, on the bulk path and on the per-XCom REST path
   (benchmarks/xcom_transfer.py), and a check that every store is equal;
9. with ``--offload`` (default): GET one of a 1 MB value kept in its row vs offloaded to a
   ``file://`` object store, and their ratio (benchmarks/offload.py; target >= 0.5).
10. with ``--clean`` (default): ``xcomkit db clean`` of ``--clean-xcoms`` seeded XComs
    (1,000,000 by default) on SQLite (and PostgreSQL in its phase), in rows/s, with the
    GET-one latency of a server on the same database idle and meanwhile
    (benchmarks/db_clean.py).

Prints one table per phase (req/s, ok/s, p50, p99, errors = non-2xx + socket errors, peak
RSS) with ratios: xcomkit-sqlite over bare and over raw (and over airflow-sqlite if measured);
xcomkit-pg over airflow-pg and over bare (the bare app's figures of the SQLite phase:
it touches no database). Writes the same as JSON to
``benchmarks/results/<UTC timestamp>.json``. Numbers only: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # compat.airflow_ref
MANIFEST = REPO / "tests" / "data" / "manifest.yaml"
RESULTS = REPO / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent
XCOM_PATH = "/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries"
TI_PATH = XCOM_PATH.format(dag="xcom_demo", run="run_1", task="extract")
CREATE_PATH = XCOM_PATH.format(dag="xcom_demo", run="run_2", task="transform")
WILD_PATH = XCOM_PATH.format(dag="~", run="~", task="~")
VALUE = {"rows": 1234, "path": "s3://bucket/data/part-0001.parquet", "ok": True}
ENTRIES = 50
BENCH_USER = "bench"

log_lock = threading.Lock()


def say(*parts: Any) -> None:
    """Progress to stderr (the table and the JSON path go to stdout)."""
    with log_lock:
        print(*parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Scenario:
    """One wrk load: a request template; ``lua_request`` is a Lua ``request()`` body or ''."""

    name: str
    method: str
    path: str
    lua_request: str = ""
    writes: bool = False
    #: wrk connections for this load (None: ``--connections``).
    connections: int | None = None


SCENARIOS = [
    Scenario("get_one", "GET", f"{TI_PATH}/bench_key_0007"),
    Scenario("list_ti", "GET", TI_PATH),
    Scenario("list_wild", "GET", WILD_PATH),
    Scenario("list_wild_filter", "GET", f"{WILD_PATH}?xcom_key_pattern=bench_key_00"),
    Scenario(
        "create",
        "POST",
        CREATE_PATH,
        lua_request=(
            "  counter = counter + 1\n"
            '  local body = string.format(\'{"key":"%s-%d","value":%s,"map_index":-1}\','
            " prefix, counter, value)\n"
            f'  return wrk.format("POST", "{CREATE_PATH}", nil, body)\n'
        ),
        writes=True,
    ),
    Scenario(
        "create_64",
        "POST",
        CREATE_PATH,
        lua_request=(
            "  counter = counter + 1\n"
            '  local body = string.format(\'{"key":"w64-%s-%d","value":%s,"map_index":-1}\','
            " prefix, counter, value)\n"
            f'  return wrk.format("POST", "{CREATE_PATH}", nil, body)\n'
        ),
        writes=True,
        connections=64,
    ),
    Scenario(
        "update",
        "PATCH",
        f"{TI_PATH}/bench_key_0000",
        lua_request=(
            "  counter = counter + 1\n"
            f"  local key = string.format('bench_key_%04d', counter % {ENTRIES})\n"
            '  local body = string.format(\'{"value":{"v":%d,"tag":"%s"},"map_index":-1}\','
            " counter, prefix)\n"
            f'  return wrk.format("PATCH", "{TI_PATH}/" .. key, nil, body)\n'
        ),
        writes=True,
    ),
]
READ_SCENARIOS = ["get_one", "list_ti", "list_wild", "list_wild_filter"]
PROFILED = ["get_one", "list_ti", "list_wild", "create", "update"]

LUA_TEMPLATE = """\
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
counter = 0
prefix = "{prefix}"
value = '{value}'
{request_fn}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""


def lua_script(scenario: Scenario, token: str, prefix: str, directory: Path) -> Path:
    """Write the wrk Lua script for ``scenario`` and return its path."""
    request_fn = (
        f"request = function()\n{scenario.lua_request}end\n" if scenario.lua_request else ""
    )
    path = directory / f"{scenario.name}-{prefix}.lua"
    path.write_text(
        LUA_TEMPLATE.format(
            method=scenario.method,
            token=token,
            prefix=prefix,
            value=json.dumps(VALUE, separators=(",", ":")),
            request_fn=request_fn,
        )
    )
    return path


# -------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A running server under test."""

    name: str
    base_url: str
    token: str
    pid: int
    stop: Callable[[], None]
    ready_s: float | None = None
    proc: subprocess.Popen[bytes] | None = None

    def check_alive(self) -> None:
        """Raise if the server process has exited (with its exit status)."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], url: str, started: float, deadline_s: float) -> float:
    """Poll ``url`` until it answers 200; return seconds since ``started`` (perf_counter)."""
    deadline = started + deadline_s
    with httpx.Client(timeout=1) as client:
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: server exited with {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.005)
    raise RuntimeError(f"{url}: not ready after {deadline_s} s")


def stopper(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    return stop


def compile_bytecode(src: Path = REPO / "src") -> None:
    """Compile the modules under ``src`` to bytecode (``__pycache__``) if not yet done.

    ``pip install`` of a wheel does this at install time; an editable install leaves it to
    the first import, and with ``PYTHONDONTWRITEBYTECODE=1`` in the environment (as on the
    machines these benchmarks ran on) never, so every server start then compiled all of
    xcomkit from source: about 0.1 s of CPU before the first answer (docs/performance.md,
    "Start-up"). Up-to-date files are left alone.
    """
    import compileall

    compileall.compile_dir(str(src), quiet=1)


def xcomkit_bin() -> str:
    candidate = VENV_BIN / "xcomkit"
    return str(candidate) if candidate.exists() else (shutil.which("xcomkit") or "xcomkit")


def start_xcomkit(name: str, db: str, workdir: Path, env: dict[str, str] | None = None) -> Server:
    """Create the bench user, spawn ``xcomkit serve`` (one worker), time it to ready, log in.

    ``env``: extra environment variables for the server (``XCOMKIT_*`` settings)."""
    password = secrets.token_urlsafe(16)
    subprocess.run(
        [
            xcomkit_bin(),
            "users",
            "create",
            BENCH_USER,
            "--role",
            "admin",
            "--password",
            password,
            "--db",
            db,
        ],
        check=True,
        capture_output=True,
        cwd=workdir,
    )
    port = free_port()
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the server)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            xcomkit_bin(),
            "serve",
            "--db",
            db,
            "--dags",
            str(MANIFEST),
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(proc, f"{base}/api/v2/monitor/health", started, 60)
        response = httpx.post(
            f"{base}/auth/token", json={"username": BENCH_USER, "password": password}, timeout=30
        )
        response.raise_for_status()
    except BaseException:
        stopper(proc)()
        raise
    token = response.json()["access_token"]
    return Server(name, base, token, proc.pid, stopper(proc), ready, proc)


#: The baselines, by server name: the module:app uvicorn serves for each.
BASELINES = {"bare": "benchmarks.bare_app:app", "raw": "benchmarks.raw_app:app"}


def start_baseline(name: str, workdir: Path) -> Server:
    """Spawn a baseline (:data:`BASELINES`) under uvicorn with xcomkit's settings (one worker)."""
    port = free_port()
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            BASELINES[name],
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(proc, f"{base}/api/v2/monitor/health", started, 60)
    except BaseException:
        stopper(proc)()
        raise
    return Server(name, base, "unused", proc.pid, stopper(proc), ready, proc)


def start_airflow(name: str, db_url: str | None) -> Server:
    """Airflow 3.3.2's api-server seeded from the manifest (compat/airflow_ref.py)."""
    from compat.airflow_ref import start_reference

    started = time.perf_counter()
    ref = start_reference(manifest_path=MANIFEST, db_url=db_url)
    assert ref.process is not None
    say(f"  {name} up in {time.perf_counter() - started:.0f} s (migrate, serialize, start)")
    token = ref.token("admin")
    return Server(name, ref.base_url, token, ref.process.pid, ref.cleanup, None, ref.process)


def ensure_airflow_pg_driver() -> None:
    """psycopg2-binary (and asyncpg, for its async engine) in Airflow's venv, before it starts.

    ``ensure_venv`` pip-installs them once and records them in its marker file, so the
    ``start_reference`` call that follows finds them there and installs nothing.
    """
    from compat.airflow_ref import ensure_venv

    started = time.perf_counter()
    venv = ensure_venv(extra=("psycopg2-binary", "asyncpg"))
    probe = [str(venv / "bin" / "python"), "-c", "import psycopg2, asyncpg"]
    subprocess.run(probe, check=True, capture_output=True)
    say(f"  Airflow's venv has psycopg2 and asyncpg ({time.perf_counter() - started:.0f} s)")


def put_entries(server: Server) -> None:
    """Create bench_key_0000..0049 on xcom_demo/run_1/extract (one by one)."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        for i in range(ENTRIES):
            body = {"key": f"bench_key_{i:04d}", "value": VALUE, "map_index": -1}
            response = client.post(TI_PATH, json=body)
            if response.status_code not in (201, 409):
                raise RuntimeError(f"{server.name}: create {i}: {response.status_code}")


# --------------------------------------------------------------------------- memory


def _tree_rss(pid: int) -> int:
    """RSS bytes of ``pid`` and its descendants (0 if gone)."""
    try:
        import psutil
    except ImportError:
        return _proc_rss(pid)
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def _proc_rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def vm_hwm_mb(pid: int) -> float | None:
    """The kernel's peak RSS (VmHWM) of ``pid`` in MiB, or None."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/PID/clear_refs``); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@contextlib.contextmanager
def rss_sampler(pid: int, every_s: float = 0.1) -> Iterator[dict[str, float]]:
    """Sample the process tree's RSS while the block runs; ``peak_mb`` is set on exit."""
    result: dict[str, float] = {"peak_mb": 0.0}
    stop = threading.Event()

    def loop() -> None:
        peak = 0
        while not stop.is_set():
            peak = max(peak, _tree_rss(pid))
            stop.wait(every_s)
        result["peak_mb"] = max(peak, _tree_rss(pid)) / 2**20

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()


# ------------------------------------------------------------------------------ wrk


def ensure_wrk() -> str:
    """Path to wrk, installing Debian's package if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk not found: apt-get install -y wrk")
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(install, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


@dataclass
class Result:
    """One measured load: a server under one scenario."""

    server: str
    scenario: str
    phase: str  # "empty" or "1M"
    requests: int
    duration_s: float
    rps: float
    ok_rps: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    non_2xx: int
    socket_errors: int
    errors: int
    peak_rss_mb: float
    worker_hwm_mb: float | None = None
    note: str | None = None


def run_wrk(
    wrk: str,
    server: Server,
    scenario: Scenario,
    args: argparse.Namespace,
    workdir: Path,
    duration: float,
    prefix: str,
) -> dict[str, Any]:
    script = lua_script(scenario, server.token, prefix, workdir)
    cmd = [
        wrk,
        "-t1",
        f"-c{scenario.connections or args.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        server.base_url + scenario.path,
    ]
    server.check_alive()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    server.check_alive()
    for line in proc.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return dict(json.loads(line[len("WRKJSON ") :]))
    raise RuntimeError(f"wrk gave no summary ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def ms(value: float | None) -> str:
    """Milliseconds for the tables: two decimals, or '-' when nothing completed."""
    return "-" if value is None else f"{value:.2f}"


def probe(server: Server, scenario: Scenario) -> str:
    """One plain request with a long timeout, to tell a wedged server from a slow one."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {server.token}"}
    try:
        response = httpx.get(server.base_url + scenario.path, headers=headers, timeout=60)
        outcome = f"GET answered {response.status_code}"
    except httpx.HTTPError as exc:
        outcome = f"GET failed: {type(exc).__name__}"
    return f"{outcome} after {time.perf_counter() - started:.1f} s"


def measure(
    wrk: str,
    server: Server,
    scenario: Scenario,
    args: argparse.Namespace,
    workdir: Path,
    phase: str,
    track_hwm: bool,
) -> Result:
    """Warm up, then one measured wrk run with the server's memory sampled."""
    tag = secrets.token_hex(3)
    if args.warmup > 0:
        run_wrk(wrk, server, scenario, args, workdir, args.warmup, f"w{tag}")
    hwm_ok = track_hwm and reset_hwm(server.pid)
    with rss_sampler(server.pid) as mem:
        raw = run_wrk(wrk, server, scenario, args, workdir, args.duration, f"m{tag}")
    seconds = raw["duration_us"] / 1e6
    sock = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    ok = raw["requests"] - raw["status"]
    result = Result(
        server=server.name,
        scenario=scenario.name,
        phase=phase,
        requests=raw["requests"],
        duration_s=round(seconds, 2),
        rps=round(raw["requests"] / seconds, 1),
        ok_rps=round(ok / seconds, 1),
        # No completed request: no latency (wrk would say 0).
        p50_ms=raw["p50_us"] / 1000 if raw["requests"] else None,
        p90_ms=raw["p90_us"] / 1000 if raw["requests"] else None,
        p99_ms=raw["p99_us"] / 1000 if raw["requests"] else None,
        max_ms=raw["max_us"] / 1000 if raw["requests"] else None,
        non_2xx=raw["status"],
        socket_errors=sock,
        errors=raw["status"] + sock,
        peak_rss_mb=round(mem["peak_mb"], 1),
        worker_hwm_mb=round(vm_hwm_mb(server.pid) or 0, 1) if hwm_ok else None,
    )
    if result.requests == 0:
        result.note = probe(server, scenario)
        say(f"  {server.name} completed no request under load; probe: {result.note}")
    say(
        f"  {phase:6} {server.name:14} {scenario.name:17} {result.rps:9.1f} req/s"
        f"  p50 {ms(result.p50_ms):>7} ms  p99 {ms(result.p99_ms):>8} ms  errors {result.errors}"
        f"  rss {result.peak_rss_mb:.0f} MB"
    )
    return result


# -------------------------------------------------------------------------- profile


def summarize_profile(raw_file: Path, top: int = 25) -> dict[str, Any]:
    """Sample shares (percent) from py-spy's raw (collapsed) output, by function.

    ``self_pct_by_library``: where the leaf frame is (first path component: a library,
    a stdlib module, or xcomkit); ``self_pct``: leaf functions; ``inclusive_pct``:
    functions with their callees, leaving out the frames under (nearly) every sample
    (the uvicorn/typer entry chain); ``xcomkit_inclusive_pct``: xcomkit's own functions.
    """
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in raw_file.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if f]
        total += count
        self_counts[frames[-1]] += count
        buckets[_library(frames[-1])] += count
        for frame in set(frames):
            incl_counts[frame] += count

    def share(items: list[tuple[str, int]]) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in items[:top]] if total else []

    inclusive = [(k, v) for k, v in incl_counts.most_common() if v < 0.8 * total]
    own = [(k, v) for k, v in incl_counts.most_common() if _library(k) == "xcomkit"]
    return {
        "samples": total,
        "self_pct_by_library": share(buckets.most_common()),
        "self_pct": share(self_counts.most_common()),
        "inclusive_pct": share(inclusive),
        "xcomkit_inclusive_pct": share(own),
    }


def _function(frame: str) -> str:
    # py-spy: "func (pkg/module.py:123)" -> "func (pkg/module.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rstrip(')').rsplit(':', 1)[0]})"


def _library(function: str) -> str:
    where = function.partition(" (")[2].rstrip(")")
    first = where.split("/", 1)[0]
    return first.removesuffix(".py") or function


def profile(
    wrk: str, server: Server, args: argparse.Namespace, workdir: Path, out_dir: Path
) -> dict[str, Any]:
    """py-spy record on ``server``'s worker under each of :data:`PROFILED`."""
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        say("  installing py-spy into the venv")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Any] = {}
    by_name = {s.name: s for s in SCENARIOS}
    for name in PROFILED:
        scenario = by_name[name]
        raw_file = out_dir / f"{name}.txt"
        seconds = max(4, int(args.duration))
        spy = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(seconds),
                "--rate",
                "250",
                "--format",
                "raw",
                "--output",
                str(raw_file),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        run_wrk(wrk, server, scenario, args, workdir, seconds, f"p{secrets.token_hex(3)}")
        _, err = spy.communicate(timeout=60)
        if not raw_file.exists():
            found[name] = {"error": err.decode()[-2000:]}
            continue
        found[name] = summarize_profile(raw_file)
        say(f"  profiled {server.name} {name}: {found[name]['samples']} samples -> {raw_file}")
    return found


# ----------------------------------------------------------------------------- main


def scale_label(xcoms: int) -> str:
    """ "1M" for 1,000,000 XComs, "100k" for 100,000, ..."""
    return f"{xcoms // 1_000_000}M" if xcoms % 1_000_000 == 0 else f"{xcoms // 1000}k"


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def print_table(results: list[Result], out: Any = sys.stdout) -> None:
    header = (
        f"{'phase':6}  {'server':14}  {'scenario':17} {'req/s':>9} {'ok/s':>9} {'p50 ms':>8}"
        f" {'p99 ms':>8} {'errors':>7} {'peak RSS MB':>11}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        print(
            f"{r.phase:6}  {r.server:14}  {r.scenario:17} {r.rps:9.1f} {r.ok_rps:9.1f}"
            f" {ms(r.p50_ms):>8} {ms(r.p99_ms):>8} {r.errors:7d} {r.peak_rss_mb:11.1f}",
            file=out,
        )


def compute_ratios(results: list[Result], xcomkit: str, airflow: str) -> list[dict[str, Any]]:
    """Per scenario: ``xcomkit``'s ok/s over ``airflow``'s and over the bare app's.

    For xcomkit-sqlite also 1M over empty ("empty2": the empty server measured beside it).
    """
    empty = {(r.server, r.scenario): r for r in results if r.phase == "empty"}
    rows: list[dict[str, Any]] = []
    for s in SCENARIOS:
        x = empty.get((xcomkit, s.name))
        if x is None:
            continue
        a = empty.get((airflow, s.name))
        b = empty.get(("bare", s.name))
        r = empty.get(("raw", s.name))
        rows.append(
            {
                "scenario": s.name,
                "vs_airflow": ratio(x.ok_rps, a.ok_rps) if a else None,
                "vs_bare": ratio(x.ok_rps, b.ok_rps) if b else None,
                "vs_raw": ratio(x.ok_rps, r.ok_rps) if r else None,
                "p99_ms": x.p99_ms,
                "errors": x.errors,
            }
        )
    scaled = [r for r in results if r.server == xcomkit and r.phase not in ("empty", "empty2")]
    big = {r.scenario: r for r in scaled}
    same_time_empty = {r.scenario: r for r in results if r.phase == "empty2"}
    for row in rows:
        b2 = big.get(row["scenario"])
        base = same_time_empty.get(row["scenario"])
        if b2 and base:
            row["1M_vs_empty"] = ratio(b2.ok_rps, base.ok_rps)
            row["1M_p50_ms"] = b2.p50_ms
    return rows


def print_ratios(rows: list[dict[str, Any]], airflow: str, out: Any = sys.stdout) -> None:
    """The ratio table; the 1M columns only where some row has them."""

    def f(v: Any) -> str:
        return "-" if v is None else format(v, ".2f")

    scaled = any("1M_vs_empty" in r for r in rows)
    header = (
        f"{'scenario':17} {'x ' + airflow:>16} {'x bare':>8} {'x raw':>7}"
        f" {'p99 ms':>8} {'errors':>7}"
    )
    print(header + (f" {'1M/empty':>9} {'1M p50 ms':>10}" if scaled else ""), file=out)
    for r in rows:
        line = (
            f"{r['scenario']:17} {f(r['vs_airflow']):>16} {f(r['vs_bare']):>8}"
            f" {f(r.get('vs_raw')):>7} {f(r['p99_ms']):>8} {r['errors']:>7}"
        )
        if scaled:
            line += f" {f(r.get('1M_vs_empty')):>9} {f(r.get('1M_p50_ms')):>10}"
        print(line, file=out)


def git_rev() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return proc.stdout.strip() or "unknown"


def airflow_available() -> bool:
    from compat.airflow_ref import MARKER_NAME, venv_dir

    return (venv_dir() / MARKER_NAME).exists() or (venv_dir() / "bin" / "airflow").exists()


def postgres_available() -> bool:
    from tests import pg

    return pg.find_bin() is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10, help="measured seconds per load")
    p.add_argument("--warmup", type=float, default=3, help="warm-up seconds before each load")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure reads at 1,000,000 XComs on SQLite (default: on)",
    )
    p.add_argument("--scale-xcoms", type=int, default=1_000_000)
    p.add_argument("--scale-runs", type=int, default=10_000)
    p.add_argument(
        "--postgres",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="PostgreSQL phase: xcomkit-pg vs airflow-pg (default: if initdb is installed)",
    )
    p.add_argument(
        "--airflow",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="include Airflow 3.3.2 in the PostgreSQL phase (default: if its venv exists)",
    )
    p.add_argument(
        "--airflow-sqlite",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also Airflow on SQLite in the SQLite phase (default: off, it stalls under load)",
    )
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="py-spy the xcomkit worker under each of get_one, list_ti, list_wild, create, "
        "update (default: on)",
    )
    p.add_argument(
        "--scenarios",
        default=",".join(s.name for s in SCENARIOS),
        help="comma-separated subset of: " + ", ".join(s.name for s in SCENARIOS),
    )
    p.add_argument(
        "--transfer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="xcomkit xcom export/import of 10,000 XComs on SQLite (default: on)",
    )
    p.add_argument(
        "--offload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="GET of a 1 MB value in its row vs offloaded to file:// (default: on)",
    )
    p.add_argument(
        "--clean",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="xcomkit db clean of --clean-xcoms XComs, GET one meanwhile (default: on)",
    )
    p.add_argument(
        "--clean-xcoms",
        type=int,
        default=1_000_000,
        help="XComs db clean removes (default: 1,000,000, issue 12's figure; seeding them "
        "on PostgreSQL takes a few minutes)",
    )
    p.add_argument("--output", type=Path, default=None, help="JSON file to write")
    return p.parse_args(argv)


def load_phase(
    wrk: str,
    servers: list[Server],
    wanted: list[Scenario],
    args: argparse.Namespace,
    workdir: Path,
    results: list[Result],
) -> None:
    """Each scenario on each server in turn (xcomkit first, its VmHWM tracked)."""
    for scenario in wanted:
        for server in servers:
            tracked = server.name.startswith("xcomkit")
            results.append(measure(wrk, server, scenario, args, workdir, "empty", tracked))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    wanted = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    wrk = ensure_wrk()
    compile_bytecode()
    workdir = Path(tempfile.mkdtemp(prefix="xcomkit-bench-"))
    include_airflow = airflow_available() if args.airflow is None else args.airflow
    use_postgres = postgres_available() if args.postgres is None else args.postgres
    airflow_sqlite = include_airflow and args.airflow_sqlite
    say(
        f"bench: workdir {workdir}; {args.connections} connections, {args.duration:g} s loads"
        f" after {args.warmup:g} s warm-up; airflow: {'yes' if include_airflow else 'no'}"
        f"{' (SQLite too)' if airflow_sqlite else ''}"
    )
    if not use_postgres:
        say(
            "  no PostgreSQL phase"
            + ("" if args.postgres is False else " (initdb not found: apt-get install postgresql)")
        )

    servers: list[Server] = []
    results: list[Result] = []
    report: dict[str, Any] = {
        "meta": {
            "timestamp": stamp,
            "git": git_rev(),
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "loadavg_at_start": os.getloadavg(),
            },
            "wrk": {
                "threads": 1,
                "connections": args.connections,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "timeout_s": 10,
            },
            "airflow": {"sqlite": airflow_sqlite, "postgres": include_airflow and use_postgres},
        },
        "startup_s": {},
    }
    try:
        say("SQLite phase: starting servers")
        xk = start_xcomkit("xcomkit-sqlite", f"sqlite:///{workdir / 'empty.db'}", workdir)
        servers.append(xk)
        report["startup_s"]["xcomkit_sqlite"] = round(xk.ready_s or 0, 3)
        say(f"  xcomkit-sqlite ready {xk.ready_s:.2f} s after spawn")
        for name in BASELINES:
            baseline = start_baseline(name, workdir)
            servers.append(baseline)
            report["startup_s"][name] = round(baseline.ready_s or 0, 3)
            say(f"  {name} app ready {baseline.ready_s:.2f} s after spawn")
        if airflow_sqlite:
            try:
                servers.append(start_airflow("airflow-sqlite", None))
            except Exception as exc:  # the rest of the bench is still worth having
                say(f"  airflow-sqlite did not start, left out: {exc}")
                report["meta"]["airflow_sqlite_error"] = str(exc)[-2000:]
        for server in servers:
            if server.name not in BASELINES:
                put_entries(server)
        report["meta"]["worker_rss_mb_idle"] = round(_proc_rss(xk.pid) / 2**20, 1)

        say("SQLite phase: loads (each scenario on each server in turn)")
        load_phase(wrk, servers, wanted, args, workdir, results)
        for server in servers[1:]:
            server.stop()
        servers = [xk]

        if use_postgres:
            try:
                postgres_phase(wrk, args, workdir, wanted, include_airflow, results, report)
            except Exception as exc:  # keep the SQLite figures
                say(f"PostgreSQL phase failed: {exc}")
                report["meta"]["postgres_error"] = str(exc)[-2000:]

        if args.profile:
            say("profiling the xcomkit-sqlite worker (py-spy)")
            report["profile"] = profile(wrk, xk, args, workdir, RESULTS / f"profile-{stamp}")

        if args.scale:
            report["scale"] = scale_phase(wrk, xk, args, workdir, wanted, results, servers)
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()

    if args.transfer:
        say("export/import phase: xcomkit xcom export/import, 10,000 XComs (xcom_transfer.py)")
        from xcom_transfer import run_transfer

        report["transfer"] = run_transfer()

    if args.offload:
        say("offload phase: GET one of a 1 MB value, in its row vs in file:// (offload.py)")
        from offload import run_offload

        report["offload"] = run_offload(wrk, args, workdir)

    if args.clean:
        say(f"clean phase: xcomkit db clean of {args.clean_xcoms:,} XComs (db_clean.py)")
        from db_clean import run_clean

        report["clean"] = run_clean(args.clean_xcoms, postgres=use_postgres)

    report["results"] = [asdict(r) for r in results]
    report["ratios"] = {
        "sqlite": compute_ratios(results, "xcomkit-sqlite", "airflow-sqlite"),
        "postgres": compute_ratios(results, "xcomkit-pg", "airflow-pg"),
    }
    report["meta"]["wall_s"] = round(time.perf_counter() - started, 1)
    print_report(report, results)
    output = args.output or RESULTS / f"{stamp}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {output}  ({report['meta']['wall_s']:.0f} s)")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_report(report: dict[str, Any], results: list[Result]) -> None:
    """The tables of both phases, the 1M rows, start-up and seeding, to stdout."""
    sqlite_names = ("xcomkit-sqlite", *BASELINES, "airflow-sqlite")
    print("\n== SQLite phase ==")
    print_table([r for r in results if r.phase == "empty" and r.server in sqlite_names])
    print()
    print_ratios(report["ratios"]["sqlite"], "airflow-sqlite")
    pg_rows = [r for r in results if r.server in ("xcomkit-pg", "airflow-pg")]
    if pg_rows:
        print("\n== PostgreSQL phase (x bare: the bare app of the SQLite phase) ==")
        print_table(pg_rows)
        print()
        print_ratios(report["ratios"]["postgres"], "airflow-pg")
    scaled = [r for r in results if r.phase not in ("empty",)]
    if scaled:
        print("\n== xcomkit-sqlite at scale (empty2: the empty server, measured beside it) ==")
        print_table(scaled)
    print()
    print(
        "start-up (spawn -> first 200):",
        ", ".join(f"{k} {v:.2f} s" for k, v in report["startup_s"].items()),
    )
    if "scale" in report:
        s = report["scale"]
        print(
            f"seed: {s['xcoms']:,} XComs, {s['runs']:,} runs at {s['rows_per_s']:,.0f} rows/s;"
            f" worker RSS at 1M: {s.get('worker_rss_mb_loaded')} MB"
        )
        if s.get("search"):
            print("\npattern filters at scale, in process (ms per first page: count + page):")
            for row in s["search"]:
                print(
                    f"  {row['filter']:40s} total {row['indexed_total']:>9,}"
                    f"  indexed {row['indexed_ms']:8.2f}  plain {row['plain_ms']:8.2f}"
                    f"  x{row['speedup']}"
                )
    if "offload" in report:
        from offload import print_offload

        print()
        print_offload(report["offload"])
    if "transfer" in report:
        print_transfer(report["transfer"], results)


def print_transfer(transfer: dict[str, Any], results: list[Result]) -> None:
    """The export/import rates of the bulk path (the CLI's default against xcomkit) and
    of the per-XCom REST path, beside the same run's wrk figures of xcomkit-sqlite (create
    for import, get_one for export): with one request per XCom, those bound the latter."""
    wrk = {
        r.scenario: r.ok_rps for r in results if r.server == "xcomkit-sqlite" and r.phase == "empty"
    }
    print(
        f"\n== xcomkit xcom export/import, {transfer['xcoms']:,} XComs, one xcomkit-sqlite "
        "worker each (target >= 2,000 XComs/s each way) =="
    )
    rest = transfer.get("per_xcom") or {}
    for step, label, scenario in (
        ("import_a", "import (empty server)", "create"),
        ("export_a", "export", "get_one"),
        ("import_b", "import of the export", "create"),
    ):
        f = transfer[step]
        beside = f"{wrk[scenario]:,.0f} req/s" if scenario in wrk else "not measured"
        per_xcom = f"{rest[step]['rate']:7,}" if step in rest else "      -"
        print(
            f"{label:<22} bulk {f['rate']:7,} XComs/s, per-XCom {per_xcom} XComs/s"
            f" (server {scenario} (wrk) {beside}); bulk CPU/XCom client"
            f" {f['client_ms']:.2f} ms, server {f['server_ms']:.2f} ms"
            f" (ceiling {f['server_ceiling']:,}/s)"
        )
    print(f"stores equal: {transfer['stores_equal']}")


def postgres_phase(
    wrk: str,
    args: argparse.Namespace,
    workdir: Path,
    wanted: list[Scenario],
    include_airflow: bool,
    results: list[Result],
    report: dict[str, Any],
) -> None:
    """One throw-away cluster; xcomkit-pg and airflow-pg on their own databases, same loads."""
    import psycopg
    from tests import pg

    if include_airflow:
        ensure_airflow_pg_driver()
    say("PostgreSQL phase: starting a throw-away cluster")
    servers: list[Server] = []
    with pg.temporary_cluster() as admin_url:
        try:
            plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(plain) as conn:
                row = conn.execute("SHOW server_version").fetchone()
                report["meta"]["postgres_version"] = row[0] if row else None
            xk_url = pg.create_database(admin_url, "xcomkit_bench")
            af_url = pg.create_database(admin_url, "airflow_bench")
            xk_db = xk_url.replace("postgresql+psycopg://", "postgresql://")
            af_db = af_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
            xk = start_xcomkit("xcomkit-pg", xk_db, workdir)
            servers.append(xk)
            report["startup_s"]["xcomkit_pg"] = round(xk.ready_s or 0, 3)
            say(f"  xcomkit-pg ready {xk.ready_s:.2f} s after spawn ({xk_db})")
            if include_airflow:
                try:
                    servers.append(start_airflow("airflow-pg", af_db))
                except Exception as exc:  # xcomkit-pg's figures are still worth having
                    say(f"  airflow-pg did not start, left out: {exc}")
                    report["meta"]["airflow_pg_error"] = str(exc)[-2000:]
            for server in servers:
                put_entries(server)
            say("PostgreSQL phase: loads (each scenario on each server in turn)")
            load_phase(wrk, servers, wanted, args, workdir, results)
            for server in servers[1:]:
                server.stop()
            if args.profile:
                say("profiling the xcomkit-pg worker (py-spy)")
                stamp = report["meta"]["timestamp"]
                out = RESULTS / f"profile-{stamp}" / "pg"
                report["profile_pg"] = profile(wrk, xk, args, workdir, out)
        finally:
            for server in servers:
                with contextlib.suppress(Exception):
                    server.stop()


def scale_phase(
    wrk: str,
    xk: Server,
    args: argparse.Namespace,
    workdir: Path,
    wanted: list[Scenario],
    results: list[Result],
    servers: list[Server],
) -> dict[str, Any]:
    """Seed a 1M-row database, serve it beside the empty one, repeat the reads interleaved."""
    from xcomkit.manifest import load_manifest, read_manifest
    from xcomkit.seed import print_progress, seed
    from xcomkit.store.db import make_engine, migrate

    say(f"seeding {args.scale_xcoms:,} XComs over {args.scale_runs:,} DAG runs")
    db_file = workdir / "big.db"
    engine = make_engine(f"sqlite:///{db_file}")
    migrate(engine)
    load_manifest(engine, read_manifest(MANIFEST))
    stats = seed(engine, xcoms=args.scale_xcoms, runs=args.scale_runs, progress=print_progress)
    engine.dispose()
    say(
        f"  {stats.xcoms:,} XComs in {stats.xcoms_seconds:.1f} s: {stats.rate:,.0f} rows/s"
        f" (+ {stats.runs:,} runs in {stats.runs_seconds:.1f} s)"
    )
    big = start_xcomkit("xcomkit-sqlite-1M", f"sqlite:///{db_file}", workdir)
    servers.append(big)
    say(f"  xcomkit on 1M ready {big.ready_s:.2f} s after spawn")
    put_entries(big)
    info: dict[str, Any] = {
        "xcoms": stats.xcoms,
        "runs": stats.runs,
        "seed_s": round(stats.xcoms_seconds, 2),
        "rows_per_s": round(stats.rate),
        "db_mb": round(db_file.stat().st_size / 2**20, 1),
        "startup_s": round(big.ready_s or 0, 3),
    }
    for scenario in wanted:
        if scenario.name not in READ_SCENARIOS:
            continue
        for server, phase in ((xk, "empty2"), (big, scale_label(args.scale_xcoms))):
            r = measure(wrk, server, scenario, args, workdir, phase, True)
            r.server = "xcomkit-sqlite"
            results.append(r)
    info["worker_rss_mb_loaded"] = round(_proc_rss(big.pid) / 2**20, 1)
    info["worker_hwm_mb"] = vm_hwm_mb(big.pid)
    say("pattern filters at scale, in process: search index vs plain scan (search_scale.py)")
    from search_scale import measure as measure_search

    info["search"] = measure_search(f"sqlite:///{db_file}", repeat=5)
    return info


if __name__ == "__main__":
    sys.exit(main())
