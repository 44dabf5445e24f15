"""``XComCollectionResponse``: one page of the XCom list."""

from __future__ import annotations

from typing import ClassVar

from pydantic import StrictInt

from xcomkit.client.models._base import ApiModel
from xcomkit.client.models.x_com_response import XComResponse


class XComCollectionResponse(ApiModel):
    """``xcom_entries`` (this page's XComs, without values) and ``total_entries`` (how many
    match the filters across all pages)."""

    _fast_json: ClassVar[bool] = True

    _nested: ClassVar[tuple[str, ...]] = ("xcom_entries",)

    total_entries: StrictInt
    xcom_entries: list[XComResponse]
