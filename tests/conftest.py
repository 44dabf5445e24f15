"""Shared fixtures: an in-process app (``api``) and a real uvicorn server (``live_server``).

Both start from tests/data/manifest.yaml and have one user per role, named after the
role, with password ``<role>-password``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests import pg
from xcomkit.manifest import load_manifest, read_manifest
from xcomkit.server.app import create_app
from xcomkit.server.auth.passwords import hash_password
from xcomkit.server.auth.roles import ROLES
from xcomkit.settings import Settings
from xcomkit.store import users as user_store
from xcomkit.store.db import make_engine, migrate

MANIFEST = Path(__file__).parent / "data" / "manifest.yaml"
XCOM_BASE = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"


#: Files whose tests run for many seconds each (clusters, servers and pytest processes of
#: their own). They run first: under pytest-xdist (``make test``) a worker that started
#: one near the end would keep the run going while the others have nothing left to do.
SLOW_FIRST = (
    "tests/system/",
    "tests/store/test_concurrent_startup.py",
    "tests/testing/test_docs_example.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests of :data:`SLOW_FIRST` to the front (a stable sort: the same order
    in every xdist worker, as xdist requires)."""
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST))


def password_for(role: str) -> str:
    """The test password of the user named ``role``."""
    return f"{role}-password"


@pytest.fixture(scope="session")
def password_hashes() -> dict[str, str]:
    """One Argon2 hash per role, computed once (hashing is slow by design)."""
    return {role: hash_password(password_for(role)) for role in ROLES}


def prepare_database(url: str, password_hashes: dict[str, str]) -> Engine:
    """Migrate ``url``, load the test manifest and add one user per role."""
    engine = make_engine(url)
    migrate(engine)
    load_manifest(engine, read_manifest(MANIFEST))
    with engine.begin() as conn:
        for role, hashed in password_hashes.items():
            user_store.upsert_user(conn, role, hashed, role)
    return engine


@dataclass
class Api:
    """An in-process xcomkit app with a TestClient and tokens per role."""

    client: TestClient
    engine: Engine
    settings: Settings
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: str) -> str:
        """A token for the user named ``role`` (issued directly; login has its own tests)."""
        if role not in self._tokens:
            self._tokens[role] = self.client.app.state.ctx.tokens.issue(role, role)
        return self._tokens[role]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def xcom_url(
        self,
        dag_id: str = "xcom_demo",
        dag_run_id: str = "run_1",
        task_id: str = "extract",
        key: str | None = None,
    ) -> str:
        url = XCOM_BASE.format(dag_id=dag_id, dag_run_id=dag_run_id, task_id=task_id)
        return url if key is None else f"{url}/{key}"


TEST_SECRET = "test-secret-" + "x" * 64


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, password_hashes: dict[str, str]) -> Path:
    """A migrated, loaded SQLite file that each ``api`` test starts from a copy of."""
    path = tmp_path_factory.mktemp("template") / "xcomkit.db"
    engine = prepare_database(f"sqlite:///{path}", password_hashes)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(password_hashes: dict[str, str]) -> Iterator[str]:
    """A throw-away PostgreSQL cluster with a migrated, loaded template database.

    Yields the cluster's admin URL; skips where PostgreSQL is not installed.
    """
    if pg.find_bin() is None:
        pytest.skip("PostgreSQL server programs are not installed")
    with pg.temporary_cluster() as admin_url:
        engine = prepare_database(
            pg.create_database(admin_url, "xcomkit_template"), password_hashes
        )
        engine.dispose()
        yield admin_url


_pg_counter = itertools.count()


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """A factory of PostgreSQL databases on the session's cluster, each dropped when the
    test ends: ``pg_database(template="xcomkit_template")`` returns a new database's URL
    (named ``prefix`` and a number). The cluster starts on the first call (skipped where
    PostgreSQL is not installed)."""
    made: list[tuple[str, str]] = []

    def factory(prefix: str = "t", template: str | None = None) -> str:
        admin_url = request.getfixturevalue("postgres_template")
        name = f"{prefix}{next(_pg_counter)}"
        url = pg.create_database(admin_url, name, template=template)
        made.append((admin_url, name))
        return url

    yield factory
    for admin_url, name in made:
        pg.drop_database(admin_url, name)


@contextmanager
def serving(url: str) -> Iterator[Api]:
    """An app on the migrated, loaded database ``url``, started (lifespan) until exit."""
    engine = make_engine(url)
    settings = Settings(db=url, jwt_secret=TEST_SECRET)
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        yield Api(client=client, engine=engine, settings=settings)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    template_db: Path,
    pg_database: Callable[..., str],
) -> Iterator[Api]:
    """A fresh app on a fresh database, for one test: SQLite, then PostgreSQL."""
    if request.param == "postgresql":
        url = pg_database(template="xcomkit_template")
    else:
        path = tmp_path / "xcomkit.db"
        shutil.copyfile(template_db, path)
        url = f"sqlite:///{path}"
    with serving(url) as api:
        yield api


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    template_db: Path,
) -> Iterator[Api]:
    """One app and database shared by a module's tests, per backend: for tests that only
    read what a module fixture wrote once, or whose requests are all refused. Reach it
    through :func:`unchanged` (see ``read_only_api``), which fails a test that changed it.

    Building an app costs ~70 ms of CPU (FastAPI compiles every route's parameters) and a
    PostgreSQL database ~70 ms more; a few hundred read-only tests share these instead.
    """
    if request.param == "postgresql":
        admin_url = request.getfixturevalue("postgres_template")
        name = f"m{next(_pg_counter)}"
        url = pg.create_database(admin_url, name, template="xcomkit_template")
        try:
            with serving(url) as api:
                yield api
        finally:
            pg.drop_database(admin_url, name)
    else:
        path = tmp_path_factory.mktemp("module-api") / "xcomkit.db"
        shutil.copyfile(template_db, path)
        with serving(f"sqlite:///{path}") as api:
            yield api


def contents(api: Api) -> dict[str, Any]:
    """Every row of every table (bar ``xcomkit_kv``, where a background retention pass
    notes its time) and the app's settings: what a read-only test must leave as it was."""
    from sqlalchemy import select

    from xcomkit.store.schema import metadata

    with api.engine.connect() as conn:
        rows = {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
            if table.name != "xcomkit_kv"
        }
    return {"rows": rows, "settings": api.settings.model_dump()}


@contextmanager
def unchanged(api: Api) -> Iterator[Api]:
    """Yield ``api``; then assert its database rows and settings are as they were."""
    before = contents(api)
    yield api
    assert contents(api) == before, "a test on a shared app changed it: give it `api`"


@pytest.fixture
def read_only_api(module_api: Api) -> Iterator[Api]:
    """The module's shared app (:func:`module_api`), for one test that must not change it:
    the test fails if it did (rows or settings)."""
    with unchanged(module_api) as api:
        yield api


@pytest.fixture
def make_api(tmp_path: Path, template_db: Path) -> Iterator[Any]:
    """A factory of in-process apps on fresh SQLite copies, with settings overridden:
    ``make_api(request_timeout=0.2)``."""
    made: list[tuple[TestClient, Engine]] = []

    def factory(**overrides: Any) -> Api:
        path = tmp_path / f"xcomkit-{len(made)}.db"
        shutil.copyfile(template_db, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        settings = Settings(db=url, jwt_secret=TEST_SECRET, **overrides)
        client = TestClient(create_app(settings, engine=engine))
        client.__enter__()
        made.append((client, engine))
        return Api(client=client, engine=engine, settings=settings)

    yield factory
    for client, engine in made:
        client.__exit__(None, None, None)
        engine.dispose()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yield its base URL.

    Raises:
        RuntimeError: uvicorn did not start within 20 seconds.
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class LiveServer:
    """A real uvicorn serving xcomkit on loopback."""

    base_url: str
    users: dict[str, tuple[str, str]]
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: str) -> str:
        if role not in self._tokens:
            username, password = self.users[role]
            r = httpx.post(
                f"{self.base_url}/auth/token", json={"username": username, "password": password}
            )
            assert r.status_code == 201, r.text
            self._tokens[role] = r.json()["access_token"]
        return self._tokens[role]


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, password_hashes: dict[str, str]
) -> Iterator[LiveServer]:
    """xcomkit under uvicorn on a free port, shared by the session (use unique keys).

    With ``XCOMKIT_TARGET_URL`` set (and ``XCOMKIT_TARGET_USERS``, a JSON object
    ``{"<role>": ["<username>", "<password>"], ...}``), the tests that use this fixture
    run against that server instead, e.g. a live Apache Airflow 3.3.2 loaded with the
    same manifest (the compatibility job does this).
    """
    target = os.environ.get("XCOMKIT_TARGET_URL")
    if target:
        users = json.loads(os.environ["XCOMKIT_TARGET_USERS"])
        yield LiveServer(
            base_url=target.rstrip("/"), users={role: (u, p) for role, (u, p) in users.items()}
        )
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'xcomkit.db'}"
    engine = prepare_database(url, password_hashes)
    app = create_app(Settings(db=url, jwt_secret=TEST_SECRET), engine=engine)
    with serve_in_thread(app) as base_url:
        yield LiveServer(
            base_url=base_url, users={role: (role, password_for(role)) for role in ROLES}
        )
    engine.dispose()
