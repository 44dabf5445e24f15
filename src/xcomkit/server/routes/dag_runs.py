"""DAG runs: ``POST/GET /api/v2/dags/{dag_id}/dagRuns`` and ``GET .../{dag_run_id}``.

Shapes are Airflow 3.3.2's ``DAGRunResponse`` and ``DAGRunCollectionResponse`` for the
fields xcomkit keeps; ``dag_versions`` is always empty (xcomkit keeps no DAG versions).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import NonNegativeInt
from sqlalchemy import Row

from xcomkit import service, values
from xcomkit.server import audit
from xcomkit.server.deps import Ctx, Reader, Writer
from xcomkit.server.encoding import json_response
from xcomkit.server.models import TriggerDAGRunPostBody
from xcomkit.server.ordering import parse_order_by
from xcomkit.store.schema import dag_run

router = APIRouter(prefix="/api/v2/dags/{dag_id}/dagRuns", tags=["DagRun"])

_ORDERABLE = {
    "id": dag_run.c.id,
    "dag_id": dag_run.c.dag_id,
    "run_id": dag_run.c.run_id,
    "dag_run_id": dag_run.c.run_id,
    "logical_date": dag_run.c.logical_date,
    "run_after": dag_run.c.run_after,
    "start_date": dag_run.c.start_date,
    "end_date": dag_run.c.end_date,
    "queued_at": dag_run.c.queued_at,
    "state": dag_run.c.state,
    "run_type": dag_run.c.run_type,
}


def dag_run_body(row: Row[Any]) -> dict[str, Any]:
    """The JSON object of one DAG run, in Airflow's field order."""
    duration = None
    if row.start_date is not None and row.end_date is not None:
        duration = (row.end_date - row.start_date).total_seconds()
    return {
        "dag_run_id": row.run_id,
        "dag_id": row.dag_id,
        "logical_date": row.logical_date,
        "queued_at": row.queued_at,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "duration": duration,
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
        "partition_key": None,
        "partition_date": None,
    }


@router.post("")
async def trigger_dag_run(
    ctx: Ctx, user: Writer, dag_id: str, body: TriggerDAGRunPostBody, request: Request
) -> Response:
    """Create a manual DAG run: 200 (as Airflow answers, not 201); 404 for an unknown DAG;
    409 for a taken run id or logical date."""
    audit.note(request, dag_run_id=body.dag_run_id)
    interval = None
    if body.data_interval_start is not None and body.data_interval_end is not None:
        interval = (body.data_interval_start, body.data_interval_end)
    row = await ctx.work.write(
        service.trigger_dag_run,
        dag_id,
        dag_run_id=body.dag_run_id,
        logical_date=body.logical_date,
        run_after=body.run_after,
        data_interval=interval,
        conf=body.conf,
        note=body.note,
        triggered_by="ui" if request.headers.get("referer") else "rest_api",
        user_name=user.username,
    )
    return json_response(dag_run_body(row))


@router.get("")
async def get_dag_runs(
    ctx: Ctx,
    _user: Reader,
    dag_id: str,
    limit: NonNegativeInt = 50,
    offset: NonNegativeInt = 0,
    order_by: Annotated[list[str], Query()] = ["id"],  # noqa: B006 (read-only default)
) -> Response:
    """List the DAG runs of a DAG (``~``: of every DAG)."""
    order = parse_order_by(order_by, _ORDERABLE)
    if not any(col is dag_run.c.id for col, _ in order):
        order.append((dag_run.c.id, bool(order and order[0][1])))
    rows, total = await ctx.work.scan(
        service.list_dag_runs,
        dag_id,
        limit=min(limit, ctx.settings.maximum_page_limit),
        offset=offset,
        order_by=order,
    )
    return json_response(
        {
            "dag_runs": [dag_run_body(r) for r in rows],
            "total_entries": total,
            # Airflow's cursor-paging fields; xcomkit pages by offset only.
            "total_entries_limit": None,
            "next_cursor": None,
            "previous_cursor": None,
        }
    )


@router.get("/{dag_run_id}")
async def get_dag_run(ctx: Ctx, _user: Reader, dag_id: str, dag_run_id: str) -> Response:
    """One DAG run; 404 with Airflow's message when missing."""
    return json_response(dag_run_body(await ctx.work.read(service.get_dag_run, dag_id, dag_run_id)))
