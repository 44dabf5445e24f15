"""``HTTPValidationError``: the body of a 422 answer."""

from __future__ import annotations

from typing import Any, ClassVar

from typing_extensions import Self

from xcomkit.client.models._base import ApiModel
from xcomkit.client.models.validation_error import ValidationError


class HTTPValidationError(ApiModel):
    """``{"detail": [ValidationError, ...]}`` (``detail`` optional)."""

    _nested: ClassVar[tuple[str, ...]] = ("detail",)

    detail: list[ValidationError] | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Self | None:
        """Build from a dict; each ``detail`` item goes through ``ValidationError.from_dict``."""
        if obj is None:
            return None
        if not isinstance(obj, dict):
            return cls.model_validate(obj)
        items = obj.get("detail")
        detail = None if items is None else [ValidationError.from_dict(i) for i in items]
        return cls.model_validate({"detail": detail})
