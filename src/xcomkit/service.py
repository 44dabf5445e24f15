"""Service rules: what each operation checks and does, independent of HTTP.

Each function takes the :class:`~sqlalchemy.Engine`, runs one transaction and either
returns rows or raises one of the errors below, which carry Airflow's ``detail`` text.
The HTTP layer maps them to status codes; nothing here knows about requests.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, Row, text

from xcomkit import values
from xcomkit.store import dag_runs, logins, registry, xcoms
from xcomkit.store import users as user_store
from xcomkit.store.objects import StoredValue

log = logging.getLogger("xcomkit.service")


class ServiceError(Exception):
    """Base of the errors an operation reports to its caller; ``detail`` is user-facing."""

    status_code = 400

    def __init__(self, detail: Any):
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServiceError):
    """The request cannot be carried out as asked (HTTP 400)."""

    status_code = 400


class NotFound(ServiceError):
    """A DAG, task, DAG run or XCom does not exist (HTTP 404)."""

    status_code = 404


class TooManyAttempts(ServiceError):
    """Too many failed logins for this user or client in the window (HTTP 429).

    ``retry_after`` is the number of whole seconds until the window reopens.
    """

    status_code = 429

    def __init__(self, detail: Any, retry_after: int):
        super().__init__(detail)
        self.retry_after = retry_after


class Conflict(ServiceError):
    """The thing to create exists already (HTTP 409)."""

    status_code = 409


class ValueTooLarge(ServiceError):
    """An XCom value's stored JSON is longer than the server's ``max_value_bytes``
    (HTTP 413; beyond Airflow, which has no such limit)."""

    status_code = 413


def _write(engine: Engine) -> Any:
    # SQLite: take the write lock at BEGIN so concurrent writers queue on the busy
    # timeout instead of failing when a read transaction tries to upgrade.
    return engine.execution_options(sqlite_begin="IMMEDIATE").begin()


def _read(engine: Engine) -> Connection:
    # A read is one query (two for a list page: count, then rows). Autocommit spares
    # BEGIN and ROLLBACK: two round trips per request on a networked database.
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- XComs


def get_xcom(
    engine: Engine, dag_id: str, dag_run_id: str, task_id: str, key: str, map_index: int
) -> Row[Any]:
    """One XCom with its stored JSON text in ``value``.

    Raises:
        NotFound: no such XCom (Airflow answers only "key not found", whatever part
            of the address is wrong).
    """
    with _read(engine) as conn:
        row = xcoms.get_entry(conn, dag_id, dag_run_id, task_id, key, map_index)
    if row is None:
        raise NotFound(f"XCom entry with key: `{key}` not found")
    return row


def list_xcoms(
    engine: Engine,
    f: xcoms.ListFilter,
    *,
    order_by: Sequence[tuple[str, bool]],
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """A page of XComs and the total count; see :func:`xcomkit.store.xcoms.list_entries`."""
    with _read(engine) as conn:
        return xcoms.list_entries(conn, f, order_by=order_by, limit=limit, offset=offset)


def create_xcom(
    engine: Engine,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    key: str,
    value: Any,
    map_index: int,
    *,
    stored: StoredValue | None = None,
) -> xcoms.Entry:
    """Create an XCom and return it as :func:`get_xcom` would.

    One query checks the target, one inserts; the answer is built from what is known.
    ``value`` must already have passed :func:`xcomkit.values.check_value`. ``stored``,
    when given, is ``value`` already encoded (and perhaps put in object storage, see
    :mod:`xcomkit.store.objects`); ``value`` is then not looked at.

    Raises:
        NotFound: the DAG, the task in it, or the DAG run does not exist (checked in
            that order, as Airflow does).
        Conflict: the key exists for that task instance and map_index (also when a
            concurrent request created it first). Nothing is written.
    """
    stored = stored or StoredValue(values.encode(value))
    value_json = stored.json
    timestamp = _now()
    try:
        with _write(engine) as conn:
            target = xcoms.create_target(conn, dag_id, dag_run_id, task_id)
            if target is None:
                raise NotFound(f"The Dag with ID: `{dag_id}` was not found")
            if target.task_display_name is None:
                raise NotFound(f"Task with ID: `{task_id}` not found in dag: `{dag_id}`")
            if target.id is None:
                raise NotFound(f"Dag Run with ID: `{dag_run_id}` not found for dag: `{dag_id}`")
            xcoms.insert_entry(
                conn,
                dag_run_pk=target.id,
                dag_id=dag_id,
                run_id=dag_run_id,
                task_id=task_id,
                key=key,
                map_index=map_index,
                value_json=None if stored.ref else value_json,
                value_ref=stored.ref,
                timestamp=timestamp,
            )
    except xcoms.XComExists:
        raise Conflict(
            f"The XCom with key: `{key}` with mentioned task instance already exists."
        ) from None
    return xcoms.Entry(
        key=key,
        timestamp=timestamp,
        logical_date=target.logical_date,
        map_index=map_index,
        task_id=task_id,
        dag_id=dag_id,
        run_id=dag_run_id,
        dag_display_name=target.dag_display_name,
        task_display_name=target.task_display_name,
        run_after=target.run_after,
        value=value_json,
    )


def update_xcom(
    engine: Engine,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    key: str,
    value: Any,
    map_index: int,
    *,
    stored: StoredValue | None = None,
    freed: list[str] | None = None,
) -> xcoms.Entry:
    """Replace an XCom's value (its timestamp becomes now, as Airflow re-inserts it).

    ``stored``: as for :func:`create_xcom`. ``freed``: if given, the name of the object
    that held the old value (if any) is appended once the change has committed; the
    caller removes it.

    Raises:
        NotFound: no XCom with that key for the task instance and map_index.
    """
    stored = stored or StoredValue(values.encode(value))
    with _write(engine) as conn:
        old_ref = xcoms.value_ref(conn, dag_id, dag_run_id, task_id, key, map_index)
        changed = xcoms.update_entry(
            conn,
            dag_id=dag_id,
            run_id=dag_run_id,
            task_id=task_id,
            key=key,
            map_index=map_index,
            value_json=None if stored.ref else stored.json,
            value_ref=stored.ref,
            timestamp=_now(),
        )
        if not changed:
            raise NotFound(
                f"The XCom with key: `{key}` with mentioned task instance doesn't exist."
            )
        row = xcoms.get_entry(conn, dag_id, dag_run_id, task_id, key, map_index)
    assert row is not None
    if old_ref is not None and freed is not None:
        freed.append(old_ref)
    return xcoms.Entry._make((*row[: len(xcoms.ENTRY_FIELDS)], stored.json, None))


def delete_xcom(
    engine: Engine,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    key: str,
    map_index: int,
    *,
    freed: list[str] | None = None,
) -> None:
    """Delete one XCom. ``freed``: as for :func:`update_xcom`.

    Raises:
        NotFound: no XCom with that key for the task instance and map_index.
    """
    with _write(engine) as conn:
        old_ref = xcoms.value_ref(conn, dag_id, dag_run_id, task_id, key, map_index)
        deleted = xcoms.delete_entry(
            conn, dag_id=dag_id, run_id=dag_run_id, task_id=task_id, key=key, map_index=map_index
        )
    if not deleted:
        raise NotFound(f"The XCom with key: `{key}` with mentioned task instance doesn't exist.")
    if old_ref is not None and freed is not None:
        freed.append(old_ref)


# ------------------------------------------------------------------------ DAG runs


def get_dag_run(engine: Engine, dag_id: str, dag_run_id: str) -> Row[Any]:
    """A DAG run with its DAG's display name.

    Raises:
        NotFound: Airflow's message for a missing run.
    """
    with _read(engine) as conn:
        row = registry.get_dag_run(conn, dag_id, dag_run_id)
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


def check_dag(engine: Engine, dag_id: str) -> None:
    """Raises:
    NotFound: ``dag_id`` is not ``~`` and no such DAG exists (Airflow's message)."""
    if dag_id == "~":
        return
    with _read(engine) as conn:
        if registry.get_dag(conn, dag_id) is None:
            raise NotFound(f"The Dag with ID: `{dag_id}` was not found")


def list_dag_runs(
    engine: Engine,
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
    with _read(engine) as conn:
        if not keyset:
            total = dag_runs.count(conn, f, now)
            if limit == 0 or offset >= total:  # also keeps huge offsets away from SQL
                return DagRunPage([], total)
            rows = dag_runs.list_page(conn, f, now, order_by=order_by, limit=limit, offset=offset)
            return DagRunPage(rows, total)
        backward = cursor is not None and cursor[1]
        order = [(col, desc != backward) for col, desc in order_by]
        rows = dag_runs.list_page(
            conn, f, now, order_by=order, limit=limit + 1, after=cursor[0] if cursor else None
        )
        total = dag_runs.count(conn, f, now, cap=dag_runs.EXACT_COUNT_LIMIT)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
        return DagRunPage(rows, total, has_next=True, has_prev=has_more)
    return DagRunPage(rows, total, has_next=has_more, has_prev=cursor is not None)


def patch_dag_run(
    engine: Engine, dag_id: str, dag_run_id: str, changes: dict[str, Any]
) -> Row[Any]:
    """Change a run's ``note`` and/or ``state`` (the keys present in ``changes``), as
    Airflow's PATCH does: an empty note removes it; a null state changes nothing; a
    state change moves queued_at, start_date and end_date as Airflow's ``set_state``.
    ``updated_at`` moves only when a ``dag_run`` column changes (Airflow keeps the note
    in another table).

    Raises:
        NotFound: no such run.
    """
    now = _now()
    with _write(engine) as conn:
        row = dag_runs.get_for_update(conn, dag_id, dag_run_id)
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
            dag_runs.update_run(conn, row.id, values)
        updated = registry.get_dag_run(conn, dag_id, dag_run_id)
    assert updated is not None
    return updated


def delete_dag_run(
    engine: Engine, dag_id: str, dag_run_id: str, *, freed: list[str] | None = None
) -> None:
    """Delete a run and its XComs. ``freed``: as for :func:`update_xcom`, for every
    XCom of the run whose value was in object storage.

    Raises:
        NotFound: no such run.
        Conflict: the run is ``running`` (Airflow deletes queued, success and failed runs).
    """
    with _write(engine) as conn:
        row = dag_runs.get_for_update(conn, dag_id, dag_run_id)
        if row is None:
            raise _not_found_run(dag_id, dag_run_id)
        if row.state not in dag_runs.MUTABLE_STATES:
            raise Conflict(
                f"The DagRun with dag_id: `{dag_id}` and run_id: `{dag_run_id}` "
                f"cannot be deleted in {row.state} state"
            )
        refs = xcoms.value_refs_of_run(conn, row.id) if freed is not None else []
        dag_runs.delete_run(conn, row.id)
    if freed is not None:
        freed.extend(refs)


def trigger_dag_run(
    engine: Engine,
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
    with _write(engine) as conn:
        if registry.get_dag(conn, dag_id) is None:
            raise NotFound(f"Dag with dag_id: '{dag_id}' not found")
        if partition_key is not None:
            raise BadRequest(
                f"Dag '{dag_id}' is not a partitioned Dag and does not accept a partition_key."
            )
        try:
            registry.create_dag_run(
                conn,
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
        row = registry.get_dag_run(conn, dag_id, dag_run_id)
    assert row is not None
    return row


# -------------------------------------------------------------------------- health


def database_is_up(engine: Engine) -> bool:
    """True when the database answers a trivial query; any failure is False."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any database failure means "unhealthy", never an error here
        return False
    return True


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins a user name and a client address may make in ``window``
    seconds before logins for them answer 429 (0 turns that limit off)."""

    per_user: int = 10
    per_client: int = 50
    window: float = 60.0


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str | None = None,
    limits: LoginLimits | None = None,
) -> str | None:
    """The role of the user when ``password`` is right, else None. Slow by design.

    With ``limits``, failures are counted per user name and per ``client`` address in
    the database (shared by every worker and host), and a login for a user or client at
    its limit is refused before the password is checked.

    Raises:
        TooManyAttempts: the user or the client is at its limit of failures.
    """
    from xcomkit.server.auth.passwords import verify_password

    buckets: dict[str, int] = {}
    if limits is not None:
        if limits.per_user:
            buckets[f"user:{username}"] = limits.per_user
        if limits.per_client and client:
            buckets[f"client:{client}"] = limits.per_client
    now = time.time()
    with _read(engine) as conn:
        if buckets and limits is not None:
            wait = logins.seconds_blocked(conn, buckets, window=limits.window, now=now)
            if wait is not None:
                raise TooManyAttempts(
                    "Too many failed logins; retry later.", retry_after=max(1, math.ceil(wait))
                )
        row = user_store.get_user(conn, username)
    ok, new_hash = verify_password(row.password_hash if row else None, password)
    if not ok or row is None:
        if buckets and limits is not None:
            with _write(engine) as conn:
                logins.record_failure(conn, buckets, window=limits.window, now=time.time())
        return None
    if new_hash:
        with _write(engine) as conn:
            user_store.set_password_hash(conn, username, new_hash)
    return str(row.role)
