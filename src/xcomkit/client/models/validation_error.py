"""``ValidationError``: one entry of a 422 answer's ``detail`` list."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import StrictStr

from xcomkit.client.models._base import ApiModel
from xcomkit.client.models.location_inner import LocationInner


class ValidationError(ApiModel):
    """One request validation failure, as FastAPI/pydantic report it.

    ``loc`` (where: e.g. ``["body", "value"]`` or ``["query", "map_index"]``, each a
    :class:`LocationInner`), ``msg`` (the message), ``type`` (pydantic's error type),
    ``input`` (the offending input, nullable) and ``ctx`` (extra context, optional).
    """

    _nested: ClassVar[tuple[str, ...]] = ("loc",)

    _explicit_none: ClassVar[tuple[str, ...]] = ("input",)

    ctx: dict[str, Any] | None = None
    input: Any | None = None
    loc: list[LocationInner]
    msg: StrictStr
    type: StrictStr
