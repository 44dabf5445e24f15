"""Base of the "one of several types" wrapper models (``Detail``, ``LocationInner``,
``ResponseGetXcomEntry``), shaped like the official client's anyOf wrappers.

The wrapped value is in ``actual_instance``. A wrapper is built as ``Wrapper(value)``,
``Wrapper(actual_instance=value)``, ``Wrapper.from_dict(value)`` or
``Wrapper.from_json(text)``; when it is a field of another model, the plain value is
accepted too. ``to_dict()`` gives the plain value back, and a model holding a wrapper
dumps the plain value.
"""

from __future__ import annotations

import json
import pprint
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator, model_serializer, model_validator
from typing_extensions import Self


class AnyOfModel(BaseModel):
    """A value of one of ``any_of_schemas``; subclasses implement :meth:`_check`."""

    model_config = ConfigDict(validate_assignment=True, protected_namespaces=())

    any_of_schemas: ClassVar[set[str]] = set()
    actual_instance: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            if len(args) > 1:
                raise ValueError(
                    "If a position argument is used, only 1 is allowed to set `actual_instance`"
                )
            if kwargs:
                raise ValueError(
                    "If a position argument is used, keyword arguments cannot be used."
                )
            super().__init__(actual_instance=args[0])
        else:
            super().__init__(**kwargs)

    @model_validator(mode="before")
    @classmethod
    def _wrap_plain_value(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.keys() <= {"actual_instance"}:
            return data
        return {"actual_instance": data}

    @field_validator("actual_instance")
    @classmethod
    def _validate_actual_instance(cls, value: Any) -> Any:
        if value is None:
            return value
        return cls._check(value)

    @classmethod
    def _check(cls, value: Any) -> Any:
        """Return ``value`` if it has one of the allowed types; else raise ValueError."""
        raise NotImplementedError

    @classmethod
    def _no_match(cls, value: Any) -> ValueError:
        schemas = ", ".join(sorted(cls.any_of_schemas))
        return ValueError(
            f"No match found when setting the actual_instance in {cls.__name__} "
            f"with anyOf schemas: "
            f"{schemas}. Input type `{type(value)}`"
        )

    @model_serializer(mode="plain")
    def _serialize(self) -> Any:
        inner = self.actual_instance
        if isinstance(inner, BaseModel):
            return inner.model_dump(by_alias=True)
        return inner

    @classmethod
    def from_dict(cls, obj: Any) -> Self:
        """Wrap ``obj`` (a plain value, or a dict for model-valued wrappers)."""
        return cls(actual_instance=obj)

    @classmethod
    def from_json(cls, json_str: str | bytes) -> Self:
        """Wrap the value parsed from a JSON document."""
        return cls.from_dict(json.loads(json_str))

    def to_dict(self) -> Any:
        """The wrapped value (a model's ``to_dict()``), or None."""
        inner = self.actual_instance
        if inner is None:
            return None
        to_dict = getattr(inner, "to_dict", None)
        return to_dict() if callable(to_dict) else inner

    def to_json(self) -> str:
        """The wrapped value as JSON (``"null"`` when empty)."""
        inner = self.actual_instance
        if inner is None:
            return "null"
        to_json = getattr(inner, "to_json", None)
        return to_json() if callable(to_json) else json.dumps(inner)

    def to_str(self) -> str:
        """``pprint.pformat`` of the wrapped value."""
        return pprint.pformat(self.model_dump())
