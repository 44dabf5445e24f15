"""Shared behaviour of the client models: the ``to_dict``/``from_dict`` family.

Every model is a pydantic v2 ``BaseModel`` with the same field names, types and
optionality as the model of the same name in ``airflow_client.client.models``, and these
methods with the official semantics:

- ``to_dict()``: ``model_dump(by_alias=True, exclude_none=True)``, except that a nullable
  field (listed in ``_explicit_none``) explicitly set to None is kept as ``None``, and
  model-valued fields (``_nested``) are dumped by their own ``to_dict()``;
- ``to_json()``: ``json.dumps`` of ``to_dict()`` (datetimes as ISO 8601 strings);
- ``to_str()``: ``pprint.pformat`` of ``model_dump(by_alias=True)``;
- ``from_dict(obj)``: None for None; each declared field read with ``obj.get`` (unknown
  keys ignored, absent ones taken as None, then ``_none_defaults`` applied);
- ``from_json(s)``: ``from_dict(json.loads(s))``.
"""

from __future__ import annotations

import json
import pprint
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import to_jsonable_python
from typing_extensions import Self

from xcomkit import exact_json


class ApiModel(BaseModel):
    """Base of the generated-client-compatible models (see the module docstring)."""

    model_config = ConfigDict(
        validate_by_name=True,
        validate_by_alias=True,
        validate_assignment=True,
        protected_namespaces=(),
    )

    # Nullable fields whose explicit None survives ``to_dict``.
    _explicit_none: ClassVar[tuple[str, ...]] = ()
    # Model-valued fields (a model or a list of models) dumped with their own ``to_dict``.
    _nested: ClassVar[tuple[str, ...]] = ()
    # Field names, in declaration order (cached: ``model_fields`` is slow to reach).
    _field_names: ClassVar[tuple[str, ...]] = ()
    # Whether :meth:`_from_json_bytes` may parse with pydantic's JSON parser directly
    # (only for models where that gives what ``from_dict`` gives).
    _fast_json: ClassVar[bool] = False
    # Fields that ``from_dict`` sets to a default when the input has None or nothing.
    _none_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._field_names = tuple(cls.model_fields)

    def to_str(self) -> str:
        """``pprint.pformat`` of the model's fields."""
        return pprint.pformat(self.model_dump(by_alias=True))

    def to_json(self) -> str:
        """The model as a JSON string."""
        return json.dumps(to_jsonable_python(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        """The model as a dict: None-valued fields left out unless explicitly set to None
        on a nullable field (e.g. ``value``)."""
        out = self.model_dump(by_alias=True, exclude_none=True)
        for name in self._explicit_none:
            if getattr(self, name) is None and name in self.model_fields_set:
                out[name] = None
        for name in self._nested:
            inner = getattr(self, name)
            if isinstance(inner, list):
                out[name] = [item.to_dict() if item is not None else None for item in inner]
            elif inner is not None:
                out[name] = inner.to_dict()
        return out

    @classmethod
    def from_json(cls, json_str: str | bytes) -> Self | None:
        """Parse a JSON document into the model (see :meth:`from_dict`)."""
        return cls.from_dict(json.loads(json_str))

    @classmethod
    def from_dict(cls, obj: Any) -> Self | None:
        """Build the model from a dict (None gives None; a non-dict is validated as is).

        :raises pydantic.ValidationError: a field is missing or has the wrong type.
        """
        if obj is None:
            return None
        if not isinstance(obj, dict):
            return cls.model_validate(obj)
        data = {name: obj.get(name) for name in cls._field_names}
        for name, default in cls._none_defaults.items():
            if data[name] is None:
                data[name] = default
        return cls.model_validate(data)

    @classmethod
    def _from_json_bytes(cls, raw: bytes) -> Self | None:
        """:meth:`from_json` of a response body, faster where ``_fast_json`` allows.

        pydantic's own JSON parser skips the intermediate dict. It only differs from
        ``from_dict`` when a field is absent (``from_dict`` takes it as None); such input
        fails strict parsing and goes through ``from_dict``, so results are the same. So
        does what pydantic's parser refuses (lone surrogate escapes, nesting past 200-odd
        levels): :func:`xcomkit.exact_json.loads` keeps it exactly, integers of any size
        included.
        """
        if cls._fast_json:
            try:
                return cls.model_validate_json(raw)
            except PydanticValidationError:
                pass
        return cls.from_dict(exact_json.loads(raw))
