"""Who pays for a request is decided before its body is read.

:class:`RequestGuard` is an ASGI middleware in front of the routes. For a request that
carries a body (``POST``, ``PUT``, ``PATCH``) to a route that needs a caller, it checks
the bearer token, and the role for routes that write, *before* any byte of the body is
read: an unauthenticated write is 401 and a viewer's write 403 whatever its body, as
Airflow 3.3.2 answers (it authenticates before it validates a body). The principal it
found is handed to the route through the request state, so the token is verified once.

Every body is bounded in size and time while it streams (30 s for a body, 5 s for a
login's; 408 past it): a ``Content-Length`` over the limit is refused
at once, and a chunked body is cut off as soon as it passes the limit; both answer
413 with a JSON ``detail`` and close the connection. Login bodies (``/auth/...``)
have a small limit of their own, and with ``max_value_bytes`` set, so do the bodies of
the routes that write an XCom value (the value's limit plus room for the rest of the
body, :func:`~xcomkit.server.offload.value_body_limit`): one limiter, a limit per route.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xcomkit.server.auth.roles import can_write
from xcomkit.server.auth.tokens import Principal
from xcomkit.server.encoding import json_response
from xcomkit.server.offload import too_large_detail, value_body_limit

#: Request state key under which the guard leaves the caller for the route.
PRINCIPAL_STATE = "xcomkit_principal"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _too_large_detail(limit: int) -> str:
    return f"Request body too large: the limit is {limit} bytes."


class BodyTooSlow(HTTPException):
    """A request body did not arrive within its time: 408, and the connection is closed."""

    def __init__(self, seconds: float):
        super().__init__(
            408,
            f"Request body not received within {seconds:g} s.",
            headers={"Connection": "close"},
        )


class BodyTooLarge(HTTPException):
    """A streamed request body passed its limit: 413, and the connection is closed.

    An :class:`~fastapi.HTTPException`, so that FastAPI's body reader passes it on
    unchanged (it turns other errors while reading into 400).
    """

    def __init__(self, limit: int, detail: str | None = None):
        super().__init__(413, detail or _too_large_detail(limit), headers={"Connection": "close"})
        self.limit = limit


@dataclass(frozen=True)
class _Need:
    """What a route asks of its caller: a verified token, and whether it must write."""

    caller: bool
    writer: bool


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    stack = [dependant]
    while stack:
        item = stack.pop()
        if item.call is not None:
            found.add(item.call)
        stack.extend(item.dependencies)
    return found


def too_large(limit: int, detail: str | None = None) -> Any:
    """The 413 answer for a body over ``limit`` bytes (the connection is closed)."""
    return json_response(
        {"detail": detail or _too_large_detail(limit)},
        413,
        headers={"Connection": "close"},
    )


if sys.version_info >= (3, 11):

    async def _before(deadline: float, awaitable: Awaitable[Message]) -> Message:
        """``await awaitable``, or :class:`asyncio.TimeoutError` at ``deadline`` (loop
        time). ``asyncio.timeout_at`` needs no task per call, as ``wait_for`` does: a
        create spent 7% of its CPU there."""
        async with asyncio.timeout_at(deadline):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def _before(deadline: float, awaitable: Awaitable[Message]) -> Message:
        """``await awaitable``, or :class:`asyncio.TimeoutError` at ``deadline``."""
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(awaitable, max(0.0, deadline - loop.time()))


class RequestGuard:
    """ASGI middleware: authenticate before the body, and bound every body.

    Args:
        app: the next ASGI application.
        fastapi_app: the application whose routes say who may call them.
        authenticate: ``(authorization header or None) -> Principal``; raises
            :class:`fastapi.HTTPException` with Airflow's status and ``detail``.
        caller_dep, writer_dep: the dependency functions that mark a route as needing
            a verified caller, and a caller who may write.
        max_body_bytes: limit for request bodies.
        login_body_bytes: limit for bodies under ``/auth/``.
        max_value_bytes: limit for XCom values (None: none); bodies of the
            ``value_endpoints`` routes are limited to
            :func:`~xcomkit.server.offload.value_body_limit` of it (at most
            ``max_body_bytes``).
        value_endpoints: the endpoint functions of the routes whose body holds a value.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        fastapi_app: FastAPI,
        authenticate: Callable[[str | None], Principal],
        caller_dep: Callable[..., Any],
        writer_dep: Callable[..., Any],
        max_body_bytes: int,
        login_body_bytes: int,
        body_timeout: float = 30.0,
        login_body_timeout: float = 5.0,
        max_value_bytes: int | None = None,
        value_endpoints: set[Callable[..., Any]] | frozenset[Callable[..., Any]] = frozenset(),
    ) -> None:
        self.app = app
        self._fastapi_app = fastapi_app
        self._authenticate = authenticate
        self._caller_dep = caller_dep
        self._writer_dep = writer_dep
        self.max_body_bytes = max_body_bytes
        self.login_body_bytes = login_body_bytes
        self.body_timeout = body_timeout
        self.login_body_timeout = login_body_timeout
        self.max_value_bytes = max_value_bytes
        self._value_endpoints = frozenset(value_endpoints)
        self._routes: list[tuple[APIRoute, _Need]] | None = None

    def _route_needs(self) -> list[tuple[APIRoute, _Need]]:
        # Built on first use: routers are included after the middleware is added.
        if self._routes is None:
            table = []
            for route in self._fastapi_app.router.routes:
                if isinstance(route, APIRoute):
                    calls = _calls(route.dependant)
                    writer = self._writer_dep in calls
                    table.append((route, _Need(writer or self._caller_dep in calls, writer)))
            self._routes = table
        return self._routes

    def _need(self, scope: Scope) -> _Need | None:
        path = scope["path"]
        root_path = scope.get("root_path")
        for route, need in self._route_needs():
            # A route cannot match a path without its literal start (skipping the others
            # halved the guard's CPU for a create); behind a root path, try them all.
            if not root_path and not path.startswith(route.path_format.partition("{")[0]):
                continue
            match, child = route.matches(scope)
            if match is Match.FULL:
                # The route and its path parameters, as the router would record them,
                # so that a request refused here is still audited with its address.
                scope.update(child, route=route)
                return need
        return None

    def _precheck(self, scope: Scope) -> Any | None:
        """A refusal to send before reading the body, or None; records the caller."""
        need = self._need(scope)
        if need is None or not need.caller:
            return None
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        try:
            principal = self._authenticate(header)
        except HTTPException as exc:
            headers = dict(exc.headers) if exc.headers else None
            return json_response({"detail": exc.detail}, exc.status_code, headers)
        if need.writer and not can_write(principal.role):
            return json_response({"detail": "Forbidden"}, 403)
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        refusal = self._precheck(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        login = scope["path"].startswith("/auth/")
        limit = self.login_body_bytes if login else self.max_body_bytes
        detail = None
        route = scope.get("route")
        if self.max_value_bytes is not None and getattr(route, "endpoint", None) in (
            self._value_endpoints
        ):
            value_limit = value_body_limit(self.max_value_bytes)
            if value_limit < limit:
                limit, detail = value_limit, too_large_detail(None, self.max_value_bytes)
        # A body trickled in a byte at a time would hold its connection (and, for a
        # login, needs no credentials): the whole body has a time limit too.
        seconds = self.login_body_timeout if login else self.body_timeout
        loop = asyncio.get_running_loop()
        body_deadline = loop.time() + seconds
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # the server's parser refuses such requests itself
                if declared > limit:
                    await too_large(limit, detail)(scope, receive, send)
                    return
                break

        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            try:
                message = await _before(body_deadline, receive())
            except asyncio.TimeoutError:
                raise BodyTooSlow(seconds) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except (BodyTooLarge, BodyTooSlow) as exc:
            if started:
                raise
            headers = dict(exc.headers or {})
            await json_response({"detail": exc.detail}, exc.status_code, headers)(
                scope, receive, send
            )
