"""Argument checks for the API methods: a fast path, and pydantic for the rest.

The official client wraps every API method in ``pydantic.validate_call``, which costs
tens of microseconds per call. Here each method first runs cheap exact-type checks; only
when one fails do the arguments go through ``validate_call`` built from the method's own
signature, which coerces what pydantic would coerce (a dict into the body model, an ISO
string into a datetime) and otherwise raises the same ``pydantic.ValidationError``
(same title, locations and messages) as the official client.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import validate_call

_VALIDATORS: dict[Callable[..., Any], Callable[..., inspect.BoundArguments]] = {}


def validated(method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Validate ``method``'s arguments (``args[0]`` is ``self``; pass the rest by name, so
    errors name the parameter) with pydantic.

    ``method``'s annotations must be objects, not strings (its module must not use
    ``from __future__ import annotations``).

    :returns: every parameter (defaults filled in) by name, as pydantic coerced it.
    :raises pydantic.ValidationError: as the official client's ``validate_call`` does.
    """
    validator = _VALIDATORS.get(method)
    if validator is None:
        signature = inspect.signature(method)

        def bind(*a: Any, **kw: Any) -> inspect.BoundArguments:
            return signature.bind(*a, **kw)

        bind.__signature__ = signature  # type: ignore[attr-defined]
        bind.__annotations__ = dict(method.__annotations__)
        bind.__name__ = method.__name__
        bind.__qualname__ = method.__qualname__
        validator = validate_call(bind)
        _VALIDATORS[method] = validator
    bound = validator(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


# -- fast checks: exact types, as the official Strict* annotations demand -----------------


def is_str(v: Any) -> bool:
    return type(v) is str


def opt_str(v: Any) -> bool:
    return v is None or type(v) is str


def opt_int(v: Any) -> bool:
    return v is None or type(v) is int


def opt_map_index(v: Any) -> bool:
    return v is None or (type(v) is int and v >= -1)


def opt_non_negative(v: Any) -> bool:
    return v is None or (type(v) is int and v >= 0)


def opt_bool(v: Any) -> bool:
    return v is None or type(v) is bool


def opt_datetime(v: Any) -> bool:
    return v is None or isinstance(v, datetime)


def opt_str_list(v: Any) -> bool:
    return v is None or (type(v) is list and all(type(i) is str for i in v))


def _positive(v: Any) -> bool:
    return (type(v) is float or type(v) is int) and v > 0


def request_options_ok(
    timeout: Any, auth: Any, content_type: Any, headers: Any, host_index: Any
) -> bool:
    """True if the ``_request_*`` options have the types the official client accepts."""
    return (
        (
            timeout is None
            or _positive(timeout)
            or (type(timeout) is tuple and len(timeout) == 2 and all(map(_positive, timeout)))
        )
        and (auth is None or type(auth) is dict)
        and (content_type is None or type(content_type) is str)
        and (headers is None or type(headers) is dict)
        and host_index == 0
        and type(host_index) is int
    )
