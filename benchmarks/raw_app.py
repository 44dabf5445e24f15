"""The ceiling: a raw ASGI app (no framework) answering the benchmark's paths with constants.

What uvicorn itself serves on this machine under ``xcomkit serve``'s settings: no routing
beyond a suffix test, no validation, no auth, no database. xcomkit and the bare FastAPI
app (``benchmarks/bare_app.py``, whose bodies this reuses) are read as fractions of it.
Writes read their whole body and answer a constant, as the bare app does (it also parses).

Run: ``uvicorn benchmarks.raw_app:app --port 8082`` (from the repository root).
"""

from __future__ import annotations

from typing import Any

from benchmarks.bare_app import LIST, ONE

HEALTH = b'{"metadatabase":{"status":"healthy"}}'


def _start(status: int, body: bytes) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer ``scope``: the health body, a 50-entry page for a list, one entry otherwise."""
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    status, body = 200, ONE
    path: str = scope["path"]
    if path.endswith("/health"):
        body = HEALTH
    elif path.endswith("/xcomEntries"):
        if scope["method"] == "POST":
            status = 201
        else:
            body = LIST
    if scope["method"] in ("POST", "PATCH", "PUT"):
        more = True
        while more:  # read the whole body, as any API must
            message = await receive()
            more = message.get("more_body", False)
    await send(_start(status, body))
    await send({"type": "http.response.body", "body": body})
