"""Which database errors are transient (503 and retry) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from xcomkit.store.faults import is_transient


class PgError(Exception):
    """Stands for a psycopg server error: only its SQLSTATE matters here."""

    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrap(orig: BaseException, cls: type[DBAPIError] = OperationalError, **kw) -> DBAPIError:
    return cls("SELECT 1", {}, orig, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sqlstate",
    ["57P03", "57P01", "57P02", "08006", "08001", "53300", "40001", "40P01", "55P03", "57014"],
)
def test_postgresql_restart_and_contention_states_are_transient(sqlstate) -> None:
    assert is_transient(wrap(PgError(sqlstate)))


@pytest.mark.parametrize("sqlstate", ["42P01", "42703", "23505", "XX000"])
def test_postgresql_bugs_and_constraint_errors_are_not(sqlstate) -> None:
    assert not is_transient(wrap(PgError(sqlstate), ProgrammingError))


def test_psycopg_error_before_any_server_answer_is_transient() -> None:
    assert is_transient(wrap(psycopg.OperationalError("connection refused")))
    assert is_transient(wrap(psycopg.InterfaceError("the connection is closed")))


@pytest.mark.parametrize(
    "message", ["database is locked", "database table is locked", "interrupted"]
)
def test_sqlite_contention_is_transient(message) -> None:
    assert is_transient(wrap(sqlite3.OperationalError(message)))


def test_sqlite_bug_is_not_and_invalidated_connection_is() -> None:
    assert not is_transient(wrap(sqlite3.OperationalError("no such table: x")))
    assert is_transient(wrap(Exception("anything"), connection_invalidated=True))
