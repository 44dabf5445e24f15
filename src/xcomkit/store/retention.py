"""Queries of retention: find and remove old XComs and DAG runs, one bounded batch at a time.

"Old" is, as in Airflow's ``airflow db clean``: an XCom whose ``timestamp`` (set on create
and on every update) is before the cutoff. A DAG run is old when its ``run_after`` is
before the cutoff; Airflow's ``db clean`` reads ``dag_run.start_date`` instead, which
xcomkit's runs (triggered, never started by a scheduler) mostly lack, and ``run_after`` is
the date Airflow 3 orders runs by.

Every function takes a connection inside the caller's transaction; each ``delete_*``
removes at most ``limit`` rows and keeps ``dag_run.xcom_count`` right in the same
transaction, decrementing it by the rows the DELETE reports (``RETURNING``) — so two
passes that race for the same rows (two server hosts on PostgreSQL) count each row once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)

from xcomkit.store.schema import dag, dag_run, xcom


class DeletedXCom(NamedTuple):
    """An XCom a batch removed: its address, its stored ``value`` (JSON text; None when
    offloaded) and ``value_ref``, the name of the object holding an offloaded value."""

    dag_run_id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    key: str
    value: str | None
    value_ref: str | None


_PK = tuple_(xcom.c.dag_run_id, xcom.c.task_id, xcom.c.map_index, xcom.c.key)
_RETURNED = (
    xcom.c.dag_run_id,
    xcom.c.dag_id,
    xcom.c.run_id,
    xcom.c.task_id,
    xcom.c.map_index,
    xcom.c.key,
    xcom.c.value,
    xcom.c.value_ref,
)
_COUNT_DOWN = (
    update(dag_run)
    .where(dag_run.c.id == bindparam("the_run_pk"))
    .values(xcom_count=dag_run.c.xcom_count - bindparam("removed"))
)


def _old_runs(cutoff: datetime, dag_id: str | None) -> Select[Any]:
    """``SELECT id FROM dag_run`` of the runs whose run_after is before ``cutoff``."""
    query = select(dag_run.c.id).where(dag_run.c.run_after < cutoff)
    if dag_id is not None:
        query = query.where(dag_run.c.dag_id == dag_id)
    return query


def _old_xcoms(cutoff: datetime, dag_id: str | None) -> list[ColumnElement[bool]]:
    where = [xcom.c.timestamp < cutoff]
    if dag_id is not None:
        where.append(xcom.c.dag_id == dag_id)
    return where


def _delete_xcoms(conn: Connection, chosen: Select[Any]) -> list[DeletedXCom]:
    """Delete the XComs whose primary keys ``chosen`` selects; count them off their runs."""
    result = conn.execute(delete(xcom).where(_PK.in_(chosen)).returning(*_RETURNED))
    deleted = [DeletedXCom._make(row) for row in result]
    per_run = Counter(row.dag_run_id for row in deleted)
    if per_run:
        conn.execute(
            _COUNT_DOWN, [{"the_run_pk": pk, "removed": n} for pk, n in sorted(per_run.items())]
        )
    return deleted


def delete_old_xcoms(
    conn: Connection, cutoff: datetime, dag_id: str | None, limit: int
) -> list[DeletedXCom]:
    """Delete up to ``limit`` XComs with ``timestamp < cutoff`` (of ``dag_id`` only, if
    given), oldest first; return them. An empty list: none are left."""
    chosen = (
        select(*_PK.clauses)
        .where(*_old_xcoms(cutoff, dag_id))
        .order_by(xcom.c.timestamp)
        .limit(limit)
    )
    return _delete_xcoms(conn, chosen)


def delete_xcoms_of_old_runs(
    conn: Connection, cutoff: datetime, dag_id: str | None, limit: int
) -> list[DeletedXCom]:
    """Delete up to ``limit`` XComs of DAG runs with ``run_after < cutoff``, whatever
    their own timestamp; return them. An empty list: none are left."""
    chosen = (
        select(*_PK.clauses).where(xcom.c.dag_run_id.in_(_old_runs(cutoff, dag_id))).limit(limit)
    )
    return _delete_xcoms(conn, chosen)


class DeletedRuns(NamedTuple):
    """What :func:`delete_old_runs` removed: the runs' ``(dag_id, run_id)`` and the XComs
    they still had (normally none: see the function)."""

    runs: list[tuple[str, str]]
    xcoms: list[DeletedXCom]


def delete_old_runs(
    conn: Connection, cutoff: datetime, dag_id: str | None, limit: int
) -> DeletedRuns:
    """Delete up to ``limit`` DAG runs with ``run_after < cutoff``, with any XComs they
    still hold (written after :func:`delete_xcoms_of_old_runs` emptied them), so that no
    XCom goes by the foreign key's cascade unseen."""
    ids = [row.id for row in conn.execute(_old_runs(cutoff, dag_id).limit(limit))]
    if not ids:
        return DeletedRuns([], [])
    late = _delete_xcoms(conn, select(*_PK.clauses).where(xcom.c.dag_run_id.in_(ids)))
    result = conn.execute(
        delete(dag_run).where(dag_run.c.id.in_(ids)).returning(dag_run.c.dag_id, dag_run.c.run_id)
    )
    return DeletedRuns([(row.dag_id, row.run_id) for row in result], late)


def count_old(
    conn: Connection, cutoff: datetime, dag_id: str | None, *, runs: bool
) -> dict[str, tuple[int, int]]:
    """What a clean would remove now, per dag_id: ``{dag_id: (xcoms, dag_runs)}``.

    XComs are those older than ``cutoff`` and, with ``runs``, also every XCom of a DAG
    run older than ``cutoff``; DAG runs are counted only with ``runs``. DAGs with nothing
    to remove are left out.
    """
    where: ColumnElement[bool] = and_(*_old_xcoms(cutoff, dag_id))
    if runs:
        where = or_(where, xcom.c.dag_run_id.in_(_old_runs(cutoff, dag_id)))
    xcoms: dict[str, int] = dict(
        conn.execute(select(xcom.c.dag_id, func.count()).where(where).group_by(xcom.c.dag_id)).all()
    )
    run_counts: dict[str, int] = {}
    if runs:
        old_runs = select(dag_run.c.dag_id, func.count()).where(dag_run.c.run_after < cutoff)
        if dag_id is not None:
            old_runs = old_runs.where(dag_run.c.dag_id == dag_id)
        run_counts = dict(conn.execute(old_runs.group_by(dag_run.c.dag_id)).all())
    return {
        name: (xcoms.get(name, 0), run_counts.get(name, 0))
        for name in sorted(set(xcoms) | set(run_counts))
    }


def retention_by_dag(conn: Connection) -> list[tuple[str, int]]:
    """``(dag_id, xcom_retention_seconds)`` of every DAG that has a retention, by dag_id."""
    return [
        (row.dag_id, int(row.xcom_retention_seconds))
        for row in conn.execute(
            select(dag.c.dag_id, dag.c.xcom_retention_seconds)
            .where(dag.c.xcom_retention_seconds.is_not(None))
            .order_by(dag.c.dag_id)
        )
    ]


def per_dag(xcoms: Sequence[DeletedXCom]) -> Counter[str]:
    """How many of ``xcoms`` each dag_id had."""
    return Counter(row.dag_id for row in xcoms)
