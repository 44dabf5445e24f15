"""Refuse a login before its body is read when the answer is already known.

A login flood is many callers posting to ``/auth/token`` as fast as they are answered.
Most of them are refused, and a refusal that first reads and parses a body, routes it and
solves its dependencies costs the event loop as much as a real request. :class:`LoginGate`
answers two kinds of refusal from the request line and the client address alone:

* **429** (with ``Retry-After``) for a client address that the database said, on an
  earlier attempt, is at its failure limit: :class:`BlockedClients` remembers until when.
  Failures stay counted in the database, shared by every worker and host; a worker only
  remembers an answer the database gave it, and a window never closes earlier than it
  said (a success does not reopen it).
* **503** (with ``Retry-After: 1``) while the password lane is full
  (:meth:`~xcomkit.server.execution.WorkLanes.full`): the login would be refused after
  its body anyway.

The gate is the outermost middleware of the app, so that a refusal costs the event loop
as little as possible: it writes the refusal's audit record itself (one record, as
:class:`~xcomkit.server.audit.AuditLog` would, with user ``-``, since the body that holds
the user name was not read). Per-user limits need the user name, so they are checked
after the body, with one read (:func:`xcomkit.service.users.check_login`).
"""

from __future__ import annotations

import logging
import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from xcomkit.server import audit
from xcomkit.server.encoding import json_response
from xcomkit.server.execution import WorkLanes

#: The routes that check a password, with their names (the audit record's ``action``).
LOGIN_PATHS = {"/auth/token": "create_token", "/auth/token/cli": "create_token_cli"}

TOO_MANY = "Too many failed logins; retry later."
BUSY = "The server is busy checking other logins; retry shortly."


class BlockedClients:
    """Client addresses at their failed-login limit, each with the time (seconds since
    the epoch, :func:`time.time`) until which its logins are refused.

    At most ``max_entries`` addresses are kept (past it, the entries that have ended are
    dropped, then the oldest): forgetting one only costs a database read.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._until: dict[str, float] = {}

    def block(self, client: str, until: float) -> None:
        """Remember that ``client`` is refused until ``until``."""
        if client not in self._until and len(self._until) >= self.max_entries:
            now = time.time()
            self._until = {c: u for c, u in self._until.items() if u > now}
            while len(self._until) >= self.max_entries:
                del self._until[next(iter(self._until))]
        self._until[client] = max(until, self._until.get(client, 0.0))

    def seconds_left(self, client: str) -> float | None:
        """Seconds until ``client`` may log in again, or None when it is not blocked."""
        until = self._until.get(client)
        if until is None:
            return None
        left = until - time.time()
        if left <= 0:
            del self._until[client]
            return None
        return left


class LoginGate:
    """ASGI middleware answering 429 or 503 to a login before its body is read (see the
    module docstring); every other request passes through untouched.

    Args:
        app: the app behind the gate.
        work: the lanes, asked whether the password lane is full.
        blocked: the client addresses known to be at their limit.
    """

    def __init__(self, app: ASGIApp, *, work: WorkLanes, blocked: BlockedClients) -> None:
        self.app = app
        self.work = work
        self.blocked = blocked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in LOGIN_PATHS:
            client = scope.get("client")
            address = client[0] if client else None
            left = self.blocked.seconds_left(address) if address else None
            if left is not None:
                retry_after = str(max(1, math.ceil(left)))
                await self._refuse(scope, receive, send, 429, TOO_MANY, retry_after, address)
                return
            if self.work.full("hash"):
                await self._refuse(scope, receive, send, 503, BUSY, "1", address)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        retry_after: str,
        address: str | None,
    ) -> None:
        try:
            response = json_response({"detail": detail}, status, {"Retry-After": retry_after})
            await response(scope, receive, send)
        finally:
            if audit.log.isEnabledFor(logging.INFO):
                audit.record(
                    who="-",
                    client=address,
                    action=LOGIN_PATHS[scope["path"]],
                    method="POST",
                    path=scope["path"],
                    status=status,
                    outcome=audit.outcome(status),
                )
