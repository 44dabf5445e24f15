"""DagRunStore, directly: each statement on both backends, over the test manifest's runs
(xcom_demo: run_1, run_2; etl_daily: daily_1)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from xcomkit.address import XComAddress
from xcomkit.store import registry
from xcomkit.store.dag_runs import DagRunFilter, DagRunStore, after_key, orderable
from xcomkit.store.db import make_engine
from xcomkit.store.schema import dag_run, xcom
from xcomkit.store.xcoms import XComStore

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    template_db: Path,
    pg_database: Callable[..., str],
) -> Iterator[Engine]:
    """A copy of the session's loaded template database."""
    if request.param == "postgresql":
        url = pg_database("runs_", template="xcomkit_template")
    else:
        shutil.copyfile(template_db, tmp_path / "runs.db")
        url = f"sqlite:///{tmp_path / 'runs.db'}"
    eng = make_engine(url)
    yield eng
    eng.dispose()


def _ids(rows: list) -> list[str]:
    return [r.run_id for r in rows]


def test_get_joins_the_display_name_and_get_for_update_does_not(engine: Engine) -> None:
    with engine.connect() as conn:
        store = DagRunStore(conn)
        run = store.get("xcom_demo", "run_1")
        assert run is not None
        assert (run.run_id, run.dag_display_name) == ("run_1", "XCom Demo")
        bare = store.get_for_update("xcom_demo", "run_1")
        assert bare is not None and bare.id == run.id
        assert "dag_display_name" not in bare._fields
        assert store.get("xcom_demo", "daily_1") is None
        assert store.get_for_update("etl_daily", "nope") is None


def test_count_and_pages_by_offset_and_by_key(engine: Engine) -> None:
    with engine.connect() as conn:
        store = DagRunStore(conn)
        every = DagRunFilter()
        assert store.count(every, NOW) == 3
        assert store.count(every, NOW, cap=2) == 2
        assert store.count(DagRunFilter(dag_id="xcom_demo"), NOW) == 2
        by_run_id = [(dag_run.c.run_id, False)]
        assert _ids(store.page(every, NOW, order_by=by_run_id, limit=10)) == [
            "daily_1",
            "run_1",
            "run_2",
        ]
        assert _ids(store.page(every, NOW, order_by=by_run_id, limit=1, offset=1)) == ["run_1"]
        assert _ids(store.page(every, NOW, order_by=by_run_id, limit=10, after=["run_1"])) == [
            "run_2"
        ]
        desc = [(dag_run.c.run_id, True)]
        assert _ids(store.page(every, NOW, order_by=desc, limit=10, after=["run_2"])) == [
            "run_1",
            "daily_1",
        ]
        rows = store.page(every, NOW, order_by=by_run_id, limit=1)
        assert rows[0].dag_display_name == "ETL Daily" and rows[0].sort_duration is None


#: The keyset condition after (dag_id, run_id), ascending: NULLs sort first on SQLite,
#: last on PostgreSQL, and a NULL key comes after every value only on PostgreSQL.
AFTER_KEY = {
    "sqlite": "dag_run.dag_id >= :dag_id_1 AND (dag_run.dag_id > :dag_id_2"
    " OR dag_run.run_id > :run_id_1)",
    "postgresql": "(dag_run.dag_id >= :dag_id_1 OR dag_run.dag_id IS NULL)"
    " AND (dag_run.dag_id > :dag_id_2 OR dag_run.dag_id IS NULL"
    " OR dag_run.run_id > :run_id_1 OR dag_run.run_id IS NULL)",
}


def test_after_key_is_a_range_condition_per_sort_key(engine: Engine) -> None:
    dialect = engine.dialect.name
    columns = orderable(dialect)
    order = [(columns["dag_id"], False), (columns["run_id"], False)]
    assert str(after_key(order, ["xcom_demo", "run_1"], dialect)) == AFTER_KEY[dialect]


def test_create_update_delete(engine: Engine) -> None:
    with engine.begin() as conn:
        store = DagRunStore(conn)
        columns = registry.dag_run_columns(
            dag_id="etl_daily",
            run_id="made",
            logical_date=None,
            run_after=NOW,
            data_interval=None,
            queued_at=NOW,
            conf_json="{}",
            note=None,
            triggered_by="rest_api",
            triggering_user_name="admin",
        )
        store.create(columns)
        with pytest.raises(registry.DagRunExists), conn.begin_nested():
            store.create(columns)
        made = store.get("etl_daily", "made")
        assert made is not None and made.state == "queued"
        store.update(made.id, {"note": "hello", "state": "success"})
        after = store.get("etl_daily", "made")
        assert after is not None and (after.note, after.state) == ("hello", "success")
        run_1 = store.get("xcom_demo", "run_1")
        assert run_1 is not None
        xcoms = XComStore(conn)
        address = XComAddress("xcom_demo", "run_1", "extract", "k", -1)
        xcoms.insert(address, dag_run_pk=run_1.id, value_json="1", timestamp=NOW)
        assert xcoms.get(address) is not None
        store.delete(run_1.id)
        assert store.get("xcom_demo", "run_1") is None
        assert xcoms.get(address) is None
        left = select(func.count()).select_from(xcom).where(xcom.c.dag_run_id == run_1.id)
        assert conn.execute(left).scalar_one() == 0
