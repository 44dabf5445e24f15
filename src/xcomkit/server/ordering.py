"""``order_by`` query parameters, as Airflow 3.3.2 validates them for list endpoints.

Each value is a field name, ``-name`` for descending; the parameter repeats for
multi-field sorts (``order_by=-dag_id&order_by=key``), at most ten times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from fastapi import HTTPException

T = TypeVar("T")

MAX_SORT_PARAMS = 10


def parse_order_by(order_by: list[str], allowed: Mapping[str, T]) -> list[tuple[T, bool]]:
    """Map ``order_by`` values to ``(allowed[name], descending)`` pairs.

    Raises:
        HTTPException: 400 with Airflow's message for more than ten values or a name
            not in ``allowed`` (reported without its ``-``).
    """
    if len(order_by) > MAX_SORT_PARAMS:
        raise HTTPException(
            400,
            f"Ordering with more than {MAX_SORT_PARAMS} parameters is not allowed. "
            f"Provided: {order_by}",
        )
    parsed: list[tuple[T, bool]] = []
    for item in order_by:
        name = item.lstrip("-")
        if name not in allowed:
            raise HTTPException(
                400,
                f"Ordering with '{name}' is disallowed or "
                "the attribute does not exist on the model",
            )
        parsed.append((allowed[name], item.startswith("-")))
    return parsed
