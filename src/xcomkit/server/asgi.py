"""ASGI entry point for ``uvicorn xcomkit.server.asgi:app`` (settings from ``XCOMKIT_*``).

``xcomkit serve --workers N`` starts N worker processes on this module; each builds its
own app and engine, sharing nothing but the database.
"""

from __future__ import annotations

from xcomkit.server.app import create_app

app = create_app()
