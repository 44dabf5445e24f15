"""The DAG-run rules: get, list, trigger, patch and delete DAG runs, as Airflow 3.3.2 does.

Each function takes the :class:`~xcomkit.store.database.Database`, runs one read or one
transaction through a :class:`~xcomkit.store.dag_runs.DagRunStore`, and returns rows or
raises a domain error of :mod:`xcomkit.errors` with Airflow's ``detail`` text.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Row

from xcomkit.address import WILDCARD
from xcomkit.errors import BadRequest, Conflict, NotFound
from xcomkit.store import dag_runs, registry
from xcomkit.store.dag_runs import DagRunStore
from xcomkit.store.database import Database
from xcomkit.store.xcoms import XComStore

log = logging.getLogger("xcomkit.service")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def get_dag_run(db: Database, dag_id: str, dag_run_id: str) -> Row[Any]:
    """A DAG run with its DAG's display name.

    Raises:
        NotFound: Airflow's message for a missing run.
    """
    with db.reading() as conn:
        row = DagRunStore(conn).get(dag_id, dag_run_id)
    if row is None:
        raise _not_found_run(dag_id, dag_run_id)
    return row


@dataclass
class DagRunPage:
    """A page of DAG runs: ``rows`` (``dag_run`` columns and ``dag_display_name``),
    ``total`` (exact for offset pages, at most :data:`~xcomkit.store.dag_runs.EXACT_COUNT_LIMIT`
    for keyset pages) and, for keyset pages, whether pages lie after and before it."""

    rows: list[Row[Any]]
    total: int
    has_next: bool = False
    has_prev: bool = False


def _not_found_run(dag_id: str, dag_run_id: str) -> NotFound:
    return NotFound(f"The DagRun with dag_id: `{dag_id}` and run_id: `{dag_run_id}` was not found")


def check_dag(db: Database, dag_id: str) -> None:
    """Raises:
    NotFound: ``dag_id`` is not ``~`` and no such DAG exists (Airflow's message)."""
    if dag_id == WILDCARD:
        return
    with db.reading() as conn:
        if registry.get_dag(conn, dag_id) is None:
            raise NotFound(f"The Dag with ID: `{dag_id}` was not found")


def list_dag_runs(
    db: Database,
    f: dag_runs.DagRunFilter,
    *,
    order_by: Sequence[tuple[Any, bool]],
    limit: int,
    offset: int = 0,
    cursor: tuple[Sequence[Any], bool] | None = None,
    keyset: bool = False,
) -> DagRunPage:
    """A page of the DAG runs matching ``f``, as Airflow's DAG-run list pages them.

    Offset pages (``keyset=False``): ``limit`` rows from ``offset``, the exact total.
    Keyset pages (``keyset=True``): ``limit`` rows after the sort key of ``cursor``
    (``(values, backward)``; None for the first page), or before it when ``backward``;
    the total is capped at :data:`~xcomkit.store.dag_runs.EXACT_COUNT_LIMIT`. As Airflow,
    a backward page always has a next page.
    """
    now = _now()
    with db.reading() as conn:
        store = DagRunStore(conn)
        if not keyset:
            total = store.count(f, now)
            if limit == 0 or offset >= total:  # also keeps huge offsets away from SQL
                return DagRunPage([], total)
            rows = store.page(f, now, order_by=order_by, limit=limit, offset=offset)
            return DagRunPage(rows, total)
        backward = cursor is not None and cursor[1]
        order = [(col, desc != backward) for col, desc in order_by]
        rows = store.page(
            f, now, order_by=order, limit=limit + 1, after=cursor[0] if cursor else None
        )
        total = store.count(f, now, cap=dag_runs.EXACT_COUNT_LIMIT)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
        return DagRunPage(rows, total, has_next=True, has_prev=has_more)
    return DagRunPage(rows, total, has_next=has_more, has_prev=cursor is not None)


def patch_dag_run(db: Database, dag_id: str, dag_run_id: str, changes: dict[str, Any]) -> Row[Any]:
    """Change a run's ``note`` and/or ``state`` (the keys present in ``changes``), as
    Airflow's PATCH does: an empty note removes it; a null state changes nothing; a
    state change moves queued_at, start_date and end_date as Airflow's ``set_state``.
    ``updated_at`` moves only when a ``dag_run`` column changes (Airflow keeps the note
    in another table).

    Raises:
        NotFound: no such run.
    """
    now = _now()
    with db.writing() as conn:
        store = DagRunStore(conn)
        row = store.get_for_update(dag_id, dag_run_id)
        if row is None:
            raise _not_found_run(dag_id, dag_run_id)
        values: dict[str, Any] = {}
        if changes.get("state") is not None:
            values.update(dag_runs.state_change(row, changes["state"], now))
        if values:
            values["updated_at"] = now
        if "note" in changes:
            values["note"] = changes["note"] or None
        if values:
            store.update(row.id, values)
        updated = store.get(dag_id, dag_run_id)
    assert updated is not None
    return updated


def delete_dag_run(
    db: Database, dag_id: str, dag_run_id: str, *, freed: list[str] | None = None
) -> None:
    """Delete a run and its XComs. ``freed``: as for
    :func:`xcomkit.service.xcoms.update_xcom`, for every XCom of the run whose value was
    in object storage.

    Raises:
        NotFound: no such run.
        Conflict: the run is ``running`` (Airflow deletes queued, success and failed runs).
    """
    with db.writing() as conn:
        store = DagRunStore(conn)
        row = store.get_for_update(dag_id, dag_run_id)
        if row is None:
            raise _not_found_run(dag_id, dag_run_id)
        if row.state not in dag_runs.MUTABLE_STATES:
            raise Conflict(
                f"The DagRun with dag_id: `{dag_id}` and run_id: `{dag_run_id}` "
                f"cannot be deleted in {row.state} state"
            )
        refs = XComStore(conn).value_refs_of_run(row.id) if freed is not None else []
        store.delete(row.id)
    if freed is not None:
        freed.extend(refs)


def trigger_dag_run(
    db: Database,
    dag_id: str,
    *,
    dag_run_id: str | None,
    logical_date: datetime | None,
    run_after: datetime | None,
    data_interval: tuple[datetime, datetime] | None,
    conf: dict[str, Any] | None,
    note: str | None,
    triggered_by: str,
    user_name: str | None,
    partition_key: str | None = None,
) -> Row[Any]:
    """Create a manual DAG run in state ``queued``, as Airflow's trigger endpoint does.

    Without ``dag_run_id`` the id is ``manual__<run_after, ISO 8601>``;
    with a logical_date and no data interval, the interval is that instant.

    Raises:
        NotFound: no such DAG.
        BadRequest: a ``partition_key`` was given (no xcomkit DAG is partitioned).
        Conflict: the dag_run_id or the logical_date is taken for this DAG (with
            Airflow's unique-constraint ``detail`` object).
    """
    now = _now()
    run_after = run_after or now
    if run_after.tzinfo is None:
        run_after = run_after.replace(tzinfo=timezone.utc)
    if logical_date is not None and data_interval is None:
        data_interval = (logical_date, logical_date)
    if not dag_run_id:  # Airflow names a run without id after its run_after
        dag_run_id = f"manual__{run_after.isoformat()}"
    with db.writing() as conn:
        store = DagRunStore(conn)
        if registry.get_dag(conn, dag_id) is None:
            raise NotFound(f"Dag with dag_id: '{dag_id}' not found")
        if partition_key is not None:
            raise BadRequest(
                f"Dag '{dag_id}' is not a partitioned Dag and does not accept a partition_key."
            )
        try:
            store.create(
                registry.dag_run_columns(
                    dag_id=dag_id,
                    run_id=dag_run_id,
                    logical_date=logical_date,
                    run_after=run_after,
                    data_interval=data_interval,
                    queued_at=now,
                    conf_json=dag_runs.conf_text(conf),
                    note=note,
                    triggered_by=triggered_by,
                    triggering_user_name=user_name,
                ),
            )
        except registry.DagRunExists:
            # Airflow answers a taken run id or logical date with its generic
            # unique-constraint body; the message names a lookup id for the server log.
            lookup = secrets.token_urlsafe(6)[:8]
            log.warning(
                "error id %s: DAG run %r or its logical date %s exists for dag %r",
                lookup,
                dag_run_id,
                logical_date,
                dag_id,
            )
            raise Conflict(
                {
                    "reason": "Unique constraint violation",
                    "statement": "hidden",
                    "orig_error": "hidden",
                    "message": "Serious error when handling your request. Check logs for more "
                    f"details - you will find it in api server when you look for ID {lookup}",
                }
            ) from None
        row = store.get(dag_id, dag_run_id)
    assert row is not None
    return row
