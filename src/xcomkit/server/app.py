"""``create_app(settings)``: the FastAPI application.

Layers: routes parse and answer, :mod:`xcomkit.service` decides, :mod:`xcomkit.store`
reads and writes. Errors raised by the service carry Airflow's ``detail`` and become
``{"detail": ...}`` with their status here. Validation errors keep FastAPI's 422 body
(Airflow's), encoded so that NaN or huge integers in the echoed input never turn a
client's mistake into a 500. A database that stays locked past the busy timeout,
is unreachable, or has no free pooled connection answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

import xcomkit
from xcomkit import values
from xcomkit.server.audit import AuditLog
from xcomkit.server.auth.tokens import TokenService
from xcomkit.server.deps import ServerContext, current_user, principal_from_header, writer
from xcomkit.server.encoding import json_response
from xcomkit.server.envelope import AirflowGZip
from xcomkit.server.execution import Unavailable, WorkLanes
from xcomkit.server.guard import RequestGuard
from xcomkit.server.offload import ValueStorage
from xcomkit.server.routes import auth, dag_runs, monitor, xcom
from xcomkit.server.ui import router as ui_router
from xcomkit.service import ServiceError, TooManyAttempts
from xcomkit.settings import Settings
from xcomkit.store import users as user_store
from xcomkit.store.db import STARTUP_LOCK, locked_transaction, make_engine
from xcomkit.store.faults import is_transient

log = logging.getLogger("xcomkit.server")

JWT_SECRET_SETTING = "jwt_secret"
API_V1_REMOVED = (
    "/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."
)


def jwt_secret(settings: Settings, engine: Engine) -> str:
    """The token signing secret: from settings, or generated once and kept in the database.

    Keeping it in the database lets every worker (and every restart) share it.
    """
    if settings.jwt_secret:
        return settings.jwt_secret
    with locked_transaction(engine, STARTUP_LOCK) as conn:
        return user_store.get_or_create_setting(
            conn, JWT_SECRET_SETTING, lambda: secrets.token_urlsafe(48)
        )


_TOO_DEEP_TO_ECHO = "(not echoed: nested too deep)"


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


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app for ``settings``; the schema must already be migrated.

    Args:
        settings: server settings (default: from ``XCOMKIT_*`` environment variables).
        engine: an engine to use instead of one made from ``settings.db``.
    """
    settings = settings or Settings()
    engine = engine or make_engine(
        settings.db,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.read_threads
        + settings.scan_threads
        + settings.write_threads
        + settings.hash_threads,
        statement_timeout_ms=int(settings.request_timeout * 1000),
    )
    work = WorkLanes(
        engine,
        request_timeout=settings.request_timeout,
        read_threads=settings.read_threads,
        scan_threads=settings.scan_threads,
        write_threads=settings.write_threads,
        hash_threads=settings.hash_threads,
        max_waiting=settings.max_waiting,
        object_threads=settings.object_threads,
    )
    storage = ValueStorage.from_settings(settings)
    tokens = TokenService(
        jwt_secret(settings, engine),
        expiration_seconds=settings.jwt_expiration_seconds,
        cache_seconds=settings.token_cache_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        work.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="xcomkit",
        version=xcomkit.__version__,
        description="Apache Airflow 3's XCom REST API, standalone.",
    )
    app.state.ctx = ServerContext(
        settings=settings, engine=engine, tokens=tokens, work=work, storage=storage
    )
    # Airflow redirects nothing: "/api/v2/version/" is an unknown route, not a 307.
    app.router.redirect_slashes = False

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> Response:
        headers = None
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after)}
        return json_response({"detail": exc.detail}, exc.status_code, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return json_response({"detail": _echoable(exc.errors())}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown API paths answer as Airflow's api-server does, with "error", not "detail".
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

    @app.exception_handler(DataError)
    async def _rejected_by_database(_request: Request, exc: DataError) -> Response:
        # A value that passed validation but that the database cannot hold (for
        # example a NUL character in PostgreSQL text): the client's input, so 422.
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

    @app.exception_handler(DBAPIError)
    async def _database_unavailable(_request: Request, exc: DBAPIError) -> Response:
        # Contention, a restart, an outage, a cancelled statement: worth a retry (a
        # dropped connection also invalidates the pool, and the next request reconnects).
        # Any other database error is a bug, and stays a 500.
        if not is_transient(exc):
            raise exc
        return _unavailable(exc.orig)

    @app.exception_handler(Unavailable)
    async def _busy(_request: Request, exc: Unavailable) -> Response:
        # A full work lane or a passed deadline: the work was not done; retry.
        log.warning("answered 503: %s", exc.detail)
        return json_response({"detail": exc.detail}, 503, headers={"Retry-After": "1"})

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(_request: Request, exc: PoolTimeoutError) -> Response:
        # Every pooled connection stayed busy past the pool timeout.
        return _unavailable(exc)

    for module in (auth, xcom, dag_runs, monitor):
        app.include_router(module.router)

    # The web page at "/" (docs/ui.md): static files, a client of the API above.
    app.include_router(ui_router)

    ctx: ServerContext = app.state.ctx
    app.add_middleware(
        RequestGuard,
        fastapi_app=app,
        authenticate=partial(principal_from_header, ctx),
        caller_dep=current_user,
        writer_dep=writer,
        max_body_bytes=settings.max_body_bytes,
        max_value_bytes=settings.max_value_bytes,
        value_endpoints={xcom.create_xcom_entry, xcom.update_xcom_entry},
        login_body_bytes=settings.login_body_bytes,
        body_timeout=settings.body_timeout,
        login_body_timeout=settings.login_body_timeout,
    )
    # As in Airflow's api-server: gzip when the client accepts it (see server/envelope.py),
    # for the guard's own answers too.
    app.add_middleware(AirflowGZip)
    app.add_middleware(AuditLog)  # outermost: sees every answer, the guard's too
    return app
