"""The rules of xcomkit's bulk export and import (beyond Airflow; docs/server.md).

An import writes a batch of XComs in one transaction and answers one outcome per
entry, in the batch's order:

``created``  the XCom did not exist and was created (as ``POST .../xcomEntries``);
``skipped``  it exists, and either ``overwrite`` is off or its value is already equal
             (same JSON, same JSON types: ``1`` is not ``1.0`` nor ``true``);
``updated``  it exists with another value and ``overwrite`` is on (as ``PATCH``);
``failed``   it cannot be written (a domain error says why, with Airflow's wording
             where the single-XCom endpoints would give the same answer);
``pending``  (internal) it exists with its value in object storage and ``overwrite``
             is on: the caller reads the object, compares, and updates it itself
             (object I/O never runs inside a database transaction).

An entry whose address appears earlier in the same batch sees that earlier entry's
value, as if the entries had been sent one after the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Row

from xcomkit import values
from xcomkit.address import XComAddress
from xcomkit.errors import NotFound, ServiceError
from xcomkit.store.bulk import BulkXComStore, ExportCursor
from xcomkit.store.database import Database
from xcomkit.store.objects import StoredValue
from xcomkit.store.xcoms import CreateTarget, XComExists, XComStore

#: Attempts at a batch whose insert met a key a concurrent writer had just created
#: (PostgreSQL; SQLite writers queue): the next attempt sees it and skips or updates it.
ATTEMPTS = 3


@dataclass
class ImportEntry:
    """One XCom to import: its address, its checked value and that value ready for its
    row (``stored``, see :class:`~xcomkit.store.objects.StoredValue`)."""

    address: XComAddress
    value: Any
    stored: StoredValue


@dataclass
class Outcome:
    """What became of one entry: ``outcome`` (see the module docstring), and for a
    failure the domain ``error`` that says why. ``old_ref`` names the object holding the
    current value of a ``pending`` entry."""

    outcome: str
    error: ServiceError | None = None
    old_ref: str | None = None


def _finite(value: Any) -> Any:
    """``value`` as a client reads it back: NaN and Infinity are answered as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def equal_to_stored(text: str | None, entry: ImportEntry) -> bool:
    """True when the stored JSON ``text`` holds the value of ``entry``: the same JSON
    text, or a value that reads back equal with the same JSON types (see
    :func:`xcomkit.values.same_json`)."""
    if text == entry.stored.json:
        return True
    old = _finite(values.decode(text))
    return bool(old == entry.value) and values.same_json(old, entry.value)


def import_xcoms(
    db: Database,
    entries: Sequence[ImportEntry | Outcome],
    *,
    overwrite: bool,
    kept_refs: set[str] | None = None,
) -> list[Outcome]:
    """Write a batch in one transaction; one :class:`Outcome` per entry, in order.

    ``entries`` items that are already an :class:`Outcome` (an entry refused before,
    e.g. by validation) are answered as they are. Per entry the target is checked as
    :func:`xcomkit.service.xcoms.create_xcom` checks it (:class:`NotFound` for a missing
    DAG, task or DAG run, in that order); at most one query per distinct (dag_id, run_id, task_id),
    one per entry for its current value, then one ``executemany`` for the creates, one
    for the updates and one count per DAG run.

    ``kept_refs``: if given, the object names of the values written to rows are added
    once the transaction has committed (the objects of other entries are no one's).
    """
    for attempt in range(ATTEMPTS):
        try:
            return _import_once(db, entries, overwrite, kept_refs)
        except XComExists:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@dataclass
class _Write:
    """A row this batch will insert or update; a later entry at the same address
    changes it."""

    address: XComAddress
    run_pk: int
    stored: StoredValue

    def row(self) -> tuple[str | None, str | None]:
        """``(value_json, value_ref)``: the text goes in the row unless it is in an object."""
        stored = self.stored
        return (stored.json if stored.ref is None else None), stored.ref


def _targeted(
    store: XComStore, entries: Sequence[ImportEntry | Outcome], settle: Callable[[Outcome], None]
) -> Iterator[tuple[ImportEntry, int]]:
    """The entries whose DAG, task and DAG run exist, each with its DAG run's key; the
    others are settled in order as they come (an entry already an Outcome as is, one
    with a missing target as its refusal). Each task instance's target is looked up
    once per batch."""
    targets: dict[tuple[str, str, str], CreateTarget | None] = {}
    for entry in entries:
        if isinstance(entry, Outcome):
            settle(entry)
            continue
        a = entry.address
        where = (a.dag_id, a.dag_run_id, a.task_id)
        if where not in targets:
            targets[where] = store.create_target(*where)
        target = targets[where]
        refused = _refusal(target, a)
        if refused is not None:
            settle(refused)
            continue
        assert target is not None and target.id is not None
        yield entry, target.id


def _import_once(
    db: Database,
    entries: Sequence[ImportEntry | Outcome],
    overwrite: bool,
    kept_refs: set[str] | None,
) -> list[Outcome]:
    timestamp = datetime.now(timezone.utc)
    results: list[Outcome] = []
    with db.writing() as conn:
        store, bulk = XComStore(conn), BulkXComStore(conn)
        if not overwrite and bulk.inserts_new_only:
            return _create_missing(store, bulk, entries, timestamp, kept_refs)
        inserts: dict[XComAddress, _Write] = {}
        updates: dict[XComAddress, _Write] = {}
        for entry, run_pk in _targeted(store, entries, results.append):
            a = entry.address
            earlier = inserts.get(a) or updates.get(a)
            if earlier is not None:  # written earlier in this batch
                if not overwrite or equal_to_stored(earlier.stored.json, entry):
                    results.append(Outcome("skipped"))
                else:
                    earlier.stored = entry.stored
                    results.append(Outcome("updated"))
                continue
            current = bulk.existing(a)
            if current is None:
                inserts[a] = _Write(a, run_pk, entry.stored)
                results.append(Outcome("created"))
            elif not overwrite:
                results.append(Outcome("skipped"))
            elif current.value_ref is not None:
                results.append(Outcome("pending", old_ref=current.value_ref))
            elif equal_to_stored(current.value, entry):
                results.append(Outcome("skipped"))
            else:
                updates[a] = _Write(a, run_pk, entry.stored)
                results.append(Outcome("updated"))
        bulk.insert_many([(w.address, w.run_pk, *w.row()) for w in inserts.values()], timestamp)
        bulk.update_many([(w.address, *w.row()) for w in updates.values()], timestamp)
    if kept_refs is not None:
        written = (*inserts.values(), *updates.values())
        kept_refs.update(w.stored.ref for w in written if w.stored.ref is not None)
    return results


def _create_missing(
    store: XComStore,
    bulk: BulkXComStore,
    entries: Sequence[ImportEntry | Outcome],
    timestamp: datetime,
    kept_refs: set[str] | None,
) -> list[Outcome]:
    """Without ``overwrite``: create the XComs that do not exist, in one multi-row
    insert that leaves existing ones alone (no lookup per entry); the rest are skipped.
    Runs inside the caller's transaction."""
    results: list[Outcome | None] = []
    firsts: dict[XComAddress, tuple[int, int, ImportEntry]] = {}
    for entry, run_pk in _targeted(store, entries, results.append):
        a = entry.address
        if a in firsts:  # the same address again: exists by then
            results.append(Outcome("skipped"))
        else:
            firsts[a] = (len(results), run_pk, entry)
            results.append(None)  # created or skipped: known once inserted
    written = bulk.insert_new(
        [(a, pk, *_Write(a, pk, entry.stored).row()) for a, (_, pk, entry) in firsts.items()],
        timestamp,
    )
    for a, (i, pk, entry) in firsts.items():
        if (pk, a.task_id, a.map_index, a.key) in written:
            results[i] = Outcome("created")
            if kept_refs is not None and entry.stored.ref is not None:
                kept_refs.add(entry.stored.ref)
        else:
            results[i] = Outcome("skipped")
    return [r for r in results if r is not None]


def _refusal(target: CreateTarget | None, a: XComAddress) -> Outcome | None:
    """The failure of a create into a missing DAG, task or DAG run (Airflow's order and
    wording), or None when the target exists."""
    if target is None:
        return Outcome("failed", NotFound(f"The Dag with ID: `{a.dag_id}` was not found"))
    if target.task_display_name is None:
        return Outcome(
            "failed", NotFound(f"Task with ID: `{a.task_id}` not found in dag: `{a.dag_id}`")
        )
    if target.id is None:
        return Outcome(
            "failed",
            NotFound(f"Dag Run with ID: `{a.dag_run_id}` not found for dag: `{a.dag_id}`"),
        )
    return None


def export_page(
    db: Database,
    *,
    dag_id: str | None,
    run_id: str | None,
    task_id: str | None,
    after: ExportCursor | None,
    limit: int,
) -> list[Row[Any]]:
    """A page of an export; see :meth:`BulkXComStore.export_page`."""
    with db.reading() as conn:
        return BulkXComStore(conn).export_page(
            dag_id=dag_id, run_id=run_id, task_id=task_id, after=after, limit=limit
        )
