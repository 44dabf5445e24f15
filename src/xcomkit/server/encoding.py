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


def _plain(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        if obj.tzinfo is not None:
            obj = obj.astimezone(timezone.utc)
            return obj.replace(tzinfo=None).isoformat() + "Z"
        return obj.isoformat()
    if isinstance(obj, date):
        return obj.isoformat()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` (dicts, lists, scalars, datetimes, ``orjson.Fragment``) as JSON bytes.

    NaN and Infinity become ``null``; integers of any size are written exactly.
    """
    try:
        return orjson.dumps(obj, option=_OPTS)
    except TypeError:
        pass
    # Slow path: integers beyond 64 bits (never beside an orjson.Fragment: fragments
    # carry stored values next to fixed metadata, which orjson always encodes).
    text = json.dumps(_plain(obj), default=_default, ensure_ascii=False, separators=(",", ":"))
    return text.encode()


class JSONBytes(Response):
    """A response whose body is already encoded JSON."""

    media_type = "application/json"


def json_response(
    obj: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response for ``obj`` encoded with :func:`dumps`."""
    return JSONBytes(dumps(obj), status_code=status_code, headers=headers)
