"""The baseline: a bare FastAPI app answering the benchmark's XCom paths with constant bodies.

Served under the same uvicorn settings as ``xcomkit serve`` (one worker, uvloop and
httptools when installed, no access log), it measures what FastAPI + uvicorn cost on this
machine with no auth, no database and no encoding work, so xcomkit's figures can be read
as a fraction of that ceiling. Write routes parse their JSON body (as any API must) and
answer a constant. Routes are ``async def``: FastAPI's fastest form (a ``def`` route runs
in a worker thread and halves what this app serves), so the baseline is the fastest form
of what it stands for. ``benchmarks/raw_app.py`` is the ceiling below FastAPI.

Run: ``uvicorn benchmarks.bare_app:app --port 8081`` (from the repository root).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Response

PREFIX = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries"

ENTRY = (
    b'{"key":"bench_key_0000","timestamp":"2025-01-01T00:00:00.000000Z",'
    b'"logical_date":"2025-01-01T00:00:00Z","map_index":-1,"task_id":"extract",'
    b'"dag_id":"xcom_demo","run_id":"run_1","dag_display_name":"XCom Demo",'
    b'"task_display_name":"extract","run_after":"2025-01-01T00:00:00Z"'
)
ONE = ENTRY + b',"value":{"rows":1234,"path":"s3://bucket/data/part-0001.parquet","ok":true}}'
LIST = b'{"xcom_entries":[' + b",".join([ENTRY + b"}"] * 50) + b'],"total_entries":50}'

app = FastAPI(title="bare baseline")


def _json(body: bytes, status_code: int = 200) -> Response:
    return Response(content=body, status_code=status_code, media_type="application/json")


@app.get("/api/v2/monitor/health")
async def health() -> Response:
    """Readiness probe, as xcomkit and Airflow answer it."""
    return _json(b'{"metadatabase":{"status":"healthy"}}')


@app.get(PREFIX)
async def list_entries(dag_id: str, dag_run_id: str, task_id: str) -> Response:
    """A constant page of 50 entries."""
    return _json(LIST)


@app.get(PREFIX + "/{xcom_key:path}")
async def get_entry(dag_id: str, dag_run_id: str, task_id: str, xcom_key: str) -> Response:
    """A constant entry."""
    return _json(ONE)


@app.post(PREFIX, status_code=201)
async def create_entry(
    dag_id: str, dag_run_id: str, task_id: str, body: dict[str, Any]
) -> Response:
    """Parses the JSON body, answers a constant entry with 201."""
    return _json(ONE, 201)


@app.patch(PREFIX + "/{xcom_key:path}")
async def update_entry(
    dag_id: str, dag_run_id: str, task_id: str, xcom_key: str, body: dict[str, Any]
) -> Response:
    """Parses the JSON body, answers a constant entry."""
    return _json(ONE)
