"""The audit log: one structured record per write, whatever its outcome.

:class:`AuditLog` is the outermost ASGI middleware. For every ``POST``, ``PUT``,
``PATCH`` and ``DELETE`` under ``/api/v2``, ``/auth`` and ``/xcomkit`` it writes one INFO record to
the ``xcomkit.audit`` logger once the answer is sent, with these fields (as ``extra``,
so a JSON formatter puts them at the top level; the text message is ``key=value``):

``who``       the caller's user name (the attempted one for a login), or ``-`` (also for
              a login refused before its body was read, :mod:`~xcomkit.server.login_gate`,
              which writes that record itself)
``role``      the caller's role, when authenticated
``client``    the client's address
``action``    the route's name (``create_xcom_entry``, ``create_token``, ...) or ``-``
``method``, ``path``, ``status``
``outcome``   ``ok`` (2xx/3xx), ``denied`` (401, 403, 429) or ``failed``
``dag_id``, ``dag_run_id``, ``task_id``, ``key``, ``map_index``  where the request has them

The record's time is the log record's. Routes add fields that only the body carries
(the key of a create, the user name of a login) with :func:`note`. User changes made
from the command line are written with :func:`record`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xcomkit.server.guard import PRINCIPAL_STATE

log = logging.getLogger("xcomkit.audit")

#: Request state key under which routes leave extra audit fields.
AUDIT_STATE = "xcomkit_audit"
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ADDRESS = ("dag_id", "dag_run_id", "task_id", "xcom_key", "key", "map_index")


def note(scope: Scope, **fields: Any) -> None:
    """Add ``fields`` to the audit record of the request whose ASGI scope is ``scope``
    (e.g. ``key=...``)."""
    scope.setdefault("state", {}).setdefault(AUDIT_STATE, {}).update(fields)


def outcome(status: int) -> str:
    """``ok``, ``denied`` or ``failed`` for an HTTP status."""
    if status < 400:
        return "ok"
    return "denied" if status in (401, 403, 429) else "failed"


#: Longest text kept of one field (a user name a caller made up, a path).
MAX_FIELD_CHARS = 512


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return value[:MAX_FIELD_CHARS] + f"...({len(value)} chars)"
    return value


def record(**fields: Any) -> None:
    """Write one audit record; ``fields`` as described in the module docstring.

    Text fields are cut at :data:`MAX_FIELD_CHARS` characters, so a caller cannot grow
    the log faster than by a bounded amount per request.
    """
    kept = {k: _short(v) for k, v in fields.items() if v is not None}
    message = " ".join(f"{k}={_text(v)}" for k, v in kept.items())
    log.info(message, extra=kept)


def _text(value: Any) -> str:
    # Quoted as a JSON string (every control, separator and non-ASCII character escaped)
    # whenever it is not plain printable text: no value can start a line or fake a field.
    text = str(value)
    if not text or not text.isascii() or not text.isprintable() or any(c in text for c in ' "=\\'):
        return json.dumps(text)
    return text


class AuditLog:
    """ASGI middleware writing one ``xcomkit.audit`` record per write request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WRITES
            or not scope["path"].startswith(("/api/v2/", "/auth/", "/xcomkit/"))
            or not log.isEnabledFor(logging.INFO)
        ):
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers if the app fails before answering

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._write(scope, status)

    @staticmethod
    def _write(scope: Scope, status: int) -> None:
        state = scope.get("state") or {}
        extra: dict[str, Any] = dict(state.get(AUDIT_STATE) or {})
        principal = state.get(PRINCIPAL_STATE)
        route = scope.get("route")
        params = scope.get("path_params") or {}
        address = {name: params[name] for name in _ADDRESS if name in params}
        if "xcom_key" in address:
            address["key"] = address.pop("xcom_key")
        client = scope.get("client")
        record(
            who=principal.username if principal else extra.pop("username", "-"),
            role=principal.role if principal else None,
            client=client[0] if client else None,
            action=getattr(route, "name", "-"),
            method=scope["method"],
            path=scope["path"],
            status=status,
            outcome=outcome(status),
            **{**address, **extra},
        )
