"""``XComUpdateBody``: the body of ``PATCH .../xcomEntries/{xcom_key}``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import StrictInt

from xcomkit.client.models._base import ApiModel


class XComUpdateBody(ApiModel):
    """The new ``value`` (any JSON value, required, may be None) of the XCom at
    ``map_index`` (int, default -1)."""

    _explicit_none: ClassVar[tuple[str, ...]] = ("value",)
    _none_defaults: ClassVar[dict[str, Any]] = {"map_index": -1}

    map_index: StrictInt | None = -1
    value: Any | None
