"""The ``dag_run`` table for the DAG-run endpoints: :class:`DagRunStore`, a connection's
statements (get, the filtered list by offset or keyset pages, count, create, update,
delete), and the pure pieces they share (:class:`DagRunFilter`, :func:`orderable`,
:func:`state_change`, :func:`conf_text`).

The filters and orderings are those of Airflow 3.3.2's ``GET /api/v2/dags/{dag_id}/dagRuns``
(see :class:`DagRunFilter`); NULLs sort as the backend sorts them (first ascending on
SQLite, last ascending on PostgreSQL), as Airflow leaves them, and keyset pages follow
that placement.
"""

from __future__ import annotations

import json
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
    case,
    delete,
    false,
    func,
    or_,
    select,
    true,
    update,
)

from xcomkit.store import registry
from xcomkit.store.schema import dag, dag_run, xcom

#: Most rows a keyset page's total counts (Airflow's ``total_entries_limit``).
EXACT_COUNT_LIMIT = 50_000

#: The states a DAG run may be patched to, or deleted in (Airflow's DagRunMutableStates).
MUTABLE_STATES = ("queued", "success", "failed")
_UNFINISHED = ("queued", "running")
_FINISHED = ("success", "failed")


def conf_text(conf: dict[str, Any] | None) -> str:
    """The stored text of a run's ``conf``: Airflow's JSON column text (``json.dumps`` with
    its default separators and ASCII escapes), so that ``conf_contains`` matches the same
    substrings as on Airflow; ``None`` is stored as ``{}``, as Airflow does."""
    return json.dumps(conf or {})


def duration(dialect: str) -> ColumnElement[Any]:
    """``end_date - start_date`` in seconds (a float), NULL unless both are set."""
    if dialect == "sqlite":
        seconds: ColumnElement[Any] = (
            func.julianday(dag_run.c.end_date) - func.julianday(dag_run.c.start_date)
        ) * 86400
    else:
        seconds = func.extract("epoch", dag_run.c.end_date - dag_run.c.start_date)
    both = and_(dag_run.c.end_date.is_not(None), dag_run.c.start_date.is_not(None))
    return case((both, seconds), else_=None)


def orderable(dialect: str) -> dict[str, ColumnElement[Any]]:
    """The ``order_by`` names Airflow allows on DAG runs, and what each sorts by."""
    return {
        "id": dag_run.c.id,
        "state": dag_run.c.state,
        "dag_id": dag_run.c.dag_id,
        "run_id": dag_run.c.run_id,
        "logical_date": dag_run.c.logical_date,
        "partition_date": dag_run.c.partition_date,
        "run_after": dag_run.c.run_after,
        "start_date": dag_run.c.start_date,
        "end_date": dag_run.c.end_date,
        "updated_at": dag_run.c.updated_at,
        "conf": dag_run.c.conf,
        "duration": duration(dialect),
        "dag_run_id": dag_run.c.run_id,
    }


#: A range filter's bounds by operator: "gte", "gt", "lte", "lt".
Bounds = dict[str, Any]


@dataclass
class DagRunFilter:
    """The filters of Airflow's DAG-run list, already validated.

    ``None`` (or an empty dict) means "no filter". ``states`` and ``run_types`` hold
    values OR-ed together (``None`` in them matches NULL); ``*_like`` hold ILIKE patterns
    (OR-ed); ``*_prefix`` hold (lower, upper-or-None) range bounds, a lower bound of
    ``""`` meaning "any non-null value" (OR-ed). ``no_rows`` is set by a filter on
    something xcomkit never stores (a bundle version, a consuming asset, a DAG version
    other than 1): it matches nothing, as on Airflow for such runs.
    """

    dag_id: str | None = None
    states: list[str | None] | None = None
    run_types: list[str | None] | None = None
    conf_contains: str | None = None
    run_id_like: list[str] | None = None
    run_id_prefix: list[tuple[str, str | None]] | None = None
    dag_id_like: list[str] | None = None
    dag_id_prefix: list[tuple[str, str | None]] | None = None
    triggering_user_name_like: list[str] | None = None
    triggering_user_name_prefix: list[tuple[str, str | None]] | None = None
    partition_key_like: list[str] | None = None
    partition_key_prefix: list[tuple[str, str | None]] | None = None
    logical_date: Bounds = field(default_factory=dict)
    run_after: Bounds = field(default_factory=dict)
    start_date: Bounds = field(default_factory=dict)
    end_date: Bounds = field(default_factory=dict)
    updated_at: Bounds = field(default_factory=dict)
    duration: Bounds = field(default_factory=dict)
    no_rows: bool = False


_COMPARE = {
    "gte": lambda c, v: c >= v,
    "gt": lambda c, v: c > v,
    "lte": lambda c, v: c <= v,
    "lt": lambda c, v: c < v,
}


def _like(col: ColumnElement[Any], patterns: list[str], dialect: str) -> ColumnElement[bool]:
    # SQLite's LIKE folds ASCII case, exactly as the lower() LIKE lower() ilike() renders.
    return or_(*((col.like(p) if dialect == "sqlite" else col.ilike(p)) for p in patterns))


def _prefix(col: ColumnElement[Any], bounds: list[tuple[str, str | None]]) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    for lower, upper in bounds:
        if not lower:
            clauses.append(col.is_not(None))
        elif upper is None:
            clauses.append(col >= lower)
        else:
            clauses.append(and_(col >= lower, col < upper))
    return or_(*clauses)


def _conditions(f: DagRunFilter, dialect: str, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filter (Airflow's semantics, each noted where it is odd)."""
    where: list[ColumnElement[bool]] = []
    if f.no_rows:
        where.append(false())
    if f.dag_id is not None:
        where.append(dag_run.c.dag_id == f.dag_id)
    if f.states:
        where.append(or_(*(dag_run.c.state == s for s in f.states)))
    if f.run_types:
        where.append(or_(*(dag_run.c.run_type == t for t in f.run_types)))
    if f.conf_contains:
        # Airflow: LIKE '%value%' on the JSON text, % and _ keeping their LIKE meaning.
        where.append(dag_run.c.conf.contains(f.conf_contains))
    for name in ("run_id", "dag_id", "triggering_user_name", "partition_key"):
        col = dag_run.c[name]
        like: list[str] | None = getattr(f, f"{name}_like")
        if like is not None:
            where.append(_like(col, like, dialect))
        prefix: list[tuple[str, str | None]] | None = getattr(f, f"{name}_prefix")
        if prefix is not None:
            where.append(_prefix(col, prefix))
    # Airflow skips a bound that is falsy: duration_gte=0 filters nothing.
    for name in ("logical_date", "run_after", "updated_at"):
        for op, value in getattr(f, name).items():
            if value:
                where.append(_COMPARE[op](dag_run.c[name], value))
    for op, value in f.duration.items():
        if value:
            where.append(_COMPARE[op](duration(dialect), value))
    # start_date and end_date: NULL (not started, not ended) passes every lower bound, and
    # an upper bound that lies after now (Airflow's COALESCE(column, now())).
    for name in ("start_date", "end_date"):
        col = dag_run.c[name]
        for op, value in getattr(f, name).items():
            if not value:
                continue
            null_passes = op in ("gte", "gt") or _COMPARE[op](now, value)
            bound = _COMPARE[op](col, value)
            where.append(or_(bound, col.is_(None)) if null_passes else bound)
    return where


def _base(*columns: Any) -> Select[Any]:
    return select(*columns).select_from(dag_run).join(dag, dag.c.dag_id == dag_run.c.dag_id)


def _nulls_last(descending: bool, dialect: str) -> bool:
    # Where a plain ORDER BY puts NULLs: PostgreSQL treats NULL as the largest value,
    # SQLite as the smallest.
    return not descending if dialect == "postgresql" else descending


def _key_bounds(
    col: ColumnElement[Any], value: Any, descending: bool, dialect: str
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(at or after, strictly after) the value ``value`` of one sort key, in sort order."""
    nulls_last = _nulls_last(descending, dialect)
    if value is None:
        return (col.is_(None), false()) if nulls_last else (true(), col.is_not(None))
    at_or_after = col <= value if descending else col >= value
    after = col < value if descending else col > value
    if nulls_last:
        return or_(at_or_after, col.is_(None)), or_(after, col.is_(None))
    return at_or_after, after


def after_key(
    order_by: Sequence[tuple[ColumnElement[Any], bool]], values: Sequence[Any], dialect: str
) -> ColumnElement[bool]:
    """The rows strictly after the sort key ``values`` in ``order_by`` order.

    Built as ``k1 >= v1 AND (k1 > v1 OR (k2 >= v2 AND (k2 > v2 OR ...)))``, which range
    scans on composite indexes can use.
    """
    *outer, (last_col, last_desc) = order_by
    predicate = _key_bounds(last_col, values[-1], last_desc, dialect)[1]
    for (col, descending), value in zip(reversed(outer), reversed(values[:-1]), strict=True):
        at_or_after, after = _key_bounds(col, value, descending, dialect)
        predicate = and_(at_or_after, or_(after, predicate))
    return predicate


def state_change(row: Row[Any], state: str, now: datetime) -> dict[str, Any]:
    """The column changes of setting a run's state, as Airflow's ``DagRun.set_state`` makes
    them: to ``queued`` resets queued_at (and, from another state, clears start and end);
    from an unfinished to a finished state sets end_date. Empty when nothing changes."""
    changes: dict[str, Any] = {}
    if state == "queued":
        changes["queued_at"] = now
    if row.state == state:
        return changes
    changes["state"] = state
    if state == "queued":
        changes.update(start_date=None, end_date=None)
    elif state in _FINISHED and row.state in _UNFINISHED:
        changes["end_date"] = now
    return changes


class DagRunStore:
    """The ``dag_run`` table, through one connection (a
    :class:`~xcomkit.store.database.Database` hands out one per thread), as
    :class:`~xcomkit.store.xcoms.XComStore` is for XComs.

    Args:
        conn: the connection; writes must run inside its transaction.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, dag_id: str, run_id: str) -> Row[Any] | None:
        """The run joined with its DAG's display name (``dag_display_name``), or None."""
        return registry.get_dag_run(self.conn, dag_id, run_id)

    def get_for_update(self, dag_id: str, run_id: str) -> Row[Any] | None:
        """The ``dag_run`` row alone (no join), or None."""
        q = select(dag_run).where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
        return self.conn.execute(q).first()

    def count(self, f: DagRunFilter, now: datetime, *, cap: int | None = None) -> int:
        """How many runs match ``f`` (``now``: the instant open start and end dates are
        compared as); at most ``cap`` (the count stops reading there)."""
        where = _conditions(f, self.conn.dialect.name, now)
        if cap is None:
            q = select(func.count()).select_from(dag_run).where(*where)
            return int(self.conn.execute(q).scalar_one())
        capped = select(dag_run.c.id).where(*where).limit(cap).subquery()
        return int(self.conn.execute(select(func.count()).select_from(capped)).scalar_one())

    def page(
        self,
        f: DagRunFilter,
        now: datetime,
        *,
        order_by: Sequence[tuple[ColumnElement[Any], bool]],
        limit: int,
        offset: int = 0,
        after: Sequence[Any] | None = None,
    ) -> list[Row[Any]]:
        """Runs matching ``f`` (with their DAG's display name, and ``sort_duration``: the
        duration as the database computes it, which a cursor must carry to compare
        exactly), sorted by ``order_by`` ((expression, descending) pairs), from ``offset``,
        or strictly after the sort key ``after`` (one value per ``order_by`` pair)."""
        dialect = self.conn.dialect.name
        where = _conditions(f, dialect, now)
        if after is not None:
            where.append(after_key(order_by, after, dialect))
        ordering = [col.desc() if desc else col.asc() for col, desc in order_by]
        columns = (dag_run, dag.c.dag_display_name, duration(dialect).label("sort_duration"))
        q = _base(*columns).where(*where).order_by(*ordering).limit(limit)
        if offset:
            q = q.offset(offset)
        return list(self.conn.execute(q).all())

    def create(self, values: dict[str, Any]) -> None:
        """Insert a run; ``values`` holds its ``dag_run`` columns (see
        :func:`xcomkit.store.registry.dag_run_columns`).

        Raises:
            xcomkit.store.registry.DagRunExists: (dag_id, run_id) or (dag_id,
                logical_date) is taken.
        """
        registry.create_dag_run(self.conn, values)

    def update(self, pk: int, values: dict[str, Any]) -> None:
        """Write ``values`` to the run with primary key ``pk``."""
        self.conn.execute(update(dag_run).where(dag_run.c.id == pk).values(**values))

    def delete(self, pk: int) -> None:
        """Delete the run with primary key ``pk`` and its XComs (its kept count goes
        with it)."""
        self.conn.execute(delete(xcom).where(xcom.c.dag_run_id == pk))
        self.conn.execute(delete(dag_run).where(dag_run.c.id == pk))
