"""xcomkit's bulk XCom endpoints, outside Airflow's ``/api/v2`` (docs/server.md, bulk section).

Airflow 3.3.2 offers one XCom per request; ``xcomkit xcom export`` / ``import`` use
these when the server is xcomkit (``GET /xcomkit/v1`` answers ``"server": "xcomkit"``):

``GET /xcomkit/v1``
    what this server offers (``server``, ``version``, ``import_max_entries``,
    ``max_body_bytes``): the CLI's probe. Any authenticated caller.
``GET /xcomkit/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/export``
    every matching XCom with its value, as NDJSON (``~`` matches every dag_id,
    dag_run_id or task_id), in the list endpoint's default order, streamed a page at a
    time. Any authenticated caller (viewers too).
``POST /xcomkit/v1/xcomEntries/import``
    up to :data:`IMPORT_MAX_ENTRIES` XComs in one transaction, one outcome per entry.
    Writers only.

Values follow the rules of ``POST``/``PATCH .../xcomEntries`` (the same validators,
``max_value_bytes``, object storage through :mod:`xcomkit.server.offload`), database
work runs in the work lanes under the request's deadline, and every entry of an import
writes one audit record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, Field, ValidationError, field_validator
from sqlalchemy import Row

import xcomkit
from xcomkit import values
from xcomkit.address import WILDCARD, XComAddress
from xcomkit.errors import NotFound, ServiceError, ValueTooLarge
from xcomkit.server import audit, errors, offload
from xcomkit.server.deps import Reader, ServerContext, Writer
from xcomkit.server.encoding import dumps, json_response
from xcomkit.server.execution import Unavailable
from xcomkit.server.models import StrictModel, addressable_key, checked_value
from xcomkit.server.routing import ResourceRouter
from xcomkit.service import bulk as rules
from xcomkit.service import xcoms as xcom_rules
from xcomkit.store.bulk import ExportCursor
from xcomkit.store.objects import ObjectMissing, ObjectStoreError, StoredValue
from xcomkit.store.xcoms import ListFilter

log = logging.getLogger("xcomkit.server")

router = ResourceRouter(prefix="/xcomkit/v1", tags=["xcomkit bulk"])

#: Most entries one import request may hold (more: 413).
IMPORT_MAX_ENTRIES = 1000
#: XComs read from the database per export page (the memory an export holds at once:
#: this many rows; values kept in object storage are read one at a time).
EXPORT_PAGE = 500
#: Export pages whose values hold more characters than this are encoded off the loop.
ENCODE_INLINE_CHARS = 256 * 1024
#: The media type of an export.
NDJSON = "application/x-ndjson"


class BulkXComEntry(StrictModel):
    """One entry of an import: the whole address and the value, the fields of an
    export line. ``key``, ``map_index`` and ``value`` are checked as the body of
    ``POST .../xcomEntries`` is."""

    dag_id: Annotated[str, Field(min_length=1)]
    run_id: Annotated[str, Field(min_length=1)]
    task_id: Annotated[str, Field(min_length=1)]
    key: Annotated[
        str, Field(min_length=1, max_length=values.MAX_KEY_LENGTH), AfterValidator(addressable_key)
    ]
    map_index: int = Field(default=-1, ge=-1, le=values.MAX_MAP_INDEX)
    value: Any

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: Any) -> Any:
        return checked_value(value)


@router.get("")
async def get_server_info(caller: Reader) -> Response:
    """What this server is and offers: ``{"server": "xcomkit", "version",
    "import_max_entries", "max_body_bytes"}``. A real Airflow answers 404 here."""
    return json_response(
        {
            "server": "xcomkit",
            "version": xcomkit.__version__,
            "import_max_entries": IMPORT_MAX_ENTRIES,
            "max_body_bytes": caller.ctx.settings.max_body_bytes,
        }
    )


# -- export ------------------------------------------------------------------------------


@router.get(
    "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/export",
    response_class=StreamingResponse,
)
async def export_xcom_entries(
    caller: Reader, dag_id: str, dag_run_id: str, task_id: str
) -> Response:
    """Every matching XCom as one JSON line ``{"dag_id", "run_id", "task_id",
    "map_index", "key", "value"}`` (the value as a plain ``GET`` answers it: NaN and
    Infinity as null, big integers exact), ordered by (dag_id, task_id, run_id,
    map_index, key). ``X-Total-Entries`` holds the count when the export began.

    The count and the first page are read before the answer starts, so their failures
    are a status (503); a later page that fails ends the stream with one line
    ``{"error": detail}``.
    """
    ctx = caller.ctx
    where: dict[str, Any] = {
        "dag_id": None if dag_id == WILDCARD else dag_id,
        "run_id": None if dag_run_id == WILDCARD else dag_run_id,
        "task_id": None if task_id == WILDCARD else task_id,
    }
    _, total = await ctx.work.scan(
        xcom_rules.list_xcoms, ListFilter(**where), order_by=(), limit=0, offset=0
    )
    first = await ctx.work.scan(rules.export_page, **where, after=None, limit=EXPORT_PAGE)

    async def lines() -> AsyncIterator[bytes]:
        page = first
        while True:
            try:
                async for chunk in _encoded(ctx, page):
                    yield chunk
                if len(page) < EXPORT_PAGE:
                    return
                last = page[-1]
                after = ExportCursor(
                    last.dag_id, last.task_id, last.run_id, last.map_index, last.key
                )
                page = await ctx.work.scan(
                    rules.export_page, **where, after=after, limit=EXPORT_PAGE
                )
            except (Unavailable, ServiceError) as exc:
                log.warning("export ended early: %s", exc.detail)
                yield dumps({"error": exc.detail}) + b"\n"
                return

    return StreamingResponse(lines(), media_type=NDJSON, headers={"X-Total-Entries": str(total)})


def _line(row: Row[Any], text: str | None) -> bytes:
    return (
        dumps(
            {
                "dag_id": row.dag_id,
                "run_id": row.run_id,
                "task_id": row.task_id,
                "map_index": row.map_index,
                "key": row.key,
                "value": values.as_json(text),
            }
        )
        + b"\n"
    )


def _lines(_db: Any, rows: Sequence[Row[Any]]) -> bytes:
    return b"".join(_line(row, row.value) for row in rows)


async def _encoded(ctx: ServerContext, page: Sequence[Row[Any]]) -> AsyncIterator[bytes]:
    """The lines of a page: runs of rows whose values are in the database in one chunk
    (encoded off the loop when large), each value kept in object storage read and sent
    on its own."""
    start = 0
    for i, row in enumerate([*page, None]):
        if row is not None and row.value_ref is None:
            continue
        run = page[start:i]
        if run:
            size = sum(len(r.value or "") for r in run)
            if size > ENCODE_INLINE_CHARS:
                yield await ctx.work.compute(_lines, run)
            else:
                yield _lines(None, run)
        start = i + 1
        if row is not None:
            text = await _object_value(ctx, row)
            if text is not None:  # None: deleted meanwhile
                yield _line(row, text)


async def _object_value(ctx: ServerContext, row: Row[Any]) -> str | None:
    """The value of an export row kept in object storage; if its object went away (the
    XCom was replaced meanwhile), the current value, read again once; None if the XCom
    was deleted meanwhile.

    Raises:
        ObjectStorageUnavailable: the store failed, or the object is missing twice.
    """
    ref = row.value_ref
    address = XComAddress(row.dag_id, row.run_id, row.task_id, row.key, row.map_index)
    for attempt in range(2):
        try:
            return await ctx.work.objects(ctx.storage.load, ref)
        except ObjectMissing as exc:
            if attempt == 1:
                raise offload.unavailable(exc) from exc
        except ObjectStoreError as exc:
            raise offload.unavailable(exc) from exc
        try:
            current = await ctx.work.read(xcom_rules.get_xcom, address)
        except NotFound:
            return None
        if current.value_ref is None:
            return str(current.value)
        ref = current.value_ref
    raise AssertionError("unreachable")


# -- import ------------------------------------------------------------------------------


class InvalidEntry(ServiceError):
    """An import entry that fails validation; ``detail`` holds the validation errors
    (``[{"type", "loc", "msg"}]``, FastAPI's 422 items without the input)."""


def _status(error: ServiceError) -> int:
    """The HTTP status of an entry's failure."""
    return 422 if isinstance(error, InvalidEntry) else errors.status_of(error)


def _too_many(count: int) -> HTTPException:
    return HTTPException(
        413,
        f"An import holds at most {IMPORT_MAX_ENTRIES} XComs per request; this one "
        f"holds {count}. Send them in batches.",
    )


def _parse(
    _db: Any, body: bytes, encode: bool
) -> tuple[bool, list[rules.ImportEntry | rules.Outcome]]:
    """``(overwrite, entries)`` of an import body; an entry that fails validation is a
    ``failed`` outcome (:class:`InvalidEntry`, 422) with the validation errors. Values are
    encoded here when ``encode`` (the server measures none; else offload.prepare does).

    Raises:
        HTTPException: 400 for a body that is not ``{"xcom_entries": [...],
            "overwrite": bool}``; 413 for more than :data:`IMPORT_MAX_ENTRIES` entries.
    """
    shape = 'the body must be {"xcom_entries": [...], "overwrite": false}'
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise HTTPException(400, f"Request body is not JSON ({exc}); {shape}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("xcom_entries"), list):
        raise HTTPException(400, f"Request body: {shape}.")
    unknown = set(data) - {"xcom_entries", "overwrite"}
    overwrite = data.get("overwrite", False)
    if unknown or not isinstance(overwrite, bool):
        raise HTTPException(400, f"Request body: {shape}.")
    items = data["xcom_entries"]
    if len(items) > IMPORT_MAX_ENTRIES:
        raise _too_many(len(items))
    entries: list[rules.ImportEntry | rules.Outcome] = []
    for item in items:
        try:
            e = BulkXComEntry.model_validate(item)
        except ValidationError as exc:
            detail = [
                {"type": err["type"], "loc": list(err["loc"]), "msg": err["msg"]}
                for err in exc.errors(include_url=False)
            ]
            entries.append(rules.Outcome("failed", InvalidEntry(detail)))
            continue
        stored = StoredValue(values.encode(e.value)) if encode else StoredValue("")
        address = XComAddress(e.dag_id, e.run_id, e.task_id, e.key, e.map_index)
        entries.append(rules.ImportEntry(address, e.value, stored))
    return overwrite, entries


def _prepare_all(
    storage: offload.ValueStorage, entries: list[rules.ImportEntry | rules.Outcome]
) -> list[rules.ImportEntry | rules.Outcome]:
    """Each entry's value measured and, if large, put in an object (the ``objects``
    lane); one over ``max_value_bytes`` becomes a ``failed`` outcome (413).

    Raises:
        ObjectStoreError: an object could not be written (those written are removed).
    """
    prepared: list[rules.ImportEntry | rules.Outcome] = []
    try:
        for entry in entries:
            if isinstance(entry, rules.Outcome):
                prepared.append(entry)
                continue
            try:
                entry.stored = storage.prepare(entry.value)
            except ValueTooLarge as exc:
                prepared.append(rules.Outcome("failed", exc))
                continue
            prepared.append(entry)
    except ObjectStoreError:
        storage.remove(_refs(prepared))
        raise
    return prepared


def _refs(entries: Sequence[rules.ImportEntry | rules.Outcome]) -> list[str]:
    return [e.stored.ref for e in entries if isinstance(e, rules.ImportEntry) and e.stored.ref]


@router.post("/xcomEntries/import")
async def import_xcom_entries(caller: Writer, request: Request) -> Response:
    """Create (or with ``overwrite``, update) a batch of XComs in one transaction.

    Body: ``{"xcom_entries": [{"dag_id", "run_id", "task_id", "map_index" (default
    -1), "key", "value"}, ...], "overwrite": false}``, at most
    :data:`IMPORT_MAX_ENTRIES` entries (413 beyond) within ``max_body_bytes``.

    Answer (200): ``{"results": [{"outcome": "created" | "updated" | "skipped" |
    "failed", "status"?, "detail"?}, ...], "created": n, "updated": n, "skipped": n,
    "failed": n}``, one result per entry in order. An XCom that exists is skipped,
    unless ``overwrite`` and its value differs: then updated. Importing the same batch
    twice changes nothing. A failed entry does not stop the others.
    """
    ctx = caller.ctx
    body = await request.body()
    storage = ctx.storage
    overwrite, entries = await ctx.work.compute(_parse, body, not storage.checks_writes)
    if storage.checks_writes and any(isinstance(e, rules.ImportEntry) for e in entries):
        try:
            entries = await ctx.work.objects(_prepare_all, storage, entries)
        except ObjectStoreError as exc:
            raise offload.unavailable(exc) from exc
    kept: set[str] = set()
    try:
        results = await ctx.work.write(
            rules.import_xcoms, entries, overwrite=overwrite, kept_refs=kept
        )
    except (ServiceError, Unavailable):  # nothing was written: no entry's object is kept
        await offload.release(ctx, list(_refs(entries)))
        raise
    for i, result in enumerate(results):
        if result.outcome == "pending":
            entry = entries[i]
            assert isinstance(entry, rules.ImportEntry)
            results[i] = await _overwrite_offloaded(ctx, entry, result, kept)
    await offload.release(ctx, [ref for ref in _refs(entries) if ref not in kept])
    _audit(request, caller, entries, results)
    counts = {name: 0 for name in ("created", "updated", "skipped", "failed")}
    answer = []
    for result in results:
        counts[result.outcome] += 1
        item: dict[str, Any] = {"outcome": result.outcome}
        if result.error is not None:
            item.update(status=_status(result.error), detail=result.error.detail)
        answer.append(item)
    return json_response({"results": answer, **counts})


async def _overwrite_offloaded(
    ctx: ServerContext, entry: rules.ImportEntry, pending: rules.Outcome, kept: set[str]
) -> rules.Outcome:
    """Decide a ``pending`` entry: read the current value's object; skip when equal,
    else update as ``PATCH`` does (freeing the old object)."""
    assert pending.old_ref is not None
    try:
        old = await ctx.work.objects(ctx.storage.load, pending.old_ref)
    except ObjectMissing:
        old = None  # replaced meanwhile: write the new value
    except ObjectStoreError as exc:
        raise offload.unavailable(exc) from exc
    if old is not None and rules.equal_to_stored(old, entry):
        return rules.Outcome("skipped")
    freed = offload.freeing(ctx)
    try:
        await ctx.work.write(
            xcom_rules.update_xcom, entry.address, entry.value, stored=entry.stored, freed=freed
        )
    except ServiceError as exc:  # deleted meanwhile
        return rules.Outcome("failed", exc)
    if entry.stored.ref is not None:
        kept.add(entry.stored.ref)
    await offload.release(ctx, freed)
    return rules.Outcome("updated")


def _audit(
    request: Request,
    caller: Any,
    entries: Sequence[rules.ImportEntry | rules.Outcome],
    results: Sequence[rules.Outcome],
) -> None:
    """One audit record per entry (the XCom written, or the attempt)."""
    if not audit.log.isEnabledFor(logging.INFO):
        return
    principal = caller.principal
    client = request.client.host if request.client else None
    for entry, result in zip(entries, results, strict=True):
        address: dict[str, Any] = {}
        if isinstance(entry, rules.ImportEntry):
            a = entry.address
            address = {
                "dag_id": a.dag_id,
                "dag_run_id": a.dag_run_id,
                "task_id": a.task_id,
                "key": a.key,
                "map_index": a.map_index,
            }
        status = 200 if result.error is None else _status(result.error)
        audit.record(
            who=principal.username,
            role=principal.role,
            client=client,
            action="import_xcom_entry",
            method="POST",
            path=request.url.path,
            status=status,
            outcome=audit.outcome(status),
            change=result.outcome,
            **address,
        )
