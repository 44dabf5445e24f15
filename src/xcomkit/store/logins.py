"""Failed-login counters, kept in the database so every worker and host shares them.

Each bucket (``user:<name>``, ``client:<address>``) counts failures in a fixed window
that opens with its first failure. Times are wall-clock seconds since the epoch, so that
processes on different hosts agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, case, delete, select

from xcomkit.store.schema import login_failure as lf


def seconds_blocked(
    conn: Connection, limits: dict[str, int], *, window: float, now: float
) -> float | None:
    """Seconds until the first bucket at its limit reopens, or None when none is.

    Args:
        limits: failures allowed per bucket name in one window.
        window: the window's length, in seconds.
        now: the current time, in seconds since the epoch.
    """
    rows = conn.execute(
        select(lf.c.bucket, lf.c.window_start, lf.c.failures).where(lf.c.bucket.in_(limits))
    ).all()
    waits = [
        row.window_start + window - now
        for row in rows
        if row.failures >= limits[row.bucket] and row.window_start + window > now
    ]
    return max(waits) if waits else None


def record_failure(conn: Connection, buckets: Iterable[str], *, window: float, now: float) -> None:
    """Count one failure in each bucket, opening a new window where the last one ended.

    Buckets whose window ended are removed first, so the table holds only live windows.
    """
    # The dialect's own INSERT (for ON CONFLICT), imported here: importing SQLAlchemy's
    # PostgreSQL dialect costs a SQLite server ~30 ms and ~2 MB at start for nothing.
    insert: Callable[..., Any]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = sqlite_insert
    conn.execute(delete(lf).where(lf.c.window_start <= now - window))
    expired = lf.c.window_start <= now - window
    for bucket in buckets:
        stmt = insert(lf).values(bucket=bucket, window_start=now, failures=1)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[lf.c.bucket],
                set_={
                    "failures": case((expired, 1), else_=lf.c.failures + 1),
                    "window_start": case((expired, now), else_=lf.c.window_start),
                },
            )
        )
