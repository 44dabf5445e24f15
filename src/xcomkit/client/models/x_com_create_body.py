"""``XComCreateBody``: the body of ``POST .../xcomEntries``."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import StrictInt, StrictStr

from xcomkit.client.models._base import ApiModel


class XComCreateBody(ApiModel):
    """A new XCom: ``key`` (str, required), ``value`` (any JSON value, required, may be
    None) and ``map_index`` (int, default -1: the task instance is not mapped).

    An explicit ``value=None`` is sent as ``"value": null``; ``map_index=None`` is left out
    of the request, so the server applies its default -1.
    """

    _explicit_none: ClassVar[tuple[str, ...]] = ("value",)
    _none_defaults: ClassVar[dict[str, Any]] = {"map_index": -1}

    key: StrictStr
    map_index: StrictInt | None = -1
    value: Any | None
