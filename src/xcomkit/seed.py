"""Fill a database with many synthetic DAG runs and XComs, fast (for benchmarks and demos).

``seed(engine, xcoms=1_000_000, runs=10_000)`` spreads ``runs`` new DAG runs round-robin
over the DAGs already in the database (load a manifest first) and ``xcoms`` XComs evenly
over those runs; within a run, XComs go round-robin over its DAG's tasks, with keys
``seed_key_0000``, ``seed_key_0001``, ... and ``map_index`` -1. The rows are written the
way the server writes them (same tables, compact JSON values, UTC timestamps), so the
server reads them like any other XCom.

Speed: rows are sent in big transactions with one ``executemany`` per batch. On SQLite the
batch goes straight to the driver (pre-formatted timestamps, ``synchronous=OFF`` for the
seeding connection only), which writes several hundred thousand rows a second on a
laptop-class core; other backends go through SQLAlchemy Core's executemany.

Also runnable as ``python -m xcomkit.seed --db URL [--xcoms N] [--runs N] [--dags FILE]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.schema import CreateIndex

from xcomkit.store import registry, search
from xcomkit.store.schema import dag_run, xcom

_COUNT_UPDATE = (
    update(dag_run)
    .where(dag_run.c.id == bindparam("pk"))
    .values(xcom_count=dag_run.c.xcom_count + bindparam("n"))
)

RUN_ID_PREFIX = "seed__"
KEY_PREFIX = "seed_key_"
#: Logical date of the first seeded run; run ``n`` is ``n`` minutes later.
BASE_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)


class SeedError(ValueError):
    """The database cannot be seeded as asked (no DAGs with tasks, runs already seeded)."""


@dataclass(frozen=True)
class SeedProgress:
    """One progress report: ``done`` of ``total`` XComs after ``seconds`` of XCom inserts."""

    done: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        """XComs written per second so far."""
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SeedStats:
    """What :func:`seed` wrote: counts, and wall-clock seconds for the runs and the XComs."""

    runs: int
    xcoms: int
    runs_seconds: float
    xcoms_seconds: float

    @property
    def rate(self) -> float:
        """XComs written per second (index maintenance and commits included)."""
        return self.xcoms / self.xcoms_seconds if self.xcoms_seconds > 0 else 0.0


def print_progress(p: SeedProgress) -> None:
    """Progress printer for :func:`seed`: one line per batch on standard error."""
    print(
        f"  seeded {p.done:>12,} / {p.total:,} XComs  ({p.rate:,.0f} rows/s)",
        file=sys.stderr,
        flush=True,
    )


def _sqlite_ts(value: datetime) -> str:
    # The text SQLAlchemy's SQLite DateTime stores: naive UTC, fixed width, sortable.
    return value.astimezone(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _tasks_by_dag(engine: Engine, dag_ids: list[str] | None) -> list[tuple[str, list[str]]]:
    with engine.connect() as conn:
        found = [(d.dag_id, [t.task_id for t in tasks]) for d, tasks in registry.list_dags(conn)]
    found = [(d, tasks) for d, tasks in found if tasks and (dag_ids is None or d in dag_ids)]
    if not found:
        raise SeedError("no DAG with tasks to seed: load a manifest first (xcomkit dags load)")
    return found


def _create_runs(
    engine: Engine, dags: list[tuple[str, list[str]]], runs: int, now: datetime
) -> list[tuple[int, str, str, list[str]]]:
    """Insert the runs; return (dag_run pk, dag_id, run_id, task_ids) in creation order."""
    rows = []
    for n in range(runs):
        dag_id, _tasks = dags[n % len(dags)]
        logical = BASE_DATE + timedelta(minutes=n)
        rows.append(
            registry.dag_run_columns(
                dag_id=dag_id,
                run_id=f"{RUN_ID_PREFIX}{n:07d}",
                logical_date=logical,
                run_after=logical,
                data_interval=(logical, logical),
                queued_at=now,
                conf_json="{}",
                note=None,
                triggered_by="cli",
                triggering_user_name=None,
            )
        )
    tasks = dict(dags)
    with engine.begin() as conn:
        taken = conn.execute(
            select(dag_run.c.run_id).where(dag_run.c.run_id.like(f"{RUN_ID_PREFIX}%")).limit(1)
        ).first()
        if taken is not None:
            raise SeedError(f"this database has seeded runs already (e.g. {taken.run_id!r})")
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(dag_run), rows[start : start + 20_000])
        found = conn.execute(
            select(dag_run.c.id, dag_run.c.dag_id, dag_run.c.run_id)
            .where(dag_run.c.run_id.like(f"{RUN_ID_PREFIX}%"))
            .order_by(dag_run.c.id)
        ).all()
    return [(r.id, r.dag_id, r.run_id, tasks[r.dag_id]) for r in found]


def _xcom_rows(
    runs: list[tuple[int, str, str, list[str]]], xcoms: int
) -> Iterator[tuple[int, str, int, str, str, str, str]]:
    """(dag_run_id, task_id, map_index, key, dag_id, run_id, value) in primary-key-ish order."""
    per_run, extra = divmod(xcoms, len(runs))
    for n, (pk, dag_id, run_id, tasks) in enumerate(runs):
        count = per_run + (1 if n < extra else 0)
        ntasks = len(tasks)
        for i in range(count):
            yield (
                pk,
                tasks[i % ntasks],
                -1,
                f"{KEY_PREFIX}{i:04d}",
                dag_id,
                run_id,
                f'{{"n":{i},"run":{n},"ok":true}}',
            )


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_COUNT_SQL = "UPDATE dag_run SET xcom_count = xcom_count + ? WHERE id = ?"


def _count_params(batch: list[Any]) -> list[tuple[int, int]]:
    """(added XComs, dag run id) for each run in a batch of XCom rows."""
    return [(n, run_pk) for run_pk, n in Counter(row[0] for row in batch).items()]


def _seed_sqlite(
    engine: Engine,
    rows: Iterator[Any],
    stamp: str,
    batch_size: int,
    total: int,
    started: float,
    progress: Callable[[SeedProgress], None] | None,
) -> int:
    """Write ``rows`` through the sqlite3 driver; return how many were written.

    The xcom table's secondary indexes and the search index's triggers are dropped while
    the rows go in and built once at the end (one sorted build beats a million random
    index inserts); they are rebuilt even when an insert fails. Seed a database no server
    is writing to.
    """
    sql = (
        "INSERT INTO xcom (dag_run_id, task_id, map_index, key, dag_id, run_id, value,"
        f" timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, '{stamp}')"
    )
    indexes = sorted(xcom.indexes, key=lambda ix: str(ix.name))
    done = 0
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        dbapi.execute("PRAGMA synchronous=OFF")  # this connection only; NORMAL again below
        dbapi.execute("PRAGMA cache_size=-262144")  # KiB: 256 MiB for the index builds
        for ix in indexes:
            dbapi.execute(f"DROP INDEX IF EXISTS {ix.name}")
        # The search index, likewise: its triggers off, one rebuild at the end.
        searched = dbapi.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (search.SQLITE_TABLE,)
        ).fetchone()
        for statement in search.SQLITE_DROP_TRIGGERS if searched else ():
            dbapi.execute(statement)
        try:
            for batch in _batches(rows, batch_size):
                dbapi.execute("BEGIN IMMEDIATE")
                try:
                    dbapi.executemany(sql, batch)
                    # The runs' kept counts move with the rows, in the same transaction,
                    # so an interrupted seed leaves every count right.
                    dbapi.executemany(_COUNT_SQL, _count_params(batch))
                    dbapi.execute("COMMIT")
                except BaseException:
                    dbapi.execute("ROLLBACK")
                    raise
                done += len(batch)
                if progress:
                    progress(SeedProgress(done, total, time.perf_counter() - started))
        finally:
            for ix in indexes:
                dbapi.execute(str(CreateIndex(ix, if_not_exists=True).compile(engine)))
            if searched:
                dbapi.execute("BEGIN IMMEDIATE")
                for statement in search.SQLITE_TRIGGERS:
                    dbapi.execute(statement)
                for statement in search.SQLITE_REBUILD:
                    dbapi.execute(statement)
                dbapi.execute("COMMIT")
        dbapi.execute("PRAGMA synchronous=NORMAL")
    finally:
        raw.close()
    return done


def seed(
    engine: Engine,
    xcoms: int = 1_000_000,
    runs: int = 10_000,
    *,
    dag_ids: list[str] | None = None,
    batch_size: int = 100_000,
    progress: Callable[[SeedProgress], None] | None = None,
) -> SeedStats:
    """Create ``runs`` DAG runs and ``xcoms`` XComs spread over them; return what was done.

    Args:
        engine: an engine on a migrated database holding at least one DAG with tasks.
        xcoms: XComs to write in total (>= 0).
        runs: DAG runs to create (>= 1), named ``seed__0000000``, ``seed__0000001``, ...
        dag_ids: DAGs to spread the runs over (default: every DAG that has tasks).
        batch_size: XComs per transaction.
        progress: called after each committed batch (see :func:`print_progress`).

    Raises:
        SeedError: no DAG with tasks, or the database holds seeded runs already.
        ValueError: ``runs`` < 1 or ``xcoms`` < 0.
    """
    if runs < 1 or xcoms < 0:
        raise ValueError("runs must be >= 1 and xcoms >= 0")
    now = datetime.now(timezone.utc)
    dags = _tasks_by_dag(engine, dag_ids)
    started = time.perf_counter()
    created = _create_runs(engine, dags, runs, now)
    runs_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rows = _xcom_rows(created, xcoms)
    if engine.dialect.name == "sqlite":
        done = _seed_sqlite(engine, rows, _sqlite_ts(now), batch_size, xcoms, started, progress)
    else:
        done = 0
        names = ("dag_run_id", "task_id", "map_index", "key", "dag_id", "run_id", "value")
        for batch in _batches(rows, batch_size):
            params = [dict(zip(names, row, strict=True), timestamp=now) for row in batch]
            counts = [{"n": n, "pk": pk} for n, pk in _count_params(batch)]
            with engine.begin() as conn:
                conn.execute(insert(xcom), params)
                conn.execute(_COUNT_UPDATE, counts)
            done += len(batch)
            if progress:
                progress(SeedProgress(done, xcoms, time.perf_counter() - started))
    xcoms_seconds = time.perf_counter() - started
    return SeedStats(len(created), done, runs_seconds, xcoms_seconds)


def main(argv: list[str] | None = None) -> int:
    """``python -m xcomkit.seed``: seed a database and print the measured rate."""
    from xcomkit.manifest import load_manifest, read_manifest
    from xcomkit.store.db import make_engine, migrate, needs_migration

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database URL, e.g. sqlite:///big.db")
    parser.add_argument("--xcoms", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--dags", type=Path, default=None, help="manifest to load first")
    args = parser.parse_args(argv)
    engine = make_engine(args.db)
    if needs_migration(engine):
        migrate(engine)
    if args.dags is not None:
        load_manifest(engine, read_manifest(args.dags))
    try:
        stats = seed(engine, xcoms=args.xcoms, runs=args.runs, progress=print_progress)
    except SeedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"seeded {stats.runs:,} DAG runs in {stats.runs_seconds:.1f} s and {stats.xcoms:,} XComs"
        f" in {stats.xcoms_seconds:.1f} s ({stats.rate:,.0f} rows/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
