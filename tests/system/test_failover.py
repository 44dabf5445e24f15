"""Several xcomkit hosts over one PostgreSQL behind HAProxy: one dies, no write is lost.

The deployment of docs/deploy.md, on loopback: a throw-away PostgreSQL cluster
(tests/pg.py); ``xcomkit db migrate``, ``xcomkit dags load`` and ``xcomkit users create``
run once; two ``xcomkit serve`` processes on their own ports share the database and one
JWT secret file; HAProxy runs examples/deploy/haproxy.cfg in front of them. Several
clients (``XComClient`` through the balancer, each on keys of its own) create, update
and delete XComs while one instance is killed with SIGKILL and started again.

Asserted: every write the clients saw acknowledged is in the database afterwards (and
nothing else under their keys); on the wire the clients saw only connection errors,
503 with ``Retry-After`` and, for a POST the dead instance held, the balancer's 502,
each followed by a resend that settled the operation (``XComClient`` retries them; the
only answers of a resend that are not 2xx are the ones that tell the first send was
applied: 409 to a resent create, 404 to a delete); no operation failed; the
restarted instance takes requests again. Every process and the cluster are stopped
whatever happens.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pg
from tests.conftest import MANIFEST, free_port
from xcomkit.modern import XComClient, XComError, XComNotFound

HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
)
HAPROXY_CFG = Path(__file__).resolve().parents[2] / "examples" / "deploy" / "haproxy.cfg"
XCOMKIT = str(Path(sys.executable).parent / "xcomkit")
DAG_ID, RUN_ID, TASK_ID = "xcom_demo", "run_2", "load"
PASSWORD = "failover-admin-password"
CLIENTS = 6
KEYS_PER_CLIENT = 8
#: Operations acknowledged in each phase: before the kill, while one instance is down,
#: after the restart.
OPS_PER_PHASE = 150

pytestmark = [
    pytest.mark.skipif(
        HAPROXY is None, reason="HAProxy is not installed (apt-get install haproxy)"
    ),
    pytest.mark.skipif(
        pg.find_bin() is None, reason="PostgreSQL server programs are not installed"
    ),
]


def wait_for(what: str, condition: Callable[[], bool], deadline_s: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group of ``proc`` and wait for it (SIGKILL after 20 s)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


@dataclass
class Instance:
    """One ``xcomkit serve`` process of the deployment."""

    name: str
    port: int
    db: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until its health check passes."""
        self.spawn()
        wait_for(f"{self.name} to answer its health check", self.healthy)

    def spawn(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [XCOMKIT, "serve", "--db", self.db, "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            r = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=2)
        except httpx.TransportError:
            return False
        return r.status_code == 200 and r.json()["metadatabase"]["status"] == "healthy"

    def kill(self) -> None:
        assert self.proc is not None
        stop_process(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@dataclass
class Balancer:
    """HAProxy running examples/deploy/haproxy.cfg, with a stats socket for the test."""

    port: int
    socket_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def servers(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the backend's servers, by name (status, stot, ...)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket_path))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        text = data.decode().lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {
            r["svname"]: r
            for r in rows
            if r["pxname"] == "xcomkit" and r["svname"] not in ("BACKEND", "FRONTEND")
        }

    def status(self, server: str) -> str:
        return self.servers()[server]["status"]

    def served(self, server: str) -> int:
        return int(self.servers()[server]["stot"])


@dataclass
class Deployment:
    instances: list[Instance]
    balancer: Balancer
    db: str


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """PostgreSQL, set up once; two instances; HAProxy. All stopped on teardown."""
    with contextlib.ExitStack() as stack:
        admin_url = stack.enter_context(pg.temporary_cluster())
        db = pg.create_database(admin_url, "xcomkit")
        secret_file = tmp_path / "jwt-secret"
        secret_file.write_text(os.urandom(48).hex() + "\n")
        secret_file.chmod(0o600)
        env = {**os.environ, "XCOMKIT_JWT_SECRET_FILE": str(secret_file)}
        env.pop("XCOMKIT_JWT_SECRET", None)
        # Set-up runs once, before any instance starts (instances find the schema
        # current and do not migrate).
        for args in (
            ["db", "migrate"],
            ["dags", "load", str(MANIFEST)],
            ["users", "create", "admin", "--role", "admin", "--password", PASSWORD],
        ):
            subprocess.run([XCOMKIT, *args, "--db", db], check=True, capture_output=True, env=env)
        instances = [
            Instance(f"xcomkit{n}", free_port(), db, env, tmp_path / f"xcomkit{n}.log")
            for n in (1, 2)
        ]
        for instance in instances:
            stack.callback(instance.stop)
            instance.spawn()
        for instance in instances:
            wait_for(f"{instance.name} to answer its health check", instance.healthy)
        port = free_port()
        sock = tmp_path / "haproxy.sock"
        extra = tmp_path / "test-stats.cfg"
        extra.write_text(f'global\n    stats socket "{sock}" mode 600 level operator\n')
        lb_env = {
            **os.environ,
            "XCOMKIT_LB_BIND": f"127.0.0.1:{port}",
            **{f"XCOMKIT_INSTANCE_{n}": f"127.0.0.1:{i.port}" for n, i in enumerate(instances, 1)},
        }
        lb_log = tmp_path / "haproxy.log"
        with open(lb_log, "wb") as out:
            proc = subprocess.Popen(
                [str(HAPROXY), "-db", "-f", str(HAPROXY_CFG), "-f", str(extra)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=lb_env,
                start_new_session=True,
            )
        stack.callback(stop_process, proc)
        balancer = Balancer(port, sock, proc)

        def both_up() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"haproxy exited {proc.returncode}:\n{lb_log.read_text()}")
            if not sock.exists():
                return False
            return all(balancer.status(i.name) == "UP" for i in instances)

        wait_for("HAProxy to see both instances up", both_up)
        yield Deployment(instances, balancer, db)


# ---------------------------------------------------------------------------------------
# The clients
# ---------------------------------------------------------------------------------------


class RecordingTransport(httpx.HTTPTransport):
    """An httpx transport that notes every error answer and transport failure."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError as exc:
            self.events.append((request.method, type(exc).__name__, None))
            raise
        if response.status_code >= 400:
            self.events.append(
                (request.method, response.status_code, response.headers.get("retry-after"))
            )
        return response


@dataclass
class Writer:
    """One client thread: creates, updates and deletes its own keys at random, and
    keeps what the server acknowledged (``None``: the key is absent)."""

    n: int
    base_url: str
    acked: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    resends: int = 0
    #: Every error answer and transport failure seen on the wire: (method, what).
    seen: list[tuple[str, Any]] = field(default_factory=list)

    def run(self, stop: threading.Event, count: Callable[[], None]) -> None:
        """The thread's body: write until ``stop``; a crash is a problem, not silence."""
        try:
            self.write(stop, count)
        except Exception as exc:
            self.problems.append(f"client {self.n} crashed: {exc!r}")

    def write(self, stop: threading.Event, count: Callable[[], None]) -> None:
        rng = random.Random(self.n)
        transport = RecordingTransport()
        keys = [f"failover_c{self.n}_k{j}" for j in range(KEYS_PER_CLIENT)]
        with XComClient(
            self.base_url,
            username="admin",
            password=PASSWORD,
            retries=10,
            backoff=0.05,
            max_backoff=2.0,
            transport=transport,
        ) as client:
            serial = 0
            while not stop.is_set():
                key = rng.choice(keys)
                serial += 1
                value = {
                    "client": self.n,
                    "serial": serial,
                    "payload": [serial] * rng.randint(1, 5),
                }
                before = len(transport.events)
                try:
                    if self.acked.get(key) is None:
                        client.push(DAG_ID, RUN_ID, TASK_ID, key, value, overwrite=True)
                        self.acked[key] = value
                        op = "POST"
                    elif rng.random() < 0.7:
                        client.update(DAG_ID, RUN_ID, TASK_ID, key, value)
                        self.acked[key] = value
                        op = "PATCH"
                    else:
                        op = "DELETE"
                        # The key exists (its creation was acknowledged), so a 404 says
                        # an earlier send of this DELETE was applied: resent by the
                        # client, or by the balancer when the instance that held it died
                        # (then the client sees only the 404). The final comparison
                        # with the database catches a 404 that was not true.
                        with contextlib.suppress(XComNotFound):
                            client.delete(DAG_ID, RUN_ID, TASK_ID, key)
                        self.acked[key] = None
                except XComError as exc:
                    self.problems.append(f"{key}: {type(exc).__name__}: {exc}")
                    self.acked[key] = "unknown"
                    continue
                self.check(op, transport.events[before:])
                count()

    def check(self, op: str, events: list[tuple[str, Any, str | None]]) -> None:
        """The wire events of one settled operation must be retriable failures, then at
        most the one answer that tells an earlier send was applied."""
        if not events:
            return
        self.resends += 1
        self.seen += [(method, what) for method, what, _ in events]
        *failures, last = events
        if (last[0], last[1]) == ("DELETE", 404):
            pass  # see run()
        elif (last[0], last[1]) == ("POST", 409) and failures:
            pass  # a resent create that found the entry its first send made
        else:
            failures.append(last)
        for method, what, retry_after in failures:
            retriable = (
                isinstance(what, str)  # a transport error: connection refused, reset...
                or (what == 503 and retry_after is not None)
                or (what == 502 and method == "POST")  # the balancer lost a POST's instance
            )
            if not retriable:
                self.problems.append(f"{op}: not a retriable error: {method} {what} {retry_after}")


def test_an_instance_killed_under_write_load_loses_no_acknowledged_write(
    deployment: Deployment,
) -> None:
    lb = deployment.balancer
    victim, survivor = deployment.instances
    writers = [Writer(n, lb.url) for n in range(CLIENTS)]
    stop = threading.Event()
    lock = threading.Lock()
    done = [0]

    def count() -> None:
        with lock:
            done[0] += 1

    threads = [threading.Thread(target=w.run, args=(stop, count), daemon=True) for w in writers]
    for t in threads:
        t.start()
    try:

        def acked_at_least(n: int) -> Callable[[], bool]:
            return lambda: done[0] >= n or not any(t.is_alive() for t in threads)

        wait_for("the first writes", acked_at_least(OPS_PER_PHASE))
        assert lb.served(victim.name) > 0 and lb.served(survivor.name) > 0
        victim.kill()
        wait_for(
            "HAProxy to mark the killed instance down", lambda: lb.status(victim.name) == "DOWN"
        )
        mark = done[0]
        wait_for("writes with one instance", acked_at_least(mark + OPS_PER_PHASE))
        victim.start()
        wait_for(
            "HAProxy to mark the restarted instance up", lambda: lb.status(victim.name) == "UP"
        )
        served_before = lb.served(victim.name)
        mark = done[0]
        wait_for("writes after the restart", acked_at_least(mark + OPS_PER_PHASE))
        wait_for(
            "the restarted instance to take requests",
            lambda: lb.served(victim.name) > served_before,
        )
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    problems = [p for w in writers for p in w.problems]
    assert problems == []
    assert done[0] >= 3 * OPS_PER_PHASE
    # Every acknowledged write is in the database, read back from one instance.
    expected = {key: value for w in writers for key, value in w.acked.items()}
    with XComClient(survivor.url, username="admin", password=PASSWORD) as client:
        stored = {
            e.key: client.pull(DAG_ID, RUN_ID, TASK_ID, e.key).value
            for e in client.iter_entries(DAG_ID, RUN_ID, TASK_ID)
        }
    assert stored == {key: value for key, value in expected.items() if value is not None}
    seen = Counter(event for w in writers for event in w.seen)
    print(
        f"\nfailover: {done[0]} operations acknowledged by {CLIENTS} clients; "
        f"{sum(w.resends for w in writers)} needed a resend; seen on the wire: "
        + (", ".join(f"{m} {what} x{n}" for (m, what), n in sorted(seen.items(), key=str)) or "-")
    )
