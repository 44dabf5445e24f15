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

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

import xcomkit
from xcomkit.server.auth.tokens import TokenService
from xcomkit.server.deps import ServerContext
from xcomkit.server.encoding import json_response
from xcomkit.server.envelope import AirflowGZip
from xcomkit.server.routes import auth, dag_runs, monitor, xcom
from xcomkit.service import ServiceError
from xcomkit.settings import Settings
from xcomkit.store import users as user_store
from xcomkit.store.db import make_engine

log = logging.getLogger("xcomkit.server")

JWT_SECRET_SETTING = "jwt_secret"
#: Words in a driver's error that mean lock contention or an unreachable server.
_CONTENTION = (
    "locked",
    "busy",
    "deadlock",
    "could not serialize",
    "lock timeout",
    "connection refused",
    "could not connect",
    "server closed the connection",
    "terminating connection",
)
API_V1_REMOVED = (
    "/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."
)


def jwt_secret(settings: Settings, engine: Engine) -> str:
    """The token signing secret: from settings, or generated once and kept in the database.

    Keeping it in the database lets every worker (and every restart) share it.
    """
    if settings.jwt_secret:
        return settings.jwt_secret
    with engine.begin() as conn:
        return user_store.get_or_create_setting(
            conn, JWT_SECRET_SETTING, lambda: secrets.token_urlsafe(48)
        )


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the app for ``settings``; the schema must already be migrated.

    Args:
        settings: server settings (default: from ``XCOMKIT_*`` environment variables).
        engine: an engine to use instead of one made from ``settings.db``.
    """
    settings = settings or Settings()
    engine = engine or make_engine(settings.db, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    tokens = TokenService(
        jwt_secret(settings, engine),
        expiration_seconds=settings.jwt_expiration_seconds,
        cache_seconds=settings.token_cache_seconds,
    )
    app = FastAPI(
        title="xcomkit",
        version=xcomkit.__version__,
        description="Apache Airflow 3's XCom REST API, standalone.",
    )
    app.state.ctx = ServerContext(settings=settings, engine=engine, tokens=tokens)
    # Airflow redirects nothing: "/api/v2/version/" is an unknown route, not a 307.
    app.router.redirect_slashes = False

    @app.exception_handler(ServiceError)
    async def _service_error(_request: Request, exc: ServiceError) -> Response:
        return json_response({"detail": exc.detail}, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return json_response({"detail": jsonable_encoder(exc.errors())}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown API paths answer as Airflow's api-server does, with "error", not "detail".
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

    @app.exception_handler(OperationalError)
    async def _database_busy(_request: Request, exc: OperationalError) -> Response:
        # Contention, or a connection the database dropped (restart, outage; SQLAlchemy
        # then invalidates the pool and the next request reconnects): worth a retry.
        # Any other operational error is a bug, and stays a 500.
        contention = any(sign in str(exc.orig).lower() for sign in _CONTENTION)
        if not (contention or exc.connection_invalidated):
            raise exc
        return _unavailable(exc.orig)

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(_request: Request, exc: PoolTimeoutError) -> Response:
        # Every pooled connection stayed busy past the pool timeout.
        return _unavailable(exc)

    for module in (auth, xcom, dag_runs, monitor):
        app.include_router(module.router)
    # gzip when the client accepts it, as Airflow's api-server (see server/envelope.py).
    app.add_middleware(AirflowGZip)
    return app
