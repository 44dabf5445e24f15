"""The XCom rules: what each XCom operation checks and does, as Airflow 3.3.2 does it.

Each function takes the :class:`~xcomkit.store.database.Database` (the work lanes hand it
over, see :mod:`xcomkit.server.execution`), runs one statement or one transaction through
an :class:`~xcomkit.store.xcoms.XComStore`, and returns rows or raises a domain error of
:mod:`xcomkit.errors` with Airflow's ``detail`` text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from xcomkit import values
from xcomkit.address import XComAddress
from xcomkit.errors import Conflict, NotFound
from xcomkit.store.database import Database, shares_transactions
from xcomkit.store.objects import StoredValue
from xcomkit.store.xcoms import ENTRY_FIELDS, Entry, ListFilter, XComExists, XComStore


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _missing(address: XComAddress) -> NotFound:
    return NotFound(
        f"The XCom with key: `{address.key}` with mentioned task instance doesn't exist."
    )


def get_xcom(db: Database, address: XComAddress) -> Entry:
    """One XCom with its stored JSON text in ``value``. One query.

    Raises:
        NotFound: no such XCom (Airflow answers only "key not found", whatever part
            of the address is wrong).
    """
    with db.reading() as conn:
        row = XComStore(conn).get(address)
    if row is None:
        raise NotFound(f"XCom entry with key: `{address.key}` not found")
    return row


def list_xcoms(
    db: Database,
    f: ListFilter,
    *,
    order_by: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of XComs (dicts of the response's fields) and the total count; see
    :meth:`XComStore.page`."""
    with db.reading() as conn:
        return XComStore(conn).page(f, order_by=order_by, limit=limit, offset=offset)


@shares_transactions
def create_xcom(
    db: Database, address: XComAddress, value: Any, *, stored: StoredValue | None = None
) -> Entry:
    """Create an XCom and return it as :func:`get_xcom` would.

    One query checks the target, one inserts (and one counts it in its DAG run); the
    answer is built from what is known. ``value`` must already have passed
    :func:`xcomkit.values.check_value`. ``stored``, when given, is ``value`` already
    encoded (and perhaps put in object storage, see :mod:`xcomkit.store.objects`);
    ``value`` is then not looked at.

    Raises:
        NotFound: the DAG, the task in it, or the DAG run does not exist (checked in
            that order, as Airflow does).
        Conflict: the key exists for that task instance and map_index (also when a
            concurrent request created it first). Nothing is written.
    """
    stored = stored or StoredValue(values.encode(value))
    timestamp = _now()
    dag_id, run_id, task_id = address.dag_id, address.dag_run_id, address.task_id
    try:
        with db.writing() as conn:
            store = XComStore(conn)
            target = store.create_target(dag_id, run_id, task_id)
            if target is None:
                raise NotFound(f"The Dag with ID: `{dag_id}` was not found")
            if target.task_display_name is None:
                raise NotFound(f"Task with ID: `{task_id}` not found in dag: `{dag_id}`")
            if target.id is None:
                raise NotFound(f"Dag Run with ID: `{run_id}` not found for dag: `{dag_id}`")
            store.insert(
                address,
                dag_run_pk=target.id,
                value_json=None if stored.ref else stored.json,
                value_ref=stored.ref,
                timestamp=timestamp,
            )
    except XComExists:
        raise Conflict(
            f"The XCom with key: `{address.key}` with mentioned task instance already exists."
        ) from None
    return Entry(
        key=address.key,
        timestamp=timestamp,
        logical_date=target.logical_date,
        map_index=address.map_index,
        task_id=task_id,
        dag_id=dag_id,
        run_id=run_id,
        dag_display_name=target.dag_display_name,
        task_display_name=target.task_display_name,
        run_after=target.run_after,  # type: ignore[arg-type]  # set: the DAG run exists
        value=stored.json,
    )


@shares_transactions
def update_xcom(
    db: Database,
    address: XComAddress,
    value: Any,
    *,
    stored: StoredValue | None = None,
    freed: list[str] | None = None,
) -> Entry:
    """Replace an XCom's value (its timestamp becomes now, as Airflow re-inserts it) and
    return it as :func:`get_xcom` would. Two queries: the update, then the read back
    (three with ``freed``: the old value's object name is read first).

    ``stored``: as for :func:`create_xcom`. ``freed``: if given, the name of the object
    that held the old value (if any) is appended once the change has committed; the
    caller removes it.

    Raises:
        NotFound: no XCom with that key for the task instance and map_index.
    """
    stored = stored or StoredValue(values.encode(value))
    with db.writing() as conn:
        store = XComStore(conn)
        old_ref = store.value_ref(address) if freed is not None else None
        changed = store.update(
            address,
            value_json=None if stored.ref else stored.json,
            value_ref=stored.ref,
            timestamp=_now(),
        )
        if not changed:
            raise _missing(address)
        row = store.get(address)
    assert row is not None
    _free_later(freed, old_ref)
    return Entry._make((*row[: len(ENTRY_FIELDS)], stored.json, None))


def _free_later(freed: list[str] | None, ref: str | None) -> None:
    # Once per object, however often the rule ran: a shared transaction rolled back as
    # a whole runs its rules again (see xcomkit.store.database.shares_transactions).
    if ref is not None and freed is not None and ref not in freed:
        freed.append(ref)


@shares_transactions
def delete_xcom(db: Database, address: XComAddress, *, freed: list[str] | None = None) -> None:
    """Delete one XCom. Two statements: the delete, and its DAG run's count (three with
    ``freed``, as for :func:`update_xcom`).

    Raises:
        NotFound: no XCom with that key for the task instance and map_index.
    """
    with db.writing() as conn:
        store = XComStore(conn)
        old_ref = store.value_ref(address) if freed is not None else None
        deleted = store.delete(address)
    if not deleted:
        raise _missing(address)
    _free_later(freed, old_ref)
