"""``Detail``: the ``detail`` of an :class:`HTTPExceptionResponse`, a string or an object."""

from __future__ import annotations

from typing import Any, ClassVar

from xcomkit.client.models._anyof import AnyOfModel

DETAIL_ANY_OF_SCHEMAS = ["Dict[str, object]", "str"]


class Detail(AnyOfModel):
    """Error detail: ``str`` (e.g. ``"Not authenticated"``) or ``dict`` (e.g. Airflow's
    ``{"reason": ..., "statement": ..., ...}`` on a unique-key conflict) in ``actual_instance``.
    """

    any_of_schemas: ClassVar[set[str]] = {"Dict[str, object]", "str"}

    @classmethod
    def _check(cls, value: Any) -> Any:
        if type(value) is str or (isinstance(value, dict) and all(type(k) is str for k in value)):
            return value
        raise cls._no_match(value)
