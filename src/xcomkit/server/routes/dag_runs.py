"""DAG runs: ``POST/GET /api/v2/dags/{dag_id}/dagRuns`` and ``GET/PATCH/DELETE
.../{dag_run_id}``, with every query parameter and body field Airflow 3.3.2 declares on
them either honoured with Airflow's meaning or refused with Airflow's status and detail.

Shapes are Airflow 3.3.2's ``DAGRunResponse`` and ``DAGRunCollectionResponse``;
``dag_versions`` is always empty (xcomkit keeps no DAG versions; every run counts as made
by version 1 of its DAG for the ``dag_version`` filter) and ``bundle_version`` null.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request, Response
from sqlalchemy import ColumnElement, Row

from xcomkit import values
from xcomkit.server import audit, cursors, errors, offload
from xcomkit.server.deps import Reader, Writer
from xcomkit.server.encoding import json_response
from xcomkit.server.models import (
    DAGRunCollectionResponse,
    DagRunListQuery,
    DagRunPatchBody,
    DAGRunResponse,
    TriggerDAGRunPostBody,
)
from xcomkit.server.ordering import parse_order_by
from xcomkit.server.patterns import like_patterns, prefix_bounds
from xcomkit.server.routing import ResourceRouter
from xcomkit.service import dag_runs as rules
from xcomkit.store import dag_runs
from xcomkit.store.schema import dag_run

router = ResourceRouter(
    prefix="/api/v2/dags/{dag_id}/dagRuns",
    tags=["DagRun"],
    responses=errors.documented(400, 401, 403, 404, 408, 409, 413, 422, 503),
)

#: Airflow's DagRunState and DagRunType values, in Airflow's order (its 422 lists them so).
DAG_RUN_STATES = ("queued", "running", "success", "failed")
DAG_RUN_TYPES = (
    "backfill",
    "scheduled",
    "manual",
    "operator_triggered",
    "asset_triggered",
    "asset_materialization",
)
#: What a cursor value of each sort key must be (anything else: a forged cursor, 400).
_DATES = ("logical_date", "partition_date", "run_after", "start_date", "end_date", "updated_at")
_CURSOR_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "state": (str,),
    "dag_id": (str,),
    "run_id": (str,),
    "dag_run_id": (str,),
    "conf": (dict, type(None)),
    "duration": (int, float, type(None)),
    **{name: (datetime, type(None)) for name in _DATES},
}


def _duration(row: Row[Any]) -> float | None:
    if row.start_date is None or row.end_date is None:
        return None
    return float((row.end_date - row.start_date).total_seconds())


def dag_run_body(row: Row[Any]) -> dict[str, Any]:
    """The JSON object of one DAG run, in Airflow's field order."""
    return {
        "dag_run_id": row.run_id,
        "dag_id": row.dag_id,
        "logical_date": row.logical_date,
        "queued_at": row.queued_at,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "duration": _duration(row),
        "data_interval_start": row.data_interval_start,
        "data_interval_end": row.data_interval_end,
        "run_after": row.run_after,
        "last_scheduling_decision": row.last_scheduling_decision,
        "run_type": row.run_type,
        "state": row.state,
        "triggered_by": row.triggered_by,
        "triggering_user_name": row.triggering_user_name,
        "conf": values.as_json(row.conf),
        "note": row.note,
        "dag_versions": [],
        "bundle_version": None,
        "dag_display_name": row.dag_display_name,
        "partition_key": row.partition_key,
        "partition_date": row.partition_date,
    }


@router.post("", response_model=DAGRunResponse)
async def trigger_dag_run(
    caller: Writer, dag_id: str, body: TriggerDAGRunPostBody, request: Request
) -> Response:
    """Create a manual DAG run: 200 (as Airflow answers, not 201); 404 for an unknown DAG;
    400 for a ``partition_key`` (no xcomkit DAG is partitioned); 409 for a taken run id
    or logical date."""
    audit.note(request.scope, dag_run_id=body.dag_run_id)
    interval = None
    if body.data_interval_start is not None and body.data_interval_end is not None:
        interval = (body.data_interval_start, body.data_interval_end)
    row = await caller.ctx.work.write(
        rules.trigger_dag_run,
        dag_id,
        dag_run_id=body.dag_run_id,
        logical_date=body.logical_date,
        run_after=body.run_after,
        data_interval=interval,
        conf=body.conf,
        note=body.note,
        triggered_by="ui" if request.headers.get("referer") else "rest_api",
        user_name=caller.principal.username,
        partition_key=body.partition_key,
    )
    return json_response(dag_run_body(row))


def _one_of(given: list[str], valid: tuple[str, ...], what: str) -> list[str | None] | None:
    """``given`` with ``"none"`` read as NULL; None when empty (no filter).

    Raises:
        HTTPException: 422 with Airflow's string detail naming the valid values.
    """
    if not given:
        return None
    for value in given:
        if value != "none" and value not in valid:
            raise HTTPException(
                422, f"Invalid value for {what}. Valid values are {', '.join(valid)}"
            )
    return [None if v == "none" else v for v in given]


def _bounds(q: DagRunListQuery, name: str) -> dict[str, Any]:
    found = {op: getattr(q, f"{name}_{op}") for op in ("gte", "gt", "lte", "lt")}
    return {op: value for op, value in found.items() if value is not None}


def list_filter(q: DagRunListQuery, dag_id: str) -> dag_runs.DagRunFilter:
    """The store filter for a list query (``dag_id`` ``~``: every DAG).

    Raises:
        HTTPException: 422 for an unknown ``run_type`` or ``state`` (checked in that
            order, as Airflow resolves them); 422 for more than 100 ``|`` alternatives.
    """
    run_types = _one_of(q.run_type, DAG_RUN_TYPES, "run type")
    states = _one_of(q.state, DAG_RUN_STATES, "state")
    return dag_runs.DagRunFilter(
        dag_id=None if dag_id == "~" else dag_id,
        states=states,
        run_types=run_types,
        conf_contains=q.conf_contains,
        run_id_like=like_patterns(q.run_id_pattern, "run_id_pattern"),
        run_id_prefix=prefix_bounds(q.run_id_prefix_pattern, "run_id_prefix_pattern"),
        dag_id_like=like_patterns(q.dag_id_pattern, "dag_id_pattern"),
        dag_id_prefix=prefix_bounds(q.dag_id_prefix_pattern, "dag_id_prefix_pattern"),
        triggering_user_name_like=like_patterns(
            q.triggering_user_name_pattern, "triggering_user_name_pattern"
        ),
        triggering_user_name_prefix=prefix_bounds(
            q.triggering_user_name_prefix_pattern, "triggering_user_name_prefix_pattern"
        ),
        partition_key_like=like_patterns(
            q.partition_key_pattern, "partition_key_pattern", pipe_as_or=False
        ),
        partition_key_prefix=prefix_bounds(
            q.partition_key_prefix_pattern, "partition_key_prefix_pattern", pipe_as_or=False
        ),
        logical_date=_bounds(q, "logical_date"),
        run_after=_bounds(q, "run_after"),
        start_date=_bounds(q, "start_date"),
        end_date=_bounds(q, "end_date"),
        updated_at=_bounds(q, "updated_at"),
        duration=_bounds(q, "duration"),
        # Things xcomkit never stores: a bundle version, consumed assets, DAG versions
        # other than 1. A filter on them matches no run, as on Airflow for such runs.
        no_rows=bool(q.bundle_version)
        or bool(q.consuming_asset_pattern)
        or bool(q.dag_version and 1 not in q.dag_version),
    )


def _sort_key(row: Row[Any], names: list[str]) -> list[Any]:
    key: list[Any] = []
    for name in names:
        if name == "dag_run_id":
            key.append(row.run_id)
        elif name == "duration":
            # The database's own value of the sort key (Airflow encodes Python's, which
            # can differ from SQLite's julianday arithmetic in the last digits, so that
            # its pages repeat or skip a run).
            key.append(None if row.sort_duration is None else float(row.sort_duration))
        elif name == "conf":
            key.append(json.loads(row.conf) if row.conf is not None else None)
        else:
            key.append(getattr(row, name))
    return key


def _cursor_values(cursor: str, names: list[str]) -> tuple[list[Any], bool]:
    """The sort key a cursor holds, checked against the sort columns' types.

    Raises:
        HTTPException: 400 (see :func:`xcomkit.server.cursors.parse`); also ``Invalid
            cursor token`` for a value of the wrong type for its column (a forged cursor;
            Airflow answers it with a database error).
    """
    found, backward = cursors.parse(cursor, len(names))
    for name, value in zip(names, found, strict=True):
        if isinstance(value, bool) or not isinstance(value, _CURSOR_TYPES[name]):
            raise HTTPException(400, "Invalid cursor token")
    key = [
        dag_runs.conf_text(v) if n == "conf" and v is not None else v
        for n, v in zip(names, found, strict=True)
    ]
    return key, backward


@router.get("", response_model=DAGRunCollectionResponse)
async def get_dag_runs(
    caller: Reader, dag_id: str, q: Annotated[DagRunListQuery, Query()]
) -> Response:
    """List the DAG runs of a DAG (``~``: of every DAG), filtered, ordered and paged as
    Airflow 3.3.2 does: by ``limit``/``offset`` with an exact ``total_entries``, or, when
    ``cursor`` is given (empty for the first page), by keyset with ``next_cursor`` and
    ``previous_cursor`` and a total capped at 50000 (``total_entries_limit``).

    Errors, in Airflow's order: 422 for malformed parameters, an unknown ``run_type`` or
    ``state``; 400 for a ``partition_date_*`` filter on ``~``; 404 for an unknown DAG;
    400 for a ``partition_date_*`` filter on a DAG (none is partitioned); 400 for an
    ``order_by`` Airflow does not allow; 400 for a cursor that is not one of this order.
    """
    f = list_filter(q, dag_id)
    partition_dates = q.partition_date_gte is not None or q.partition_date_lte is not None
    if partition_dates and dag_id == "~":
        raise HTTPException(
            400, "partition_date_gte and partition_date_lte require a specific dag_id."
        )
    await caller.ctx.work.read(rules.check_dag, dag_id)
    if partition_dates:
        raise HTTPException(
            400,
            f"Dag with dag_id: '{dag_id}' is not partitioned; "
            "partition_date_gte and partition_date_lte are not supported.",
        )
    allowed = dag_runs.orderable(caller.ctx.engine.dialect.name)
    names = [name.lstrip("-") for name in q.order_by]
    order: list[tuple[ColumnElement[Any], bool]] = parse_order_by(q.order_by, allowed)
    if "id" not in names:
        order.append((dag_run.c.id, bool(order and order[0][1])))
        names.append("id")
    limit = min(q.limit, caller.ctx.settings.maximum_page_limit)
    if q.cursor is None:
        page = await caller.ctx.work.scan(
            rules.list_dag_runs, f, order_by=order, limit=limit, offset=q.offset
        )
        return json_response(
            {
                "dag_runs": [dag_run_body(r) for r in page.rows],
                "total_entries": page.total,
                "total_entries_limit": None,
                "next_cursor": None,
                "previous_cursor": None,
            }
        )
    cursor = _cursor_values(q.cursor, names) if q.cursor else None
    page = await caller.ctx.work.scan(
        rules.list_dag_runs, f, order_by=order, limit=limit, cursor=cursor, keyset=True
    )
    rows = page.rows
    next_cursor = cursors.encode(_sort_key(rows[-1], names)) if page.has_next and rows else None
    previous_cursor = (
        cursors.BACKWARD + cursors.encode(_sort_key(rows[0], names))
        if page.has_prev and rows
        else None
    )
    return json_response(
        {
            "dag_runs": [dag_run_body(r) for r in rows],
            "total_entries": page.total,
            "total_entries_limit": dag_runs.EXACT_COUNT_LIMIT,
            "next_cursor": next_cursor,
            "previous_cursor": previous_cursor,
        }
    )


@router.get("/{dag_run_id}", response_model=DAGRunResponse)
async def get_dag_run(caller: Reader, dag_id: str, dag_run_id: str) -> Response:
    """One DAG run; 404 with Airflow's message when missing."""
    return json_response(
        dag_run_body(await caller.ctx.work.read(rules.get_dag_run, dag_id, dag_run_id))
    )


@router.patch("/{dag_run_id}", response_model=DAGRunResponse)
async def patch_dag_run(
    caller: Writer,
    dag_id: str,
    dag_run_id: str,
    body: DagRunPatchBody,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """Set a run's ``state`` (queued, success, failed) and/or ``note``, as Airflow does:
    only the fields present in the body, and of those only the ones in ``update_mask``
    when it is given. 404 with Airflow's message for a missing run."""
    fields = set(body.model_fields_set)
    if update_mask:
        fields &= set(update_mask)
    changes: dict[str, Any] = {}
    if "note" in fields:
        changes["note"] = body.note
    if "state" in fields:
        changes["state"] = body.state.value if body.state is not None else None
    row = await caller.ctx.work.write(rules.patch_dag_run, dag_id, dag_run_id, changes)
    return json_response(dag_run_body(row))


@router.delete("/{dag_run_id}", status_code=204, response_class=Response)
async def delete_dag_run(caller: Writer, dag_id: str, dag_run_id: str) -> Response:
    """Delete a run and its XComs: 204; 404 for a missing run; 409 for a running one."""
    freed = offload.freeing(caller.ctx)
    await caller.ctx.work.write(rules.delete_dag_run, dag_id, dag_run_id, freed=freed)
    await offload.release(caller.ctx, freed)
    # Airflow's 204 carries its JSON content type, with no body.
    return Response(status_code=204, headers={"content-type": "application/json"})
