"""Where blocking work runs: in bounded thread lanes, never on the event loop, each request
under a deadline.

Every database call and every password hash goes through :class:`WorkLanes`, which keeps
one thread pool per kind of work so that one kind cannot starve another:

``read``
    point lookups (one XCom, one DAG run, health): always a free thread for them.
``scan``
    list queries, which may walk many rows: at most ``scan_threads`` at once, so callers
    looping over the slowest filters cannot take every thread.

On a SQLite file, reads, lists and writes first run inline, on a connection that never
waits for a lock and never checkpoints, under a budget of :data:`INLINE_BUDGET` seconds
enforced by SQLite's progress handler: most finish well within it, cheaper than a thread
hop; one that meets a lock (another process's, or the writer thread's) or runs past the
budget is interrupted, rolled back, and moves to its lane, where it may wait and work
until its deadline. The event loop never gives one request's database work more than the
budget; WAL checkpoints run in the writer thread.
``write``
    creates, updates, deletes. On SQLite one thread: writes queue in the process instead
    of on the file lock, and a lock held by another process delays only them.
``objects``
    reads, writes and removals of values kept in object storage
    (:mod:`xcomkit.store.objects`): never inline, so a slow store holds neither the loop
    nor the database lanes; a read stops between chunks once its deadline has passed.
``hash``
    password checks (Argon2 is slow and takes 64 MiB by design): a few at a time, at a
    lower CPU priority, with a short queue, so a login flood bounds CPU and memory
    instead of exhausting them.

A request's deadline (``request_timeout`` seconds from when it was handed over) covers
its wait in the queue and its work: a job that would start past it is not started; a
SQLite statement still running at it is interrupted (:func:`xcomkit.store.db.deadline`);
PostgreSQL's ``statement_timeout`` bounds each statement. A lane whose queue is full
refuses at once. Both answer 503 with ``Retry-After``: the work was not done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from xcomkit.store import db
from xcomkit.store.database import Database
from xcomkit.store.faults import is_transient
from xcomkit.store.objects import DeadlinePassed

T = TypeVar("T")
log = logging.getLogger("xcomkit.server")


class Unavailable(Exception):
    """The work was not done and may be retried: the server is busy or out of time."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class LaneFull(Unavailable):
    """Too many requests already wait for this kind of work."""


class DeadlineExceeded(Unavailable):
    """The request's deadline passed before its work could finish; nothing was written."""


#: Seconds a read may run on the event loop before it is interrupted and handed to its
#: lane. A point read or a page of an indexed list takes well under a millisecond of
#: SQLite time; handing each one to a thread would cost more than the read (measured:
#: about a third of a GET's CPU), while a slow scan costs the loop this much, once.
INLINE_BUDGET = 0.003

#: Inline writes between two WAL checkpoints run by the writer thread (a create adds a
#: few pages; SQLite's own default checkpoints every 1,000 pages).
CHECKPOINT_EVERY = 256

#: Logins that may wait per hash thread before the lane refuses with 503.
HASH_WAITING_PER_THREAD = 8
#: The niceness of hash threads (Linux: per thread, inherited by Argon2's own threads).
HASH_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


@dataclass
class _Lane:
    name: str
    pool: ThreadPoolExecutor
    max_waiting: int
    waiting: int = 0


class WorkLanes:
    """Thread lanes for blocking work, with a per-request deadline.

    Args:
        engine: the database; every function gets a :class:`Database` on it (kept
            connections per lane thread) as its first argument.
        request_timeout: seconds a request may spend waiting and working.
        read_threads, scan_threads, write_threads, hash_threads: threads per lane
            (``write_threads`` is 1 on SQLite whatever is asked).
        max_waiting: requests that may wait per lane before it refuses (503).
        inline_reads: try reads and lists inline first on a SQLite file (see below).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        request_timeout: float,
        read_threads: int = 4,
        scan_threads: int = 2,
        write_threads: int = 4,
        hash_threads: int = 1,
        max_waiting: int = 128,
        inline_reads: bool = True,
        object_threads: int = 4,
    ) -> None:
        self.engine = engine
        self.db = Database(engine)
        self.request_timeout = request_timeout
        inline = _inline_engine(engine) if inline_reads else None
        self._inline = Database(inline) if inline is not None else None
        self._inline_writes = 0
        self._background: set[asyncio.Future[Any]] = set()
        if engine.dialect.name == "sqlite":
            write_threads = 1
        self._lanes = {
            name: _Lane(name, ThreadPoolExecutor(threads, f"xcomkit-{name}"), max_waiting)
            for name, threads in (
                ("read", read_threads),
                ("scan", scan_threads),
                ("write", write_threads),
                ("objects", object_threads),
            )
        }
        # A login costs a hash of ~0.1 s of CPU: a long queue would only turn a login
        # flood into a wall of deadline 503s. Refuse early instead, and hash at a lower
        # CPU priority so that API requests go first.
        self._lanes["hash"] = _Lane(
            "hash",
            ThreadPoolExecutor(hash_threads, "xcomkit-hash", initializer=_lower_priority),
            min(max_waiting, HASH_WAITING_PER_THREAD * hash_threads),
        )

    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(db, *args, **kwargs)`` for a point lookup: inline first on SQLite
        (see :meth:`_inline_first`), else in the read lane."""
        done, result = self._inline_first(fn, args, kwargs)
        if done:
            return result  # type: ignore[return-value]
        return await self._submit("read", fn, args, kwargs)

    async def scan(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(db, *args, **kwargs)`` for a list query: inline first on SQLite (see
        :meth:`_inline_first`), else in the scan lane."""
        done, result = self._inline_first(fn, args, kwargs)
        if done:
            return result  # type: ignore[return-value]
        return await self._submit("scan", fn, args, kwargs)

    def _inline_first(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[bool, T | None]:
        """Try a read on the event loop within :data:`INLINE_BUDGET` seconds.

        On a SQLite file only, on a connection that never waits for a lock. A read that
        meets a lock or runs past the budget is interrupted (nothing was changed) and
        ``(False, None)`` sends it to its lane; the loop lost at most the budget.
        """
        if self._inline is None:
            return False, None
        try:
            with db.deadline(time.monotonic() + INLINE_BUDGET):
                return True, fn(self._inline, *args, **kwargs)
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            return False, None

    async def compute(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(db, *args, **kwargs)`` for CPU-heavy work without the database (large
        value transforms): always in the scan lane, never on the event loop."""
        return await self._submit("scan", fn, args, kwargs)

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(db, *args, **kwargs)`` for a write: inline first on SQLite (see
        :meth:`_inline_first`: a write that finds the lock taken, by the writer thread or
        another process, fails at once and moves to the lane), else in the write lane
        (one writer thread on SQLite).

        While the write lane has work, a write joins its queue without trying inline:
        the lane's transaction holds the lock, so the attempt could only fail, and the
        write would overtake those queued before it."""
        if self._lanes["write"].waiting:
            return await self._submit("write", fn, args, kwargs)
        done, result = self._inline_first(fn, args, kwargs)
        if done:
            self._inline_writes += 1
            if self._inline_writes % CHECKPOINT_EVERY == 0:
                self._checkpoint_soon()
            return result  # type: ignore[return-value]
        return await self._submit("write", fn, args, kwargs)

    def _checkpoint_soon(self) -> None:
        # The inline connection never checkpoints (a checkpoint writes and syncs the
        # database file, which must not happen on the event loop): the writer thread does.
        task = asyncio.ensure_future(self._submit("write", _checkpoint, (), {}))
        self._background.add(task)
        task.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("WAL checkpoint failed: %s", task.exception())

    async def objects(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` (no database) for object-storage I/O: always in the
        objects lane, under the request's deadline."""
        return await self._submit("objects", _without_db, (fn, *args), kwargs)

    async def hash(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(db, *args, **kwargs)`` in the hash lane (password checks)."""
        return await self._submit("hash", fn, args, kwargs)

    async def _submit(
        self, lane_name: str, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        lane = self._lanes[lane_name]
        if lane.waiting >= lane.max_waiting:
            raise LaneFull(
                f"The server is busy ({lane.waiting} requests wait for {lane.name} work); "
                "retry shortly."
            )
        at = time.monotonic() + self.request_timeout
        lane.waiting += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(lane.pool, partial(self._call, at, fn, args, kwargs))
        finally:
            lane.waiting -= 1

    def _call(
        self, at: float, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        if time.monotonic() >= at:
            raise self._late()
        with db.deadline(at):
            try:
                return fn(self.db, *args, **kwargs)
            except DeadlinePassed as exc:
                raise self._late() from exc
            except DBAPIError as exc:
                if time.monotonic() >= at:
                    raise self._late() from exc
                raise

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"The request did not finish within the server's request timeout "
            f"({self.request_timeout:g} s); nothing was changed. Retry later, or narrow "
            "the query."
        )

    def shutdown(self) -> None:
        """Stop the lanes' threads once their current work ends; queued work is dropped."""
        for lane in self._lanes.values():
            lane.pool.shutdown(wait=False, cancel_futures=True)
        self.db.close()
        if self._inline is not None:
            self._inline.close()
            self._inline.engine.dispose()


def _without_db(_db: Database, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return fn(*args, **kwargs)


def _inline_engine(engine: Engine) -> Engine | None:
    """For a SQLite file, an engine on it whose connections never wait for a lock and
    never checkpoint the WAL (:func:`_checkpoint` does, in the writer thread). A server
    uses two (the event loop's reader and writer); more are allowed for processes that
    run the app on several loops (tests, the pytest plugin)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("uri"):
        return None
    inline = db.make_engine(
        url.render_as_string(hide_password=False), busy_timeout_ms=0, pool_size=8
    )

    @event.listens_for(inline, "connect")
    def _no_checkpoints(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    return inline


def _checkpoint(db: Database) -> None:
    """Copy the WAL's pages into the database file (``PRAGMA wal_checkpoint(PASSIVE)``)."""
    with db.reading() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
