"""Queries on the ``xcom`` table.

Every read returns rows with the columns of Airflow's XCom response, in its field order
(key, timestamp, logical_date, map_index, task_id, dag_id, run_id, dag_display_name,
task_display_name, run_after) plus ``value`` (stored JSON text) where asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
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

from xcomkit.address import XComAddress
from xcomkit.store import search
from xcomkit.store.driver import Hot
from xcomkit.store.schema import dag, dag_run, sqlite_iso, task, xcom


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


class Entry(NamedTuple):
    """An XCom as reads return it: Airflow's XComResponse fields in its order, then
    ``value`` (the stored JSON text). Writes build one to answer without reading back."""

    key: str
    timestamp: datetime
    logical_date: datetime | None
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    dag_display_name: str
    task_display_name: str
    run_after: datetime
    value: str | None
    #: The name of the object holding the value when it is in object storage (``value``
    #: is then None until :mod:`xcomkit.store.objects` reads it).
    value_ref: str | None = None


#: The fields of Airflow's XComResponse, in order (the entry columns select them so).
ENTRY_FIELDS: tuple[str, ...] = Entry._fields[:-2]
assert tuple(str(c.key) for c in _ENTRY_COLUMNS) == ENTRY_FIELDS


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


#: The conditions that pick one XCom row, built once (the hot paths only bind values:
#: :func:`identity_params`). Bind names differ from column names: an UPDATE reserves the
#: column names for its SET.
IDENTITY = _identity(
    bindparam("the_dag_id"),
    bindparam("the_run_id"),
    bindparam("the_task_id"),
    bindparam("the_key"),
    bindparam("the_map_index"),
)


def identity_params(address: XComAddress) -> dict[str, Any]:
    """The bound values of :data:`IDENTITY` for ``address``."""
    return {
        "the_dag_id": address.dag_id,
        "the_run_id": address.dag_run_id,
        "the_task_id": address.task_id,
        "the_key": address.key,
        "the_map_index": address.map_index,
    }


_GET_ONE = Hot(_joined(*_ENTRY_COLUMNS, xcom.c.value, xcom.c.value_ref).where(*IDENTITY))
#: Replace one XCom's value, value_ref and timestamp (binds: :data:`IDENTITY`'s, then
#: ``new_value``, ``new_value_ref``, ``new_timestamp``).
UPDATE = Hot(
    update(xcom)
    .where(*IDENTITY)
    .values(
        value=bindparam("new_value"),
        value_ref=bindparam("new_value_ref"),
        timestamp=bindparam("new_timestamp", type_=xcom.c.timestamp.type),
    )
)
_VALUE_REF = Hot(select(xcom.c.value_ref).where(*IDENTITY).with_for_update())
_DELETE = Hot(delete(xcom).where(*IDENTITY))
_INSERT_COLUMNS = (
    "dag_run_id",
    "dag_id",
    "run_id",
    "task_id",
    "key",
    "map_index",
    "value",
    "value_ref",
    "timestamp",
)
#: Insert one XCom row (binds: :func:`insert_params`).
INSERT = Hot(insert(xcom).values({name: bindparam(name) for name in _INSERT_COLUMNS}))
# dag_run.xcom_count follows every insert and delete, in the same transaction.
_COUNT_UP = Hot(
    update(dag_run)
    .where(dag_run.c.id == bindparam("the_run_pk"))
    .values(xcom_count=dag_run.c.xcom_count + 1)
)
_COUNT_DOWN = Hot(
    update(dag_run)
    .where(dag_run.c.dag_id == bindparam("the_dag_id"), dag_run.c.run_id == bindparam("the_run_id"))
    .values(xcom_count=dag_run.c.xcom_count - 1)
)


#: What a create needs to know of its target, in one query: the DAG's display name
#: (no row: no such DAG), the task's (None: not in the DAG) and the DAG run (None: none).
class CreateTarget(NamedTuple):
    """What a create needs to know of its target (see :meth:`XComStore.create_target`)."""

    dag_display_name: str
    task_display_name: str | None
    id: int | None
    logical_date: datetime | None
    run_after: datetime | None


_CREATE_TARGET = Hot(
    select(
        dag.c.dag_display_name,
        task.c.task_display_name,
        dag_run.c.id,
        dag_run.c.logical_date,
        dag_run.c.run_after,
    )
    .select_from(dag)
    .outerjoin(
        task, and_(task.c.dag_id == dag.c.dag_id, task.c.task_id == bindparam("the_task_id"))
    )
    .outerjoin(
        dag_run, and_(dag_run.c.dag_id == dag.c.dag_id, dag_run.c.run_id == bindparam("the_run_id"))
    )
    .where(dag.c.dag_id == bindparam("the_dag_id"))
)
assert tuple(c.key for c in _CREATE_TARGET.statement.selected_columns) == CreateTarget._fields  # type: ignore[attr-defined]


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


#: Columns the list filters compare, by the names used in a filter's shape.
_FILTER_COLUMNS: dict[str, ColumnElement[Any]] = {
    "dag_id": xcom.c.dag_id,
    "task_id": xcom.c.task_id,
    "run_id": xcom.c.run_id,
    "map_index": xcom.c.map_index,
    "key": xcom.c.key,
    "map_index_filter": xcom.c.map_index,
    "dag_display_name": dag.c.dag_display_name,
    "logical_date": dag_run.c.logical_date,
    "run_after": dag_run.c.run_after,
}
_EQUALITY = ("dag_id", "task_id", "run_id", "map_index", "key", "map_index_filter")
_PATTERNED = ("key", "dag_display_name", "run_id", "task_id")
_DATED = ("logical_date", "run_after")
#: Filters whose total the runs' kept ``xcom_count`` answers.
_COUNTED = frozenset({"dag_id", "run_id"})
_RUN_COLUMNS = {"dag_id": dag_run.c.dag_id, "run_id": dag_run.c.run_id}

Shape = tuple[Any, ...]

#: The key of the DAG run a list names by dag_id and run_id (NULL: no such run).
_RUN_KEY = (
    select(dag_run.c.id)
    .where(dag_run.c.dag_id == bindparam("dag_id"), dag_run.c.run_id == bindparam("run_id"))
    .scalar_subquery()
)


def _split(f: ListFilter, searchable: bool = False) -> tuple[Shape, dict[str, Any]]:
    """A filter's shape (which conditions it has: hashable) and its bound values.

    With ``searchable`` (the search index exists), a ``*_like`` filter the index can
    serve is marked so in the shape (see :mod:`xcomkit.store.search`).

    Statements are built once per shape (see :func:`_statements`), so a request only
    binds values; the names of the values are those of the shape's bind parameters.
    """
    shape: list[Any] = []
    params: dict[str, Any] = {}
    for name in _EQUALITY:
        value = getattr(f, name)
        if value is not None:
            shape.append(name)
            params[name] = value
    for name in _PATTERNED:
        like: list[str] | None = getattr(f, f"{name}_like")
        if like is not None:
            indexed = searchable and search.indexable(name, like)
            shape.append((name, "like", len(like), indexed))
            params.update({f"{name}_like_{i}": p for i, p in enumerate(like)})
        prefix: list[tuple[str, str | None]] | None = getattr(f, f"{name}_prefix")
        if prefix is not None:
            kinds = []
            for i, (lower, upper) in enumerate(prefix):
                if not lower:
                    kinds.append("any")
                    continue
                params[f"{name}_lo_{i}"] = lower
                if upper is None:
                    kinds.append("from")
                else:
                    kinds.append("range")
                    params[f"{name}_hi_{i}"] = upper
            shape.append((name, "prefix", tuple(kinds)))
    for name in _DATED:
        for op, value in getattr(f, name).items():
            shape.append((name, op))
            params[f"{name}_{op}"] = value
    return tuple(shape), params


def _condition(item: Any, dialect: str, narrowed: bool = False) -> ColumnElement[bool]:
    if isinstance(item, str):
        col = _FILTER_COLUMNS[item]
        if narrowed:  # the search candidates drive the plan (see search.unindexed)
            col = search.unindexed(col)
        return col == bindparam(item)
    name, kind, detail = (*item, None)[:3]
    col = _FILTER_COLUMNS[name]
    if kind == "like":
        # Case-insensitive LIKE. SQLite's own LIKE folds ASCII case only, exactly as the
        # lower(col) LIKE lower(pattern) that ilike() renders there, and is far cheaper.
        like = col.like if dialect == "sqlite" else col.ilike
        plain = or_(*(like(bindparam(f"{name}_like_{i}")) for i in range(detail)))
        if item[3]:  # the search index finds the candidates; the plain LIKE decides
            return and_(search.narrowing(name, detail), plain)
        return plain
    if kind == "prefix":
        clauses: list[ColumnElement[bool]] = []
        for i, bound in enumerate(detail):
            if bound == "any":
                clauses.append(col.is_not(None))
            elif bound == "from":
                clauses.append(col >= bindparam(f"{name}_lo_{i}"))
            else:
                clauses.append(
                    and_(col >= bindparam(f"{name}_lo_{i}"), col < bindparam(f"{name}_hi_{i}"))
                )
        return or_(*clauses)
    compare = {"gte": col.__ge__, "gt": col.__gt__, "lte": col.__le__, "lt": col.__lt__}
    return compare[kind](bindparam(f"{name}_{kind}", type_=col.type))


@lru_cache(maxsize=512)
def _statements(
    shape: Shape, order_by: tuple[tuple[str, bool], ...], dialect: str
) -> tuple[Hot, Hot]:
    """The (count, page) statements for a filter shape and ordering, built once."""
    narrowed = dialect == "sqlite" and any(
        not isinstance(item, str)
        and item[1] == "like"
        and item[3]
        and item[0] != "dag_display_name"
        for item in shape
    )
    where = [_condition(item, dialect, narrowed) for item in shape]
    if not narrowed and "dag_id" in shape and "run_id" in shape:
        # One DAG run: compare its key, looked up once, instead of run_id. The order's
        # tie-breaker (the run's key) is then fixed by the filter, and the rows come
        # from the primary key (dag_run_id, task_id, map_index, key) in order: no sort
        # of the page, and the run's row found once (a page of 50 on SQLite: 125
        # against 150-220 us, measured with the driver alone).
        where[shape.index("run_id")] = xcom.c.dag_run_id == _RUN_KEY
    names = {item if isinstance(item, str) else item[0] for item in shape}
    if all(isinstance(item, str) and item in _COUNTED for item in shape):
        # Filtered at most by dag_id and run_id equality: add up the runs' kept counts
        # instead of counting XCom rows (a scan of every row for "~/~/~").
        run_where = [_RUN_COLUMNS[name] == bindparam(name) for name in shape]
        count = select(func.coalesce(func.sum(dag_run.c.xcom_count), 0)).where(*run_where)
    else:
        count = select(func.count()).select_from(xcom)
        if names & set(_DATED):
            count = count.join(dag_run, dag_run.c.id == xcom.c.dag_run_id)
        if "dag_display_name" in names:
            count = count.join(dag, dag.c.dag_id == xcom.c.dag_id)
        count = count.where(*where)
    ordering = [
        ORDERABLE[name].desc() if desc else ORDERABLE[name].asc() for name, desc in order_by
    ]
    first_desc = order_by[0][1] if order_by else False
    ordering.append(xcom.c.dag_run_id.desc() if first_desc else xcom.c.dag_run_id.asc())
    page = (
        _joined(*_ENTRY_COLUMNS)
        .where(*where)
        .order_by(*ordering)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return Hot(count), Hot(page)


def _narrow(conn: Connection, f: ListFilter, shape: Shape, params: dict[str, Any]) -> Shape:
    """Bind the search index's candidates of each indexed pattern filter (into
    ``params``); a filter with too many is marked for the plain scan instead."""
    narrowed: list[Any] = []
    for item in shape:
        if isinstance(item, tuple) and item[1] == "like" and item[3]:
            name = item[0]
            found = search.candidates(conn, name, getattr(f, f"{name}_like"))
            if found is None:
                item = (*item[:3], False)
            else:
                params[f"{name}_rowids"] = found
        narrowed.append(item)
    return tuple(narrowed)


def _listed(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Page rows (the :data:`_ENTRY_COLUMNS`) as SQLite's driver gives them, as the
    entries the API writes: dicts of :data:`ENTRY_FIELDS`, their timestamps as ISO text
    (:func:`~xcomkit.store.schema.sqlite_iso`), a DAG run's two dates converted once.

    Converting column by column to datetimes, then building each answer's dict from an
    Entry, was about a third of a list's CPU; with this (and the run's key, see
    :func:`_statements`) a list of 50 takes 0.78 of the instructions it took
    (docs/performance.md, "Group commit and one-pass pages").
    """
    run_dates: dict[tuple[Any, Any], tuple[Any, Any]] = {}
    entries = []
    for (
        key,
        timestamp,
        logical_date,
        map_index,
        task_id,
        dag_id,
        run_id,
        dag_name,
        task_name,
        after,
    ) in rows:
        dates = run_dates.get((logical_date, after))
        if dates is None:
            dates = run_dates[logical_date, after] = (sqlite_iso(logical_date), sqlite_iso(after))
        entries.append(
            {
                "key": key,
                "timestamp": sqlite_iso(timestamp),
                "logical_date": dates[0],
                "map_index": map_index,
                "task_id": task_id,
                "dag_id": dag_id,
                "run_id": run_id,
                "dag_display_name": dag_name,
                "task_display_name": task_name,
                "run_after": dates[1],
            }
        )
    return entries


def insert_params(
    address: XComAddress,
    dag_run_pk: int,
    value_json: str | None,
    value_ref: str | None,
    timestamp: datetime,
) -> dict[str, Any]:
    """The bound values of an XCom row's INSERT (the columns of ``INSERT``)."""
    return {
        "dag_run_id": dag_run_pk,
        "dag_id": address.dag_id,
        "run_id": address.dag_run_id,
        "task_id": address.task_id,
        "key": address.key,
        "map_index": address.map_index,
        "value": value_json,
        "value_ref": value_ref,
        "timestamp": timestamp,
    }


class XComStore:
    """The XCom table, through one connection (a :class:`~xcomkit.store.database.Database`
    hands out one per thread). Statements are built once at import; a call binds values.

    Args:
        conn: the connection; writes must run inside its transaction.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, address: XComAddress) -> Entry | None:
        """One XCom (with ``value`` and ``value_ref``), or None. One indexed query."""
        row = _GET_ONE.first(self.conn, identity_params(address))
        return None if row is None else Entry._make(row)

    def create_target(self, dag_id: str, run_id: str, task_id: str) -> CreateTarget | None:
        """``(dag_display_name, task_display_name, id, logical_date, run_after)`` for a create.

        None when the DAG does not exist; ``task_display_name`` is None when the task is
        not in the DAG, ``id`` (the DAG run's key) None when the DAG run does not exist.
        """
        params = {"the_dag_id": dag_id, "the_run_id": run_id, "the_task_id": task_id}
        row = _CREATE_TARGET.first(self.conn, params)
        return None if row is None else CreateTarget._make(row)

    def page(
        self,
        f: ListFilter,
        *,
        order_by: Sequence[tuple[str, bool]],
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of XComs and the number of all matching XComs.

        Each XCom is a dict of :data:`ENTRY_FIELDS` (no value), ready to encode: its
        timestamps are aware UTC datetimes, or on SQLite the ISO 8601 text the API
        writes for them (the same JSON either way).

        ``order_by`` holds (name from :data:`ORDERABLE`, descending) pairs; the dag run's
        primary key is appended as the final tie-breaker, as Airflow appends the XCom
        table's first primary-key column. Two queries: the count, then the page (none
        when the page lies past the count); on SQLite, a pattern filter the search index
        serves adds its candidate lookups first (one query per literal run looked up, see
        :func:`xcomkit.store.search.candidates`; the first on a connection also checks
        that the index exists).
        """
        patterned = any(getattr(f, f"{name}_like") is not None for name in _PATTERNED)
        searchable = patterned and search.ready(self.conn)
        shape, params = _split(f, searchable)
        if searchable:
            shape = _narrow(self.conn, f, shape, params)
        count, page = _statements(shape, tuple(order_by), self.conn.dialect.name)
        # A list's total is the same while no write happened (see Hot.scalar_unchanged):
        # repeated lists over a large store skip the count.
        total = count.scalar_unchanged(self.conn, params)
        if limit == 0 or offset >= total:
            return [], total
        rows = page.rows(self.conn, {**params, "limit": limit, "offset": offset}, _listed)
        if rows and not isinstance(rows[0], dict):  # SQLAlchemy's rows (PostgreSQL)
            rows = [dict(zip(ENTRY_FIELDS, row, strict=True)) for row in rows]
        return rows, total

    def insert(
        self,
        address: XComAddress,
        *,
        dag_run_pk: int,
        value_json: str | None,
        timestamp: datetime,
        value_ref: str | None = None,
    ) -> None:
        """Insert one XCom into the DAG run whose key is ``dag_run_pk``, and count it in
        the run's kept ``xcom_count``. Two statements. ``value_json`` None and
        ``value_ref`` set: the value is kept in an object (:mod:`xcomkit.store.objects`).

        Raises:
            XComExists: the (dag run, task_id, map_index, key) is taken, also when a
                concurrent writer took it first. The transaction is then unusable (no
                savepoint is spent on the common case): the caller must roll it back.
        """
        try:
            INSERT.rowcount(
                self.conn, insert_params(address, dag_run_pk, value_json, value_ref, timestamp)
            )
        except IntegrityError as exc:
            raise XComExists(address.key) from exc
        _COUNT_UP.rowcount(self.conn, {"the_run_pk": dag_run_pk})

    def update(
        self,
        address: XComAddress,
        *,
        value_json: str | None,
        timestamp: datetime,
        value_ref: str | None = None,
    ) -> int:
        """Replace an XCom's value (``value_json``, or an object's name in ``value_ref``)
        and timestamp; the number of rows changed (0 or 1)."""
        params = identity_params(address)
        params.update(new_value=value_json, new_value_ref=value_ref, new_timestamp=timestamp)
        return UPDATE.rowcount(self.conn, params)

    def value_ref(self, address: XComAddress) -> str | None:
        """The object name an XCom's value is kept under (None: in its row, or no such
        XCom), locking the row on PostgreSQL until the transaction ends (an update or
        delete reads it before it changes the row, so that no concurrent writer frees
        the same object)."""
        ref: str | None = _VALUE_REF.scalar(self.conn, identity_params(address))
        return ref

    def value_refs_of_run(self, dag_run_pk: int) -> list[str]:
        """The object names of a DAG run's XComs kept in object storage."""
        rows = self.conn.execute(
            select(xcom.c.value_ref).where(
                xcom.c.dag_run_id == dag_run_pk, xcom.c.value_ref.is_not(None)
            )
        )
        return [ref for (ref,) in rows]

    def delete(self, address: XComAddress) -> int:
        """Delete one XCom and uncount it; the number of rows deleted (0 or 1)."""
        params = identity_params(address)
        deleted = _DELETE.rowcount(self.conn, params)
        if deleted:
            _COUNT_DOWN.rowcount(self.conn, params)
        return deleted

    def recount(self) -> None:
        """Set every DAG run's kept ``xcom_count`` from the XCom rows (``xcomkit db
        recount``: after XCom rows were written without :meth:`insert`, e.g. by plain SQL)."""
        actual = (
            select(func.count())
            .select_from(xcom)
            .where(xcom.c.dag_run_id == dag_run.c.id)
            .scalar_subquery()
        )
        self.conn.execute(update(dag_run).values(xcom_count=actual))
