"""Queries for xcomkit's bulk export and import (``/xcomkit/v1``, docs/server.md).

Export walks XComs in the list endpoint's default order (dag_id, task_id, run_id,
map_index, key) by keyset: each page starts after the last address of the one before,
an index walk of ``ix_xcom_ti`` whatever the page's depth. Import reuses the single-XCom
statements of :mod:`xcomkit.store.xcoms` (their SQLAlchemy form), run as one
``executemany`` per kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Executable, Row, Select, bindparam, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from xcomkit.address import XComAddress
from xcomkit.store.schema import dag_run, xcom
from xcomkit.store.xcoms import (
    IDENTITY,
    INSERT,
    UPDATE,
    XComExists,
    identity_params,
    insert_params,
)

#: The columns a page of an export holds, in this order.
EXPORT_FIELDS = ("dag_id", "run_id", "task_id", "map_index", "key", "value", "value_ref")
_ORDER = (xcom.c.dag_id, xcom.c.task_id, xcom.c.run_id, xcom.c.map_index, xcom.c.key)


class ExportCursor(NamedTuple):
    """Where an export page ends: the (dag_id, task_id, run_id, map_index, key) of its
    last XCom; the next page starts after it."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    key: str


def _export_page(dag_id: bool, run_id: bool, task_id: bool, after: bool) -> Any:
    where = []
    if dag_id:
        where.append(xcom.c.dag_id == bindparam("dag_id"))
    if run_id:
        where.append(xcom.c.run_id == bindparam("run_id"))
    if task_id:
        where.append(xcom.c.task_id == bindparam("task_id"))
    if after:
        where.append(
            tuple_(*_ORDER)
            > tuple_(
                bindparam("after_dag_id"),
                bindparam("after_task_id"),
                bindparam("after_run_id"),
                bindparam("after_map_index"),
                bindparam("after_key"),
            )
        )
    columns = [xcom.c[name] for name in EXPORT_FIELDS]
    return select(*columns).where(*where).order_by(*_ORDER).limit(bindparam("limit"))


# Built once per filter shape (16 of them): a page only binds values.
_EXPORT_PAGES = {
    (d, r, t, a): _export_page(d, r, t, a)
    for d in (False, True)
    for r in (False, True)
    for t in (False, True)
    for a in (False, True)
}

# The single-XCom insert and update, through SQLAlchemy (executemany).
_INSERT_MANY = cast(Executable, INSERT.statement)
_UPDATE_MANY = cast(Executable, UPDATE.statement)
_EXISTING: Select[Any] = select(xcom.c.value, xcom.c.value_ref).where(*IDENTITY)
_COUNT_UP_BY = (
    update(dag_run)
    .where(dag_run.c.id == bindparam("the_run_pk"))
    .values(xcom_count=dag_run.c.xcom_count + bindparam("added"))
)


#: An XCom's identity within its table: (dag_run pk, task_id, map_index, key).
Identity = tuple[int, str, int, str]
_IDENTITY_COLUMNS = (xcom.c.dag_run_id, xcom.c.task_id, xcom.c.map_index, xcom.c.key)
#: Dialects whose INSERT can skip taken identities and name those written.
_INSERTS_NEW = ("sqlite", "postgresql")


@cache
def _insert_new(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the identity, for ``dialect``
    (built on first use: a server imports only its own dialect's module)."""
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(xcom).on_conflict_do_nothing().returning(*_IDENTITY_COLUMNS)
    from sqlalchemy.dialects import postgresql

    return postgresql.insert(xcom).on_conflict_do_nothing().returning(*_IDENTITY_COLUMNS)


def _insert_params(
    rows: Sequence[tuple[XComAddress, int, str | None, str | None]], timestamp: datetime
) -> list[dict[str, Any]]:
    return [
        insert_params(address, pk, value_json, value_ref, timestamp)
        for address, pk, value_json, value_ref in rows
    ]


class BulkXComStore:
    """Many XComs at once, through one connection (writes inside its transaction).

    Args:
        conn: the connection.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def export_page(
        self,
        *,
        dag_id: str | None,
        run_id: str | None,
        task_id: str | None,
        after: ExportCursor | None,
        limit: int,
    ) -> list[Row[Any]]:
        """Up to ``limit`` XComs after ``after`` (None: from the first), rows of
        :data:`EXPORT_FIELDS` in export order. ``None`` filters match every value. One
        query, an index walk."""
        statement = _EXPORT_PAGES[
            (dag_id is not None, run_id is not None, task_id is not None, after is not None)
        ]
        params: dict[str, Any] = {"limit": limit}
        if dag_id is not None:
            params["dag_id"] = dag_id
        if run_id is not None:
            params["run_id"] = run_id
        if task_id is not None:
            params["task_id"] = task_id
        if after is not None:
            params.update({f"after_{name}": value for name, value in after._asdict().items()})
        return list(self.conn.execute(statement, params).all())

    def existing(self, address: XComAddress) -> Row[Any] | None:
        """``(value, value_ref)`` of the XCom at ``address``, or None. One indexed query."""
        return self.conn.execute(_EXISTING, identity_params(address)).first()

    def insert_many(
        self, rows: Sequence[tuple[XComAddress, int, str | None, str | None]], timestamp: datetime
    ) -> None:
        """Insert ``(address, dag_run_pk, value_json, value_ref)`` rows (one
        ``executemany``) and count them in their DAG runs' ``xcom_count`` (one statement
        per DAG run).

        Raises:
            XComExists: one of the addresses is taken (a concurrent writer took it
                first); the transaction is then unusable and must be rolled back.
        """
        if not rows:
            return
        params = _insert_params(rows, timestamp)
        try:
            self.conn.execute(_INSERT_MANY, params)
        except IntegrityError as exc:
            raise XComExists("one of a batch") from exc
        self._count([pk for _, pk, _, _ in rows])

    def _count(self, run_pks: Sequence[int]) -> None:
        """Add the XComs inserted into each DAG run (one pk per XCom) to its count."""
        added: dict[int, int] = {}
        for pk in run_pks:
            added[pk] = added.get(pk, 0) + 1
        if added:
            self.conn.execute(
                _COUNT_UP_BY, [{"the_run_pk": pk, "added": n} for pk, n in added.items()]
            )

    @property
    def inserts_new_only(self) -> bool:
        """True when :meth:`insert_new` can be used: SQLite 3.35+ or PostgreSQL (an
        ``INSERT ... ON CONFLICT DO NOTHING RETURNING``)."""
        return self.conn.dialect.name in _INSERTS_NEW and bool(self.conn.dialect.insert_returning)

    def insert_new(
        self, rows: Sequence[tuple[XComAddress, int, str | None, str | None]], timestamp: datetime
    ) -> set[Identity]:
        """Insert those of ``(address, dag_run_pk, value_json, value_ref)`` rows whose
        XCom does not exist (the others are left as they are) and count them in their DAG
        runs; return the identities inserted. The addresses must be distinct. One
        multi-row ``INSERT`` per 1,000 rows, and one count per DAG run."""
        if not rows:
            return set()
        statement = _insert_new(self.conn.dialect.name)
        written = self.conn.execute(statement, _insert_params(rows, timestamp)).all()
        self._count([pk for pk, _, _, _ in written])
        return {(pk, task_id, map_index, key) for pk, task_id, map_index, key in written}

    def update_many(
        self, rows: Sequence[tuple[XComAddress, str | None, str | None]], timestamp: datetime
    ) -> None:
        """Replace the value (and timestamp) of ``(address, value_json, value_ref)`` rows,
        which exist: one ``executemany``."""
        if not rows:
            return
        params = []
        for address, value_json, value_ref in rows:
            p = identity_params(address)
            p.update(new_value=value_json, new_value_ref=value_ref, new_timestamp=timestamp)
            params.append(p)
        self.conn.execute(_UPDATE_MANY, params)
