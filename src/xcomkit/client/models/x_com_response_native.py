"""``XComResponseNative``: one XCom with its value as stored (JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import StrictInt, StrictStr

from xcomkit.client.models._base import ApiModel


class XComResponseNative(ApiModel):
    """The fields of :class:`XComResponse` plus ``value``: the JSON value as stored
    (required, may be None). Returned by create, update, and get without ``stringify``."""

    _fast_json: ClassVar[bool] = True

    _explicit_none: ClassVar[tuple[str, ...]] = ("value",)

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
    value: Any | None
