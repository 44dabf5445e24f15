"""The schema, migrations and engine set-up."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from xcomkit.store import search
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
        # The search index's objects are raw SQL of xcomkit.store.search, not metadata.
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, *_: not search.owns_name(name)}
        )
        assert compare_metadata(context, metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234


def test_migration_0003_keeps_runs_and_dates_them(tmp_path) -> None:
    """A database at 0001 with a run moves to the head (0003 adds the columns): the run
    keeps its XCom count and gets updated_at from its queued_at; partition columns NULL."""
    from alembic import command
    from sqlalchemy import text

    from xcomkit.store.db import _alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'u.db'}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO dag (dag_id, dag_display_name) VALUES ('d', 'D')"))
        conn.execute(
            text(
                "INSERT INTO dag_run (dag_id, run_id, run_after, queued_at, run_type, state, "
                "xcom_count) VALUES ('d', 'r', '2025-01-02 00:00:00.000000', "
                "'2025-01-01 00:00:00.000000', 'manual', 'queued', 3)"
            )
        )
    migrate(engine)
    assert not needs_migration(engine)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT xcom_count, updated_at, partition_key, partition_date FROM dag_run")
        ).one()
    assert tuple(row) == (3, "2025-01-01 00:00:00.000000", None, None)


def _one_dag_run_and_xcom(conn: Any, value: str) -> None:
    """DAG ``d``, its run ``r`` (primary key 7) and XCom ``t``/``k`` holding ``value``,
    written with plain SQL (the schema of an older revision has no models)."""
    from sqlalchemy import text

    conn.execute(text("INSERT INTO dag (dag_id, dag_display_name) VALUES ('d', 'D')"))
    conn.execute(
        text(
            "INSERT INTO dag_run (id, dag_id, run_id, run_after, run_type, state) "
            "VALUES (7, 'd', 'r', '2025-01-02 00:00:00.000000', 'manual', 'queued')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO xcom (dag_run_id, task_id, map_index, key, dag_id, run_id, value, "
            "timestamp) VALUES (7, 't', -1, 'k', 'd', 'r', :v, '2025-01-02 00:00:00.000000')"
        ),
        {"v": value},
    )


def test_migration_0004_keeps_values_in_their_rows(tmp_path) -> None:
    """A database at 0003 with an XCom moves to the head: the value stays in ``value``,
    ``value_ref`` is NULL (an XCom kept in its row), and a downgrade drops the column."""
    from alembic import command
    from sqlalchemy import inspect, text

    from xcomkit.store.db import _alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0003")
    with engine.begin() as conn:
        _one_dag_run_and_xcom(conn, '{"a":1}')
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT value, value_ref FROM xcom")).one()
    assert tuple(row) == ('{"a":1}', None)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0003")
    assert "value_ref" not in {c["name"] for c in inspect(engine).get_columns("xcom")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM xcom")).scalar_one() == '{"a":1}'


def test_migration_0006_round_trip_keeps_dags_runs_and_xcoms(tmp_path) -> None:
    """Up to the head and down to 0005 again: the retention column and index come and go,
    and no DAG, DAG run or XCom is lost on the way (a table rebuild of ``dag`` on SQLite
    would cascade to all of them)."""
    from alembic import command
    from sqlalchemy import inspect, text

    from xcomkit.store.db import _alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0005")
        _one_dag_run_and_xcom(conn, "1")
    migrate(engine)
    assert "xcom_retention_seconds" in {c["name"] for c in inspect(engine).get_columns("dag")}
    assert "ix_xcom_timestamp" in {i["name"] for i in inspect(engine).get_indexes("xcom")}
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0005")
    assert "xcom_retention_seconds" not in {c["name"] for c in inspect(engine).get_columns("dag")}
    assert "ix_xcom_timestamp" not in {i["name"] for i in inspect(engine).get_indexes("xcom")}
    with engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("dag", "dag_run", "xcom")
        ]
    assert counts == [1, 1, 1]
    engine.dispose()
