"""DAG manifests: the DAGs, tasks and DAG runs a server knows, from a YAML or JSON file.

Shape::

    dags:
      - dag_id: example_etl
        dag_display_name: Example ETL        # optional, defaults to dag_id
        tasks:
          - task_id: extract
          - task_id: transform
            task_display_name: Transform step # optional, defaults to task_id
    runs:                                     # optional
      - dag_id: example_etl
        dag_run_id: manual__2025-01-01
        logical_date: "2025-01-01T00:00:00Z"  # optional; run_after, conf, note too
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from xcomkit.errors import Conflict
from xcomkit.service.dag_runs import trigger_dag_run
from xcomkit.store import registry
from xcomkit.store.database import Database
from xcomkit.store.db import STARTUP_LOCK, locked_transaction
from xcomkit.values import MAX_ID_LENGTH


class ManifestError(ValueError):
    """The manifest cannot be read or does not have the documented shape."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Task(_Strict):
    task_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    task_display_name: str | None = None


class _Dag(_Strict):
    dag_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    dag_display_name: str | None = None
    tasks: list[_Task] = Field(default_factory=list)


class _Run(_Strict):
    dag_id: str
    dag_run_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    logical_date: AwareDatetime | None = None
    run_after: AwareDatetime | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None


class Manifest(_Strict):
    """A parsed manifest: ``dags`` and optional ``runs``."""

    dags: list[_Dag] = Field(default_factory=list)
    runs: list[_Run] = Field(default_factory=list)

    def dag_defs(self) -> list[registry.DagDef]:
        """The DAG definitions, display names defaulted."""
        return [
            registry.DagDef(
                dag_id=d.dag_id,
                dag_display_name=d.dag_display_name or d.dag_id,
                tasks=tuple(
                    registry.TaskDef(t.task_id, t.task_display_name or t.task_id) for t in d.tasks
                ),
            )
            for d in self.dags
        ]


def read_manifest(path: Path) -> Manifest:
    """Parse a YAML or JSON manifest file (JSON is YAML).

    Raises:
        ManifestError: unreadable file, bad YAML, or the wrong shape (the message says
            where).
    """
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path} is not valid YAML or JSON: {exc}") from exc
    return manifest_from_data(data, str(path))


def manifest_from_data(data: Any, source: str = "manifest") -> Manifest:
    """Validate already-decoded manifest data (a dict of the shape above).

    Args:
        data: the decoded document; ``None`` is an empty manifest.
        source: how error messages name where the data came from.

    Raises:
        ManifestError: the wrong shape, or a run naming a DAG the manifest lacks.
    """
    try:
        manifest = Manifest.model_validate(data or {})
    except ValidationError as exc:
        raise ManifestError(f"{source} does not have the manifest shape:\n{exc}") from exc
    known = {d.dag_id for d in manifest.dags}
    for run in manifest.runs:
        if run.dag_id not in known:
            raise ManifestError(
                f"{source}: run {run.dag_run_id!r} names unknown dag_id {run.dag_id!r}"
            )
    return manifest


def load_manifest(engine: Engine, manifest: Manifest) -> tuple[int, int]:
    """Create or update the manifest's DAGs and create its DAG runs that do not exist yet.

    A run whose dag_run_id exists is kept as it is (loading a manifest twice is quiet);
    one whose logical_date another run of the DAG holds is skipped too.

    Returns:
        (number of DAGs written, number of DAG runs created).
    """
    # Under the start-up lock: servers started together on one database load in turn.
    with locked_transaction(engine, STARTUP_LOCK) as conn:
        for d in manifest.dag_defs():
            registry.upsert_dag(conn, d)
        existing = {
            (run.dag_id, run.dag_run_id)
            for run in manifest.runs
            if registry.get_dag_run(conn, run.dag_id, run.dag_run_id) is not None
        }
    created = 0
    with Database(engine) as database:
        for run in manifest.runs:
            if (run.dag_id, run.dag_run_id) in existing:
                continue
            try:
                trigger_dag_run(
                    database,
                    run.dag_id,
                    dag_run_id=run.dag_run_id,
                    logical_date=run.logical_date,
                    run_after=run.run_after or run.logical_date or datetime.now(timezone.utc),
                    data_interval=None,
                    conf=run.conf if run.conf is not None else {},
                    note=run.note,
                    triggered_by="cli",
                    user_name=None,
                )
                created += 1
            except Conflict:
                pass
    return len(manifest.dags), created
