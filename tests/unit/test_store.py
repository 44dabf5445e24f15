"""The schema, migrations and engine set-up."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from xcomkit.store.db import HEAD_REVISION, alembic_head, make_engine, migrate, needs_migration
from xcomkit.store.schema import metadata


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    assert alembic_head() == HEAD_REVISION


def test_migrations_build_exactly_the_declared_schema(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert needs_migration(engine)
    migrate(engine)
    assert not needs_migration(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
