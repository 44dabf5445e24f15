"""Queries on the ``xcom`` table.

Every read returns rows with the columns of Airflow's XCom response, in its field order
(key, timestamp, logical_date, map_index, task_id, dag_id, run_id, dag_display_name,
task_display_name, run_after) plus ``value`` (stored JSON text) where asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from xcomkit.store.schema import dag, dag_run, task, xcom


class XComExists(Exception):
    """An XCom with this (dag run, task_id, map_index, key) exists already."""


_task_display_name = func.coalesce(task.c.task_display_name, xcom.c.task_id)

_ENTRY_COLUMNS: tuple[ColumnElement[Any], ...] = (
    xcom.c.key,
    xcom.c.timestamp,
    dag_run.c.logical_date,
    xcom.c.map_index,
    xcom.c.task_id,
    xcom.c.dag_id,
    xcom.c.run_id,
    dag.c.dag_display_name,
    _task_display_name.label("task_display_name"),
    dag_run.c.run_after,
)


def _joined(*columns: ColumnElement[Any]) -> Select[Any]:
    return (
        select(*columns)
        .select_from(xcom)
        .join(dag_run, dag_run.c.id == xcom.c.dag_run_id)
        .join(dag, dag.c.dag_id == xcom.c.dag_id)
        .outerjoin(task, and_(task.c.dag_id == xcom.c.dag_id, task.c.task_id == xcom.c.task_id))
    )


def _identity(dag_id: Any, run_id: Any, task_id: Any, key: Any, map_index: Any) -> list[Any]:
    return [
        xcom.c.dag_id == dag_id,
        xcom.c.task_id == task_id,
        xcom.c.run_id == run_id,
        xcom.c.map_index == map_index,
        xcom.c.key == key,
    ]


# Built once: the hot path only binds parameters (no statement construction per call).
_GET_ONE = _joined(*_ENTRY_COLUMNS, xcom.c.value).where(
    *_identity(
        bindparam("dag_id"),
        bindparam("run_id"),
        bindparam("task_id"),
        bindparam("key"),
        bindparam("map_index"),
    )
)


def get_entry(
    conn: Connection, dag_id: str, run_id: str, task_id: str, key: str, map_index: int
) -> Row[Any] | None:
    """One XCom with its value, or None. A single indexed query."""
    params = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "key": key,
        "map_index": map_index,
    }
    return conn.execute(_GET_ONE, params).first()


@dataclass
class ListFilter:
    """The filters of Airflow's ``GET .../xcomEntries`` list, already validated.

    ``None`` means "no filter". ``*_like`` lists hold ILIKE patterns (OR-ed);
    ``*_prefix`` lists hold (lower, upper-or-None) range bounds, ``()`` bounds meaning
    "any non-null value" (OR-ed). Datetime bounds are timezone-aware.
    """

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    key: str | None = None
    map_index: int | None = None
    map_index_filter: int | None = None
    key_like: list[str] | None = None
    key_prefix: list[tuple[str, str | None]] | None = None
    dag_display_name_like: list[str] | None = None
    dag_display_name_prefix: list[tuple[str, str | None]] | None = None
    run_id_like: list[str] | None = None
    run_id_prefix: list[tuple[str, str | None]] | None = None
    task_id_like: list[str] | None = None
    task_id_prefix: list[tuple[str, str | None]] | None = None
    logical_date: dict[str, datetime] = field(default_factory=dict)
    run_after: dict[str, datetime] = field(default_factory=dict)


ORDERABLE: dict[str, ColumnElement[Any]] = {
    "key": xcom.c.key,
    "dag_id": xcom.c.dag_id,
    "run_id": xcom.c.run_id,
    "task_id": xcom.c.task_id,
    "map_index": xcom.c.map_index,
    "timestamp": xcom.c.timestamp,
    "run_after": dag_run.c.run_after,
}


def _like_any(col: ColumnElement[Any], patterns: list[str], dialect: str) -> ColumnElement[bool]:
    # Case-insensitive LIKE. SQLite's own LIKE already folds ASCII case only, exactly as
    # the lower(col) LIKE lower(pattern) that ilike() renders there, and is far cheaper.
    if dialect == "sqlite":
        return or_(*(col.like(p) for p in patterns))
    return or_(*(col.ilike(p) for p in patterns))


def _prefix_any(
    col: ColumnElement[Any], bounds: list[tuple[str, str | None]]
) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for lower, upper in bounds:
        if not lower:
            clauses.append(col.is_not(None))
        elif upper is None:
            clauses.append(col >= lower)
        else:
            clauses.append(and_(col >= lower, col < upper))
    return or_(*clauses)


def _range(col: ColumnElement[Any], bounds: dict[str, datetime]) -> list[ColumnElement[bool]]:
    ops = {"gte": col.__ge__, "gt": col.__gt__, "lte": col.__le__, "lt": col.__lt__}
    return [ops[name](value) for name, value in bounds.items()]


def _where(f: ListFilter, dialect: str) -> list[ColumnElement[bool]]:
    w: list[ColumnElement[bool]] = []
    if f.dag_id is not None:
        w.append(xcom.c.dag_id == f.dag_id)
    if f.task_id is not None:
        w.append(xcom.c.task_id == f.task_id)
    if f.run_id is not None:
        w.append(xcom.c.run_id == f.run_id)
    if f.map_index is not None:
        w.append(xcom.c.map_index == f.map_index)
    if f.key is not None:
        w.append(xcom.c.key == f.key)
    if f.map_index_filter is not None:
        w.append(xcom.c.map_index == f.map_index_filter)
    for col, like, prefix in (
        (xcom.c.key, f.key_like, f.key_prefix),
        (dag.c.dag_display_name, f.dag_display_name_like, f.dag_display_name_prefix),
        (xcom.c.run_id, f.run_id_like, f.run_id_prefix),
        (xcom.c.task_id, f.task_id_like, f.task_id_prefix),
    ):
        if like is not None:
            w.append(_like_any(col, like, dialect))
        if prefix is not None:
            w.append(_prefix_any(col, prefix))
    w.extend(_range(dag_run.c.logical_date, f.logical_date))
    w.extend(_range(dag_run.c.run_after, f.run_after))
    return w


def list_entries(
    conn: Connection,
    f: ListFilter,
    *,
    order_by: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """A page of XComs (without values) and the number of all matching XComs.

    ``order_by`` holds (name from :data:`ORDERABLE`, descending) pairs; the dag run's
    primary key is appended as the final tie-breaker, as Airflow appends the XCom
    table's first primary-key column.
    """
    where = _where(f, conn.dialect.name)
    needs_dag = f.dag_display_name_like is not None or f.dag_display_name_prefix is not None
    needs_run = bool(f.logical_date or f.run_after)
    count_q = select(func.count()).select_from(xcom)
    if needs_run:
        count_q = count_q.join(dag_run, dag_run.c.id == xcom.c.dag_run_id)
    if needs_dag:
        count_q = count_q.join(dag, dag.c.dag_id == xcom.c.dag_id)
    total = conn.execute(count_q.where(*where)).scalar_one()
    if limit == 0 or offset >= total:
        return [], total
    ordering = [
        ORDERABLE[name].desc() if desc else ORDERABLE[name].asc() for name, desc in order_by
    ]
    first_desc = order_by[0][1] if order_by else False
    ordering.append(xcom.c.dag_run_id.desc() if first_desc else xcom.c.dag_run_id.asc())
    q = _joined(*_ENTRY_COLUMNS).where(*where).order_by(*ordering).limit(limit).offset(offset)
    return list(conn.execute(q).all()), total


def insert_entry(
    conn: Connection,
    *,
    dag_run_pk: int,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    map_index: int,
    value_json: str,
    timestamp: datetime,
) -> None:
    """Insert one XCom.

    Raises:
        XComExists: the (dag run, task_id, map_index, key) is taken, also when a
            concurrent writer took it first.
    """
    try:
        with conn.begin_nested():
            conn.execute(
                insert(xcom).values(
                    dag_run_id=dag_run_pk,
                    dag_id=dag_id,
                    run_id=run_id,
                    task_id=task_id,
                    key=key,
                    map_index=map_index,
                    value=value_json,
                    timestamp=timestamp,
                )
            )
    except IntegrityError as exc:
        raise XComExists(key) from exc


def update_entry(
    conn: Connection,
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    map_index: int,
    value_json: str,
    timestamp: datetime,
) -> int:
    """Replace an XCom's value and timestamp; return the number of rows changed (0 or 1)."""
    q = (
        update(xcom)
        .where(*_identity(dag_id, run_id, task_id, key, map_index))
        .values(value=value_json, timestamp=timestamp)
    )
    return conn.execute(q).rowcount


def delete_entry(
    conn: Connection, *, dag_id: str, run_id: str, task_id: str, key: str, map_index: int
) -> int:
    """Delete one XCom; return the number of rows deleted (0 or 1)."""
    return conn.execute(
        delete(xcom).where(*_identity(dag_id, run_id, task_id, key, map_index))
    ).rowcount
