"""JSON read exactly as the server wrote it: what xcomkit's clients parse answers with.

orjson is the fast parser, but it reads integers beyond 64 bits as floats and refuses
lone UTF-16 surrogate escapes (``"\\ud800"``) and nesting past 255 levels, all of which
an XCom value may hold (the server stores integers of any size, answers ``deserialize``
with whatever a stored string parses to, and accepts values 254 levels deep). Python's
parser keeps every one of them, as the official ``apache-airflow-client`` does.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["loads"]

#: 19 digits in a row may be an integer beyond 64 bits, which orjson reads as a float.
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_LONG_DIGITS_TEXT = re.compile(r"[0-9]{19}")


def loads(content: bytes | str) -> Any:
    """Parse JSON ``content`` (UTF-8 bytes or text) without losing anything.

    orjson first; Python's parser where orjson would lose or refuse something: a run of
    19 or more digits (maybe an integer beyond 64 bits), or a document orjson refuses
    (lone surrogate escapes, nesting past 255 levels, NaN).

    Raises:
        ValueError: ``content`` is not JSON.
    """
    pattern = _LONG_DIGITS_TEXT if isinstance(content, str) else _LONG_DIGITS
    if not pattern.search(content):  # type: ignore[arg-type]
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass  # maybe valid JSON orjson refuses: let Python's parser decide
    return json.loads(content)
