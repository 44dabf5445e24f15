"""Raw-HTTP envelope checks of the compatibility job: keep-alive, pipelining, closing.

httpx hides how a server handles a connection; these checks write HTTP/1.1 by hand on a
socket (requests and responses framed by h11, the parser uvicorn itself uses) and record
what comes back on it, so the two servers' connection behaviour is compared as well.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11


@dataclass
class RawCheck:
    """One connection's worth of requests, written at once (pipelined) or one by one."""

    name: str
    requests: list[tuple[str, str, dict[str, str], bytes]]  # method, target, headers, body
    pipelined: bool = False


def _request_events(
    method: str, target: str, headers: dict[str, str], body: bytes, host: str
) -> list[Any]:
    all_headers = {"Host": host, **headers}
    if body:
        all_headers["Content-Length"] = str(len(body))
    events: list[Any] = [
        h11.Request(method=method, target=target, headers=list(all_headers.items()))
    ]
    if body:
        events.append(h11.Data(data=body))
    events.append(h11.EndOfMessage())
    return events


def _answer(response: h11.Response, body: bytes) -> dict[str, Any]:
    headers = {k.decode().lower(): v.decode() for k, v in response.headers}
    parsed: Any = body.decode(errors="replace")
    if "json" in headers.get("content-type", "") and body:
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
    return {
        "status": response.status_code,
        "content_type": headers.get("content-type"),
        "connection": headers.get("connection"),
        "body": parsed,
    }


def _serialize(request: tuple[str, str, dict[str, str], bytes], host: str) -> bytes:
    framer = h11.Connection(our_role=h11.CLIENT)
    return b"".join(framer.send(e) or b"" for e in _request_events(*request, host))


def run_check(base_url: str, check: RawCheck, timeout: float = 30) -> list[dict[str, Any]] | str:
    """Send the check's requests on one connection; the answers in order, then whether
    the server closed the connection (``{"closed": bool}``). A transport failure is
    returned as its text."""
    parts = urlsplit(base_url)
    host = parts.netloc
    conn = h11.Connection(our_role=h11.CLIENT)
    answers: list[dict[str, Any]] = []
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:

        def read_one() -> None:
            response: h11.Response | None = None
            body = b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                elif isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert response is not None
                    answers.append(_answer(response, body))
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("closed before the answer ended")

        try:
            if check.pipelined:
                sock.sendall(b"".join(_serialize(r, host) for r in check.requests))
            for request in check.requests:
                if not check.pipelined:
                    sock.sendall(_serialize(request, host))
                for event in _request_events(*request, host):
                    conn.send(event)  # keeps the parser in step; the bytes are sent above
                read_one()
                if conn.their_state is h11.MUST_CLOSE or conn.our_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
        except (OSError, ConnectionError, h11.ProtocolError) as exc:
            return f"{type(exc).__name__}: {exc}"
        sock.settimeout(2)
        try:
            closed = sock.recv(1) == b""
        except (TimeoutError, OSError):
            closed = False
    return [*answers, {"closed": closed}]


def checks(token: Callable[[], str]) -> list[RawCheck]:
    """The connection-level checks (``token()`` gives an admin bearer token)."""
    auth = {"Authorization": f"Bearer {token()}"}
    version = ("GET", "/api/v2/version", {}, b"")
    runs = ("GET", "/api/v2/dags/~/dagRuns?limit=1", auth, b"")
    bad = ("GET", "/api/v2/dags/~/dagRuns?state=bogus", auth, b"")
    return [
        RawCheck("keep-alive: three requests on one connection", [version, runs, bad]),
        RawCheck(
            "pipelining: three requests written at once", [version, runs, bad], pipelined=True
        ),
        RawCheck(
            "Connection: close is honoured",
            [("GET", "/api/v2/version", {"Connection": "close"}, b""), version],
        ),
        RawCheck(
            "login JSON without Content-Type on a kept-alive connection",
            [
                ("POST", "/auth/token", {}, b'{"username": "admin", "password": "wrong"}'),
                version,
            ],
        ),
        RawCheck(
            "Expect: 100-continue",
            [
                (
                    "POST",
                    "/auth/token",
                    {"Expect": "100-continue", "Content-Type": "application/json"},
                    b'{"username": "admin", "password": "wrong"}',
                )
            ],
        ),
    ]
