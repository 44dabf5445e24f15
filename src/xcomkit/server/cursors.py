"""Keyset-page cursors of the DAG-run list, in Airflow 3.3.2's form.

A cursor is the sort key of a page's boundary row: the list of its values, one per
``order_by`` column (the appended ``id`` too), packed with MessagePack (msgspec, as
Airflow packs it) and written as URL-safe base64 without padding. ``~`` in front marks a
cursor that pages backward. A cursor from Airflow and one from xcomkit for the same row
and order are the same string.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import msgspec
from fastapi import HTTPException

BACKWARD = "~"


def encode(values: Sequence[Any]) -> str:
    """The cursor of a row whose sort key is ``values`` (str, int, float, None, dict,
    timezone-aware datetime)."""
    packed = msgspec.msgpack.encode(list(values))
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def parse(cursor: str, width: int) -> tuple[list[Any], bool]:
    """``(sort key values, backward)`` of a non-empty ``cursor`` for an order of ``width``
    columns.

    Raises:
        HTTPException: 400 with Airflow's detail: ``Invalid cursor token`` (not base64
            or not MessagePack), ``Invalid cursor token structure`` (not a list),
            ``Cursor token does not match current query shape`` (not ``width`` values).
    """
    backward = cursor.startswith(BACKWARD)
    token = cursor[len(BACKWARD) :] if backward else cursor
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = msgspec.msgpack.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise HTTPException(400, "Invalid cursor token") from None
    if not isinstance(data, list):
        raise HTTPException(400, "Invalid cursor token structure")
    if len(data) != width:
        raise HTTPException(400, "Cursor token does not match current query shape")
    return data, backward
