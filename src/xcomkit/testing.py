"""``xcomkit.testing``: a pytest plugin that serves a real xcomkit in the test process.

Installed with xcomkit and registered through the ``pytest11`` entry point, so a test
suite gets its fixtures without any import or ``conftest.py`` line:

    def test_push(xcomkit_server):
        import airflow_client.client as ac
        with ac.ApiClient(xcomkit_server.airflow_client_configuration()) as api_client:
            ...

Fixtures:

``xcomkit_server`` (function scope)
    A :class:`XComkitServer`: xcomkit under uvicorn on a free loopback port, on a
    temporary SQLite database, with an ``admin`` user. Each test sees an empty XCom
    store and the DAGs and DAG runs of ``xcomkit_manifest``. One server serves the whole
    session; between tests its store is emptied and the manifest loaded again (a few
    milliseconds), so the fixture is cheap to use in every test.
``xcomkit_session_server`` (session scope)
    Another server, shared by every test of the session that asks for it: what one test
    writes, the next sees. Its DAGs come from ``xcomkit_session_manifest``.
``xcomkit_manifest`` / ``xcomkit_session_manifest``
    The DAGs and DAG runs to serve: a dict in the manifest shape (see
    :mod:`xcomkit.manifest`) or a path to a YAML/JSON manifest. Default:
    :data:`DEMO_MANIFEST` (DAG ``xcom_demo``, tasks ``extract``/``transform``/``load``,
    runs ``run_1`` and ``manual__2025-01-01T00:00:00+00:00``). Override it in a test
    module or ``conftest.py`` with a fixture of the same name.
``xcomkit_asgi`` (function scope)
    A :class:`XComkitAsgi`: the same app without a port, for httpx users
    (:class:`httpx.ASGITransport` for ``httpx.AsyncClient``, a Starlette ``TestClient``
    for blocking calls). It shares the store of ``xcomkit_server`` and resets it the same
    way; a session that only uses it never opens a port.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy import Engine
    from starlette.testclient import TestClient

    from xcomkit.manifest import Manifest
    from xcomkit.modern import XComClient

__all__ = [
    "ADMIN_PASSWORD",
    "ADMIN_USERNAME",
    "DEMO_MANIFEST",
    "XComkitAsgi",
    "XComkitServer",
    "create_server",
    "start_server",
]

#: The user every test server has, with role ``admin``.
ADMIN_USERNAME = "admin"
#: Its password (a test server listens on loopback only and lives as long as the session).
ADMIN_PASSWORD = "admin-password"

#: The demo DAG, as ``make serve`` loads it from examples/demo_dags.yaml.
DEMO_MANIFEST: dict[str, Any] = {
    "dags": [
        {
            "dag_id": "xcom_demo",
            "dag_display_name": "XCom Demo",
            "tasks": [
                {"task_id": "extract"},
                {"task_id": "transform", "task_display_name": "Transform step"},
                {"task_id": "load"},
            ],
        }
    ],
    "runs": [
        {
            "dag_id": "xcom_demo",
            "dag_run_id": "manual__2025-01-01T00:00:00+00:00",
            "logical_date": "2025-01-01T00:00:00Z",
        },
        {"dag_id": "xcom_demo", "dag_run_id": "run_1", "logical_date": "2025-01-02T00:00:00Z"},
    ],
}

_START_DEADLINE_SECONDS = 20.0


def _to_manifest(manifest: dict[str, Any] | str | Path | Manifest) -> Manifest:
    from xcomkit.manifest import Manifest, manifest_from_data, read_manifest

    if isinstance(manifest, Manifest):
        return manifest
    if isinstance(manifest, (str, Path)):
        return read_manifest(Path(manifest))
    return manifest_from_data(manifest, "xcomkit_manifest")


class XComkitServer:
    """A running xcomkit: a uvicorn server in a thread of this process.

    Attributes:
        base_url: ``http://127.0.0.1:<port>`` (no ``/api/v2``).
        token: an admin bearer token, valid for a day.
        username, password: the admin user's login (``POST {base_url}/auth/token``).
        app: the FastAPI application.
        engine: the SQLAlchemy engine of its temporary SQLite database.
        db_url: that database's URL.

    Build one with :func:`start_server` (or :func:`create_server`, then :meth:`serve`);
    stop it with :meth:`stop`. ``base_url`` is ``""`` until it serves.
    """

    def __init__(self, app: FastAPI, engine: Engine, db_url: str, token: str) -> None:
        self.app = app
        self.engine = engine
        self.db_url = db_url
        self.token = token
        self.username = ADMIN_USERNAME
        self.password = ADMIN_PASSWORD
        self.base_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}``, for hand-made requests."""
        return {"Authorization": f"Bearer {self.token}"}

    def airflow_client_configuration(self) -> Any:
        """A ``airflow_client.client.Configuration`` for this server, token set.

        Requires the official ``apache-airflow-client`` package.

        Raises:
            ModuleNotFoundError: ``apache-airflow-client`` is not installed.
        """
        import airflow_client.client

        configuration = airflow_client.client.Configuration(host=self.base_url)
        configuration.access_token = self.token
        return configuration

    def xcomkit_client_configuration(self) -> Any:
        """A :class:`xcomkit.client.Configuration` (the drop-in client) for this server."""
        import xcomkit.client

        configuration = xcomkit.client.Configuration(host=self.base_url)
        configuration.access_token = self.token
        return configuration

    def xcom_client(self, **kwargs: Any) -> XComClient:
        """A :class:`xcomkit.XComClient` logged in as the admin; close it (or use ``with``).

        ``kwargs`` go to :class:`~xcomkit.XComClient` (e.g. ``timeout``, ``retries``).
        """
        from xcomkit.modern import XComClient

        return XComClient(self.base_url, token=self.token, **kwargs)

    def reset(self, manifest: dict[str, Any] | str | Path | Manifest | None = None) -> None:
        """Empty the store (XComs, DAG runs, DAGs) and load ``manifest`` into it.

        Users and the token signing secret stay, so :attr:`token` stays valid.

        Raises:
            xcomkit.manifest.ManifestError: the manifest does not have the manifest shape.
        """
        from xcomkit.manifest import load_manifest
        from xcomkit.store import schema

        with self.engine.begin() as conn:
            for table in (schema.xcom, schema.dag_run, schema.task, schema.dag):
                conn.execute(table.delete())
        if manifest is not None:
            load_manifest(self.engine, _to_manifest(manifest))

    @property
    def serving(self) -> bool:
        """Whether the server listens on a port (``base_url`` is set)."""
        return bool(self.base_url)

    def serve(self) -> None:
        """Listen on a free loopback port, in a thread; does nothing when already serving.

        Raises:
            RuntimeError: uvicorn did not start within 20 seconds.
        """
        if self.base_url:
            return
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # No lifespan: the app outlives this server (xcomkit_asgi shares it); stop() ends it.
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", ws="none"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="xcomkit"
        )
        self._thread.start()
        deadline = time.monotonic() + _START_DEADLINE_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                sock.close()
                raise RuntimeError("the xcomkit test server did not start")
            time.sleep(0.005)
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Stop serving, wait for the thread, stop the app's worker threads and release
        the database."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        work = getattr(self.app.state.ctx, "work", None)
        if work is not None:
            work.shutdown()
        self.engine.dispose()


def _prepare(directory: Path) -> tuple[FastAPI, Engine, str, str]:
    from xcomkit.server.app import create_app
    from xcomkit.server.auth.passwords import hash_password
    from xcomkit.settings import Settings
    from xcomkit.store import users as user_store
    from xcomkit.store.db import make_engine, migrate

    db_url = f"sqlite:///{directory / 'xcomkit.db'}"
    setup = make_engine(db_url)
    migrate(setup)
    with setup.begin() as conn:
        user_store.upsert_user(conn, ADMIN_USERNAME, hash_password(ADMIN_PASSWORD), "admin")
    setup.dispose()
    # The app makes its own engine from the settings, as `xcomkit serve` does.
    app = create_app(Settings(db=db_url, auth=True, jwt_secret=None, dags_file=None))
    token = app.state.ctx.tokens.issue(ADMIN_USERNAME, "admin")
    return app, app.state.ctx.engine, db_url, token


def create_server(
    directory: str | Path, manifest: dict[str, Any] | str | Path | Manifest | None = None
) -> XComkitServer:
    """An xcomkit app on a new SQLite database in ``directory``, not listening yet.

    Use its ``app`` through an ASGI transport (no port at all), or call
    :meth:`XComkitServer.serve` to listen.

    Args:
        directory: an existing, writable directory for the SQLite database.
        manifest: DAGs and DAG runs to load (a dict in the manifest shape or a path);
            None loads none (the pytest fixtures default to the demo DAG instead).

    Raises:
        xcomkit.manifest.ManifestError: a bad manifest.
    """
    app, engine, db_url, token = _prepare(Path(directory))
    server = XComkitServer(app, engine, db_url, token)
    server.reset(manifest)
    return server


def start_server(
    directory: str | Path, manifest: dict[str, Any] | str | Path | Manifest | None = None
) -> XComkitServer:
    """:func:`create_server`, then listen on a free loopback port.

    Returns:
        the running server; call :meth:`XComkitServer.stop` when done.

    Raises:
        RuntimeError: uvicorn did not start within 20 seconds.
        xcomkit.manifest.ManifestError: a bad manifest.
    """
    server = create_server(directory, manifest)
    server.serve()
    return server


class XComkitAsgi:
    """The xcomkit app without a port, for httpx.

    Attributes:
        app: the FastAPI (ASGI) application.
        token, headers: an admin bearer token and the header that carries it.
        base_url: a placeholder origin (``http://xcomkit``) for clients built on the transport.
    """

    base_url = "http://xcomkit"

    def __init__(self, server: XComkitServer) -> None:
        self.app = server.app
        self.token = server.token
        self.headers = server.headers

    def transport(self) -> httpx.ASGITransport:
        """An :class:`httpx.ASGITransport` over the app, for ``httpx.AsyncClient``."""
        import httpx

        return httpx.ASGITransport(app=self.app)

    def async_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` on the app with the admin token; use ``async with``."""
        import httpx

        return httpx.AsyncClient(
            transport=self.transport(), base_url=self.base_url, headers=self.headers
        )

    def client(self) -> TestClient:
        """A blocking client (Starlette's ``TestClient``, an ``httpx.Client``) on the app.

        Entering and leaving it (``with``) leaves the shared app running: the app's
        lifespan is not run by it.
        """
        from starlette.testclient import TestClient

        app = _WithoutLifespan(self.app)
        return TestClient(app, base_url=self.base_url, headers=self.headers)


class _WithoutLifespan:
    """An ASGI app that answers lifespan events itself and passes everything else on,
    so a client's start and stop do not start or stop the shared app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def xcomkit_manifest() -> dict[str, Any] | str | Path:
    """The DAGs and DAG runs ``xcomkit_server`` serves; override it to serve your own."""
    return DEMO_MANIFEST


@pytest.fixture(scope="session")
def xcomkit_session_manifest() -> dict[str, Any] | str | Path:
    """The DAGs and DAG runs ``xcomkit_session_server`` serves; override it (session scope)."""
    return DEMO_MANIFEST


@pytest.fixture(scope="session")
def _xcomkit_shared_server() -> Iterator[XComkitServer]:
    # Listens only once a test asks for xcomkit_server: xcomkit_asgi needs no port.
    with tempfile.TemporaryDirectory(prefix="xcomkit-") as directory:
        server = create_server(Path(directory))
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def xcomkit_server(
    _xcomkit_shared_server: XComkitServer, xcomkit_manifest: dict[str, Any] | str | Path
) -> XComkitServer:
    """A running xcomkit with an empty XCom store and ``xcomkit_manifest`` loaded."""
    _xcomkit_shared_server.reset(xcomkit_manifest)
    _xcomkit_shared_server.serve()
    return _xcomkit_shared_server


@pytest.fixture(scope="session")
def xcomkit_session_server(
    xcomkit_session_manifest: dict[str, Any] | str | Path,
) -> Iterator[XComkitServer]:
    """A running xcomkit shared by the whole session (its store is never reset)."""
    with tempfile.TemporaryDirectory(prefix="xcomkit-") as directory:
        server = start_server(Path(directory), xcomkit_session_manifest)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def xcomkit_asgi(
    _xcomkit_shared_server: XComkitServer, xcomkit_manifest: dict[str, Any] | str | Path
) -> XComkitAsgi:
    """The app of ``xcomkit_server`` for httpx's ASGI transport, without a port.

    The same store: empty, with ``xcomkit_manifest`` loaded; a test may use both.
    """
    _xcomkit_shared_server.reset(xcomkit_manifest)
    return XComkitAsgi(_xcomkit_shared_server)
