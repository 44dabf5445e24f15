"""``make stress``: what one hostile or heavy caller can do to a running xcomkit.

Each scenario starts real ``xcomkit serve`` processes on loopback (SQLite, and PostgreSQL
on a throw-away cluster where ``initdb`` is installed), does what the hardening issue
measured, and prints what it saw. Every loop is bounded in count and time; nothing leaves
this machine.

Verdicts: ``ok``; ``FAIL`` for a wrong behaviour (a 5xx, a body read before
authentication, a lost write, a secret another user can read, a failed migration), which
makes the run exit 1; ``missed`` for a speed or memory figure over its target, which is
reported but does not fail the run (these machines are shared and noisy).

    .venv/bin/python benchmarks/stress.py [--quick] [--json FILE] [--only NAME ...]

``--quick`` seeds 200,000 XComs instead of 1,000,000 and shortens the loads; ``--only``
runs the named scenarios alone (``--only logins pg-viewers``; names in ``SCENARIOS``),
``--repeat N`` runs them N times (for figures on a noisy machine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.run import free_port, stopper, vm_hwm_mb, wait_ready  # noqa: E402
from tests import pg  # noqa: E402

XCOMKIT = str(Path(sys.executable).with_name("xcomkit"))
DAGS = REPO / "examples" / "demo_dags.yaml"
TI = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"
WILD = "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries"
MB = 2**20


# ---------------------------------------------------------------------------- results


@dataclass
class Row:
    scenario: str
    expected: str
    observed: str
    verdict: str  # ok | FAIL | missed


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(
        self, scenario: str, expected: str, observed: str, good: bool, hard: bool = True
    ) -> None:
        verdict = "ok" if good else ("FAIL" if hard else "missed")
        self.rows.append(Row(scenario, expected, observed, verdict))
        print(f"[{verdict:>6}] {scenario}: {observed}  (expected {expected})", flush=True)

    @property
    def failed(self) -> bool:
        return any(r.verdict == "FAIL" for r in self.rows)


# ---------------------------------------------------------------------------- servers


@dataclass
class Serve:
    base: str
    pid: int
    admin: str
    viewer: str
    db: str
    stop: Callable[[], None]
    workdir: Path

    def rss_mb(self) -> float:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0


def create_user(db: str, name: str, role: str, password: str, cwd: Path) -> None:
    subprocess.run(
        [XCOMKIT, "users", "create", name, "--role", role, "--password", password, "--db", db],
        check=True,
        capture_output=True,
        cwd=cwd,
    )


@contextlib.contextmanager
def serve(
    db: str,
    workdir: Path,
    *args: str,
    fd_limit: int | None = None,
    env: dict[str, str] | None = None,
    users: bool = True,
) -> Iterator[Serve]:
    """``xcomkit serve`` on a free port with an admin and a viewer; stopped on exit."""
    if users:
        create_user(db, "admin", "admin", "admin-password-1", workdir)
        create_user(db, "viewer", "viewer", "viewer-password-1", workdir)
    port = free_port()

    def limit_fds() -> None:
        if fd_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    log = open(workdir / f"serve-{port}.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [XCOMKIT, "serve", "--db", db, "--dags", str(DAGS), "--port", str(port), *args],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=limit_fds,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    stop = stopper(proc)  # type: ignore[arg-type]
    try:
        wait_ready(proc, f"{base}/api/v2/monitor/health", time.perf_counter(), 120)  # type: ignore[arg-type]
        tokens = {"admin": "", "viewer": ""}
        for name in ("admin", "viewer") if users else ():
            r = httpx.post(
                f"{base}/auth/token",
                json={"username": name, "password": f"{name}-password-1"},
                timeout=30,
            )
            r.raise_for_status()
            tokens[name] = r.json()["access_token"]
        yield Serve(base, proc.pid, tokens["admin"], tokens["viewer"], db, stop, workdir)
    finally:
        stop()
        log.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------- probes


PROBE = """
import json, select, sys, time, urllib.request
base, token, path, every = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
out = []
while True:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError:
        status = 0
    out.append([status, (time.perf_counter() - t0) * 1000])
    if select.select([sys.stdin], [], [], 0)[0]:  # the parent says stop
        break
    time.sleep(every)
print(json.dumps(out))
"""


class Prober:
    """GETs one XCom every ``every_s`` seconds from a separate process (so the load
    generator's own threads cannot delay it); latencies in ms."""

    def __init__(self, s: Serve, every_s: float = 0.02) -> None:
        self.s = s
        self.every_s = every_s
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Prober:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PROBE,
                self.s.base,
                self.s.admin,
                f"{TI}/probe",
                str(self.every_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        out, _ = self._proc.communicate("stop\n", timeout=120)
        for status, ms in json.loads(out):
            self.statuses[status] += 1
            self.latencies.append(ms)

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        return (
            f"probe GET p50 {self.p(0.5):.1f} ms, p99 {self.p(0.99):.1f} ms over "
            f"{len(self.latencies)} requests {dict(self.statuses)}"
        )


def put_probe(s: Serve) -> None:
    r = httpx.post(
        f"{s.base}{TI}", json={"key": "probe", "value": {"n": 1}}, headers=bearer(s.admin)
    )
    assert r.status_code in (201, 409), r.text


def loop_for(seconds: float, threads: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` repeatedly in ``threads`` threads for ``seconds``."""
    end = time.monotonic() + seconds

    def run(i: int) -> None:
        while time.monotonic() < end:
            work(i)

    pool = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(seconds + 120)


# ---------------------------------------------------------------------------- raw sends


def raw_post(
    base: str, path: str, total: int, headers: dict[str, str], chunked: bool = False
) -> tuple[int, int]:
    """POST ``total`` bytes of junk JSON over a raw socket; (status or 0, bytes sent).

    Writes without blocking and looks for an answer between writes, so an answer sent
    before the whole body (the point of these cases) is read before the server closes.
    """
    host, port = base.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    body = b"[" * MB
    piece = b"%x\r\n" % len(body) + body + b"\r\n" if chunked else body
    sent = 0
    reply = b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        pending = b""
        deadline = time.monotonic() + 120
        while not reply and time.monotonic() < deadline:
            if not pending and sent < total:
                pending = piece
                sent += len(body)
            if pending:
                try:
                    pending = pending[sock.send(pending) :]
                except BlockingIOError:
                    time.sleep(0.0005)
                except OSError:
                    pending = b""
                    sent = total  # the server closed: stop writing, read what it said
            elif chunked and sent >= total:
                with contextlib.suppress(OSError):
                    sock.send(b"0\r\n\r\n")
                time.sleep(0.01)
            try:
                reply += sock.recv(65536)
            except BlockingIOError:
                if sent >= total and not pending:
                    time.sleep(0.01)
            except OSError:
                break
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0
    return status, min(sent, total)


def parallel(n: int, fn: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return results


# ---------------------------------------------------------------------------- scenarios


def bodies(report: Report, s: Serve) -> None:
    """Unauthenticated and oversized bodies: refused unread, memory back to base."""
    httpx.get(f"{s.base}{TI}", headers=bearer(s.admin))
    time.sleep(0.5)
    base_mb = s.rss_mb()
    big = 200 * MB
    cases: list[tuple[str, int, Callable[[int], tuple[int, int]], str]] = [
        ("8 × 200 MB malformed JSON, no token", 8, lambda _i: raw_post(s.base, TI, big, {}), "401"),
        (
            "4 × 200 MB login body, no token",
            4,
            lambda _i: raw_post(s.base, "/auth/token", big, {}),
            "413",
        ),
        (
            "200 MB value, logged in",
            1,
            lambda _i: raw_post(s.base, TI, big, bearer(s.admin)),
            "413",
        ),
        (
            "200 MB chunked value, logged in",
            1,
            lambda _i: raw_post(s.base, TI, big, bearer(s.admin), chunked=True),
            "413",
        ),
        (
            "200 MB value, viewer",
            2,
            lambda _i: raw_post(s.base, TI, big, bearer(s.viewer)),
            "403",
        ),
    ]
    for name, n, fn, want in cases:
        results = parallel(n, fn)
        statuses = Counter(str(st) for st, _ in results)
        read = max(sent for _, sent in results) / MB
        report.add(
            f"bodies: {name}",
            f"all {want}",
            f"{dict(statuses)}; the client got at most {read:.0f} MB out before the answer",
            set(statuses) == {want},
        )
    time.sleep(2)
    peak = vm_hwm_mb(s.pid) or 0.0
    after = s.rss_mb()
    report.add(
        "bodies: memory",
        "back within 50 MB of base",
        f"base {base_mb:.0f} MB, peak {peak:.0f} MB, after 2 s {after:.0f} MB",
        after - base_mb <= 50,
        hard=False,
    )


class LoginClients:
    """One HTTP client per flooding thread, each login on a new connection (no keep-alive),
    as many separate callers would send them.

    Built once: ``httpx.post`` builds a client, and with it a TLS context, for every
    request, which cost this load generator ~70 ms of CPU per login (measured) on the
    machine the server shares, and sent it ~15 logins a second instead of hundreds.
    """

    def __init__(self, base: str, n: int) -> None:
        self.base = base
        self._clients = [
            httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=60)
            for _ in range(n)
        ]

    def post(self, i: int, username: str, password: str) -> httpx.Response | None:
        """POST /auth/token from client ``i``; None when the connection failed."""
        with contextlib.suppress(httpx.HTTPError):
            return self._clients[i].post(
                f"{self.base}/auth/token", json={"username": username, "password": password}
            )
        return None

    def close(self) -> None:
        for client in self._clients:
            client.close()


def logins(report: Report, s: Serve, seconds: float) -> None:
    """64 clients posting logins; 8 clients guessing one user's password."""
    put_probe(s)
    flood: Counter[int] = Counter()
    lock = threading.Lock()
    clients = LoginClients(s.base, 64)

    def post(i: int) -> None:
        r = clients.post(i, f"someone{i}", f"secret{i}")
        with lock:
            flood[r.status_code if r is not None else 0] += 1

    base_mb = s.rss_mb()
    with Prober(s) as probe:
        loop_for(seconds, 64, post)
    peak = vm_hwm_mb(s.pid) or 0.0
    report.add(
        "logins: 64 clients posting to /auth/token",
        "401, 429 or 503 with Retry-After; never 500",
        f"{dict(flood)} in {seconds:.0f} s",
        not any(k >= 500 and k != 503 for k in flood) and 0 not in flood,
    )
    report.add(
        "logins: the rest of the server meanwhile",
        "probe p99 < 100 ms, peak RSS < base + 400 MB",
        f"{probe.summary()}; RSS base {base_mb:.0f} MB, peak {peak:.0f} MB",
        probe.p(0.99) < 100 and peak < base_mb + 400,
        hard=False,
    )
    guesses: Counter[int] = Counter()
    retry_after: set[str] = set()

    def guess(i: int) -> None:
        r = clients.post(i, "viewer", f"guess-{i}-{time.monotonic()}")
        with lock:
            guesses[r.status_code if r is not None else 0] += 1
            if r is not None and r.status_code == 429:
                retry_after.add(r.headers.get("retry-after", "none"))

    time.sleep(1)
    loop_for(seconds, 8, guess)
    report.add(
        "logins: 8 clients guessing one user's password",
        "429 with Retry-After once past the limit; no 5xx",
        f"{dict(guesses)}; Retry-After values {sorted(retry_after)[:5]}",
        guesses[429] > 0
        and "none" not in retry_after
        and not any(k >= 500 and k != 503 for k in guesses),
    )
    clients.close()


def slow_viewers(report: Report, s: Serve, viewers: int, seconds: float, label: str) -> None:
    """Viewers looping the slowest list queries; a probe GET must stay fast."""
    put_probe(s)
    pattern = "|".join(f"k{i}x" for i in range(100))
    queries = [
        {"xcom_key_pattern": pattern},
        {"order_by": "-timestamp", "offset": "900000"},
        {"xcom_key_pattern": "%a%b%c", "order_by": "-key"},
    ]
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def view(i: int) -> None:
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(
                f"{s.base}{WILD}",
                params=queries[i % len(queries)],
                headers=bearer(s.viewer),
                timeout=120,
            )
            with lock:
                statuses[r.status_code] += 1

    with Prober(s) as probe:
        loop_for(seconds, viewers, view)
    report.add(
        f"{label}: {viewers} viewers looping the slowest lists",
        "viewers get 200 or 503, never 500",
        f"{dict(statuses)}",
        not any(k >= 500 and k != 503 for k in statuses),
    )
    report.add(
        f"{label}: probe GET meanwhile",
        "p99 < 100 ms, all 200",
        probe.summary(),
        probe.p(0.99) < 100 and set(probe.statuses) == {200},
        hard=False,
    )


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def sqlite_lock(report: Report, s: Serve, hold_s: float) -> None:
    """Another process holds the SQLite write lock: only writes wait, until their deadline."""
    put_probe(s)
    path = s.db.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, path, str(hold_s)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    with Prober(s) as probe:
        t0 = time.perf_counter()
        r = httpx.post(
            f"{s.base}{TI}",
            json={"key": "during_lock", "value": 1},
            headers=bearer(s.admin),
            timeout=60,
        )
        waited = time.perf_counter() - t0
        health = httpx.get(f"{s.base}/api/v2/monitor/health").json()["metadatabase"]["status"]
        holder.wait(60)
    report.add(
        f"SQLite lock held {hold_s:.0f} s by another process: a write",
        "503 with Retry-After at its deadline (or 201 once free), never 500",
        f"{r.status_code} after {waited:.1f} s, Retry-After {r.headers.get('retry-after')}",
        r.status_code in (201, 503),
    )
    report.add(
        "SQLite lock: reads and health meanwhile",
        "probe p99 < 100 ms, health healthy",
        f"{probe.summary()}; health {health}",
        probe.p(0.99) < 100 and health == "healthy",
        hard=False,
    )


def idle_connections(report: Report, workdir: Path) -> None:
    """1,500 idle connections against a worker limited to 1,024 files."""
    db = f"sqlite:///{workdir / 'fd.db'}"
    with serve(db, workdir, "--header-timeout", "2", fd_limit=1024) as s:
        socks: list[socket.socket] = []
        for _ in range(1500):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", int(s.base.rsplit(":", 1)[1])))
            socks.append(sock)
        time.sleep(0.5)
        t0 = time.perf_counter()
        served = False
        while time.perf_counter() - t0 < 30:
            try:
                if httpx.get(f"{s.base}/api/v2/version", timeout=5).status_code == 200:
                    served = True
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        waited = time.perf_counter() - t0
        time.sleep(3)
        closed = 0
        for sock in socks:
            try:
                if sock.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            sock.close()
    report.add(
        "1,500 idle connections, fd limit 1,024: a new client",
        "served within the header timeout (2 s) plus a little",
        f"served={served} after {waited:.1f} s; the server closed {closed} of 1,500 idle sockets",
        served and closed >= 1000,
    )
    report.add(
        "idle connections: wait of the new client",
        "< 5 s",
        f"{waited:.1f} s",
        waited < 5,
        hard=False,
    )


def postgres_restart(report: Report, admin_url: str, workdir: Path, seconds: float) -> None:
    """PostgreSQL restarted (immediate) under 8 writers: 503s, no 500, no lost write."""
    db = pg.create_database(admin_url, "stress_restart")
    with serve(db, workdir) as s:
        statuses: Counter[int] = Counter()
        acknowledged: list[str] = []
        lock = threading.Lock()
        counter = iter(range(10**9))

        def write(i: int) -> None:
            key = f"w{i}_{next(counter)}"
            try:
                r = httpx.post(
                    f"{s.base}{TI}",
                    json={"key": key, "value": i},
                    headers=bearer(s.admin),
                    timeout=60,
                )
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            with lock:
                statuses[status] += 1
                if status == 201:
                    acknowledged.append(key)

        restarter = threading.Timer(seconds / 3, lambda: pg.restart(admin_url))
        restarter.start()
        loop_for(seconds, 8, write)
        restarter.join()
        with httpx.Client(base_url=s.base, headers=bearer(s.admin), timeout=30) as c:
            deadline = time.monotonic() + 30
            while acknowledged and time.monotonic() < deadline:
                if c.get(f"{TI}/{acknowledged[0]}").status_code == 200:
                    break
                time.sleep(0.2)
            missing = [k for k in acknowledged if c.get(f"{TI}/{k}").status_code != 200]
    report.add(
        "PostgreSQL restarted (immediate) under 8 writers",
        "0 × 500, every 201 kept",
        f"{dict(statuses)}; {len(acknowledged)} acknowledged, {len(missing)} missing",
        statuses[500] == 0 and not missing and len(acknowledged) > 0,
    )


def secrets_check(report: Report, workdir: Path) -> None:
    """Files holding secrets are readable by their owner only."""
    home = workdir / "demo"
    home.mkdir()
    old_umask = os.umask(0o022)
    try:
        with serve("sqlite:///xcomkit.db", home, "--demo", users=False):
            files = [
                home / "xcomkit.db",
                home / "xcomkit.db-wal",
                home / "xcomkit.db-shm",
                home / ".xcomkit" / "passwords.json",
            ]
            modes = {f.name: oct(f.stat().st_mode & 0o777) for f in files if f.exists()}
            readable = []
            if os.geteuid() == 0 and shutil.which("runuser"):
                os.chmod(workdir, 0o755)
                os.chmod(home, 0o755)
                for f in files:
                    r = subprocess.run(
                        ["runuser", "-u", "nobody", "--", "head", "-c", "1", str(f)],
                        capture_output=True,
                    )
                    if r.returncode == 0:
                        readable.append(f.name)
    finally:
        os.umask(old_umask)
    report.add(
        "secrets: database, WAL, SHM, passwords.json under umask 022",
        "mode 0600, unreadable by user nobody",
        f"modes {modes}; readable by nobody: {readable or 'none'}",
        all(m == "0o600" for m in modes.values()) and len(modes) == 4 and not readable,
    )
    r = subprocess.run(
        [XCOMKIT, "serve", "--db", f"sqlite:///{workdir / 'weak.db'}", "--port", "1"],
        env={**os.environ, "XCOMKIT_JWT_SECRET": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    report.add(
        "XCOMKIT_JWT_SECRET=x",
        "refused at start (exit 2), secret not echoed",
        f"exit {r.returncode}: {r.stderr.strip()[:90]}",
        r.returncode == 2 and "32 bytes" in r.stderr,
    )


def migrations(report: Report, admin_url: str, workdir: Path) -> None:
    """3 × db migrate at once, then 2 servers started together, on fresh PostgreSQL."""
    db = pg.create_database(admin_url, "stress_migrate")
    procs = [
        subprocess.Popen(
            [XCOMKIT, "db", "migrate", "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    codes = [p.wait(120) for p in procs]
    db2 = pg.create_database(admin_url, "stress_start")
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [XCOMKIT, "serve", "--db", db2, "--dags", str(DAGS), "--port", str(port)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for port in ports
    ]
    ready = []
    try:
        for proc, port in zip(servers, ports, strict=True):
            try:
                wait_ready(proc, f"http://127.0.0.1:{port}/api/v2/version", time.perf_counter(), 90)  # type: ignore[arg-type]
                ready.append(True)
            except RuntimeError:
                ready.append(False)
    finally:
        for proc in servers:
            stopper(proc)()  # type: ignore[arg-type]
    report.add(
        "3 × db migrate at once; 2 servers started together (fresh PostgreSQL)",
        "all exit 0; both servers ready",
        f"migrate exits {codes}; servers ready {ready}",
        codes == [0, 0, 0] and ready == [True, True],
    )


def deep_values(report: Report, s: Serve) -> None:
    """Deep values: 422 with a detail, or stored and served in every mode."""
    h = {**bearer(s.admin), "Content-Type": "application/json"}
    seen: Counter[int] = Counter()
    with httpx.Client(base_url=s.base, headers=h, timeout=60) as c:
        deep_text = "[" * 1000 + "]" * 1000
        seen[c.post(TI, content=json.dumps({"key": "d", "value": deep_text})).status_code] += 1
        for mode in ({}, {"deserialize": "true"}, {"stringify": "true"}):
            seen[c.get(f"{TI}/d", params=mode).status_code] += 1
        for depth in (959, 960, 961):
            nested = "[" * depth + "]" * depth
            body = f'{{"key": "n{depth}", "value": {nested}}}'
            seen[c.post(TI, content=body).status_code] += 1
            seen[c.patch(f"{TI}/d", content=f'{{"value": {nested}}}').status_code] += 1
        for depth in (957, 958, 959, 960):
            nested = "[" * depth + "]" * depth
            conf = f'{{"logical_date": null, "conf": {{"a": {nested}}}}}'
            seen[c.post("/api/v2/dags/xcom_demo/dagRuns", content=conf).status_code] += 1
    report.add(
        "deep values: a 1,000-deep JSON string, values 959–961 deep, conf 957–960 deep",
        "201/200 for what is stored, 422 for the rest, never 500",
        f"{dict(seen)}",
        set(seen) <= {200, 201, 422} and seen[500] == 0,
    )


# ---------------------------------------------------------------------------- main


#: Scenario names for ``--only``, in the order a full run takes them.
SCENARIOS = (
    "bodies",
    "deep-values",
    "logins",
    "sqlite-viewers",
    "sqlite-lock",
    "idle",
    "secrets",
    "migrations",
    "pg-restart",
    "pg-viewers",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller seed, shorter loads")
    parser.add_argument("--json", type=Path, help="also write the rows here as JSON")
    parser.add_argument(
        "--only", nargs="+", choices=SCENARIOS, metavar="NAME", help=f"one of {SCENARIOS}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run the scenarios N times")
    args = parser.parse_args(argv)
    xcoms = 200_000 if args.quick else 1_000_000
    load_s = 6.0 if args.quick else 12.0
    report = Report()
    started = time.monotonic()
    for _ in range(args.repeat):
        run_all(report, set(args.only or SCENARIOS), xcoms, load_s)
    took = time.monotonic() - started
    print()
    print(f"{'verdict':<7} | scenario | observed")
    for row in report.rows:
        print(f"{row.verdict:<7} | {row.scenario} | {row.observed}")
    counts = Counter(r.verdict for r in report.rows)
    print(
        f"\nstress: {counts['ok']} ok, {counts['missed']} missed, "
        f"{counts['FAIL']} FAIL in {took:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in report.rows], indent=2))
    return 1 if report.failed else 0


def run_all(report: Report, only: set[str], xcoms: int, load_s: float) -> None:
    """Run the scenarios named in ``only`` once, adding their rows to ``report``."""
    workdir = Path(tempfile.mkdtemp(prefix="xcomkit-stress-"))
    try:
        db = f"sqlite:///{workdir / 'main.db'}"
        if only & {"bodies", "deep-values", "logins"}:
            with serve(db, workdir) as s:
                if "bodies" in only:
                    bodies(report, s)
                if "deep-values" in only:
                    deep_values(report, s)
                if "logins" in only:
                    logins(report, s, load_s)
        if only & {"sqlite-viewers", "sqlite-lock"}:
            seed_and_serve_sqlite(report, only, workdir, xcoms, load_s)
        if "idle" in only:
            idle_connections(report, workdir)
        if "secrets" in only:
            secrets_check(report, workdir)
        if not only & {"migrations", "pg-restart", "pg-viewers"}:
            pass  # no PostgreSQL scenario asked for
        elif pg.find_bin() is not None:
            with pg.temporary_cluster() as admin_url:
                if "migrations" in only:
                    migrations(report, admin_url, workdir)
                if "pg-restart" in only:
                    postgres_restart(report, admin_url, workdir, load_s)
                if "pg-viewers" in only:
                    pg_viewers(report, admin_url, workdir, xcoms, load_s)
        else:
            print("PostgreSQL not installed: its scenarios skipped", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def seed_and_serve_sqlite(
    report: Report, only: set[str], workdir: Path, xcoms: int, load_s: float
) -> None:
    """Seed ``xcoms`` XComs in a SQLite file, then the viewers and lock scenarios."""
    big = f"sqlite:///{workdir / 'big.db'}"
    print(f"seeding {xcoms:,} XComs ...", flush=True)
    subprocess.run(
        [
            XCOMKIT,
            "seed",
            "--xcoms",
            str(xcoms),
            "--runs",
            "10000",
            "--db",
            big,
            "--dags",
            str(DAGS),
        ],
        check=True,
        capture_output=True,
        cwd=workdir,
    )
    with serve(big, workdir, "--request-timeout", "5") as s:
        if "sqlite-viewers" in only:
            slow_viewers(report, s, 4, load_s, f"SQLite, {xcoms:,} XComs")
        if "sqlite-lock" in only:
            sqlite_lock(report, s, 8.0)


def pg_viewers(report: Report, admin_url: str, workdir: Path, xcoms: int, load_s: float) -> None:
    """Seed ``xcoms // 5`` XComs in PostgreSQL, then 20 viewers loop the slowest lists."""
    pgdb = pg.create_database(admin_url, "stress_viewers")
    subprocess.run(
        [
            XCOMKIT,
            "seed",
            "--xcoms",
            str(xcoms // 5),
            "--runs",
            "2000",
            "--db",
            pgdb,
            "--dags",
            str(DAGS),
        ],
        check=True,
        capture_output=True,
        cwd=workdir,
    )
    with serve(pgdb, workdir, "--request-timeout", "5") as s:
        slow_viewers(report, s, 20, load_s, f"PostgreSQL, {xcoms // 5:,} XComs")


if __name__ == "__main__":
    raise SystemExit(main())
