"""``create_app(settings)``: the FastAPI application.

Layers (docs/architecture.md): middleware (audit log, gzip, request guard), routes that
parse and answer (:mod:`xcomkit.server.routes`), rules that decide
(:mod:`xcomkit.service`), the store that reads and writes (:mod:`xcomkit.store`).
Errors become answers in :mod:`xcomkit.server.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine

import xcomkit
from xcomkit.server import errors
from xcomkit.server.audit import AuditLog
from xcomkit.server.auth.tokens import TokenService
from xcomkit.server.deps import ServerContext, current_user, principal_from_header, writer
from xcomkit.server.direct import DirectRoutes
from xcomkit.server.envelope import AirflowGZip
from xcomkit.server.execution import WorkLanes
from xcomkit.server.guard import RequestGuard
from xcomkit.server.login_gate import LoginGate
from xcomkit.server.offload import ValueStorage
from xcomkit.server.routes import auth, bulk, dag_runs, monitor, xcom
from xcomkit.server.ui import router as ui_router
from xcomkit.service.retention import RetentionScheduler, object_releaser
from xcomkit.settings import Settings
from xcomkit.store import users as user_store
from xcomkit.store.db import STARTUP_LOCK, locked_transaction, make_engine

log = logging.getLogger("xcomkit.server")

JWT_SECRET_SETTING = "jwt_secret"


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
        retention = RetentionScheduler(
            engine,
            settings.retention_interval,
            on_deleted=object_releaser(storage.store) if storage.store is not None else None,
        )
        retention.start()
        yield
        await asyncio.to_thread(retention.stop)
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

    errors.install(app)

    # Each route is built here, once (server/routing.py).
    for module in (auth, xcom, dag_runs, monitor, bulk):  # bulk: xcomkit's own /xcomkit/v1
        module.router.include_in(app)

    # The web page at "/" (docs/ui.md): static files, a client of the API above.
    ui_router.include_in(app)

    ctx: ServerContext = app.state.ctx
    # Innermost: answers well-formed XCom requests without FastAPI's per-request
    # machinery; everything else goes on to FastAPI (server/direct.py).
    app.add_middleware(DirectRoutes, fastapi_app=app)
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
    app.add_middleware(AuditLog)  # sees every answer, the guard's too
    # Outermost: refused logins (client at its limit, password lane full) answered before
    # their body, at the least cost a flood can be answered with; audited by the gate.
    app.add_middleware(LoginGate, work=work, blocked=ctx.blocked_clients)
    return app
