"""How the XCom clients put a request on the wire and get the answer back.

Each "wire" has one method, ``request(method, target, body, headers) -> Response``, where
``target`` is the path and query (``/api/v2/...?...``) on the wire's origin, and raises
:class:`WireError` (saying whether the request may have reached the server) when no
answer came.

- :class:`StdlibWire`: HTTP/1.1 keep-alive over the standard library's
  :mod:`http.client`, a small thread-safe pool of connections. The sync client's
  default: measured on a 2-core machine against a constant-answer server, one GET costs
  ~0.26 ms of client CPU this way, against ~0.6 ms for the leanest use of httpx
  (prebuilt request, transport only) and ~0.8 ms for ``apache-airflow-client``.
- :class:`HttpxWire` / :class:`AsyncHttpxWire`: over an :class:`httpx.Client` /
  :class:`httpx.AsyncClient`; used by the sync client when an httpx ``transport`` is
  given (e.g. :class:`httpx.MockTransport`) and always by the async client.

:func:`open_sync_wire` and :func:`open_async_wire` make that choice, one for each client.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

__all__ = [
    "AsyncHttpxWire",
    "HeaderLookup",
    "HttpxWire",
    "Response",
    "StdlibWire",
    "WireError",
    "open_async_wire",
    "open_sync_wire",
]


class HeaderLookup(Protocol):
    """Case-insensitive header access (``http.client.HTTPMessage``, ``httpx.Headers``)."""

    def get(self, key: str, default: Any = None) -> Any: ...


class Response:
    """An HTTP answer, fully read.

    Attributes:
        status_code: the HTTP status.
        headers: case-insensitive ``get(name)`` access to the response headers.
        content: the body bytes.
        method, url: the request this answers (for error messages).
    """

    __slots__ = ("content", "headers", "method", "status_code", "url")

    def __init__(
        self, status_code: int, headers: HeaderLookup, content: bytes, method: str, url: str
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.method = method
        self.url = url

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")


class WireError(Exception):
    """No HTTP answer.

    Attributes:
        sent: False when the request surely never reached the server (the connection
            could not be made), so even a non-idempotent request may be sent again.
        cause: the underlying exception (also ``__cause__``).
    """

    def __init__(self, cause: BaseException, *, sent: bool) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.sent = sent


def split_base_url(base_url: str) -> tuple[str, str, str, int, str]:
    """``(scheme, origin, host, port, path_prefix)`` of ``base_url``.

    Raises:
        ValueError: not an ``http://`` or ``https://`` URL with a host.
    """
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
    port = url.port or (443 if url.scheme == "https" else 80)
    host = url.host
    netloc = f"[{host}]" if ":" in host else host
    if url.port is not None:
        netloc += f":{url.port}"
    origin = f"{url.scheme}://{netloc}"
    return url.scheme, origin, host, port, url.raw_path.decode("ascii").split("?")[0].rstrip("/")


def _ssl_context(verify: Any) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()


def _is_dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle pooled connection was closed by the server (readable = EOF)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class StdlibWire:
    """HTTP/1.1 with keep-alive over :mod:`http.client`, pooled, safe across threads.

    Idle connections are kept (up to ``max_idle``) and checked before reuse: one the
    server has closed meanwhile is dropped, not used. Proxies from the environment are
    not used (use an httpx ``transport`` for that).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        verify: Any = True,
        headers: Mapping[str, str] | None = None,
        max_idle: int = 10,
    ) -> None:
        scheme, self.origin, self._host, self._port, self.prefix = split_base_url(base_url)
        self._timeout = timeout
        self._ssl = _ssl_context(verify) if scheme == "https" else None
        self._headers = dict(headers or {})
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self._closed = False

    def _new_connection(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _checkout(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _is_dropped(conn):
                    return conn, True
                conn.close()
        return self._new_connection(), False

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        """Send ``method target`` with ``body``; return the read answer.

        Raises:
            WireError: no answer (``sent`` False when the connection could not be made).
        """
        if self._closed:
            raise RuntimeError("the client is closed")
        conn, reused = self._checkout()
        if not reused:
            try:
                conn.connect()
            except OSError as exc:  # refused, unresolvable, timed out, TLS handshake
                conn.close()
                raise WireError(exc, sent=False) from exc
        all_headers = {**self._headers, **headers} if headers else self._headers
        try:
            conn.request(method, target, body, all_headers)
            resp = conn.getresponse()
            content = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise WireError(exc, sent=True) from exc
        if resp.will_close:
            conn.close()
        else:
            self._checkin(conn)
        return Response(resp.status, resp.msg, content, method, self.origin + target)

    def close(self) -> None:
        """Close every pooled connection; later requests raise ``RuntimeError``."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_HTTPX_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class HttpxWire:
    """The same interface over an :class:`httpx.Client` (one pool, any httpx transport)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        verify: Any = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        _, self.origin, _, _, self.prefix = split_base_url(base_url)
        self._http = httpx.Client(
            headers=dict(headers or {}),
            timeout=timeout,
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    def request(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        """Send ``method target`` with ``body``; return the read answer.

        Raises:
            WireError: no answer (``sent`` False when the connection could not be made).
        """
        url = self.origin + target
        try:
            resp = self._http.request(method, url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise WireError(exc, sent=not isinstance(exc, _HTTPX_NOT_SENT)) from exc
        return Response(resp.status_code, resp.headers, resp.content, method, url)

    def close(self) -> None:
        """Close the httpx client."""
        self._http.close()


class AsyncHttpxWire:
    """The async interface over an :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        verify: Any = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _, self.origin, _, _, self.prefix = split_base_url(base_url)
        self._http = httpx.AsyncClient(
            headers=dict(headers or {}),
            timeout=timeout,
            verify=verify,
            transport=transport,
            follow_redirects=False,
        )

    async def request(
        self, method: str, target: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        """Send ``method target`` with ``body``; return the read answer.

        Raises:
            WireError: no answer (``sent`` False when the connection could not be made).
        """
        url = self.origin + target
        try:
            resp = await self._http.request(method, url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise WireError(exc, sent=not isinstance(exc, _HTTPX_NOT_SENT)) from exc
        return Response(resp.status_code, resp.headers, resp.content, method, url)

    async def close(self) -> None:
        """Close the httpx client."""
        await self._http.aclose()


def open_sync_wire(
    base_url: str,
    *,
    timeout: float,
    verify: Any = True,
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> StdlibWire | HttpxWire:
    """The blocking client's wire: :class:`StdlibWire`, or :class:`HttpxWire` over
    ``transport`` when one is given.

    Raises:
        ValueError: ``base_url`` is not an ``http://`` or ``https://`` URL with a host.
    """
    if transport is None:
        return StdlibWire(base_url, timeout=timeout, verify=verify, headers=headers)
    return HttpxWire(base_url, timeout=timeout, verify=verify, headers=headers, transport=transport)


def open_async_wire(
    base_url: str,
    *,
    timeout: float,
    verify: Any = True,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncHttpxWire:
    """The asyncio client's wire: :class:`AsyncHttpxWire` (over ``transport`` if given).

    Raises:
        ValueError: ``base_url`` is not an ``http://`` or ``https://`` URL with a host.
    """
    return AsyncHttpxWire(
        base_url, timeout=timeout, verify=verify, headers=headers, transport=transport
    )
