"""The five XCom endpoints, as Apache Airflow 3.3.2 answers them.

``/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries``:
``POST`` create, ``GET`` list, and ``GET``/``PATCH``/``DELETE`` on ``/{xcom_key}``
(keys may contain ``/``). Service errors become their status with ``{"detail": ...}``
through the app's exception handler. Query parameters are declared as Airflow declares
them, so FastAPI gives the same 422 bodies for malformed ones.

Each route parses its request and hands over to an ``answer_*`` function, which does the
work and builds the answer. :mod:`xcomkit.server.direct` calls the same functions for
well-formed requests without going through FastAPI's routing and dependency solving.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from sqlalchemy import Row
from starlette.types import Scope

from xcomkit import values
from xcomkit.address import WILDCARD, XComAddress
from xcomkit.errors import ServiceError
from xcomkit.server import audit, errors, offload
from xcomkit.server.deps import Reader, ServerContext, Writer
from xcomkit.server.encoding import JSONBytes, dumps, json_response
from xcomkit.server.execution import Unavailable
from xcomkit.server.models import (
    XComCollectionResponse,
    XComCreateBody,
    XComGetQuery,
    XComListQuery,
    XComResponseNative,
    XComResponseString,
    XComUpdateBody,
)
from xcomkit.server.ordering import parse_order_by
from xcomkit.server.patterns import like_patterns, prefix_bounds
from xcomkit.server.routing import ResourceRouter
from xcomkit.service import xcoms as rules
from xcomkit.store.xcoms import ENTRY_FIELDS, ORDERABLE, Entry, ListFilter

router = ResourceRouter(
    prefix="/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries",
    tags=["XCom"],
    responses=errors.documented(400, 401, 403, 404, 408, 409, 413, 422, 503),
)

#: The names ``order_by`` accepts for XComs (each its own column name).
ORDER_NAMES = {name: name for name in ORDERABLE}


def _entry(row: Entry | Row[Any]) -> dict[str, Any]:
    # A row that also carries ``value`` (last) leaves it out: zip stops at the shorter.
    return dict(zip(ENTRY_FIELDS, row, strict=False))


def _native(row: Entry | Row[Any], status_code: int = 200) -> Response:
    body = _entry(row)
    body["value"] = values.as_json(row.value)  # spliced in: no parse and re-dump
    return json_response(body, status_code)


def _bounds(**given: Any) -> dict[str, Any]:
    return {op: value for op, value in given.items() if value}


async def answer_get(
    ctx: ServerContext, address: XComAddress, deserialize: bool = False, stringify: bool = False
) -> Response:
    """The answer to ``GET .../xcomEntries/{xcom_key}``: native JSON, or with
    ``deserialize``/``stringify`` applied (Airflow's order: deserialize first).

    Raises:
        NotFound: no such XCom. Unavailable: the work could not be done in time (503).
    """

    async def read() -> Any:
        return await ctx.work.read(rules.get_xcom, address)

    row = await read()
    if row.value_ref is not None:  # kept in object storage
        row = await offload.resolve(ctx, row, read)
    if not deserialize and not stringify:
        return _native(row)
    if len(row.value or "") > TRANSFORM_INLINE_CHARS:
        # Parsing, str() and re-encoding a large value takes CPU seconds: not on the loop.
        body = await ctx.work.compute(_transformed, row, deserialize, stringify)
    else:
        body = _transformed(None, row, deserialize, stringify)
    return body if isinstance(body, Response) else JSONBytes(body)


@router.get("/{xcom_key:path}", response_model=XComResponseNative | XComResponseString)
async def get_xcom_entry(
    caller: Reader,
    dag_id: str,
    task_id: str,
    dag_run_id: str,
    xcom_key: str,
    q: Annotated[XComGetQuery, Query()],
) -> Response:
    """Get one XCom: native JSON, or with ``deserialize``/``stringify`` applied."""
    address = XComAddress(dag_id, dag_run_id, task_id, xcom_key, q.map_index)
    return await answer_get(caller.ctx, address, q.deserialize, q.stringify)


#: Stored values longer than this (characters) are transformed off the event loop.
TRANSFORM_INLINE_CHARS = 64 * 1024


def _transformed(
    _engine: Any, row: Entry | Row[Any], deserialize: bool, stringify: bool
) -> bytes | Response:
    """The encoded body of a GET with ``deserialize`` and/or ``stringify`` (Airflow's
    order: deserialize first), or the native answer where they change nothing."""
    value = values.decode(row.value)
    if deserialize:
        if not stringify and not isinstance(value, str):
            return _native(row)  # deserialize changes only JSON strings
        value = values.deserialize(value)
    body = _entry(row)
    body["value"] = values.stringify(value) if stringify else value
    return dumps(body)


def list_filter(dag_id: str, dag_run_id: str, task_id: str, q: XComListQuery) -> ListFilter:
    """The :class:`ListFilter` of a list request; ``~`` as dag_id, dag_run_id or task_id
    matches every one.

    Raises:
        RequestValidationError: a malformed pattern (422, as Airflow answers it).
    """
    return ListFilter(
        dag_id=None if dag_id == WILDCARD else dag_id,
        run_id=None if dag_run_id == WILDCARD else dag_run_id,
        task_id=None if task_id == WILDCARD else task_id,
        key=q.xcom_key,
        map_index=q.map_index,
        map_index_filter=q.map_index_filter,
        key_like=like_patterns(q.xcom_key_pattern, "xcom_key_pattern"),
        key_prefix=prefix_bounds(q.xcom_key_prefix_pattern, "xcom_key_prefix_pattern"),
        dag_display_name_like=like_patterns(q.dag_display_name_pattern, "dag_display_name_pattern"),
        dag_display_name_prefix=prefix_bounds(
            q.dag_display_name_prefix_pattern, "dag_display_name_prefix_pattern"
        ),
        run_id_like=like_patterns(q.run_id_pattern, "run_id_pattern"),
        run_id_prefix=prefix_bounds(q.run_id_prefix_pattern, "run_id_prefix_pattern"),
        task_id_like=like_patterns(q.task_id_pattern, "task_id_pattern"),
        task_id_prefix=prefix_bounds(q.task_id_prefix_pattern, "task_id_prefix_pattern"),
        logical_date=_bounds(
            gte=q.logical_date_gte,
            gt=q.logical_date_gt,
            lte=q.logical_date_lte,
            lt=q.logical_date_lt,
        ),
        run_after=_bounds(
            gte=q.run_after_gte, gt=q.run_after_gt, lte=q.run_after_lte, lt=q.run_after_lt
        ),
    )


async def answer_list(
    ctx: ServerContext,
    f: ListFilter,
    order: list[tuple[str, bool]],
    limit: int,
    offset: int,
) -> Response:
    """The answer to ``GET .../xcomEntries``: a page of entries (without values) and the
    total; ``limit`` is capped at the configured maximum page size (default 100).

    Raises:
        Unavailable: the work could not be done in time (503).
    """
    rows, total = await ctx.work.scan(
        rules.list_xcoms,
        f,
        order_by=order,
        limit=min(limit, ctx.settings.maximum_page_limit),
        offset=offset,
    )
    return json_response({"xcom_entries": rows, "total_entries": total})


@router.get("", response_model=XComCollectionResponse)
async def get_xcom_entries(
    caller: Reader,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    q: Annotated[XComListQuery, Query()],
) -> Response:
    """List XComs; ``~`` as dag_id, dag_run_id or task_id matches every one.

    ``limit`` is capped at the configured maximum page size (default 100).
    """
    order = parse_order_by(q.order_by, ORDER_NAMES)
    f = list_filter(dag_id, dag_run_id, task_id, q)
    return await answer_list(caller.ctx, f, order, q.limit, q.offset)


async def answer_create(
    ctx: ServerContext,
    scope: Scope,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: XComCreateBody,
) -> Response:
    """The answer to ``POST .../xcomEntries`` (201 with the XCom), noting the key in the
    request's audit record.

    Raises:
        NotFound: a missing DAG, task or DAG run. Conflict: the XCom exists.
        ValueTooLarge: over ``--max-value-bytes``. Unavailable: 503.
    """
    audit.note(scope, key=body.key, map_index=body.map_index)
    address = XComAddress(dag_id, dag_run_id, task_id, body.key, body.map_index)
    stored = await offload.prepare(ctx, body.value)
    try:
        row = await ctx.work.write(rules.create_xcom, address, body.value, stored=stored)
    except (ServiceError, Unavailable):  # nothing was written: its object is no one's
        await offload.discard(ctx, stored)
        raise
    return _native(row, 201)


@router.post("", status_code=201, response_model=XComResponseNative)
async def create_xcom_entry(
    caller: Writer,
    dag_id: str,
    task_id: str,
    dag_run_id: str,
    request_body: XComCreateBody,
    request: Request,
) -> Response:
    """Create an XCom (201); 404 for a missing DAG, task or DAG run; 409 if it exists."""
    return await answer_create(caller.ctx, request.scope, dag_id, dag_run_id, task_id, request_body)


async def answer_update(
    ctx: ServerContext, scope: Scope, address: XComAddress, value: Any
) -> Response:
    """The answer to ``PATCH .../xcomEntries/{xcom_key}`` (200 with the XCom), noting the
    map_index in the request's audit record.

    Raises:
        NotFound: no such XCom. ValueTooLarge: over ``--max-value-bytes``.
        Unavailable: 503.
    """
    audit.note(scope, map_index=address.map_index)
    stored = await offload.prepare(ctx, value)
    freed = offload.freeing(ctx)
    try:
        row = await ctx.work.write(rules.update_xcom, address, value, stored=stored, freed=freed)
    except (ServiceError, Unavailable):  # as for a create
        await offload.discard(ctx, stored)
        raise
    await offload.release(ctx, freed)
    return _native(row)


@router.patch("/{xcom_key:path}", response_model=XComResponseNative)
async def update_xcom_entry(
    caller: Writer,
    dag_id: str,
    task_id: str,
    dag_run_id: str,
    xcom_key: str,
    patch_body: XComUpdateBody,
    request: Request,
) -> Response:
    """Replace an XCom's value; 404 if there is none for that key and map_index."""
    address = XComAddress(dag_id, dag_run_id, task_id, xcom_key, patch_body.map_index)
    return await answer_update(caller.ctx, request.scope, address, patch_body.value)


@router.delete("/{xcom_key:path}", status_code=204, response_class=Response)
async def delete_xcom_entry(
    caller: Writer,
    dag_id: str,
    task_id: str,
    dag_run_id: str,
    xcom_key: str,
    request: Request,
    map_index: Annotated[int, Query(ge=-1, le=values.MAX_MAP_INDEX)] = -1,
) -> Response:
    """Delete an XCom (204); 404 if there is none for that key and map_index."""
    audit.note(request.scope, map_index=map_index)
    ctx = caller.ctx
    address = XComAddress(dag_id, dag_run_id, task_id, xcom_key, map_index)
    freed = offload.freeing(ctx)
    await ctx.work.write(rules.delete_xcom, address, freed=freed)
    await offload.release(ctx, freed)
    return Response(status_code=204, headers={"content-type": "application/json"})
