"""``LocationInner``: one item of a :class:`ValidationError`'s ``loc``, a string or an int."""

from __future__ import annotations

from typing import Any, ClassVar

from xcomkit.client.models._anyof import AnyOfModel

LOCATIONINNER_ANY_OF_SCHEMAS = ["int", "str"]


class LocationInner(AnyOfModel):
    """One step of an error location: ``str`` (e.g. ``"body"``, ``"query"``, a field name)
    or ``int`` (a list index) in ``actual_instance``."""

    any_of_schemas: ClassVar[set[str]] = {"int", "str"}

    @classmethod
    def _check(cls, value: Any) -> Any:
        if type(value) is str or type(value) is int:
            return value
        raise cls._no_match(value)
