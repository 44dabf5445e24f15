"""Connections that cannot be held open for nothing.

uvicorn closes a keep-alive connection that stays idle after a response
(``timeout_keep_alive``), but not one that never sends a request, nor one that sends
its request head a byte at a time: enough of those use up the process's file
descriptors and lock every other client out. :class:`HeaderDeadlineProtocol` is
uvicorn's httptools protocol with one more timer: a connection must deliver a complete
request head within ``XCOMKIT_HEADER_TIMEOUT`` seconds (default 10) of opening, and
again of each response, or it is closed. Bodies are not timed here: they belong to a
request whose caller is known (see :mod:`xcomkit.server.guard`) and to its deadline.

:func:`websocket_protocol` keeps uvicorn's answer to a WebSocket upgrade request without
importing a WebSocket library at start.

:func:`raise_fd_limit` lifts the soft open-files limit to the hard one at start-up, so
that the connection limit (uvicorn's ``limit_concurrency``), not the kernel, decides
when new clients are refused; docs/security.md gives the arithmetic.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Seconds a connection may take to send a complete request head.
DEFAULT_HEADER_TIMEOUT = 10.0
HEADER_TIMEOUT_ENV = "XCOMKIT_HEADER_TIMEOUT"


def header_timeout() -> float:
    """The configured header timeout, in seconds (``$XCOMKIT_HEADER_TIMEOUT`` or 10)."""
    raw = os.environ.get(HEADER_TIMEOUT_ENV)
    return float(raw) if raw else DEFAULT_HEADER_TIMEOUT


#: Largest request head (request line and headers), in bytes; past it: 431 and close.
MAX_HEAD_BYTES = 64 * 1024

_TOO_LARGE_HEAD = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\nconnection: close\r\ncontent-length: 61\r\n\r\n"
    b'{"detail":"Request head too large: the limit is 65536 bytes"}'
)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections that are slow to send a request
    head, send a head over :data:`MAX_HEAD_BYTES`, or stop reading an answer for longer
    than the header timeout (their unsent answer would stay in memory)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout()
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        waiting = self._header_timer is not None
        super().data_received(data)
        # Bytes that left the head still incomplete were all head: count them (a chunk
        # that completed it may carry body bytes, which are not the head's).
        if waiting and self._header_timer is not None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._cancel_header_timer()
                if not self.transport.is_closing():
                    self.transport.write(_TOO_LARGE_HEAD)
                    self.transport.close()

    def pause_writing(self) -> None:
        # The client stopped reading: give it the header timeout to start again.
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self._header_timeout, self._send_overdue)

    def resume_writing(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().resume_writing()

    def _send_overdue(self) -> None:
        self._send_timer = None
        if not self.transport.is_closing():
            self.transport.abort()  # drop the unsent answer now

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout, self._header_overdue)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_overdue(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._head_bytes = 0
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request waiting here has sent its head already.
        waiting = bool(self.pipeline)
        super().on_response_complete()
        if not waiting and not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().connection_lost(exc)


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; return ``(soft, hard)`` after.

    Does nothing where the platform has no ``resource`` module.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return (-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft, hard


def websocket_protocol() -> type[asyncio.Protocol] | str:
    """What ``xcomkit serve`` gives uvicorn as ``ws``: its ``"auto"`` WebSocket protocol,
    imported on the first WebSocket upgrade request instead of at start.

    xcomkit serves no WebSocket route. uvicorn still hands an upgrade request to its
    WebSocket protocol, and the app refuses it (403), as Airflow's api-server answers
    one; without a protocol uvicorn would treat it as a plain HTTP request instead. So
    the protocol stays, but importing it (the ``websockets`` package) cost ~12 ms and
    0.6 MB at every start (docs/performance.md, "Start-up"): :func:`_upgraded`, given
    instead, imports and builds it per upgrade request. ``"none"`` when no WebSocket
    library is installed, as ``"auto"`` then resolves.
    """
    from importlib.util import find_spec

    if find_spec("websockets") is None and find_spec("wsproto") is None:
        return "none"
    # uvicorn only calls what it is given (with keyword arguments), as it calls a class;
    # a module-level function pickles for worker processes.
    return cast("type[asyncio.Protocol]", _upgraded)


def _upgraded(**kwargs: Any) -> asyncio.Protocol:
    """uvicorn's ``"auto"`` WebSocket protocol for one upgrade request (imported now)."""
    from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

    assert AutoWebSocketsProtocol is not None  # websocket_protocol found a library
    return AutoWebSocketsProtocol(**kwargs)
