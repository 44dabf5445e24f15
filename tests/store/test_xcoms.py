"""The XCom store and rules, without HTTP: what each operation returns, and how many
statements it sends (the counts the docstrings promise)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from xcomkit.address import XComAddress
from xcomkit.errors import Conflict, NotFound
from xcomkit.service import xcoms as rules
from xcomkit.store.database import Database
from xcomkit.store.db import make_engine
from xcomkit.store.xcoms import ENTRY_FIELDS, ListFilter, XComExists, XComStore

HERE = XComAddress("xcom_demo", "run_1", "extract", "rows", -1)


@pytest.fixture
def db(tmp_path: Path, template_db: Path) -> Iterator[Database]:
    shutil.copy(template_db, tmp_path / "x.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    database = Database(engine)
    yield database
    database.close()
    engine.dispose()


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (transaction control left out)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            seen.append(sql)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_create_sends_a_target_check_an_insert_and_a_count(db: Database) -> None:
    with statements(db) as sent:
        entry = rules.create_xcom(db, HERE, {"n": 1})
    assert len(sent) == 3, sent
    assert (entry.key, entry.dag_id, entry.run_id, entry.task_id, entry.map_index) == (
        "rows",
        "xcom_demo",
        "run_1",
        "extract",
        -1,
    )
    assert entry.value == '{"n":1}'


def test_get_is_one_query_and_answers_what_create_answered(db: Database) -> None:
    created = rules.create_xcom(db, HERE, [1, 2])
    with statements(db) as sent:
        row = rules.get_xcom(db, HERE)
    assert len(sent) == 1
    assert tuple(row)[: len(ENTRY_FIELDS)] == tuple(created)[: len(ENTRY_FIELDS)]
    assert row.value == "[1,2]"


def test_update_is_an_update_and_a_read_back(db: Database) -> None:
    rules.create_xcom(db, HERE, 1)
    with statements(db) as sent:
        row = rules.update_xcom(db, HERE, 2)
    assert len(sent) == 2
    assert row.value == "2"


def test_delete_is_a_delete_and_a_count(db: Database) -> None:
    rules.create_xcom(db, HERE, 1)
    with statements(db) as sent:
        rules.delete_xcom(db, HERE)
    assert len(sent) == 2
    with pytest.raises(NotFound):
        rules.get_xcom(db, HERE)


def test_list_is_a_count_then_a_page_and_no_page_past_the_end(db: Database) -> None:
    for i in range(3):
        rules.create_xcom(db, HERE._replace(key=f"k{i}"), i)
    f = ListFilter(dag_id="xcom_demo", run_id="run_1")
    with statements(db) as sent:
        rows, total = rules.list_xcoms(db, f, order_by=[("key", False)], limit=2, offset=0)
    assert (len(sent), total, [r["key"] for r in rows]) == (2, 3, ["k0", "k1"])
    with statements(db) as sent:
        rows, total = rules.list_xcoms(db, f, order_by=[("key", False)], limit=2, offset=5)
    assert (len(sent), total, rows) == (1, 3, [])


def test_the_kept_count_follows_creates_and_deletes(db: Database) -> None:
    for i in range(4):
        rules.create_xcom(db, HERE._replace(key=f"k{i}"), i)
    rules.delete_xcom(db, HERE._replace(key="k0"))
    run_only = ListFilter(dag_id="xcom_demo", run_id="run_1")  # answered from the kept count
    by_task = ListFilter(dag_id="xcom_demo", run_id="run_1", task_id="extract")  # counted
    kept = rules.list_xcoms(db, run_only, order_by=[], limit=0, offset=0)[1]
    counted = rules.list_xcoms(db, by_task, order_by=[], limit=0, offset=0)[1]
    assert kept == counted == 3


def test_a_taken_address_is_a_conflict_and_writes_nothing(db: Database) -> None:
    rules.create_xcom(db, HERE, "first")
    with pytest.raises(Conflict, match="already exists"):
        rules.create_xcom(db, HERE, "second")
    assert rules.get_xcom(db, HERE).value == '"first"'


def test_the_store_reports_a_taken_address_as_its_own_error(db: Database) -> None:
    rules.create_xcom(db, HERE, 1)
    with pytest.raises(XComExists), db.writing() as conn:
        store = XComStore(conn)
        target = store.create_target(HERE.dag_id, HERE.dag_run_id, HERE.task_id)
        assert target is not None
        store.insert(HERE, dag_run_pk=target.id, value_json="2", timestamp=target.run_after)


@pytest.mark.parametrize(
    ("address", "detail"),
    [
        (HERE._replace(dag_id="nope"), "The Dag with ID: `nope` was not found"),
        (HERE._replace(task_id="nope"), "Task with ID: `nope` not found in dag: `xcom_demo`"),
        (
            HERE._replace(dag_run_id="nope"),
            "Dag Run with ID: `nope` not found for dag: `xcom_demo`",
        ),
    ],
)
def test_create_names_the_missing_part_of_the_address(
    db: Database, address: XComAddress, detail: str
) -> None:
    with pytest.raises(NotFound) as caught:
        rules.create_xcom(db, address, 1)
    assert caught.value.detail == detail


def test_a_failed_write_leaves_the_kept_connection_usable(db: Database) -> None:
    rules.create_xcom(db, HERE, 1)
    with pytest.raises(Conflict):
        rules.create_xcom(db, HERE, 1)
    rules.create_xcom(db, HERE._replace(key="after"), 2)
    assert rules.get_xcom(db, HERE._replace(key="after")).value == "2"


def test_a_closed_handle_refuses_work(db: Database) -> None:
    db.close()
    with pytest.raises(RuntimeError, match="closed"), db.reading():
        pass
