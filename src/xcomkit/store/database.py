"""The database handle the rules work through: an engine and the connections each thread
keeps open on it.

Checking a connection out of SQLAlchemy's pool, switching it to autocommit and handing it
back costs more than the indexed query a GET runs (measured on SQLite: the checkout with
its isolation-level switch and reset took longer than the query itself). So each thread
keeps one autocommit connection for reads and one for transactions, opened on first use
and reused by every later request on that thread. :meth:`Database.close` closes them
all; those of threads that ended are closed when another thread opens one. A connection
that fails in a way that leaves it unusable (dropped by the server, invalidated by
SQLAlchemy) is closed and replaced on the next use.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from xcomkit.store.db import current_deadline, deadline
from xcomkit.store.driver import execute_plain
from xcomkit.store.faults import is_transient

F = TypeVar("F", bound=Callable[..., Any])

_SHARES = "xcomkit_shares_transactions"


def shares_transactions(fn: F) -> F:
    """Mark a write rule that may run inside a transaction shared with other writes
    (:meth:`Database.run_shared`), in a savepoint of its own.

    Such a rule does all its database work in one :meth:`Database.writing` block (reads
    included), and what it does after the block must not assume the block's changes are
    committed yet (they are once the shared transaction commits, before the caller hears
    of the result) and must be safe to repeat: a shared transaction rolled back as a
    whole (a neighbour met a lock or its deadline) runs its rules again.
    """
    setattr(fn, _SHARES, True)
    return fn


def can_share(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` was marked with :func:`shares_transactions`."""
    return getattr(fn, _SHARES, False) is True


class SharedWrite(NamedTuple):
    """One write for :meth:`Database.run_shared`: ``fn(db, *args, **kwargs)``."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class Outcome(NamedTuple):
    """What one :class:`SharedWrite` came to: its return value, or the exception it raised
    (its changes then undone)."""

    ok: bool
    value: Any


_SAVEPOINT = "xcomkit_write"


class Database:
    """An :class:`~sqlalchemy.Engine` with per-thread kept connections.

    Args:
        engine: where the connections come from.

    Reads (:meth:`reading`) run without a transaction: each statement stands alone,
    which is right for the single-query reads and the count-then-page lists of the API.
    Writes (:meth:`writing`) run in one transaction; on SQLite it takes the write lock
    at ``BEGIN`` (``BEGIN IMMEDIATE``), so concurrent writers queue on the busy timeout
    instead of failing when a read transaction tries to upgrade.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._opened: list[tuple[threading.Thread, Connection]] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def dialect(self) -> str:
        """The backend's name: ``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def _kept(self, slot: str) -> Connection:
        conn: Connection | None = getattr(self._local, slot, None)
        if conn is not None and not conn.closed and not conn.invalidated:
            return conn
        if self._closed:
            raise RuntimeError("the database handle is closed")
        with self._lock:
            # A thread that ended (a test client's portal, a replaced pool thread) left
            # its connections behind: give them back to the pool before taking one.
            ended = [c for t, c in self._opened if not t.is_alive()]
            self._opened = [(t, c) for t, c in self._opened if t.is_alive() and not c.closed]
        for old in ended:
            with contextlib.suppress(Exception):
                old.close()
        conn = self.engine.connect()
        if slot == "reader":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        setattr(self._local, slot, conn)
        with self._lock:
            self._opened.append((threading.current_thread(), conn))
        return conn

    def _drop(self, slot: str, conn: Connection) -> None:
        setattr(self._local, slot, None)
        with contextlib.suppress(Exception):
            conn.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """This thread's autocommit connection, for statements that read.

        A failure that leaves the connection unusable closes it; the next use opens
        another. The exception propagates unchanged.
        """
        conn = self._kept("reader")
        try:
            yield conn
        except BaseException:
            if conn.invalidated or conn.in_transaction():
                self._drop("reader", conn)
            raise

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction on this thread's kept connection: committed when the block
        ends, rolled back (and nothing kept of it) when it raises."""
        conn = self._kept("writer")
        try:
            with conn.begin():
                yield conn
        except BaseException:
            if conn.invalidated or conn.in_transaction():
                self._drop("writer", conn)
            raise

    def run_shared(
        self,
        writes: Sequence[SharedWrite],
        *,
        start_until: float | None = None,
        each_budget: float | None = None,
    ) -> list[Outcome]:
        """Run write rules (each marked with :func:`shares_transactions`) in one
        transaction on this thread's kept connection, each in its own savepoint, and
        commit once: a rule that raises has its own changes undone and its exception
        returned as its :class:`Outcome`; the others' are kept.

        ``start_until`` (a :func:`time.monotonic` instant): no write starts after it;
        the outcomes then cover only the first writes, and the caller runs the rest
        later. ``each_budget`` (seconds): each write runs under a :func:`deadline` that
        many seconds from its start (within the thread's own). SQLite rolls back the
        whole transaction when a statement is interrupted, so a batch bounded by one
        deadline would lose every write done before it ran out; bounded this way, only a
        single slow write can be interrupted.

        One commit for many writes: on SQLite a create's commit (its WAL frames: the
        row's table and index pages) cost more CPU than its three statements (measured
        in process: 128 us against 115 us; docs/performance.md, "Group commit").

        Any exception a rule raises, a :class:`BaseException` too (``KeyboardInterrupt``,
        a cancellation), is that rule's outcome: its caller re-raises it, its
        neighbours' changes are kept.

        Raises:
            sqlalchemy.exc.DBAPIError: a transient error (a lock, an interruption at the
                deadline, a lost connection) in any write, or any error at ``BEGIN`` or
                ``COMMIT``: the whole transaction is rolled back, nothing was written.
        """
        conn = self._kept("writer")
        shared = _SharedTransaction(conn)
        outcomes: list[Outcome] = []
        alone = len(writes) == 1  # no savepoint needed: the transaction is its own
        try:
            with conn.begin():
                for fn, args, kwargs in writes:
                    if outcomes and start_until is not None and time.monotonic() >= start_until:
                        break
                    if not alone:
                        execute_plain(conn, f"SAVEPOINT {_SAVEPOINT}")
                    try:
                        if each_budget is None:
                            value = fn(shared, *args, **kwargs)
                        else:
                            with deadline(_sooner(time.monotonic() + each_budget)):
                                value = fn(shared, *args, **kwargs)
                        outcomes.append(Outcome(True, value))
                    except BaseException as exc:  # the rule's outcome
                        if alone or (isinstance(exc, DBAPIError) and is_transient(exc)):
                            raise
                        execute_plain(conn, f"ROLLBACK TO {_SAVEPOINT}")
                        outcomes.append(Outcome(False, exc))
                    if not alone:
                        execute_plain(conn, f"RELEASE {_SAVEPOINT}")
        except BaseException as exc:
            if conn.invalidated or conn.in_transaction():
                self._drop("writer", conn)
            if alone and not (isinstance(exc, DBAPIError) and is_transient(exc)):
                return [Outcome(False, exc)]  # its own error, as a shared one would be
            raise
        return outcomes

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this handle opened (on any thread); later use raises."""
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for _thread, conn in opened:
            with contextlib.suppress(Exception):
                conn.close()


def _sooner(at: float) -> float:
    """``at``, or this thread's :func:`deadline` if that comes first."""
    current = current_deadline()
    return at if current is None else min(at, current)


class _SharedTransaction(Database):
    """The :class:`Database` a rule gets inside :meth:`Database.run_shared`: both
    :meth:`writing` and :meth:`reading` give the shared transaction's connection (the
    savepoint and the commit are the runner's)."""

    def __init__(self, conn: Connection) -> None:
        # No kept connections of its own (Database.__init__ would set them up): one per
        # shared transaction, on the hot path.
        self.engine = conn.engine
        self._conn = conn
        self._closed = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        yield self._conn

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        yield self._conn
