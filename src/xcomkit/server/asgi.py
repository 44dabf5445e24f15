"""ASGI entry point for ``uvicorn xcomkit.server.asgi:app`` (settings from ``XCOMKIT_*``).

``xcomkit serve --workers N`` starts N worker processes on this module; each builds its
own app and engine, sharing nothing but the database. Such a process only serves, so its
imports are trimmed first and the garbage collector is paused until the app is built
(:mod:`xcomkit.server.process`).
"""

from __future__ import annotations

from xcomkit.server.process import prepare_serving_process, serving_process_ready

prepare_serving_process()

from xcomkit.server.app import create_app  # noqa: E402  (after the process is prepared)

app = create_app()
serving_process_ready()
