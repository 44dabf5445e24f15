"""Substring search indexes for the XCom list's ``*_pattern`` filters.

Airflow turns ``xcom_key_pattern``, ``run_id_pattern``, ``task_id_pattern`` and
``dag_display_name_pattern`` into ``column ILIKE '%term%'`` (one per ``|`` alternative,
OR-ed), which no B-tree index can serve: every list with such a filter reads every XCom
row. The list query keeps exactly those conditions (so matching stays Airflow's, byte
for byte) and this module adds an index that finds the candidate rows first:

* **SQLite**: an FTS5 table ``xcom_search`` with the ``trigram`` tokenizer
  (case-insensitive), external content over ``xcom`` (it stores only the index; the
  text is read from ``xcom`` by rowid), kept in step with ``xcom`` by triggers, so every
  write, cascade (DAG run or DAG deleted) and bulk SQL is followed in the same
  transaction. Before the list's two statements, :func:`candidates` looks up the rows
  that contain a literal run of each alternative (at least three characters between
  ``%`` and ``_``) and binds their rowids; both statements add
  ``xcom.rowid IN (<those rowids>)`` beside the plain condition, so the total counts the
  same search as the page. An alternative without such a run, or more than
  :data:`MAX_CANDIDATES` candidates, leaves that filter to the plain scan. The index
  only narrows: the plain LIKE still decides.
  ``dag_display_name`` lives in the small ``dag`` table and becomes
  ``xcom.dag_id IN (SELECT dag_id FROM dag WHERE ...)``, which walks ``ix_xcom_ti``.
* **PostgreSQL**: ``pg_trgm`` GIN indexes on ``xcom.key``, ``xcom.run_id``,
  ``xcom.task_id`` and ``dag.dag_display_name``; the planner uses them for ``ILIKE`` on
  its own (and falls back to a scan for patterns without trigrams), so the statements do
  not change. The indexes are built without GIN's pending list (``fastupdate = off``):
  each write updates them at once, so a read never has to scan a long list of pending
  rows (with it, the planner costs the index above a scan after a burst of inserts).
  Where the database role cannot create the extension, :func:`install` logs a warning
  and the filters keep scanning.

:func:`install` (the ``0005_search_index`` migration, ``xcomkit db reindex``) builds the
index over existing rows and is idempotent. A later migration that rebuilds the ``xcom``
table on SQLite (Alembic's batch mode copies it into a new table: its triggers are gone
and its rowids renumbered) must end with :func:`rebuild`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from xcomkit.store.schema import dag, xcom

log = logging.getLogger(__name__)

#: The FTS5 table on SQLite (its shadow tables are named ``xcom_search_*``).
SQLITE_TABLE = "xcom_search"
#: Columns of ``xcom`` the SQLite index covers, by the filter names of the list query.
INDEXED_COLUMNS = ("key", "run_id", "task_id")
#: The shortest run of literal characters an index can look up (a trigram).
MIN_LITERAL_RUN = 3
#: Most candidate rows a list goes through the index for; a filter with more is left to
#: the plain scan (see :func:`candidates`). At 1,000,000 XComs on SQLite, 10,000
#: candidates cost about what the scan costs (reading, joining and sorting them all).
MAX_CANDIDATES = 5_000
#: Most literal runs of one alternative looked up (each lookup reads at most
#: ``MAX_CANDIDATES + 1`` rows).
MAX_RUNS = 3
#: Candidates few enough that no other literal run of the pattern is looked up.
FEW_CANDIDATES = 1_000
#: PostgreSQL trigram indexes: (index name, table, column).
PG_INDEXES = (
    ("ix_xcom_key_trgm", "xcom", "key"),
    ("ix_xcom_run_id_trgm", "xcom", "run_id"),
    ("ix_xcom_task_id_trgm", "xcom", "task_id"),
    ("ix_dag_dag_display_name_trgm", "dag", "dag_display_name"),
)

_COLUMNS = ", ".join(INDEXED_COLUMNS)
_NEW = ", ".join(f"new.{c}" for c in INDEXED_COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in INDEXED_COLUMNS)
#: SQLite statements that create the index and its triggers (in this order).
SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SQLITE_TABLE} USING fts5({_COLUMNS},"
    " tokenize='trigram case_sensitive 0', content='xcom', content_rowid='rowid',"
    " columnsize=0)",
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER IF NOT EXISTS xcom_search_insert AFTER INSERT ON xcom BEGIN"
    f" INSERT INTO {SQLITE_TABLE}(rowid, {_COLUMNS}) VALUES (new.rowid, {_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS xcom_search_delete AFTER DELETE ON xcom BEGIN"
    f" INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, {_COLUMNS})"
    f" VALUES ('delete', old.rowid, {_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS xcom_search_update AFTER UPDATE OF {_COLUMNS} ON xcom"
    f" BEGIN INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, {_COLUMNS})"
    f" VALUES ('delete', old.rowid, {_OLD});"
    f" INSERT INTO {SQLITE_TABLE}(rowid, {_COLUMNS}) VALUES (new.rowid, {_NEW}); END",
)
SQLITE_DROP_TRIGGERS = tuple(
    f"DROP TRIGGER IF EXISTS xcom_search_{event}" for event in ("insert", "delete", "update")
)
#: Re-read every ``xcom`` row into the index (FTS5's ``rebuild``), then merge its
#: segments into one (``optimize``: lookups at 1M rows take about half the time).
SQLITE_REBUILD = (
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('rebuild')",
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('optimize')",
)

_xcom_rowid: ColumnElement[Any] = literal_column("xcom.rowid")
_READY = "xcomkit_search_ready"


def owns_name(name: str | None) -> bool:
    """True for a database object this module creates (Alembic's comparisons skip them)."""
    return bool(name) and (
        str(name) == SQLITE_TABLE
        or str(name).startswith(f"{SQLITE_TABLE}_")
        or str(name) in {ix for ix, _t, _c in PG_INDEXES}
    )


def _sqlite_has_trigram(conn: Connection) -> bool:
    version = conn.exec_driver_sql("SELECT sqlite_version()").scalar_one()
    if tuple(int(p) for p in str(version).split(".")[:2]) < (3, 34):
        return False
    options = set(conn.exec_driver_sql("PRAGMA compile_options").scalars())
    return "ENABLE_FTS5" in options


def install(conn: Connection) -> bool:
    """Create the search index if missing and index every existing XCom; idempotent.

    Runs inside the caller's transaction. Returns True when the index is in place,
    False (with a logged warning) when this database cannot have it: SQLite without
    FTS5 or older than 3.34 (no ``trigram`` tokenizer); PostgreSQL without the
    ``pg_trgm`` extension, or a role that may not create it. The list filters then
    scan, with the same answers.
    """
    if conn.dialect.name == "sqlite":
        if not _sqlite_has_trigram(conn):
            log.warning(
                "SQLite %s has no FTS5 trigram tokenizer (needs 3.34+ with FTS5): "
                "*_pattern filters will scan every XCom",
                conn.exec_driver_sql("SELECT sqlite_version()").scalar_one(),
            )
            return False
        fresh = not _sqlite_table_exists(conn)
        for statement in (*SQLITE_CREATE, *SQLITE_TRIGGERS):
            conn.exec_driver_sql(statement)
        for statement in SQLITE_REBUILD if fresh else ():
            conn.exec_driver_sql(statement)
        return True
    if conn.dialect.name == "postgresql":
        return _install_pg(conn)
    return False


def rebuild(conn: Connection) -> bool:
    """Build the index again from every XCom row (``xcomkit db reindex``): after rows
    were restored in a way that renumbered SQLite rowids (an SQL dump loaded into a
    fresh file), or once a PostgreSQL administrator has created ``pg_trgm``.

    Returns what :func:`install` returns.
    """
    if not install(conn):
        return False
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_REBUILD:
            conn.exec_driver_sql(statement)
    return True


def _sqlite_table_exists(conn: Connection) -> bool:
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SQLITE_TABLE,)
    ).first()
    return found is not None


def _install_pg(conn: Connection) -> bool:
    have = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first()
    if have is None:
        available = conn.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
        ).first()
        if available is None:
            log.warning(
                "PostgreSQL has no pg_trgm extension (Debian: postgresql-contrib): "
                "*_pattern filters will scan every XCom"
            )
            return False
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # the role may not create extensions
            log.warning(
                "could not create the pg_trgm extension (%s): *_pattern filters will scan "
                "every XCom; a superuser can run CREATE EXTENSION pg_trgm, then "
                "xcomkit db reindex",
                str(exc).splitlines()[0],
            )
            return False
    try:
        with conn.begin_nested():
            for name, table_name, column_name in PG_INDEXES:
                conn.exec_driver_sql(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {table_name}"
                    f" USING gin ({column_name} gin_trgm_ops) WITH (fastupdate = off)"
                )
    except Exception as exc:  # e.g. pg_trgm installed in a schema off the search_path
        log.warning(
            "could not create the trigram indexes (%s): *_pattern filters will scan every XCom",
            str(exc).splitlines()[0],
        )
        return False
    return True


def uninstall(conn: Connection) -> None:
    """Drop the index, its triggers and (PostgreSQL) its indexes (the migration's
    downgrade). The ``pg_trgm`` extension stays: other objects may use it."""
    if conn.dialect.name == "sqlite":
        for statement in SQLITE_DROP_TRIGGERS:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SQLITE_TABLE}")
    elif conn.dialect.name == "postgresql":
        for name, _table, _column in PG_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def ready(conn: Connection) -> bool:
    """True when the SQLite index exists on this connection's database.

    Checked once per pooled connection. Always False on other backends: there the
    indexes serve the plain conditions without help from the query.
    """
    if conn.dialect.name != "sqlite":
        return False
    info = conn.connection.info
    found = info.get(_READY)
    if found is None:
        found = info[_READY] = _sqlite_table_exists(conn)
    return bool(found)


def indexable(name: str, patterns: list[str]) -> bool:
    """True when the SQLite index can find every row that the LIKE ``patterns`` (OR-ed)
    on filter ``name`` match: the column is indexed and each alternative has a run of
    at least :data:`MIN_LITERAL_RUN` characters other than ``%`` and ``_`` (SQLite's
    LIKE has no escape character, as Airflow's ``ilike`` renders it there).

    ``dag_display_name`` is always True: its narrowing reads the small ``dag`` table.
    """
    if name == "dag_display_name":
        return True
    return name in INDEXED_COLUMNS and all(_literal_runs(p) for p in patterns)


def candidates(conn: Connection, name: str, patterns: list[str]) -> str | None:
    """The rowids of the XComs whose column ``name`` may match one of ``patterns``
    (LIKE, OR-ed), as a JSON array for :func:`narrowing`; None when there are more than
    :data:`MAX_CANDIDATES` (the plain scan is then cheaper: its page stops at the first
    rows in order, while candidates must all be read, joined and sorted).

    Every row a pattern matches contains each of its literal runs (the text between
    ``%`` and ``_``), so the rows whose column contains one run (an FTS5 phrase: a
    case-folded substring) are a superset of its matches. Up to :data:`MAX_RUNS` runs
    are looked up, longest first, each bounded by ``MAX_CANDIDATES + 1`` rows; the
    smallest set is kept, and the lookups stop at one of at most :data:`FEW_CANDIDATES`.
    The plain condition beside the narrowing decides which candidates match.

    Only call it where :func:`ready` and :func:`indexable` hold. ``dag_display_name``
    needs no candidates (its narrowing reads the ``dag`` table): ``"[]"``.
    """
    if name == "dag_display_name":
        return "[]"
    found: set[int] = set()
    for pattern in patterns:
        best: list[int] | None = None
        for run in _literal_runs(pattern)[:MAX_RUNS]:
            query = f'{{{name}}} : "{run.replace(chr(34), chr(34) * 2)}"'
            rowids = list(
                conn.execute(_MATCH, {"query": query, "cap": MAX_CANDIDATES + 1}).scalars()
            )
            if best is None or len(rowids) < len(best):
                best = rowids
            if len(best) <= FEW_CANDIDATES:
                break
        if best is None or len(best) > MAX_CANDIDATES:
            return None
        found.update(best)
        if len(found) > MAX_CANDIDATES:
            return None
    return "[" + ",".join(str(int(r)) for r in sorted(found)) + "]"


_MATCH = text(f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :query LIMIT :cap")


def _literal_runs(pattern: str) -> list[str]:
    """The runs of a LIKE pattern between its wildcards that a trigram index can look up
    (at least :data:`MIN_LITERAL_RUN` characters), longest first."""
    runs = [r for r in re.split("[%_]", pattern) if len(r) >= MIN_LITERAL_RUN]
    return sorted(runs, key=len, reverse=True)


def unindexed(col: ColumnElement[Any]) -> ColumnElement[Any]:
    """``col`` as ``+col``: the same value and collation, but SQLite uses no index for it.

    For the path's equality filters (dag_id, run_id, task_id, ...) beside a narrowing:
    SQLite's planner, without statistics, would walk that filter's B-tree index (all
    XComs of a DAG) and check each row against the candidates; with ``+col`` it reads the
    at most :data:`MAX_CANDIDATES` candidates by rowid instead.
    """
    return UnaryExpression(col, operator=custom_op("+"), type_=col.type)


def narrowing(name: str, count: int) -> ColumnElement[bool]:
    """The condition that narrows an SQLite list to the candidates of filter ``name``.

    Reads the JSON array of rowids bound as ``{name}_rowids`` (see :func:`candidates`);
    for ``dag_display_name``, the ``count`` patterns bound as
    ``{name}_like_0`` ... (the plain condition's parameters) on the ``dag`` table.
    AND it with the plain condition.
    """
    if name == "dag_display_name":
        params: list[Any] = [bindparam(f"{name}_like_{i}") for i in range(count)]
        names = select(dag.c.dag_id).where(or_(*(dag.c.dag_display_name.like(p) for p in params)))
        return xcom.c.dag_id.in_(names)
    rowids: Any = select(literal_column("value")).select_from(
        func.json_each(bindparam(f"{name}_rowids"))
    )
    return _xcom_rowid.in_(rowids)
