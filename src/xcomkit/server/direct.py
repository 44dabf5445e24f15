"""The XCom routes' common requests, answered without FastAPI's per-request machinery.

A GET of one XCom costs the rules and the store about a fifth of its CPU; FastAPI's
dependency solving and query-model validation took about half (pyinstrument, in
process; docs/performance.md, "The direct path"). :class:`DirectRoutes` is an ASGI
middleware just inside the request guard that answers the four hot XCom routes — get
one, list, create, update — itself, calling the same ``answer_*`` functions
(:mod:`xcomkit.server.routes.xcom`) that the FastAPI routes call, with the same pydantic
models validating the same inputs.

It only takes requests it can answer exactly as the FastAPI route would. Anything else
goes on to FastAPI unchanged, body included, which then answers as it always has:

- a path that is not one of those four routes (matched in the router's own order);
- a bad, expired or missing token (FastAPI gives Airflow's 401/403);
- query parameters or a body that fail validation, a body that is not JSON, a
  ``Content-Type`` other than JSON, an empty body (FastAPI gives its 422 or 400);
- a malformed pattern or ``order_by`` (400/422 from the route's own checks);
- any request while the app has ``dependency_overrides`` (a test suite's);
- a client that disconnected before its body ended (FastAPI's 400, which the audit
  record keeps), the messages received replayed.

So the direct path changes no answer: it answers the well-formed requests, and the
errors of the work itself (404, 409, 413, 503) through the same handlers
(:func:`xcomkit.server.errors.handler_for`). The compatibility job and the API tests run
every request through it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xcomkit.address import XComAddress
from xcomkit.server import errors
from xcomkit.server.deps import ServerContext, principal_from_header
from xcomkit.server.guard import PRINCIPAL_STATE
from xcomkit.server.models import XComCreateBody, XComGetQuery, XComListQuery, XComUpdateBody
from xcomkit.server.ordering import parse_order_by
from xcomkit.server.routes import xcom

#: Every XCom route's path starts so; other requests are passed on at once.
_PREFIX = "/api/v2/dags/"
_METHODS = frozenset({"GET", "POST", "PATCH"})


class _PassOn(Exception):
    """The request is not one the direct path answers: FastAPI answers it."""


#: A route's path parameters, as the router matched them.
Params = dict[str, Any]
Handler = Callable[[ServerContext, Scope, Params, bytes], Awaitable[Response]]


class DirectRoutes:
    """ASGI middleware answering well-formed XCom requests (see the module docstring).

    Args:
        app: the next ASGI application (FastAPI's exception middleware and router).
        fastapi_app: the application whose router decides which route a path is; its
            ``state.ctx`` is the :class:`~xcomkit.server.deps.ServerContext`.
    """

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI) -> None:
        self.app = app
        self._fastapi_app = fastapi_app
        self._handlers: dict[Callable[..., Any], tuple[Handler, bool]] = {
            xcom.get_xcom_entry: (_get_one, False),
            xcom.get_xcom_entries: (_list, False),
            xcom.create_xcom_entry: (_create, True),
            xcom.update_xcom_entry: (_update, True),
        }
        self._by_prefix: list[tuple[str, BaseRoute]] | None = None

    def _candidates(self) -> list[tuple[str, BaseRoute]]:
        # Built on first use: routers are included after the middleware is added.
        if self._by_prefix is None:
            self._by_prefix = [
                (str(getattr(route, "path", "")).partition("{")[0], route)
                for route in self._fastapi_app.router.routes
            ]
        return self._by_prefix

    def _route(self, scope: Scope) -> APIRoute | None:
        """The route the router would choose for ``scope`` (its first full match),
        recording it and its path parameters in ``scope`` as the router does.

        Routes whose literal start the path does not have cannot match it and are not
        tried (matching every route's pattern cost a GET 17% of its CPU).
        """
        found = scope.get("route")  # the request guard matched requests with a body
        if found is not None:
            return found if isinstance(found, APIRoute) else None
        path = scope["path"]
        for prefix, route in self._candidates():
            if not path.startswith(prefix):
                continue
            match, child = route.matches(scope)
            if match is Match.FULL:
                if not isinstance(route, APIRoute):
                    return None
                scope.update(child, route=route)
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _METHODS
            or not scope["path"].startswith(_PREFIX)
            or scope.get("root_path")  # routes then match a shorter path: FastAPI's job
            # Overridden dependencies (a test suite's) are FastAPI's to call.
            or self._fastapi_app.dependency_overrides
        ):
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        entry = self._handlers.get(route.endpoint) if route is not None else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        handler, has_body = entry
        body = b""
        if has_body:
            read = await _read_body(receive)
            if isinstance(read, list):
                # The client went away before its body ended: FastAPI answers that as it
                # always did (its 400, and the audit record's status), from the same
                # messages.
                await self.app(scope, _replay_messages(read, receive), send)
                return
            body = read
        ctx: ServerContext = self._fastapi_app.state.ctx
        try:
            response = await handler(ctx, scope, scope["path_params"], body)
        except _PassOn:
            whole = {"type": "http.request", "body": body, "more_body": False}
            await self.app(scope, _replay_messages([whole], receive) if has_body else receive, send)
            return
        except Exception as exc:
            answer = errors.handler_for(exc)
            if answer is None:
                raise
            response = await answer(Request(scope), exc)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | list[Message]:
    """The whole request body (the request guard bounds its size and time), or, when
    the client disconnected first, every message received (the disconnect last)."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        if not message.get("more_body", False):
            if len(messages) == 1:
                return message.get("body", b"")  # type: ignore[no-any-return]
            return b"".join(m.get("body", b"") for m in messages)


def _replay_messages(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` for an app that must see ``messages`` already received: them first."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _caller(ctx: ServerContext, scope: Scope) -> None:
    """Check the caller of a read (writes were checked by the request guard)."""
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    try:
        principal_from_header(ctx, authorization)
    except HTTPException:
        raise _PassOn from None


def _query(scope: Scope, model: type[BaseModel], lists: frozenset[str] = frozenset()) -> Any:
    """``model`` validated from the query string as FastAPI builds a query model: the
    last value of a repeated parameter, every value of a list field (``lists``)."""
    raw = scope["query_string"]
    if not raw:
        return model()
    given: dict[str, Any] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name in lists:
            given.setdefault(name, []).append(value)
        else:
            given[name] = value
    try:
        return model.model_validate(given)
    except ValidationError:
        raise _PassOn from None


def _json_body(scope: Scope, body: bytes, model: type[BaseModel]) -> Any:
    """``model`` validated from a JSON body, as FastAPI reads one: only with a JSON
    ``Content-Type`` (FastAPI's strict default refuses a body without one), parsed by the
    standard library."""
    if not body:
        raise _PassOn
    for name, value in scope["headers"]:
        if name == b"content-type":
            if value.partition(b";")[0].strip().lower() != b"application/json":
                raise _PassOn
            break
    else:
        raise _PassOn
    try:
        return model.model_validate(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, too deep, or invalid (422)
        raise _PassOn from None


def _writer(scope: Scope) -> None:
    state = scope.get("state")
    if not state or state.get(PRINCIPAL_STATE) is None:
        raise _PassOn  # not checked by the request guard: let FastAPI check it


_LIST_FIELDS = frozenset({"order_by"})


async def _get_one(ctx: ServerContext, scope: Scope, params: Params, _body: bytes) -> Response:
    _caller(ctx, scope)
    q: XComGetQuery = _query(scope, XComGetQuery)
    address = XComAddress(
        params["dag_id"], params["dag_run_id"], params["task_id"], params["xcom_key"], q.map_index
    )
    return await xcom.answer_get(ctx, address, q.deserialize, q.stringify)


async def _list(ctx: ServerContext, scope: Scope, params: Params, _body: bytes) -> Response:
    _caller(ctx, scope)
    q: XComListQuery = _query(scope, XComListQuery, _LIST_FIELDS)
    try:
        order = parse_order_by(q.order_by, xcom.ORDER_NAMES)
        f = xcom.list_filter(params["dag_id"], params["dag_run_id"], params["task_id"], q)
    except (HTTPException, RequestValidationError):
        raise _PassOn from None
    return await xcom.answer_list(ctx, f, order, q.limit, q.offset)


async def _create(
    ctx: ServerContext, scope: Scope, params: dict[str, Any], body: bytes
) -> Response:
    _writer(scope)
    parsed: XComCreateBody = _json_body(scope, body, XComCreateBody)
    return await xcom.answer_create(
        ctx, scope, params["dag_id"], params["dag_run_id"], params["task_id"], parsed
    )


async def _update(
    ctx: ServerContext, scope: Scope, params: dict[str, Any], body: bytes
) -> Response:
    _writer(scope)
    parsed: XComUpdateBody = _json_body(scope, body, XComUpdateBody)
    address = XComAddress(
        params["dag_id"],
        params["dag_run_id"],
        params["task_id"],
        params["xcom_key"],
        parsed.map_index,
    )
    return await xcom.answer_update(ctx, scope, address, parsed.value)
