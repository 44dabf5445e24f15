"""The search index behind the ``*_pattern`` list filters (xcomkit.store.search).

Its answers must be the plain scan's, on SQLite and PostgreSQL, for many generated
patterns (short ones, wildcards, backslashes, ``|`` alternatives, non-ASCII, case), and
the index must follow every write: create, key change, delete, DAG-run delete, DAG
delete, and rows that were there before the migration.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, delete, event, text, update

from tests import pg
from xcomkit.address import XComAddress
from xcomkit.server.patterns import like_patterns
from xcomkit.store import registry, search
from xcomkit.store.dag_runs import DagRunStore
from xcomkit.store.db import _alembic_config, make_engine, migrate
from xcomkit.store.schema import dag, xcom
from xcomkit.store.xcoms import ListFilter, XComStore

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
#: Characters the generated values and patterns are made of: LIKE wildcards, the
#: backslash (PostgreSQL's LIKE escape, literal on SQLite), the ``|`` separator, spaces,
#: ASCII of both cases, non-ASCII letters whose case folding differs by backend, and
#: the characters of FTS5's query syntax.
ALPHABET = 'aAbBcCxXyY019_%\\| .-éÉßẞİıǅKΣσς😀"{}:*^'
DAGS = {
    "dag_alpha": "Alpha Pipeline",
    "dag_beta": "BÊTA données",
    "dag_gamma": "gamma_100%_ready",
}
TASKS = ("extract", "Transform_Step", "load.rows")


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(lo, hi)))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, tmp_path: Any, pg_database: Callable[..., str]
) -> Iterator[Engine]:
    """A migrated, empty database (with the search index) on each backend."""
    if request.param == "postgresql":
        url = pg_database("search_")
    else:
        url = f"sqlite:///{tmp_path / 'search.db'}"
    eng = make_engine(url)
    migrate(eng)
    with eng.begin() as conn:
        for dag_id, name in DAGS.items():
            tasks = tuple(registry.TaskDef(t, t) for t in TASKS)
            registry.upsert_dag(conn, registry.DagDef(dag_id, name, tasks))
    yield eng
    eng.dispose()


def _add_run(conn: Connection, dag_id: str, run_id: str, n: int) -> None:
    when = T0 + timedelta(hours=n)
    registry.create_dag_run(
        conn,
        registry.dag_run_columns(
            dag_id=dag_id,
            run_id=run_id,
            logical_date=when,
            run_after=when,
            data_interval=None,
            queued_at=when,
            conf_json="{}",
            note=None,
            triggered_by="test",
            triggering_user_name=None,
        ),
    )


def _add_xcom(conn: Connection, dag_id: str, run_id: str, task_id: str, key: str) -> None:
    store = XComStore(conn)
    target = store.create_target(dag_id, run_id, task_id)
    assert target is not None and target.id is not None
    store.insert(
        XComAddress(dag_id, run_id, task_id, key, -1),
        dag_run_pk=target.id,
        value_json="1",
        timestamp=T0,
    )


def _fill(engine: Engine, seed: int = 7) -> list[str]:
    """Runs and XComs with generated run_ids and keys; returns the keys."""
    rng = random.Random(seed)
    keys: list[str] = []
    with engine.begin() as conn:
        n = 0
        for dag_id in DAGS:
            for r in range(4):
                run_id = f"{_text(rng, 0, 6)}run_{r}{_text(rng, 0, 4)}"
                _add_run(conn, dag_id, run_id, n)
                n += 1
                for i in range(12):
                    key = f"{_text(rng, 0, 10)}{i}"
                    _add_xcom(conn, dag_id, run_id, TASKS[i % len(TASKS)], key)
                    keys.append(key)
    return keys


def _patterns(rng: random.Random, values: list[str], count: int) -> list[str]:
    """Raw ``*_pattern`` values: random text, and pieces of real values with their case
    flipped and characters turned into wildcards, some joined with ``|``."""
    made: list[str] = ["~", "%", "_", "", "|", "a|", "\\", "%%%", "___", "ß", "SS"]
    while len(made) < count:
        kind = rng.random()
        if kind < 0.3:
            made.append(_text(rng, 1, 6))
            continue
        value = rng.choice(values)
        start = rng.randint(0, max(0, len(value) - 1))
        piece = list(value[start : start + rng.randint(1, 8)])
        for i, ch in enumerate(piece):
            roll = rng.random()
            if roll < 0.25:
                piece[i] = ch.swapcase()
            elif roll < 0.32:
                piece[i] = rng.choice("%_")
        term = "".join(piece)
        if kind > 0.8:
            term = f"{term}|{_text(rng, 1, 5)} | {rng.choice(values)[:4]}"
        made.append(term)
    return made


def _answer(conn: Connection, f: ListFilter) -> tuple[int, list[tuple[Any, ...]]]:
    rows, total = XComStore(conn).page(f, order_by=[("key", False)], limit=100_000, offset=0)
    return total, sorted(tuple(r) for r in rows)


def _plain(conn: Connection, f: ListFilter, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The answer of the plain scan: no index narrowing, no index scans."""
    with monkeypatch.context() as m:
        m.setattr(search, "ready", lambda _conn: False)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            conn.exec_driver_sql("SET enable_indexscan = off")
        try:
            return _answer(conn, f)
        finally:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("RESET enable_bitmapscan")
                conn.exec_driver_sql("RESET enable_indexscan")


def _indexed(conn: Connection, f: ListFilter) -> Any:
    """The answer through the index (PostgreSQL told not to scan the table)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET enable_seqscan = off")
    try:
        return _answer(conn, f)
    finally:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("RESET enable_seqscan")


def _ascii_ilike(value: str, pattern: str) -> bool:
    """SQLite's LIKE, independently: ``%`` any run, ``_`` one character, no escape
    character, ASCII letters matched without regard to case, other characters exactly."""
    fold = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    folded = pattern.translate(fold)
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in folded)
    return re.fullmatch(regex, value.translate(fold), re.DOTALL) is not None


@pytest.mark.parametrize("cap", [None, 2])
def test_indexed_answers_equal_the_plain_scan(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, cap: int | None
) -> None:
    """With the usual candidate cap, and with a cap of 2 (most filters then fall back to
    the scan after looking candidates up, some go through the index)."""
    if cap is not None:
        monkeypatch.setattr(search, "MAX_CANDIDATES", cap)
    keys = _fill(engine)
    rng = random.Random(11)
    with engine.connect() as conn:
        run_ids = [r[0] for r in conn.exec_driver_sql("SELECT run_id FROM dag_run")]
        sources = {
            "key": keys,
            "run_id": run_ids,
            "task_id": list(TASKS),
            "dag_display_name": list(DAGS.values()),
        }
        served = 0
        matched = 0
        for name, values in sources.items():
            for raw in _patterns(rng, values, 120):
                like = like_patterns(raw, f"{name}_pattern")
                assert like is not None
                f = ListFilter(**{f"{name}_like": like})
                indexed = _indexed(conn, f)
                assert indexed == _plain(conn, f, monkeypatch), (name, raw)
                assert indexed[0] == len(indexed[1])  # the total counts the same search
                if search.indexable(name, like) and name != "dag_display_name":
                    sqlite = conn.dialect.name == "sqlite"
                    served += not sqlite or search.candidates(conn, name, like) is not None
                matched += indexed[0] > 0
                if conn.dialect.name == "sqlite" and name == "key":
                    expected = sum(any(_ascii_ilike(k, p) for p in like) for k in keys)
                    assert indexed[0] == expected, raw
        if conn.dialect.name == "postgresql":  # the indexed answers came from the index
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.execute(
                text("EXPLAIN SELECT count(*) FROM xcom WHERE key ILIKE :p"), {"p": "%abc%"}
            ).scalars()
            assert "ix_xcom_key_trgm" in " ".join(plan)
            conn.exec_driver_sql("RESET enable_seqscan")
    # Not vacuous: many patterns went through the index, and many found XComs.
    assert served > (100 if cap is None else 10)
    assert matched > 150


def test_several_pattern_filters_and_other_filters_together(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(engine)
    with engine.connect() as conn:
        for f in (
            ListFilter(key_like=["%1%", "%0%"], run_id_like=["%run%"]),
            ListFilter(key_like=["%0%"], task_id_like=["%ansfor%"], dag_id="dag_beta"),
            ListFilter(task_id_like=["%EXT%"], dag_display_name_like=["%PIPE%"]),
            ListFilter(run_id_like=["%run_1%", "%run_2%"], map_index=-1),
        ):
            indexed = _indexed(conn, f)
            assert indexed == _plain(conn, f, monkeypatch)
            assert indexed[0] > 0


def test_sqlite_uses_the_index_for_long_patterns_and_scans_for_short_ones(tmp_path: Any) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(eng)
    assert search.indexable("key", ["%abc%", "%x_yz%"]) is False  # "x", "yz": too short
    assert search.indexable("key", ["%abc%", "%wxyz%"]) is True
    assert search.indexable("key", ["%ab%"]) is False
    assert search.indexable("key", ["%\\ab%"]) is True  # no escape on SQLite: 3 literals
    assert search.indexable("dag_id", ["%abcd%"]) is False  # not an indexed column
    with eng.connect() as conn:
        assert search.ready(conn)
        sql = "EXPLAIN QUERY PLAN SELECT rowid FROM xcom_search WHERE key LIKE '%abc%'"
        plan = " ".join(str(r[3]) for r in conn.exec_driver_sql(sql))
        assert "VIRTUAL TABLE" in plan
    eng.dispose()


def test_sqlite_candidates_drive_the_plan_beside_the_path_filters(tmp_path: Any) -> None:
    """With a dag_id (or run_id, task_id) beside an indexed pattern, SQLite reads the XCom
    rows by the candidates' rowids, not by walking that dag_id's part of ``ix_xcom_ti``
    (which, without statistics, its planner would otherwise prefer)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'drive.db'}")
    migrate(eng)
    with eng.begin() as conn:
        registry.upsert_dag(
            conn, registry.DagDef("dag_alpha", "Alpha", (registry.TaskDef("extract", "x"),))
        )
        _add_run(conn, "dag_alpha", "run_one", 0)
        _add_xcom(conn, "dag_alpha", "run_one", "extract", "the_needle")
    executed: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    event.listen(eng, "before_cursor_execute", grab)
    with eng.connect() as conn:
        f = ListFilter(key_like=["%NEEDLE%"], dag_id="dag_alpha", run_id="run_one")
        rows, total = XComStore(conn).page(f, order_by=[], limit=50, offset=0)
        assert (total, [r["key"] for r in rows]) == (1, ["the_needle"])
        event.remove(eng, "before_cursor_execute", grab)
        narrowed = [(s, p) for s, p in executed if "json_each" in s]
        assert len(narrowed) == 2  # the count and the page
        for statement, parameters in narrowed:
            plan = [
                str(r[3])
                for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            xcom_steps = [step for step in plan if " xcom " in f"{step} "]
            assert xcom_steps[0] == "SEARCH xcom USING INTEGER PRIMARY KEY (rowid=?)", plan
    eng.dispose()


def test_postgresql_plans_pattern_filters_on_the_trigram_indexes(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with engine.begin() as conn:
        _add_run(conn, "dag_alpha", "run_one", 0)
        pk = conn.exec_driver_sql("SELECT id FROM dag_run").scalar_one()
        conn.execute(
            text(
                "INSERT INTO xcom (dag_run_id, task_id, map_index, key, dag_id, run_id, value,"
                " timestamp) SELECT :pk, 'extract', n, 'key_' || n, 'dag_alpha', 'run_one',"
                " '1', now() FROM generate_series(0, 19999) AS n"
            ),
            {"pk": pk},
        )
        conn.exec_driver_sql("ANALYZE xcom")
    with engine.connect() as conn:
        for name in ("key", "run_id", "task_id"):
            plan = conn.execute(
                text(f"EXPLAIN SELECT count(*) FROM xcom WHERE {name} ILIKE :p"), {"p": "%qwerty%"}
            ).scalars()
            assert f"ix_xcom_{name}_trgm" in " ".join(plan)
        conn.exec_driver_sql("SET enable_seqscan = off")  # the dag table has 3 rows
        plan = conn.execute(
            text("EXPLAIN SELECT count(*) FROM dag WHERE dag_display_name ILIKE :p"),
            {"p": "%qwerty%"},
        ).scalars()
        assert "ix_dag_dag_display_name_trgm" in " ".join(plan)


def _found(conn: Connection, pattern: str, column: str = "key") -> list[str]:
    rows, total = XComStore(conn).page(
        ListFilter(**{f"{column}_like": [f"%{pattern}%"]}),
        order_by=[("key", False)],
        limit=100,
        offset=0,
    )
    assert total == len(rows)
    return [r[column] for r in rows]


def _check_sqlite_index(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # FTS5 compares its index with the xcom rows (rank 1: external content too).
        conn.exec_driver_sql(
            f"INSERT INTO {search.SQLITE_TABLE}({search.SQLITE_TABLE}, rank)"
            " VALUES ('integrity-check', 1)"
        )


def test_the_index_follows_every_write(engine: Engine) -> None:
    with engine.begin() as conn:
        _add_run(conn, "dag_alpha", "run_one", 0)
        _add_run(conn, "dag_beta", "run_two", 1)
        _add_xcom(conn, "dag_alpha", "run_one", "extract", "Needle_Kept")
        _add_xcom(conn, "dag_alpha", "run_one", "load.rows", "needle_deleted")
        _add_xcom(conn, "dag_beta", "run_two", "extract", "needle_in_run_two")
    with engine.begin() as conn:
        assert _found(conn, "NEEDLE") == ["Needle_Kept", "needle_deleted", "needle_in_run_two"]
        _check_sqlite_index(conn)

        # A key changed by SQL (no xcomkit write does it; the trigger follows anyway).
        conn.execute(update(xcom).where(xcom.c.key == "Needle_Kept").values(key="Haystack"))
        assert _found(conn, "needle") == ["needle_deleted", "needle_in_run_two"]
        assert _found(conn, "aysta") == ["Haystack"]
        XComStore(conn).delete(
            XComAddress("dag_alpha", "run_one", "load.rows", "needle_deleted", -1)
        )
        assert _found(conn, "needle") == ["needle_in_run_two"]
        _check_sqlite_index(conn)

        pk = conn.exec_driver_sql("SELECT id FROM dag_run WHERE run_id = 'run_two'").scalar_one()
        DagRunStore(conn).delete(pk)
        assert _found(conn, "needle") == []
        _check_sqlite_index(conn)

        _add_run(conn, "dag_gamma", "run_three", 2)
        _add_xcom(conn, "dag_gamma", "run_three", "extract", "cascaded")
        assert _found(conn, "ascad") == ["cascaded"]
        conn.execute(delete(dag).where(dag.c.dag_id == "dag_gamma"))  # cascades to XComs
        assert _found(conn, "ascad") == []
        assert _found(conn, "aysta") == ["Haystack"]
        _check_sqlite_index(conn)


def test_the_migration_indexes_existing_xcoms(engine: Engine) -> None:
    with engine.begin() as conn:
        _add_run(conn, "dag_alpha", "run_before", 0)
        _add_xcom(conn, "dag_alpha", "run_before", "extract", "from_before_the_index")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0004")
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            gone = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name LIKE 'xcom_search%'"
            ).scalar_one()
            assert gone == 0
        command.upgrade(_alembic_config(conn), "head")
    engine.dispose()  # new connections see the index again
    with engine.connect() as conn:
        assert _found(conn, "BEFORE_the") == ["from_before_the_index"]
        _check_sqlite_index(conn)


def test_postgresql_without_the_right_to_create_extensions_warns_and_scans(
    pg_database: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    if pg.find_bin() is None:
        pytest.skip("PostgreSQL server programs are not installed")
    url = pg_database("search_plain_")
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text("DROP ROLE IF EXISTS plain_owner"))
        conn.execute(text("CREATE ROLE plain_owner LOGIN"))
        conn.execute(text("GRANT ALL ON SCHEMA public TO plain_owner"))
    admin.dispose()
    eng = make_engine(url.replace("//postgres@", "//plain_owner@"))
    try:
        with caplog.at_level(logging.WARNING, logger="xcomkit.store.search"):
            migrate(eng)
        assert "could not create the pg_trgm extension" in caplog.text
        with eng.begin() as conn:
            registry.upsert_dag(
                conn, registry.DagDef("dag_alpha", "Alpha", (registry.TaskDef("extract", "x"),))
            )
            _add_run(conn, "dag_alpha", "run_one", 0)
            _add_xcom(conn, "dag_alpha", "run_one", "extract", "Needle")
            assert _found(conn, "needle") == ["Needle"]
            has = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%%trgm'"
            ).scalar_one()
            assert has == 0
    finally:
        eng.dispose()


def test_sqlite_without_the_trigram_tokenizer_warns_and_scans(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An SQLite older than 3.34 or without FTS5: the migration logs a warning, builds no
    index, and the pattern filters answer by the scan."""
    monkeypatch.setattr(search, "_sqlite_has_trigram", lambda _conn: False)
    eng = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with caplog.at_level(logging.WARNING, logger="xcomkit.store.search"):
        migrate(eng)
    assert "has no FTS5 trigram tokenizer" in caplog.text
    with eng.begin() as conn:
        assert not search.ready(conn)
        registry.upsert_dag(
            conn, registry.DagDef("dag_alpha", "Alpha", (registry.TaskDef("extract", "x"),))
        )
        _add_run(conn, "dag_alpha", "run_one", 0)
        _add_xcom(conn, "dag_alpha", "run_one", "extract", "Needle")
        assert _found(conn, "needle") == ["Needle"]
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
            ).scalar_one()
            == 0
        )
    eng.dispose()


def test_postgresql_with_pg_trgm_off_the_search_path_warns_and_scans(
    pg_database: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    """pg_trgm installed in a schema the role's search_path does not hold (as some hosted
    PostgreSQL services do): the operator class is not found, the migration still
    succeeds, with a warning, and the filters scan."""
    if pg.find_bin() is None:
        pytest.skip("PostgreSQL server programs are not installed")
    url = pg_database("search_schema_")
    eng = make_engine(url)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE SCHEMA extensions")
            conn.exec_driver_sql("CREATE EXTENSION pg_trgm SCHEMA extensions")
        with caplog.at_level(logging.WARNING, logger="xcomkit.store.search"):
            migrate(eng)
        assert "could not create the trigram indexes" in caplog.text
        with eng.begin() as conn:
            registry.upsert_dag(
                conn, registry.DagDef("dag_alpha", "Alpha", (registry.TaskDef("extract", "x"),))
            )
            _add_run(conn, "dag_alpha", "run_one", 0)
            _add_xcom(conn, "dag_alpha", "run_one", "extract", "Needle")
            assert _found(conn, "needle") == ["Needle"]
    finally:
        eng.dispose()


def test_sqlite_pattern_list_statements(tmp_path: Any) -> None:
    """A pattern list on SQLite: one candidate lookup per literal run looked up, the count
    and the page (and, first on a connection, the check that the index exists); a list
    without a pattern sends only its count and page."""
    eng = make_engine(f"sqlite:///{tmp_path / 'count.db'}")
    migrate(eng)
    with eng.begin() as conn:
        registry.upsert_dag(
            conn, registry.DagDef("dag_alpha", "Alpha", (registry.TaskDef("extract", "x"),))
        )
        _add_run(conn, "dag_alpha", "run_one", 0)
        _add_xcom(conn, "dag_alpha", "run_one", "extract", "the_needle")
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            sent.append(statement)

    event.listen(eng, "before_cursor_execute", record)
    with eng.connect() as conn:
        store = XComStore(conn)
        plain = ListFilter(dag_id="dag_alpha", task_id="extract")
        assert store.page(plain, order_by=[], limit=50, offset=0)[1] == 1
        assert len(sent) == 2
        sent.clear()
        f = ListFilter(key_like=["%the_NEEDLE%"])  # runs "needle" then "the": 1 lookup
        assert store.page(f, order_by=[], limit=50, offset=0)[1] == 1
        assert len(sent) == 4 and "sqlite_master" in sent[0] and "MATCH" in sent[1]
        sent.clear()
        assert store.page(f, order_by=[], limit=50, offset=0)[1] == 1
        assert len(sent) == 3
    event.remove(eng, "before_cursor_execute", record)
    eng.dispose()
