"""XComClient's default wire (http.client keep-alive pool) against a real loopback server."""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from xcomkit.modern import XComClient, XComConnectionError, XComServerError

ENTRY = {
    "key": "k",
    "timestamp": "2025-01-01T00:00:01Z",
    "logical_date": "2025-01-01T00:00:00Z",
    "map_index": -1,
    "task_id": "extract",
    "dag_id": "xcom_demo",
    "run_id": "run_1",
    "dag_display_name": "XCom Demo",
    "task_display_name": "extract",
    "run_after": "2025-01-01T00:00:00Z",
    "value": 1,
}

Action = Callable[[BaseHTTPRequestHandler], None]


def answer(status: int = 200, body: Any = ENTRY, headers: dict[str, str] | None = None) -> Action:
    def act(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    return act


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without answering (as a crashed worker would)."""
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


class Script:
    """What the server does, request by request, and what it saw."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.seen: list[tuple[str, str, int, bytes]] = []  # method, raw path, client port, body
        self.connections: list[socket.socket] = []  # server side of each accepted connection
        self.lock = threading.Lock()

    def next(self) -> Action:
        with self.lock:
            return self.actions.pop(0) if self.actions else answer()


@pytest.fixture
def server() -> Iterator[tuple[str, Script, ThreadingHTTPServer]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            script.connections.append(self.connection)

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append((self.command, self.path, self.client_address[1], body))
            script.next()(self)

        do_GET = do_POST = do_PATCH = do_DELETE = handle_one

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script, httpd
    httpd.shutdown()
    httpd.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_keys_go_on_the_wire_quoted_with_slash_kept(server: Any) -> None:
    base_url, script, _ = server
    with XComClient(base_url, token="t") as client:
        client.pull("xcom_demo", "run_1", "extract", "a/b c/50%/ünï?#")
    assert script.seen[0][1] == (
        "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries/"
        "a/b%20c/50%25/%C3%BCn%C3%AF%3F%23"
    )


def test_connections_are_reused(server: Any) -> None:
    base_url, script, _ = server
    with XComClient(base_url, token="t") as client:
        for _ in range(5):
            client.pull("xcom_demo", "run_1", "extract", "k")
        client.push("xcom_demo", "run_1", "extract", "k", {"a": 1})
    assert len({port for _, _, port, _ in script.seen}) == 1
    assert json.loads(script.seen[-1][3]) == {"key": "k", "value": {"a": 1}, "map_index": -1}


def test_connection_close_answer_is_not_reused(server: Any) -> None:
    base_url, script, _ = server
    script.actions = [answer(headers={"Connection": "close"}), answer()]
    with XComClient(base_url, token="t") as client:
        client.pull("xcom_demo", "run_1", "extract", "k")
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert len({port for _, _, port, _ in script.seen}) == 2


def test_idle_connection_closed_by_server_is_not_used_for_a_post(server: Any) -> None:
    base_url, script, _ = server
    sleeps = Sleeps()
    with XComClient(base_url, token="t", retries=0, sleep=sleeps) as client:
        client.pull("xcom_demo", "run_1", "extract", "k")
        # The server drops the idle keep-alive connection (as at its keep-alive timeout).
        for conn in script.connections:
            conn.shutdown(socket.SHUT_RDWR)
        pooled = client._wire._idle[0]  # type: ignore[union-attr]
        readable, _, _ = select.select([pooled.sock], [], [], 5.0)  # wait for the FIN
        assert readable
        entry = client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert entry.key == "k"
    assert sleeps == []
    assert [m for m, *_ in script.seen] == ["GET", "POST"]


def test_get_is_retried_after_the_server_hangs_up(server: Any) -> None:
    base_url, script, _ = server
    script.actions = [hang_up, answer()]
    sleeps = Sleeps()
    with XComClient(base_url, token="t", sleep=sleeps) as client:
        assert client.pull("xcom_demo", "run_1", "extract", "k").key == "k"
    assert len(sleeps) == 1


def test_post_is_not_retried_after_the_server_hangs_up(server: Any) -> None:
    base_url, script, _ = server
    script.actions = [hang_up]
    sleeps = Sleeps()
    with (
        XComClient(base_url, token="t", sleep=sleeps) as client,
        pytest.raises(XComConnectionError) as info,
    ):
        client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert info.value.status is None
    assert info.value.method == "POST"
    assert sleeps == []
    assert len(script.seen) == 1


def test_retry_after_over_the_default_wire(server: Any) -> None:
    base_url, script, _ = server
    script.actions = [answer(503, {"detail": "busy"}, {"Retry-After": "4"}), answer()]
    sleeps = Sleeps()
    with XComClient(base_url, token="t", sleep=sleeps) as client:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert sleeps == [4.0]


def test_server_error_detail_over_the_default_wire(server: Any) -> None:
    base_url, script, _ = server
    script.actions = [answer(500, {"detail": "boom"})]
    with XComClient(base_url, token="t") as client, pytest.raises(XComServerError) as info:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert (info.value.status, info.value.detail) == (500, "boom")


def test_refused_connection_retries_even_a_post_then_raises() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        sleeps = Sleeps()
        client = XComClient(f"http://127.0.0.1:{port}", token="t", retries=2, sleep=sleeps)
        with pytest.raises(XComConnectionError) as info:
            client.push("xcom_demo", "run_1", "extract", "k", 1)
        client.close()
    assert len(sleeps) == 2
    assert "ConnectionRefusedError" in str(info.value)


def test_closed_client_refuses_calls(server: Any) -> None:
    base_url, _, _ = server
    client = XComClient(base_url, token="t")
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.list()
