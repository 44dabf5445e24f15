"""Retention: remove old XComs (and DAG runs) in short batches, by hand or on a schedule.

Two ways in:

- ``xcomkit db clean --older-than 30d [--dag-id D] [--runs] [--dry-run]`` calls
  :func:`clean` (and :func:`plan` for the dry run);
- the server runs :func:`retention_pass` every ``--retention-interval``
  (:class:`RetentionScheduler`), applying each DAG's ``xcom_retention`` from the manifest.

What "older" means is in :mod:`xcomkit.store.retention` (an XCom's ``timestamp``, a DAG
run's ``run_after``). Work goes in batches of ``batch_size`` rows, each its own short
transaction that also keeps ``dag_run.xcom_count`` right, so a server on the same database
keeps answering between batches, and an interrupted clean leaves only whole batches done:
running it again continues where it stopped.

Unlike the request rules beside it, this module takes an Engine, not a
:class:`~xcomkit.store.database.Database`: it runs in the CLI or a background thread,
outside the work lanes, and commits batch by batch on connections of its own.

Values kept outside the database (object storage offload) are released through one hook,
:func:`release_objects` (or the ``on_deleted`` callable given to :func:`clean`,
:func:`retention_pass` and :class:`RetentionScheduler`), called with each batch's removed
XComs after the batch commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, insert, select, update

from xcomkit.durations import format_duration
from xcomkit.store import retention as store
from xcomkit.store.db import locked_transaction
from xcomkit.store.objects import ObjectStore, ObjectStoreError
from xcomkit.store.retention import DeletedXCom
from xcomkit.store.schema import kv

log = logging.getLogger("xcomkit.retention")

#: Rows removed per transaction: small enough that a server's writes wait at most a few
#: milliseconds for one, large enough that the per-transaction cost stays small.
BATCH_SIZE = 1000
#: Serializes the claim of a scheduled pass across server workers and hosts.
RETENTION_LOCK = "xcomkit:retention"
#: ``xcomkit_kv`` entry naming the last claimed pass slot (see :func:`claim_pass`).
LAST_PASS_SETTING = "retention_last_slot"
#: Seconds after server start before the first scheduled pass (or the interval, if shorter).
FIRST_PASS_DELAY = 60.0


def release_objects(deleted: Sequence[DeletedXCom]) -> None:
    """The default ``on_deleted`` of :func:`clean`, for when no object store is
    configured: nothing to release (an offloaded value's object, if any, is then left
    for ``xcomkit storage gc``)."""
    return None


def object_releaser(store: ObjectStore) -> Callable[[Sequence[DeletedXCom]], None]:
    """An ``on_deleted`` that removes the objects of removed offloaded values from ``store``.

    Called after each batch commits, so no remaining row points at a removed object; an
    object whose removal fails is logged and left for ``xcomkit storage gc``, as is one
    whose batch committed just before a crash.
    """

    def release(deleted: Sequence[DeletedXCom]) -> None:
        for row in deleted:
            if row.value_ref is None:
                continue
            try:
                store.remove(row.value_ref)
            except ObjectStoreError as exc:
                log.warning("object %s left for storage gc: %s", row.value_ref, exc.detail)

    return release


@dataclass
class CleanReport:
    """What a clean (or a dry run: :func:`plan`) removed.

    ``by_dag`` maps dag_id to ``[xcoms, dag_runs]``; ``seconds`` is wall time;
    ``complete`` is False when the clean was stopped before it ran out of rows.
    """

    cutoff: datetime
    xcoms: int = 0
    runs: int = 0
    by_dag: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0
    complete: bool = True

    @property
    def rows(self) -> int:
        """XComs plus DAG runs."""
        return self.xcoms + self.runs

    @property
    def rate(self) -> float:
        """Rows removed per second (0 when nothing took any time)."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def _add(self, xcoms: Sequence[DeletedXCom], runs: Sequence[tuple[str, str]] = ()) -> int:
        for dag_id, n in store.per_dag(xcoms).items():
            self.by_dag.setdefault(dag_id, [0, 0])[0] += n
        for dag_id, n in Counter(d for d, _ in runs).items():
            self.by_dag.setdefault(dag_id, [0, 0])[1] += n
        self.xcoms += len(xcoms)
        self.runs += len(runs)
        return len(xcoms) + len(runs)


def cutoff_for(older_than: timedelta | int, now: datetime | None = None) -> datetime:
    """``now`` (default: the current UTC time) minus ``older_than`` (a timedelta or
    seconds); the earliest date there is when that lies before year 1."""
    now = now or datetime.now(timezone.utc)
    try:
        if isinstance(older_than, int):
            older_than = timedelta(seconds=older_than)
        return now - older_than
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc)


def plan(
    engine: Engine, cutoff: datetime, *, dag_id: str | None = None, runs: bool = False
) -> CleanReport:
    """What :func:`clean` would remove now (changes nothing): a report with the counts."""
    started = time.monotonic()
    with engine.connect() as conn:
        counts = store.count_old(conn, cutoff, dag_id, runs=runs)
    report = CleanReport(cutoff=cutoff, by_dag={d: list(c) for d, c in counts.items()})
    report.xcoms = sum(c[0] for c in counts.values())
    report.runs = sum(c[1] for c in counts.values())
    report.seconds = time.monotonic() - started
    return report


def clean(
    engine: Engine,
    cutoff: datetime,
    *,
    dag_id: str | None = None,
    runs: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_deleted: Callable[[Sequence[DeletedXCom]], None] | None = None,
) -> CleanReport:
    """Remove XComs older than ``cutoff`` and, with ``runs``, DAG runs older than it with
    all their XComs; of ``dag_id`` only, if given.

    Order: old XComs (oldest first), then the XComs of old DAG runs, then the runs. Each
    batch of at most ``batch_size`` rows is one transaction (on SQLite a write
    transaction from its start, so it never fails to upgrade a read lock); after it
    commits, ``progress(rows)`` is called and ``on_deleted`` (default:
    :func:`release_objects`) gets its XComs.

    Args:
        should_stop: checked between batches; True stops the clean with
            ``complete=False`` (the next clean continues).
        on_deleted: releases what removed XComs kept outside the database.

    Raises:
        sqlalchemy.exc.DBAPIError: the database failed; batches committed before stay
            done, the failing one is rolled back whole.
    """
    report = CleanReport(cutoff=cutoff)
    release = on_deleted or release_objects
    started = time.monotonic()
    writes = engine.execution_options(sqlite_begin="IMMEDIATE")
    steps = [store.delete_old_xcoms]
    if runs:
        steps.append(store.delete_xcoms_of_old_runs)
    try:
        for step in steps:
            while True:
                if should_stop is not None and should_stop():
                    report.complete = False
                    return report
                with writes.begin() as conn:
                    deleted = step(conn, cutoff, dag_id, batch_size)
                if not deleted:
                    break
                done = report._add(deleted)
                if progress is not None:
                    progress(done)
                release(deleted)
        while runs:
            if should_stop is not None and should_stop():
                report.complete = False
                return report
            with writes.begin() as conn:
                gone = store.delete_old_runs(conn, cutoff, dag_id, batch_size)
            if not gone.runs:
                break
            done = report._add(gone.xcoms, gone.runs)
            if progress is not None:
                progress(done)
            if gone.xcoms:
                release(gone.xcoms)
        return report
    finally:
        report.seconds = time.monotonic() - started


def claim_pass(engine: Engine, now: datetime, interval_seconds: float) -> bool:
    """Claim the scheduled pass of the current interval; True when this caller got it.

    Wall-clock time is cut into slots of ``interval_seconds``; the first caller in a slot
    (any worker, any host on the database) records it in ``xcomkit_kv`` under
    :data:`RETENTION_LOCK` and runs the pass, later callers in the same slot get False.
    A pass that dies half-way is simply done again in the next slot (batches are whole).
    """
    slot = int(now.timestamp() // interval_seconds)
    with locked_transaction(engine, RETENTION_LOCK) as conn:
        last = conn.execute(select(kv.c.value).where(kv.c.name == LAST_PASS_SETTING)).scalar()
        if last is not None and int(last) >= slot:
            return False
        if last is None:
            conn.execute(insert(kv).values(name=LAST_PASS_SETTING, value=str(slot)))
        else:
            conn.execute(update(kv).where(kv.c.name == LAST_PASS_SETTING).values(value=str(slot)))
    return True


@dataclass(frozen=True)
class DagPass:
    """One DAG's part of a scheduled pass: its retention, cutoff and what went."""

    dag_id: str
    retention_seconds: int
    report: CleanReport


def retention_pass(
    engine: Engine,
    *,
    interval_seconds: float | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    should_stop: Callable[[], bool] | None = None,
    on_deleted: Callable[[Sequence[DeletedXCom]], None] | None = None,
) -> list[DagPass] | None:
    """Apply each DAG's ``xcom_retention``: remove its XComs older than now minus it.

    With ``interval_seconds``, runs only if :func:`claim_pass` gets this interval's slot
    (None: another worker or host has run it, or runs it). Logs one line per DAG that
    lost XComs and one summary line (logger ``xcomkit.retention``).

    Returns:
        One :class:`DagPass` per DAG with a retention (empty: none has one), or None.
    """
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        retentions = store.retention_by_dag(conn)
    if not retentions:
        return []
    if interval_seconds is not None and not claim_pass(engine, now, interval_seconds):
        return None
    started = time.monotonic()
    done: list[DagPass] = []
    for dag_id, seconds in retentions:
        report = clean(
            engine,
            cutoff_for(seconds, now),
            dag_id=dag_id,
            batch_size=batch_size,
            should_stop=should_stop,
            on_deleted=on_deleted,
        )
        done.append(DagPass(dag_id, seconds, report))
        if report.xcoms:
            log.info(
                "retention: removed %d XCom(s) of DAG %s older than %s (timestamp before %s)",
                report.xcoms,
                dag_id,
                format_duration(seconds),
                report.cutoff.isoformat(),
                extra={"dag_id": dag_id, "xcoms_removed": report.xcoms},
            )
        if not report.complete:
            break
    total = sum(p.report.xcoms for p in done)
    log.info(
        "retention pass: %d DAG(s) with a retention, removed %d XCom(s) in %.2f s%s",
        len(retentions),
        total,
        time.monotonic() - started,
        "" if all(p.report.complete for p in done) else " (stopped; the next pass continues)",
        extra={"xcoms_removed": total},
    )
    return done


class RetentionScheduler:
    """Runs :func:`retention_pass` in a background thread every ``interval_seconds``.

    The first pass comes :data:`FIRST_PASS_DELAY` seconds after :meth:`start` (or one
    interval, if shorter); ``interval_seconds`` 0 disables the scheduler. :meth:`stop`
    asks a running pass to stop after its current batch and waits for the thread. A pass
    that fails is logged and tried again at the next interval.
    """

    def __init__(
        self,
        engine: Engine,
        interval_seconds: float,
        *,
        on_deleted: Callable[[Sequence[DeletedXCom]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval_seconds = interval_seconds
        self.on_deleted = on_deleted
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (nothing when the interval is 0)."""
        if self.interval_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="xcomkit-retention", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current batch; wait up to ``timeout`` seconds for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        wait = min(FIRST_PASS_DELAY, self.interval_seconds)
        while not self._stop.wait(wait):
            try:
                retention_pass(
                    self.engine,
                    interval_seconds=self.interval_seconds,
                    should_stop=self._stop.is_set,
                    on_deleted=self.on_deleted,
                )
            except Exception:
                log.exception(
                    "retention pass failed; trying again in %.0f s", self.interval_seconds
                )
            wait = self.interval_seconds
