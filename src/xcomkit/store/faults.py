"""Which database errors are transient: worth a 503 and a retry, not a 500.

A database that restarts, fails over, refuses connections, runs out of connection slots,
is locked by another process or cancels a statement at its timeout has not been given a
bad request and has not hit a bug: the same request may succeed a moment later.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError

#: SQLSTATE classes and codes that mean "try again" (PostgreSQL appendix A):
#: 08 connection exception; 53 insufficient resources (too many connections, out of
#: memory or disk); 57P operator intervention (admin or crash shutdown, "the database
#: system is starting up / shutting down / in recovery"); 40 transaction rollback
#: (serialization failure, deadlock); 55P03 lock not available; 57014 query canceled
#: (statement_timeout); 25006 read-only transaction (a standby during failover).
TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40", "55P03", "57014", "25006")

#: Words in SQLite's messages for lock contention and interrupted statements.
_SQLITE_TRANSIENT = ("locked", "busy", "interrupted")


def is_transient(exc: DBAPIError) -> bool:
    """True when ``exc`` means the database is busy, restarting or unreachable.

    Reads the driver's SQLSTATE where it has one (psycopg); a psycopg error without
    one is raised before any server answered (connection refused or reset) and is
    transient too. For SQLite, lock contention and interruptions are.
    """
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES)
    if isinstance(orig, sqlite3.Error):
        message = str(orig).lower()
        return any(word in message for word in _SQLITE_TRANSIENT)
    module = type(orig).__module__ or ""
    if module.startswith("psycopg"):
        # No SQLSTATE: the error came from the client side of the connection.
        import psycopg

        return isinstance(orig, (psycopg.OperationalError, psycopg.InterfaceError))
    return False
