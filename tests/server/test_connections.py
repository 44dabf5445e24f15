"""Connections slow to send a request head are closed; served connections are not cut."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn

from tests.conftest import free_port
from xcomkit.server.connections import HeaderDeadlineProtocol, raise_fd_limit, websocket_protocol

BIG = 64 * 1024 * 1024


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/big":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(BIG).encode())],
            }
        )
        for _ in range(BIG // (1024 * 1024)):
            await send(
                {"type": "http.response.body", "body": b"x" * (1024 * 1024), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.6)  # longer than the header timeout below
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def uvicorn_server(monkeypatch):
    """A running uvicorn server with the header deadline protocol (0.3 s)."""
    monkeypatch.setenv("XCOMKIT_HEADER_TIMEOUT", "0.3")
    port = free_port()
    config = uvicorn.Config(
        app, port=port, http=HeaderDeadlineProtocol, log_level="warning", timeout_keep_alive=30
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield srv
    srv.should_exit = True
    thread.join(5)


@pytest.fixture
def server(uvicorn_server):
    """The port of :func:`uvicorn_server`."""
    return uvicorn_server.config.port


def closed_by_server(sock: socket.socket, within: float = 5.0) -> bool:
    """True when the server closes ``sock`` (recv returns b"") within ``within`` seconds."""
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_connection_that_sends_nothing_is_closed(server) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        assert closed_by_server(sock)


def test_request_head_sent_a_byte_at_a_time_is_closed(server) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        closed = False
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.05)
        assert closed or closed_by_server(sock)


def test_idle_after_a_response_is_closed_too(server) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)


def test_slow_handlers_and_keep_alive_requests_are_served(server) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.settimeout(5)
        for path in ("/slow", "/", "/slow"):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
            time.sleep(0.1)  # idle, but well inside the header timeout


def test_pipelined_requests_are_all_answered(server) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        sock.settimeout(5)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk


def test_fd_limit_is_raised_to_the_hard_limit() -> None:
    import resource

    soft, hard = raise_fd_limit()
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
    assert hard == resource.RLIM_INFINITY or soft == hard


def test_request_head_over_the_limit_is_431_and_closed(server) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.settimeout(5)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * 1024))
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(4096):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 431 ")


def test_client_that_stops_reading_an_answer_is_dropped(uvicorn_server) -> None:
    connections = uvicorn_server.server_state.connections
    with socket.create_connection(("127.0.0.1", uvicorn_server.config.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        # Reading nothing: the server drops the connection (and the rest of its answer)
        # once its writes have waited the 0.3 s timeout. Asked of the server itself: what
        # its kernel had already accepted still trickles to this tiny receive window for
        # minutes after the drop (a test that read it to the end took 100 s).
        deadline = time.monotonic() + 5
        while not connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert connections  # served: the answer is being written
        while connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not connections  # the server let the connection go
        sock.settimeout(5)
        got = 0
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while (chunk := sock.recv(65536)) and got < BIG:
                got += len(chunk)
                if time.monotonic() > deadline:
                    break
    assert got < BIG  # the server gave up on the rest of the answer


def test_head_and_a_large_body_in_one_read_is_not_431(server) -> None:
    """A chunk that completes the head may carry body bytes: they are not head bytes."""
    body = b"x" * (200 * 1024)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(request)
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def _upgrade_answer(ws: Any) -> bytes:
    """The status line a uvicorn server (``ws``) answers a WebSocket upgrade request with,
    serving a FastAPI app that has no WebSocket route."""
    from fastapi import FastAPI

    web = FastAPI()

    @web.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    port = free_port()
    config = uvicorn.Config(
        web, port=port, http=HeaderDeadlineProtocol, ws=ws, log_level="critical"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"GET /plain HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            return sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        srv.should_exit = True
        thread.join(5)


def test_a_websocket_upgrade_is_answered_as_with_uvicorns_auto_protocol() -> None:
    """serve's lazily imported WebSocket protocol answers an upgrade as ``ws="auto"`` does
    (the app has no WebSocket route: 403), not as a plain GET (200)."""
    assert websocket_protocol() != "none"  # websockets is installed (uvicorn[standard])
    assert (
        _upgrade_answer(websocket_protocol())
        == _upgrade_answer("auto")
        == b"HTTP/1.1 403 Forbidden"
    )


def test_the_websocket_protocol_pickles_for_worker_processes() -> None:
    import pickle

    protocol = websocket_protocol()
    assert pickle.loads(pickle.dumps(protocol)) is protocol
