"""JSON response bodies: orjson on the hot path, with a safe fallback.

orjson writes datetimes as RFC 3339 with ``Z`` for UTC (as pydantic does for Airflow),
splices stored JSON text in unchanged (``orjson.Fragment``) and writes NaN and
Infinity as ``null``. It cannot write integers beyond 64 bits; those bodies go through
the standard library instead, with the same output conventions.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from typing import Any

import orjson
from starlette.responses import Response

_OPTS = orjson.OPT_UTC_Z


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        if obj.tzinfo is not None:
            obj = obj.astimezone(timezone.utc)
            return obj.replace(tzinfo=None).isoformat() + "Z"
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    """A copy of ``obj`` with NaN and Infinity replaced by None (iterative: any depth)."""

    def convert(item: Any) -> Any:
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            copy: Any = {}
            pending.append((item.items(), copy))
            return copy
        if isinstance(item, (list, tuple)):
            out: Any = []
            pending.append((enumerate(item), out))
            return out
        return item

    pending: list[tuple[Any, Any]] = []
    root = convert(obj)
    while pending:
        items, target = pending.pop()
        for k, v in items:
            if isinstance(target, dict):
                target[str(k)] = convert(v)
            else:
                target.append(convert(v))
    return root


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` (dicts, lists, scalars, datetimes, ``orjson.Fragment``) as JSON bytes.

    NaN and Infinity become ``null``; integers of any size are written exactly; strings
    that are not valid Unicode (lone surrogates) are written as ``\\uXXXX`` escapes.
    """
    try:
        return orjson.dumps(obj, option=_OPTS)
    except TypeError:
        pass
    # Slow path: integers beyond 64 bits, nesting beyond orjson's 255 levels, or lone
    # surrogates (never beside an orjson.Fragment: fragments carry stored values next
    # to fixed metadata, which orjson always encodes).
    try:
        text = json.dumps(obj, default=_default, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or Infinity
        text = json.dumps(_finite(obj), default=_default, separators=(",", ":"))
    return text.encode()


class JSONBytes(Response):
    """A response whose body is already encoded JSON."""

    media_type = "application/json"


def json_response(
    obj: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response for ``obj`` encoded with :func:`dumps`."""
    return JSONBytes(dumps(obj), status_code=status_code, headers=headers)
