"""``XComResponse``: one XCom without its value (items of the list endpoint)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import StrictInt, StrictStr

from xcomkit.client.models._base import ApiModel


class XComResponse(ApiModel):
    """An XCom's identity and times: ``dag_id``, ``run_id``, ``task_id``, ``map_index``,
    ``key``, the display names, ``logical_date`` (None for runs without one),
    ``run_after`` and ``timestamp`` (aware datetimes)."""

    _fast_json: ClassVar[bool] = True

    dag_display_name: StrictStr
    dag_id: StrictStr
    key: StrictStr
    logical_date: datetime | None = None
    map_index: StrictInt
    run_after: datetime
    run_id: StrictStr
    task_display_name: StrictStr
    task_id: StrictStr
    timestamp: datetime
