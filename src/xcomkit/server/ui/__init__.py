"""The XCom web page: ``GET /`` and its static assets under ``/ui/``.

The page is plain HTML, CSS and JavaScript modules committed in this package (no build
step, no Node toolchain). It is a pure client of the public API (``/auth/token`` and
``/api/v2``): the server gives it nothing a client could not ask for. Every answer here
carries security headers: a strict Content-Security-Policy (scripts, styles and
connections from this origin only; no inline script; no framing), ``nosniff`` and
``Referrer-Policy: no-referrer``. See docs/ui.md.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, Response

from xcomkit.server.routing import ResourceRouter

STATIC_DIR = Path(__file__).parent / "static"

#: The Content-Security-Policy of the page and its assets.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Assets change with the installed package; the browser revalidates each load.
    "Cache-Control": "no-cache",
}

_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str


def _load(path: Path) -> _Asset:
    media = (
        _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    if media.startswith("text/") or media == "image/svg+xml":
        media += "; charset=utf-8"
    return _Asset(path.read_bytes(), media)


def _load_assets() -> dict[str, _Asset]:
    # Read once at import (a few tens of kilobytes): no file I/O on the event loop, and
    # a request names a key of this table, never a file-system path, so no ".." or
    # symlink can reach outside the package.
    return {
        p.relative_to(STATIC_DIR).as_posix(): _load(p)
        for p in sorted(STATIC_DIR.rglob("*"))
        if p.is_file()
    }


_ASSETS = _load_assets()

router = ResourceRouter(include_in_schema=False)


def _answer(asset: _Asset) -> Response:
    return Response(asset.body, media_type=asset.media_type, headers=SECURITY_HEADERS)


@router.get("/")
async def index() -> Response:
    """The page itself (routing is in the URL's fragment, so this is its only HTML)."""
    return _answer(_ASSETS["index.html"])


@router.get("/ui/{name:path}")
async def asset(name: str) -> Response:
    """One static asset of the page; 404 for any name not shipped in the package."""
    found = _ASSETS.get(name)
    if found is None or name == "index.html":
        raise HTTPException(404, "Not Found")
    return _answer(found)
