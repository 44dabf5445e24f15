"""``XComResponseString``: one XCom with its value as a string (``stringify=true``)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import StrictInt, StrictStr

from xcomkit.client.models._base import ApiModel


class XComResponseString(ApiModel):
    """The fields of :class:`XComResponse` plus ``value``: Python's ``str()`` of the stored
    value (e.g. ``"{'a': [1, None]}"``, ``"True"``), or None when the value is null."""

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
    value: StrictStr | None = None
