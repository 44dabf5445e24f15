"""Engine creation and schema migrations.

SQLite gets WAL journaling, a busy timeout, foreign keys and ``synchronous=NORMAL``
(durable across application crashes; the last transactions may roll back on power
loss, as WAL documents). Other backends (PostgreSQL) get a pooled engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: The newest migration's revision id. Kept here so that checking a database at start-up
#: needs no Alembic import (a test checks it equals Alembic's head).
HEAD_REVISION = "0002"


def make_engine(url: str, *, busy_timeout_ms: int = 30000, pool_size: int = 8) -> Engine:
    """Create an engine for ``url`` (a SQLAlchemy URL such as ``sqlite:///xcomkit.db``).

    A bare ``postgresql://`` URL is read as ``postgresql+psycopg://`` (psycopg 3).

    Raises:
        sqlalchemy.exc.ArgumentError: the URL cannot be parsed.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        engine = create_engine(parsed, **kwargs)
        is_memory = parsed.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level; SQLAlchemy emits BEGIN itself (below), so
            # transactions are real and writes take the lock up front (BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not is_memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":
                return  # single-statement reads: no transaction at all
            conn.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")

        return engine
    kwargs["pool_size"] = pool_size
    kwargs["max_overflow"] = pool_size
    # No pre-ping (a round trip per request); a connection the server dropped is
    # detected on use, the pool is invalidated and the next request reconnects.
    kwargs["pool_recycle"] = 1800
    return create_engine(parsed, **kwargs)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest revision (idempotent)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def alembic_head() -> str | None:
    """The newest revision according to the migration scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(
        _alembic_config(create_engine("sqlite://"))
    ).get_current_head()


def needs_migration(engine: Engine) -> bool:
    """True when the database is empty or not at :data:`HEAD_REVISION`."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current != [HEAD_REVISION]
