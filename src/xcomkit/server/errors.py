"""From an exception to an answer: every error the API reports, and its status, in one place.

:data:`HANDLERS` lists each exception class with the function that answers it;
:func:`install` registers them on the app. The rules raise the domain errors of
:mod:`xcomkit.errors` (their ``detail`` is Airflow's wording); :data:`STATUS` gives each
its status code. Validation errors keep FastAPI's 422 body (Airflow's), encoded so that
NaN or huge integers in the echoed input never turn a client's mistake into a 500. A
database that is locked past the deadline, unreachable, restarting or out of pooled
connections, and a full work lane, answer 503 with ``Retry-After``: nothing was done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from xcomkit import values
from xcomkit.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ServiceError,
    TooManyAttempts,
    ValueTooLarge,
)
from xcomkit.server.encoding import json_response
from xcomkit.server.execution import Unavailable
from xcomkit.server.models import HTTPExceptionResponse, ValidationErrorResponse
from xcomkit.store.faults import is_transient

log = logging.getLogger("xcomkit.server")

#: The status of each domain error (the first class in the error's MRO found here).
STATUS: dict[type[ServiceError], int] = {
    BadRequest: 400,
    NotFound: 404,
    Conflict: 409,
    ValueTooLarge: 413,
    TooManyAttempts: 429,
}

API_V1_REMOVED = (
    "/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."
)
_TOO_DEEP_TO_ECHO = "(not echoed: nested too deep)"


def status_of(exc: ServiceError) -> int:
    """The HTTP status for a domain error (400 for one :data:`STATUS` does not list)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def service_error(_request: Request, exc: ServiceError) -> Response:
    """A domain error: ``{"detail": ...}`` with its status; 429 adds ``Retry-After``."""
    headers = None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    return json_response({"detail": exc.detail}, status_of(exc), headers)


def _echoable(errors: Sequence[dict[str, Any]] | str) -> Any:
    """Validation errors ready to encode; an ``input`` nested beyond the JSON depth limit
    is replaced by a note (echoing it could exhaust the encoder's recursion). A string
    (the login route's Airflow-style detail) is passed through."""
    if isinstance(errors, str):
        return errors
    safe = []
    for error in errors:
        if values.too_deep(error.get("input")):
            error = {**error, "input": _TOO_DEEP_TO_ECHO}
        safe.append(error)
    return jsonable_encoder(safe)


async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's 422 body, as Airflow answers it."""
    return json_response({"detail": _echoable(exc.errors())}, 422)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's HTTP errors; unknown API paths answer as Airflow's api-server does,
    with ``error``, not ``detail``."""
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        # FastAPI's JSON parser gave up on the body's nesting before validation ran.
        return json_response({"detail": values.depth_error("the request body")}, 422)
    if exc.status_code == 404 and exc.detail == "Not Found":
        path = request.url.path
        if path.startswith("/api/v2"):
            return json_response({"error": "API route not found"}, 404)
        if path.startswith("/api/v1"):
            return json_response({"error": API_V1_REMOVED}, 404)
    return await http_exception_handler(request, exc)


async def rejected_by_database(_request: Request, exc: DataError) -> Response:
    """A value that passed validation but that the database cannot hold (for example a
    NUL character in PostgreSQL text): the client's input, so 422."""
    log.info("database rejected a value: %s", exc.orig)
    return json_response(
        {"detail": f"Value rejected by the database: {str(exc.orig).strip()}"}, 422
    )


def _unavailable(reason: object) -> Response:
    log.warning("database unavailable: %s", reason)
    return json_response(
        {"detail": "The database is busy or unreachable; retry the request shortly."},
        503,
        headers={"Retry-After": "1"},
    )


async def database_unavailable(_request: Request, exc: DBAPIError) -> Response:
    """Contention, a restart, an outage, a cancelled statement: 503, worth a retry (a
    dropped connection also invalidates the pool, and the next request reconnects).
    Any other database error is a bug, and stays a 500."""
    if not is_transient(exc):
        raise exc
    return _unavailable(exc.orig)


async def busy(_request: Request, exc: Unavailable) -> Response:
    """A full work lane or a passed deadline: the work was not done; 503, retry."""
    log.warning("answered 503: %s", exc.detail)
    return json_response({"detail": exc.detail}, 503, headers={"Retry-After": "1"})


async def pool_exhausted(_request: Request, exc: PoolTimeoutError) -> Response:
    """Every pooled connection stayed busy past the pool timeout: 503."""
    return _unavailable(exc)


#: Every exception the API answers itself, and how.
HANDLERS: list[tuple[type[Exception], Callable[[Request, Any], Awaitable[Response]]]] = [
    (ServiceError, service_error),
    (RequestValidationError, validation_error),
    (StarletteHTTPException, http_error),
    (DataError, rejected_by_database),
    (DBAPIError, database_unavailable),
    (Unavailable, busy),
    (PoolTimeoutError, pool_exhausted),
]


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a router's error statuses: each one's body is an
    :class:`~xcomkit.server.models.HTTPExceptionResponse`, a 422's a
    :class:`~xcomkit.server.models.ValidationErrorResponse` (declaring 422 replaces
    FastAPI's own, which has no room for the string ``detail`` Airflow answers in places).
    tests/server/test_response_shapes.py checks every body the API answers against these."""
    return {
        status: {"model": ValidationErrorResponse if status == 422 else HTTPExceptionResponse}
        for status in statuses
    }


def handler_for(exc: BaseException) -> Callable[[Request, Any], Awaitable[Response]] | None:
    """The :data:`HANDLERS` function that answers ``exc`` (looked up along its class's
    MRO, as Starlette looks up an app's handlers), or None: not an error the API answers."""
    for cls in type(exc).__mro__:
        for handled, handler in HANDLERS:
            if cls is handled:
                return handler
    return None


def install(app: FastAPI) -> None:
    """Register :data:`HANDLERS` on ``app``."""
    for cls, handler in HANDLERS:
        app.add_exception_handler(cls, handler)
