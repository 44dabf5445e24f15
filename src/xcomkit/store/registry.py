"""Queries for the registry XComs hang off: DAGs, their tasks, and DAG runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from xcomkit.store.schema import dag, dag_run, task


@dataclass(frozen=True)
class TaskDef:
    """A task of a DAG definition (``task_display_name`` defaults to ``task_id``)."""

    task_id: str
    task_display_name: str


@dataclass(frozen=True)
class DagDef:
    """A DAG definition: dag_id, display name, its tasks, and how long its XComs are kept
    (``xcom_retention_seconds``; None: until deleted)."""

    dag_id: str
    dag_display_name: str
    tasks: tuple[TaskDef, ...]
    xcom_retention_seconds: int | None = None


class DagRunExists(Exception):
    """A DAG run with this (dag_id, run_id) or (dag_id, logical_date) exists already."""


def upsert_dag(conn: Connection, d: DagDef) -> None:
    """Create or replace a DAG definition and its task list (tasks not listed are removed)."""
    exists = conn.execute(select(dag.c.dag_id).where(dag.c.dag_id == d.dag_id)).first()
    columns = {
        "dag_display_name": d.dag_display_name,
        "xcom_retention_seconds": d.xcom_retention_seconds,
    }
    if exists:
        conn.execute(update(dag).where(dag.c.dag_id == d.dag_id).values(**columns))
    else:
        conn.execute(insert(dag).values(dag_id=d.dag_id, **columns))
    conn.execute(delete(task).where(task.c.dag_id == d.dag_id))
    if d.tasks:
        conn.execute(
            insert(task),
            [
                {"dag_id": d.dag_id, "task_id": t.task_id, "task_display_name": t.task_display_name}
                for t in d.tasks
            ],
        )


def get_dag(conn: Connection, dag_id: str) -> Row[Any] | None:
    """The ``dag`` row for ``dag_id``, or None."""
    return conn.execute(select(dag).where(dag.c.dag_id == dag_id)).first()


def list_dags(conn: Connection) -> list[tuple[Row[Any], list[Row[Any]]]]:
    """Every DAG with its tasks, ordered by dag_id then task_id."""
    dags = conn.execute(select(dag).order_by(dag.c.dag_id)).all()
    tasks = conn.execute(select(task).order_by(task.c.dag_id, task.c.task_id)).all()
    by_dag: dict[str, list[Row[Any]]] = {}
    for t in tasks:
        by_dag.setdefault(t.dag_id, []).append(t)
    return [(d, by_dag.get(d.dag_id, [])) for d in dags]


def get_dag_run(conn: Connection, dag_id: str, run_id: str) -> Row[Any] | None:
    """The DAG run row joined with its DAG's display name, or None."""
    q = (
        select(dag_run, dag.c.dag_display_name)
        .join(dag, dag.c.dag_id == dag_run.c.dag_id)
        .where(dag_run.c.dag_id == dag_id, dag_run.c.run_id == run_id)
    )
    return conn.execute(q).first()


def create_dag_run(conn: Connection, values: dict[str, Any]) -> None:
    """Insert a DAG run; ``values`` holds the ``dag_run`` columns.

    Raises:
        DagRunExists: (dag_id, run_id) or (dag_id, logical_date) is taken.
    """
    try:
        with conn.begin_nested():
            conn.execute(insert(dag_run).values(**values))
    except IntegrityError as exc:
        raise DagRunExists(values["run_id"]) from exc


def dag_run_columns(
    *,
    dag_id: str,
    run_id: str,
    logical_date: datetime | None,
    run_after: datetime,
    data_interval: tuple[datetime, datetime] | None,
    queued_at: datetime,
    conf_json: str | None,
    note: str | None,
    triggered_by: str,
    triggering_user_name: str | None,
    run_type: str = "manual",
    state: str = "queued",
) -> dict[str, Any]:
    """Column values for a new manual DAG run, as Airflow's trigger endpoint fills them."""
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "logical_date": logical_date,
        "run_after": run_after,
        "data_interval_start": data_interval[0] if data_interval else None,
        "data_interval_end": data_interval[1] if data_interval else None,
        "queued_at": queued_at,
        "run_type": run_type,
        "state": state,
        "triggered_by": triggered_by,
        "triggering_user_name": triggering_user_name,
        "conf": conf_json,
        "note": note,
        "updated_at": queued_at,
    }
