"""Response compression as Airflow 3.3.2's api-server answers.

Airflow installs Starlette's ``GZipMiddleware(minimum_size=1024)``, but an auth
middleware inside it streams every answer, and Starlette compresses a streamed answer
whatever its size. So, seen from a client, Airflow compresses every answer that has a
body when asked (``Accept-Encoding: gzip``), sends ``Vary: Accept-Encoding`` on those
answers whether asked or not, and leaves answers without a body (204, 304) alone.
:class:`AirflowGZip` gives the same answers with Starlette's own middleware.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Statuses whose answers never carry a body.
_BODILESS = (204, 304)
#: A marker header that makes Starlette's GZip pass an answer through untouched.
_PASS = (b"content-encoding", b"identity")


class AirflowGZip:
    """gzip every answer with a body (compression level 5, Airflow's), none without.

    Args:
        app: the ASGI application to wrap.
        compresslevel: zlib level, 1 (fast) to 9 (small).
    """

    def __init__(self, app: ASGIApp, compresslevel: int = 5) -> None:
        self.app = app
        self.gzip = GZipMiddleware(
            self._mark_bodiless(app), minimum_size=0, compresslevel=compresslevel
        )

    @staticmethod
    def _mark_bodiless(app: ASGIApp) -> ASGIApp:
        async def marked(scope: Scope, receive: Receive, send: Send) -> None:
            async def mark(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] in _BODILESS:
                    message["headers"] = [*message.get("headers", []), _PASS]
                await send(message)

            await app(scope, receive, mark)

        return marked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.gzip(scope, receive, send)
            return
        if not _accepts_gzip(scope):
            # Nothing to compress: only add the Vary header Starlette's identity path adds
            # (most API clients do not ask for gzip; this spares them its responder).
            await self.app(scope, receive, _with_vary(send))
            return

        async def unmark(message: Message) -> None:
            if message["type"] == "http.response.start" and _PASS in message.get("headers", []):
                message["headers"] = [h for h in message["headers"] if tuple(h) != _PASS]
            await send(message)

        await self.gzip(scope, receive, unmark)


#: Content types Starlette's GZip leaves alone (no ``Vary`` either), normalized.
_EXCLUDED = frozenset(t.partition(";")[0].strip().lower() for t in DEFAULT_EXCLUDED_CONTENT_TYPES)


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value
    return False


_VARY = (b"vary", b"Accept-Encoding")
_JSON = b"application/json"


def _plain_json(raw: list[tuple[bytes, bytes]]) -> bool:
    """True for raw headers with a JSON content type and neither ``Content-Encoding``
    nor ``Vary``: Starlette would add ``Vary: Accept-Encoding`` to them as a new header."""
    json = False
    for name, value in raw:
        if name == b"content-type":
            json = value == _JSON or value.startswith(b"application/json;")
        elif name in (b"content-encoding", b"vary"):
            return False
    return json


def _with_vary(send: Send) -> Send:
    """``send`` adding ``Vary: Accept-Encoding`` where Starlette's GZip would when the
    client does not accept gzip: answers with a body, not partial, not already encoded,
    of a content type it compresses."""

    async def vary(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] not in (
            *_BODILESS,
            206,
        ):
            raw = message.setdefault("headers", [])
            if _plain_json(raw):
                # The API's own answers: add the header without parsing the others
                # (MutableHeaders took a tenth of a GET's CPU).
                raw.append(_VARY)
                await send(message)
                return
            headers = MutableHeaders(raw=raw)
            media = headers.get("content-type", "").partition(";")[0].strip().lower()
            excluded = media in _EXCLUDED or f"{media.partition('/')[0]}/*" in _EXCLUDED
            if media.startswith("application/grpc+"):
                excluded = True
            if not excluded and "content-encoding" not in headers:
                headers.add_vary_header("Accept-Encoding")
        await send(message)

    return vary
