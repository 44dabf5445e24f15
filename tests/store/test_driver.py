"""Hot statements on SQLite's cursor (store/driver.py) give what SQLAlchemy gives: the
same rows, values converted by the same column types, the same exception classes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Connection,
    bindparam,
    column,
    event,
    func,
    insert,
    literal_column,
    select,
    table,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from xcomkit.store import db as store_db
from xcomkit.store.db import make_engine
from xcomkit.store.driver import Hot
from xcomkit.store.faults import is_transient
from xcomkit.store.schema import dag_run, xcom


@pytest.fixture
def conn(tmp_path: Path, template_db: Path) -> Iterator[Connection]:
    shutil.copy(template_db, tmp_path / "x.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


RUNS = select(dag_run.c.run_id, dag_run.c.logical_date, dag_run.c.run_after).where(
    dag_run.c.logical_date >= bindparam("since", type_=dag_run.c.logical_date.type)
)


def test_rows_equal_sqlalchemy_rows_with_converted_datetimes(conn: Connection) -> None:
    since = datetime(2025, 1, 1, 6, tzinfo=timezone.utc)
    expected = [tuple(r) for r in conn.execute(RUNS, {"since": since})]
    got = Hot(RUNS).rows(conn, {"since": since})
    assert expected, "the test manifest has runs after the bound"
    assert got == expected
    stamp = got[0][1]
    assert isinstance(stamp, datetime) and stamp.utcoffset() is not None
    assert stamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_a_bound_datetime_is_written_as_sqlalchemy_writes_it(conn: Connection) -> None:
    # The comparison is on stored text: a datetime bound without the column type's own
    # conversion would compare as other text, and the filter would be wrong.
    earliest = conn.execute(select(dag_run.c.logical_date).order_by("logical_date")).scalar()
    assert earliest is not None
    after = Hot(
        select(dag_run.c.run_id).where(
            dag_run.c.logical_date > bindparam("t", type_=dag_run.c.logical_date.type)
        )
    )
    assert after.rows(conn, {"t": earliest}) == [
        tuple(r)
        for r in conn.execute(select(dag_run.c.run_id).where(dag_run.c.logical_date > earliest))
    ]


def test_literals_in_a_statement_are_bound(conn: Connection) -> None:
    bump = Hot(
        update(dag_run)
        .where(dag_run.c.run_id == bindparam("r"))
        .values(xcom_count=dag_run.c.xcom_count + 7)
    )
    before = conn.execute(select(dag_run.c.xcom_count).where(dag_run.c.run_id == "run_1")).scalar()
    assert bump.rowcount(conn, {"r": "run_1"}) == 1
    after = conn.execute(select(dag_run.c.xcom_count).where(dag_run.c.run_id == "run_1")).scalar()
    assert after == before + 7


def test_a_missing_parameter_raises_instead_of_binding_null(conn: Connection) -> None:
    with pytest.raises(KeyError):
        Hot(RUNS).rows(conn, {})


def test_driver_errors_are_sqlalchemys_exceptions(conn: Connection) -> None:
    pk = conn.execute(select(dag_run.c.id).where(dag_run.c.run_id == "run_1")).scalar()
    conn.commit()
    row = {
        "dag_run_id": pk,
        "dag_id": "xcom_demo",
        "run_id": "run_1",
        "task_id": "extract",
        "key": "k",
        "map_index": -1,
        "value": "1",
        "value_ref": None,
        "timestamp": datetime.now(timezone.utc),
    }
    add = Hot(insert(xcom).values({name: bindparam(name) for name in row}))
    with conn.begin():
        assert add.rowcount(conn, row) == 1
    with pytest.raises(IntegrityError) as caught, conn.begin():
        add.rowcount(conn, row)
    assert not is_transient(caught.value)


def test_an_interruption_while_rows_are_fetched_is_a_transient_dbapi_error(
    conn: Connection,
) -> None:
    # SQLite runs a statement as its rows are fetched: the deadline may interrupt the
    # fetch, not the execute, and that must still be the transient error the work
    # lanes retry in their thread (found when it surfaced as a bare sqlite3 error).
    conn.exec_driver_sql(
        "CREATE TEMP TABLE many AS WITH RECURSIVE c(x) AS "
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3000) SELECT x FROM c"
    )
    many = table("many", column("x"))
    # 3,000 x 3,000 rows: far longer than the 10 ms deadline.
    slow = Hot(select(many.c.x).select_from(many.join(many.alias("b"), literal_column("1") == 1)))
    with pytest.raises(DBAPIError) as caught, store_db.deadline(time.monotonic() + 0.01):
        slow.rows(conn, {})
    assert "interrupted" in str(caught.value.orig)
    assert is_transient(caught.value)


def test_statements_run_through_sqlalchemy_where_listeners_watch(conn: Connection) -> None:
    seen: list[str] = []

    def watch(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        if not sql.startswith("BEGIN"):
            seen.append(sql)

    event.listen(conn.engine, "before_cursor_execute", watch)
    try:
        Hot(RUNS).rows(conn, {"since": datetime(2025, 1, 1, tzinfo=timezone.utc)})
    finally:
        event.remove(conn.engine, "before_cursor_execute", watch)
    assert len(seen) == 1 and "FROM dag_run" in seen[0]


def test_expanding_parameters_go_through_sqlalchemy(conn: Connection) -> None:
    runs = Hot(
        select(dag_run.c.run_id).where(dag_run.c.run_id.in_(bindparam("ids", expanding=True)))
    )
    assert runs.rows(conn, {"ids": ["run_1", "nope"]}) == [("run_1",)]


COUNT_RUNS = select(func.count()).select_from(dag_run).where(dag_run.c.dag_id == bindparam("d"))


def _add_run(conn: Connection, run_id: str) -> None:
    conn.exec_driver_sql(
        "INSERT INTO dag_run (dag_id, run_id, run_after, state, run_type)"
        " SELECT dag_id, ?, run_after, state, run_type FROM dag_run WHERE run_id = 'run_1'",
        (run_id,),
    )


def test_a_kept_answer_is_reused_only_while_nothing_was_written(
    conn: Connection, tmp_path: Path
) -> None:
    ran: list[str] = []
    conn.connection.driver_connection.set_trace_callback(ran.append)  # type: ignore[union-attr]
    counted = Hot(COUNT_RUNS)
    first = counted.scalar_unchanged(conn, {"d": "xcom_demo"})
    assert counted.scalar_unchanged(conn, {"d": "xcom_demo"}) == first
    assert sum("count(" in sql for sql in ran) == 1  # the second answer was kept
    assert counted.scalar_unchanged(conn, {"d": "other"}) == 0  # other params: run

    # Another connection (here another engine: another process would be the same) commits.
    other = make_engine(str(conn.engine.url))
    with other.begin() as writer:
        _add_run(writer, "added_elsewhere")
    other.dispose()
    assert counted.scalar_unchanged(conn, {"d": "xcom_demo"}) == first + 1

    # This connection writes.
    conn.commit()
    with conn.begin():
        _add_run(conn, "added_here")
    assert counted.scalar_unchanged(conn, {"d": "xcom_demo"}) == first + 2
    assert sum("count(" in sql for sql in ran) == 4
