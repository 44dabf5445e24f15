"""Engine creation and schema migrations.

SQLite gets an owner-only database file (mode 0600), WAL journaling, a busy timeout,
foreign keys and ``synchronous=NORMAL`` (durable across application crashes; the last
transactions may roll back on power loss, as WAL documents). Other backends
(PostgreSQL) get a pooled engine.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from xcomkit.private_files import secure_sqlite_file
from xcomkit.store.driver import execute_plain, observed

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: The newest migration's revision id. Kept here so that checking a database at start-up
#: needs no Alembic import (a test checks it equals Alembic's head).
HEAD_REVISION = "0006"


_deadline = threading.local()


@contextlib.contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Bound the database work this thread does inside the block by ``at``.

    ``at`` is a :func:`time.monotonic` instant (None: no bound). On SQLite a statement
    still running at ``at`` is interrupted (``sqlite3.OperationalError: interrupted``)
    and a write waits for another process's lock only until ``at``. On PostgreSQL the
    engine's ``statement_timeout`` bounds each statement instead.
    """
    previous = getattr(_deadline, "at", None)
    _deadline.at = at
    try:
        yield
    finally:
        _deadline.at = previous


def current_deadline() -> float | None:
    """This thread's :func:`deadline` (a :func:`time.monotonic` instant), or None."""
    at: float | None = getattr(_deadline, "at", None)
    return at


def deadline_passed() -> bool:
    """True when this thread's :func:`deadline` is set and has passed."""
    at = getattr(_deadline, "at", None)
    return at is not None and time.monotonic() >= at


def _sqlite_progress() -> int:
    # Called by SQLite every _PROGRESS_STEPS virtual-machine steps; non-zero interrupts.
    return 1 if deadline_passed() else 0


#: SQLite VM steps between deadline checks: a point query takes a few hundred steps, a
#: scan of a million rows tens of millions, so the check costs nothing measurable and
#: stops a runaway scan within a millisecond or so.
_PROGRESS_STEPS = 20_000
#: A write's lock wait is re-set only when it moves by more than this (milliseconds).
_BUSY_SLACK_MS = 250


def _enable_wal(cur: Any) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the lock.

    Switching a new database to WAL needs it alone, and SQLite answers "database is
    locked" without waiting when several processes open a fresh file at once.
    """
    deadline = time.monotonic() + 30
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int = 30000,
    pool_size: int = 8,
    statement_timeout_ms: int | None = None,
) -> Engine:
    """Create an engine for ``url`` (a SQLAlchemy URL such as ``sqlite:///xcomkit.db``).

    A bare ``postgresql://`` URL is read as ``postgresql+psycopg://`` (psycopg 3).
    ``pool_size`` connections are kept (as many again may overflow).
    ``statement_timeout_ms`` bounds every PostgreSQL statement and the wait for a pooled
    connection; on SQLite, :func:`deadline` does that per request.

    Raises:
        sqlalchemy.exc.ArgumentError: the URL cannot be parsed.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        if parsed.database not in (None, "", ":memory:"):
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        engine = create_engine(parsed, **kwargs)
        is_memory = parsed.database in (None, "", ":memory:")
        if not is_memory and not parsed.query.get("uri"):
            # Owner-only before SQLite first opens it: the file holds password hashes
            # and the JWT secret; its -wal and -shm files inherit the mode.
            with contextlib.suppress(FileNotFoundError):  # SQLite reports the missing dir
                secure_sqlite_file(Path(str(parsed.database)))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level; SQLAlchemy emits BEGIN itself (below), so
            # transactions are real and writes take the lock up front (BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not is_memory:
                _enable_wal(cur)
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            dbapi_conn.set_progress_handler(_sqlite_progress, _PROGRESS_STEPS)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # single-statement reads: no transaction at all
            mode = options.get("sqlite_begin", "DEFERRED")
            if mode == "IMMEDIATE":
                # A write takes the lock now: wait for another process's lock no longer
                # than this request's deadline allows. The PRAGMA goes straight to the
                # driver, and only when the wait changes by more than _BUSY_SLACK_MS.
                at = getattr(_deadline, "at", None)
                wait_ms = busy_timeout_ms
                if at is not None:
                    wait_ms = max(0, min(wait_ms, int((at - time.monotonic()) * 1000)))
                info = conn.connection.info
                if abs(info.get("busy_ms", busy_timeout_ms) - wait_ms) > _BUSY_SLACK_MS:
                    conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={wait_ms}")
                    info["busy_ms"] = wait_ms
            if observed(conn):
                conn.exec_driver_sql(f"BEGIN {mode}")  # watched: through SQLAlchemy
            else:
                execute_plain(conn, f"BEGIN {mode}")

        return engine
    kwargs["pool_size"] = pool_size
    kwargs["max_overflow"] = pool_size
    # No pre-ping (a round trip per request); a connection the server dropped is
    # detected on use, the pool is invalidated and the next request reconnects.
    kwargs["pool_recycle"] = 1800
    if statement_timeout_ms:
        timeout = int(statement_timeout_ms)
        kwargs["pool_timeout"] = timeout / 1000
        kwargs["connect_args"] = {
            "options": f"-c statement_timeout={timeout} -c lock_timeout={timeout}",
            "connect_timeout": max(1, timeout // 1000),
        }
    return create_engine(parsed, **kwargs)


#: Name of the lock that serializes schema migrations across processes and hosts.
MIGRATION_LOCK = "xcomkit:migrate"
#: Name of the lock that serializes start-up writes (manifest, demo user, secret).
STARTUP_LOCK = "xcomkit:startup"


@contextlib.contextmanager
def locked_transaction(engine: Engine, name: str) -> Iterator[Connection]:
    """A write transaction that holds the database-wide lock ``name`` until it ends.

    Several processes (``db migrate`` run twice, servers starting together) that do the
    same start-up work take turns instead of racing: on SQLite through the write lock
    taken at ``BEGIN IMMEDIATE``, on PostgreSQL through a transaction-scoped advisory
    lock (``pg_advisory_xact_lock``) on a hash of ``name``.
    """
    if engine.dialect.name == "sqlite":
        with engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
            yield conn
        return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
        yield conn


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest revision (idempotent).

    Runs in one transaction under :data:`MIGRATION_LOCK`, so concurrent callers wait for
    each other and the later ones find the schema current and change nothing.
    """
    from alembic import command

    with locked_transaction(engine, MIGRATION_LOCK) as conn:
        command.upgrade(_alembic_config(conn), "head")


def alembic_head() -> str | None:
    """The newest revision according to the migration scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def needs_migration(engine: Engine) -> bool:
    """True when the database is empty or not at :data:`HEAD_REVISION`."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current != [HEAD_REVISION]
