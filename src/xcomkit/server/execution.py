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

On SQLite, XCom writes that arrive together share one transaction (group commit, see
:meth:`WorkLanes.write`): each runs in its own savepoint, so one that fails changes
nothing and the others are kept, and each caller hears of its write only once that
transaction has committed.
``objects``
    reads, writes and removals of values kept in object storage
    (:mod:`xcomkit.store.objects`): never inline, so a slow store holds neither the loop
    nor the database lanes; a read stops between chunks once its deadline has passed.
``hash``
    password checks (Argon2 is slow and takes 64 MiB by design): a few at a time, at a
    lower CPU priority, with a short queue, so a login flood bounds CPU and memory
    instead of exhausting them. Only the hash runs there (it releases the GIL); a login's
    reads and writes go to their own lanes.

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
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from xcomkit.store import db
from xcomkit.store.database import Database, Outcome, SharedWrite, can_share
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

#: Writes that share one transaction on the event loop at most: about 2 ms of creates on
#: this machine. (What bounds the loop's time is that none starts once
#: :data:`INLINE_BUDGET` has passed: SQLite's progress handler cannot stop a batch of
#: small statements early.)
SHARED_INLINE = 16
#: Writes that share one transaction in the writer thread at most.
SHARED_LANE = 64

#: Logins that may wait per hash thread before the lane refuses with 503.
HASH_WAITING_PER_THREAD = 8
#: The niceness of hash threads (Linux: per thread, inherited by Argon2's own threads).
HASH_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


@dataclass
class _Write:
    """A write waiting to share a transaction (see :meth:`WorkLanes.write`)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]
    #: The request's deadline (a :func:`time.monotonic` instant).
    at: float
    #: The event loop ``future`` belongs to (answered there, from any thread).
    loop: asyncio.AbstractEventLoop

    def shared(self) -> SharedWrite:
        return SharedWrite(self.fn, self.args, self.kwargs)


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
        # Group commit: writes gathered on each event loop until its next turn (one app
        # may serve several loops in several threads: the pytest plugin's uvicorn beside
        # a test's ASGI client), and those handed to the writer thread (taken under the
        # lock by the one draining job; each answered on its own loop).
        self._gathered: dict[asyncio.AbstractEventLoop, list[_Write]] = {}
        self._flush_scheduled: set[asyncio.AbstractEventLoop] = set()
        self._to_writer: deque[_Write] = deque()
        self._writer_lock = threading.Lock()
        self._draining = False
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
        """``fn(db, *args, **kwargs)`` for a write.

        On a SQLite file, a rule marked with
        :func:`~xcomkit.store.database.shares_transactions` (the XCom writes) is gathered
        with the others that arrive before the event loop's next turn, and they run in
        one transaction (:meth:`~xcomkit.store.database.Database.run_shared`): inline, up
        to :data:`SHARED_INLINE` of them under :data:`INLINE_BUDGET`, or, when such
        writes already wait for the writer thread or the lock is taken, in the writer
        thread, up to :data:`SHARED_LANE` at a time. The answer comes once they have
        committed. (Other writer-thread work, a WAL checkpoint say, holds no write lock:
        it does not keep them off the loop; with 64 writers it made every write after the
        first checkpoint take the thread hop.)

        Other writes run alone: inline first on SQLite (see :meth:`_inline_first`: a
        write that finds the lock taken, by the writer thread or another process, fails
        at once and moves to the lane), else in the write lane (one writer thread on
        SQLite). While the write lane has work, a write joins its queue without trying
        inline: the lane's transaction holds the lock, so the attempt could only fail,
        and the write would overtake those queued before it.

        Raises:
            LaneFull, DeadlineExceeded: as for the other lanes (503); whatever ``fn``
                raised.
        """
        if self._inline is not None and can_share(fn):
            loop = asyncio.get_running_loop()
            job = _Write(
                fn,
                args,
                kwargs,
                loop.create_future(),
                time.monotonic() + self.request_timeout,
                loop,
            )
            self._gathered.setdefault(loop, []).append(job)
            self._flush_soon(loop)
            shared: T = await job.future
            return shared
        if self._lanes["write"].waiting:
            return await self._submit("write", fn, args, kwargs)
        done, result = self._inline_first(fn, args, kwargs)
        if done:
            self._count_inline_writes(1)
            return result  # type: ignore[return-value]
        return await self._submit("write", fn, args, kwargs)

    def _count_inline_writes(self, count: int) -> None:
        before = self._inline_writes
        self._inline_writes += count
        if before // CHECKPOINT_EVERY != self._inline_writes // CHECKPOINT_EVERY:
            self._checkpoint_soon()

    def _flush_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop not in self._flush_scheduled:
            self._flush_scheduled.add(loop)
            loop.call_soon(self._flush_gathered, loop)

    def _flush_gathered(self, loop: asyncio.AbstractEventLoop) -> None:
        """On ``loop``: run its gathered writes in one inline transaction, starting new
        ones for :data:`INLINE_BUDGET` seconds and at most :data:`SHARED_INLINE`, each
        under that budget too (the others wait for the loop's next turn); or hand them
        to the writer thread when writes wait there already or the inline attempt meets
        a lock or a write runs past its budget (the transaction then rolled back).
        Whatever goes wrong, each write started is answered (a caller left waiting
        would wait for ever: it has no deadline of its own)."""
        self._flush_scheduled.discard(loop)
        gathered = self._gathered.get(loop, [])
        batch = gathered[:SHARED_INLINE]
        del gathered[:SHARED_INLINE]
        assert self._inline is not None
        if self._to_writer:  # don't overtake the writes already queued there
            self._hand_to_writer(batch)
            batch = []
        elif batch:
            try:
                outcomes = self._inline.run_shared(
                    [job.shared() for job in batch],
                    start_until=time.monotonic() + INLINE_BUDGET,
                    each_budget=INLINE_BUDGET,
                )
            except DBAPIError as exc:
                if is_transient(exc):  # rolled back: nothing was written
                    self._hand_to_writer(batch)
                    batch, outcomes = [], []
                else:
                    outcomes = [Outcome(False, exc)] * len(batch)
            except BaseException as exc:  # its callers re-raise it
                outcomes = [Outcome(False, exc)] * len(batch)
            self._count_inline_writes(sum(outcome.ok for outcome in outcomes))
            for job, outcome in zip(batch, outcomes, strict=False):
                _settle(job.future, outcome)
            gathered[:0] = batch[len(outcomes) :]  # not started: the next turn's
        if gathered:
            self._flush_soon(loop)
        else:  # nothing kept for a loop that may close
            self._gathered.pop(loop, None)

    def _hand_to_writer(self, batch: list[_Write]) -> None:
        """Queue gathered writes for the writer thread (refusing those beyond the
        lane's room with :class:`LaneFull`); start its draining job if none runs (if
        it cannot start, the lanes shut down say, the writes it would have run are
        answered with that error)."""
        lane = self._lanes["write"]
        room = max(0, lane.max_waiting - lane.waiting)
        for job in batch[room:]:
            _settle(job.future, Outcome(False, self._full(lane)))
        batch = batch[:room]
        if not batch:
            return
        with self._writer_lock:
            lane.waiting += len(batch)
            self._to_writer.extend(batch)
            start = not self._draining
            self._draining = True
        if not start:
            return
        try:
            lane.pool.submit(self._drain_writes)
        except BaseException as exc:  # answered below
            with self._writer_lock:
                stranded = list(self._to_writer)
                self._to_writer.clear()
                self._draining = False
            self._answer([(job, Outcome(False, exc)) for job in stranded])

    def _drain_writes(self) -> None:
        """In the writer thread: run the queued shared writes, up to
        :data:`SHARED_LANE` per transaction, until none is left. A write whose deadline
        has passed is not run (:class:`DeadlineExceeded`); a transaction runs until the
        latest deadline of its writes. Each write taken from the queue is answered,
        whatever its transaction raised."""
        while True:
            with self._writer_lock:
                count = min(SHARED_LANE, len(self._to_writer))
                batch = [self._to_writer.popleft() for _ in range(count)]
                if not batch:
                    self._draining = False
                    return
            now = time.monotonic()
            settled: list[tuple[_Write, Outcome]] = [
                (job, Outcome(False, self._late())) for job in batch if job.at <= now
            ]
            runnable = [job for job in batch if job.at > now]
            if runnable:
                until = max(job.at for job in runnable)
                try:
                    with db.deadline(until):
                        outcomes = self.db.run_shared([job.shared() for job in runnable])
                except DBAPIError as exc:
                    error: BaseException = self._late() if time.monotonic() >= until else exc
                    outcomes = [Outcome(False, error)] * len(runnable)
                except BaseException as exc:  # its callers re-raise it
                    outcomes = [Outcome(False, exc)] * len(runnable)
                settled.extend(zip(runnable, outcomes, strict=True))
            self._answer(settled)

    def _answer(self, settled: list[tuple[_Write, Outcome]]) -> None:
        """From any thread: no longer count ``settled`` as waiting in the write lane, and
        answer each write on its own event loop (one whose loop closed has no one to
        answer)."""
        with self._writer_lock:
            self._lanes["write"].waiting -= len(settled)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Write, Outcome]]] = {}
        for job, outcome in settled:
            by_loop.setdefault(job.loop, []).append((job, outcome))
        for loop, answers in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed: no one waits
                loop.call_soon_threadsafe(_settle_all, answers)

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
        """``fn(*args, **kwargs)`` (no database: a thread at a lower priority must never
        hold a connection, or the GIL for long) in the hash lane (password checks)."""
        return await self._submit("hash", _without_db, (fn, *args), kwargs)

    def full(self, lane_name: str) -> bool:
        """Whether work handed to the lane ``lane_name`` now would be refused
        (:class:`LaneFull`), e.g. to answer before reading a request's body."""
        lane = self._lanes[lane_name]
        return lane.waiting >= lane.max_waiting

    async def _submit(
        self, lane_name: str, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        lane = self._lanes[lane_name]
        if lane.waiting >= lane.max_waiting:
            raise self._full(lane)
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

    @staticmethod
    def _full(lane: _Lane) -> LaneFull:
        return LaneFull(
            f"The server is busy ({lane.waiting} requests wait for {lane.name} work); "
            "retry shortly."
        )

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


def _settle_all(answers: list[tuple[_Write, Outcome]]) -> None:
    for job, outcome in answers:
        _settle(job.future, outcome)


def _settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # its caller went away (cancelled): the write stands regardless
        return
    if outcome.ok:
        future.set_result(outcome.value)
    elif isinstance(outcome.value, StopIteration):
        # A future refuses it (TypeError); a coroutine that raised it would fail so too.
        future.set_exception(RuntimeError(f"the write raised StopIteration: {outcome.value}"))
    else:
        future.set_exception(outcome.value)


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
