"""``GET /api/v2/version`` and ``GET /api/v2/monitor/health`` (no credentials needed)."""

from __future__ import annotations

from fastapi import Response

import xcomkit
from xcomkit.server import errors
from xcomkit.server.deps import Ctx
from xcomkit.server.encoding import json_response
from xcomkit.server.models import HealthInfoResponse, VersionInfo
from xcomkit.server.routing import ResourceRouter
from xcomkit.service.health import database_is_up

router = ResourceRouter(prefix="/api/v2", tags=["Monitor"])

_UNAVAILABLE = errors.documented(503)

#: The Apache Airflow release whose REST API xcomkit answers.
AIRFLOW_API_VERSION = "3.3.2"


@router.get("/version", response_model=VersionInfo)
async def get_version() -> Response:
    """The Airflow API version answered (``version``) and xcomkit's own (``git_version``)."""
    return json_response(
        {"version": AIRFLOW_API_VERSION, "git_version": f"xcomkit-{xcomkit.__version__}"}
    )


@router.get("/monitor/health", response_model=HealthInfoResponse, responses=_UNAVAILABLE)
async def get_health(ctx: Ctx) -> Response:
    """Health of the metadata database. xcomkit runs no scheduler: like an Airflow whose
    scheduler is down it reports it ``unhealthy``; triggerer and processor are ``null``."""
    status = "healthy" if await ctx.work.read(database_is_up) else "unhealthy"
    return json_response(
        {
            "metadatabase": {"status": status},
            "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": None},
            "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
            "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
        }
    )
