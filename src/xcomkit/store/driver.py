"""Hot statements run on SQLite's own cursor, compiled once.

SQLAlchemy's execution machinery (statement cache lookup, execution context, result
metadata, row objects) cost a GET of one XCom about ten times the SQLite query it wraps
(measured in process: 280 us through ``Connection.execute`` against 30 us on the
``sqlite3`` cursor; docs/performance.md, "The direct path"). :class:`Hot` compiles a
Core statement once per connection dialect into driver SQL, and runs it on the DBAPI
connection under the same SQLAlchemy connection (so inside its transaction), converting
bound values and result columns with the statement's own column types — the same
conversions SQLAlchemy would apply — and raising driver errors as SQLAlchemy's exception
classes (``IntegrityError``, ``OperationalError`` ...), so that callers and the error
handlers see exactly what they saw before.

A connection with cursor-execute event listeners (tracing, instrumentation such as
OpenTelemetry's, tests that count statements) runs every statement through SQLAlchemy,
so that they see each one with its execution context.

Only on SQLite: on PostgreSQL a failed statement may have to invalidate the pooled
connection (a server restart, a fail-over), which SQLAlchemy's own execution does; there
:class:`Hot` runs the statement through SQLAlchemy. Statements SQLAlchemy must rewrite
per call (expanding ``IN`` lists, post-compile parameters) always go through SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]
#: The default of a bind parameter that has none: a call must give its value.
_REQUIRED = object()
#: Where a connection keeps its answers for :meth:`Hot.scalar_unchanged`, and how many.
_KEPT = "xcomkit_kept_answers"
_KEPT_ANSWERS = 256


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: (bind name, its bind processor or None, its value when not given: the literals
    #: the statement holds), in the SQL's parameter order.
    binds: tuple[tuple[str, Processor | None, Any], ...]
    #: (column position, result processor), for the columns that need converting.
    columns: tuple[tuple[int, Processor], ...]


class Hot:
    """A Core statement for a hot path: run on the driver's cursor on SQLite.

    Args:
        statement: a select, insert, update or delete; its bind parameters are named.
    """

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._sqlite: _Compiled | bool | None = False  # False: not compiled yet

    def _compiled(self, conn: Connection) -> _Compiled | None:
        """The statement compiled for the driver, or None: run it through SQLAlchemy."""
        if conn.dialect.name != "sqlite" or observed(conn):
            return None
        if self._sqlite is False:
            self._sqlite = _compile(self.statement, conn)
        return self._sqlite  # type: ignore[return-value]

    def rows(
        self,
        conn: Connection,
        params: Mapping[str, Any],
        make: Callable[[list[tuple[Any, ...]]], list[Any]] | None = None,
    ) -> list[Any]:
        """Every row of the statement with ``params`` bound: tuples of converted values
        on SQLite, :class:`~sqlalchemy.Row` objects elsewhere.

        ``make``, on SQLite only: builds the rows from the driver's own values instead
        (for a statement whose columns the caller knows: one pass over the rows instead
        of one call a converted column, and values repeated from row to row converted
        once).

        Raises:
            sqlalchemy.exc.DBAPIError: (its subclass for) the driver's error.
        """
        compiled = self._compiled(conn)
        if compiled is None:
            return list(conn.execute(self.statement, params).all())  # type: ignore[call-overload]
        rows: list[Any] = _execute(conn, compiled, params, _all)
        if make is not None:
            return make(rows)
        if compiled.columns:
            rows = [_convert(row, compiled.columns) for row in rows]
        return rows

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        """The first row (as :meth:`rows` gives it), or None."""
        compiled = self._compiled(conn)
        if compiled is None:
            return conn.execute(self.statement, params).first()  # type: ignore[call-overload]
        row = _execute(conn, compiled, params, _one)
        if row is None or not compiled.columns:
            return row
        return _convert(row, compiled.columns)

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row (None: no row)."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def scalar_unchanged(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """:meth:`scalar`, answered from the connection's last answer to the same
        statement and ``params`` while the database file is unchanged since.

        Unchanged means: no connection committed to it (SQLite's ``PRAGMA
        data_version``, which moves on every other connection's commit) and this
        connection changed no row (``total_changes``). The answer is then exactly what
        the statement would answer; the check costs one PRAGMA. For aggregates over many
        rows that reads repeat between writes (a list's total over 1,000,000 XComs: 0.7
        ms a query). Elsewhere (PostgreSQL, unhashable ``params``) it runs the statement,
        and inside a transaction too: an answer there may count the transaction's own
        changes, and a rollback moves neither number back. Schema changes (DDL) count
        in neither number when this connection makes them: the server's reading
        connections make none.
        """
        compiled = self._compiled(conn)
        driver = conn.connection.driver_connection
        if compiled is None or driver is None or driver.in_transaction:
            return self.scalar(conn, params)
        try:
            key = (self, frozenset(params.items()))
            hash(key)
        except TypeError:
            return self.scalar(conn, params)
        state = (_execute_plain_scalar(conn, "PRAGMA data_version"), driver.total_changes)
        kept: dict[Any, tuple[Any, Any]] = conn.connection.info.setdefault(_KEPT, {})
        found = kept.get(key)
        if found is not None and found[0] == state:
            return found[1]
        value = self.scalar(conn, params)
        if len(kept) >= _KEPT_ANSWERS:
            kept.clear()
        kept[key] = (state, value)
        return value

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run a write; the number of rows it changed."""
        compiled = self._compiled(conn)
        if compiled is None:
            count: int = conn.execute(self.statement, params).rowcount  # type: ignore[call-overload]
            return count
        changed: int = _execute(conn, compiled, params, _changed)
        return changed


def observed(conn: Connection) -> bool:
    """True when cursor-execute listeners watch ``conn``: its statements then go
    through SQLAlchemy, so that the listeners see each one."""
    dispatch = conn.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _compile(statement: ClauseElement, conn: Connection) -> _Compiled | None:
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if any(b.expanding or b.literal_execute for b in compiled.binds.values()):
        return None  # rewritten by SQLAlchemy at each execution
    if compiled.positiontup is None:
        return None
    binds = tuple(
        (
            name,
            bind.type.dialect_impl(dialect).bind_processor(dialect),
            _REQUIRED if bind.required else bind.effective_value,
        )
        for name, bind in ((name, compiled.binds[name]) for name in compiled.positiontup)
    )
    columns: list[tuple[int, Processor]] = []
    for position, column in enumerate(getattr(statement, "selected_columns", ())):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            columns.append((position, process))
    return _Compiled(compiled.string, binds, tuple(columns))


def _all(cursor: sqlite3.Cursor) -> list[Any]:
    return cursor.fetchall()


def _one(cursor: sqlite3.Cursor) -> Any:
    return cursor.fetchone()


def _changed(cursor: sqlite3.Cursor) -> int:
    return cursor.rowcount


def _execute(
    conn: Connection,
    compiled: _Compiled,
    params: Mapping[str, Any],
    fetch: Callable[[sqlite3.Cursor], Any],
) -> Any:
    """``fetch(cursor)`` of the statement run with ``params``; driver errors, raised by
    the execution or by the fetch (SQLite runs a statement as its rows are fetched:
    an interruption or a lock may come from either), as SQLAlchemy's."""
    args = []
    for name, process, default in compiled.binds:
        value = params[name] if name in params or default is _REQUIRED else default
        args.append(value if process is None else process(value))
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        return fetch(driver.execute(compiled.sql, args))
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            compiled.sql, args, exc, sqlite3.Error, dialect=conn.dialect
        ) from exc


def _convert(row: tuple[Any, ...], columns: tuple[tuple[int, Processor], ...]) -> tuple[Any, ...]:
    converted = list(row)
    for position, process in columns:
        converted[position] = process(converted[position])
    return tuple(converted)


def _execute_plain_scalar(conn: Connection, sql: str) -> Any:
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        return driver.execute(sql).fetchone()[0]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, (), exc, sqlite3.Error, dialect=conn.dialect) from exc


def execute_plain(conn: Connection, sql: str) -> None:
    """Run ``sql`` (no parameters, no rows: ``BEGIN IMMEDIATE``) on SQLite's own cursor,
    under ``conn``; a driver error raised as SQLAlchemy's (see :class:`Hot`).

    For statements SQLAlchemy need not see: a transaction's ``BEGIN`` (SQLAlchemy tracks
    the transaction itself) cost a create a tenth of its CPU through ``exec_driver_sql``.
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        driver.execute(sql)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, (), exc, sqlite3.Error, dialect=conn.dialect) from exc
