"""XCom value rules, in one place: storage form, reserved keys, ``stringify`` and ``deserialize``.

An XCom value is any JSON value. xcomkit stores it as compact JSON text (the form it
arrived in, re-encoded once on write) and splices that text into responses unchanged,
so a plain GET never parses and re-dumps the stored value.

The read-side transforms follow Apache Airflow 3.3.2's ``GET .../xcomEntries/{key}``:

* ``deserialize=true``: a stored JSON *string* whose content is itself JSON is parsed
  once more (``"123"`` comes back as ``123``); any other value is returned as stored.
* ``stringify=true``: the value is rendered with Python's ``str()``
  (``{'a': [1, None]}``, ``True``); ``null`` stays ``null``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Keys that Airflow's serializer reserves for its own envelopes. A value that contains
#: one of them, at any depth or inside a JSON string, is refused (Airflow: 422).
RESERVED_KEYS: frozenset[str] = frozenset(
    {
        "__classname__",
        "__version__",
        "__data__",
        "__id__",
        "__cache__",
        "__type",
        "__source",
        "__var",
    }
)

#: Longest key a column holds (Airflow's ``xcom.key`` is ``String(512)``).
MAX_KEY_LENGTH = 512
#: Longest dag_id, task_id or run_id (Airflow's ``ID_LEN``).
MAX_ID_LENGTH = 250
#: The range of a map_index (a 32-bit ``Integer`` column, as in Airflow).
MIN_MAP_INDEX = -(2**31)
MAX_MAP_INDEX = 2**31 - 1


class XComValueError(ValueError):
    """A value that cannot be stored as an XCom. ``str(exc)`` is the user-facing reason."""


def _parse_nested(text: str) -> Any:
    """The object or array a JSON string holds, else None (never raises)."""
    if not text or text.lstrip()[:1] not in ("[", "{"):
        return None
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, (dict, list)) else None


def find_reserved_keys(value: Any, path: str = "value") -> tuple[str, list[str]] | None:
    """Return ``(path, sorted reserved keys)`` for the first dict holding reserved keys.

    Walks dicts and lists depth-first (iteratively, so depth is not limited by the
    interpreter's recursion limit); a string whose content parses as a JSON object or
    array is walked as well, because ``deserialize=true`` would re-parse it, as Airflow
    checks. ``path`` renders like ``value.a[2].b``. Returns None when the value is clean.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            nested = _parse_nested(item)
            if nested is not None:
                stack.append((nested, where))
        elif isinstance(item, dict):
            found = RESERVED_KEYS.intersection(item)
            if found:
                return where, sorted(found)
            stack.extend((v, f"{where}.{k}") for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None


def find_lone_surrogate(value: Any) -> str | None:
    """The first string (or dict key) in ``value`` holding a lone UTF-16 surrogate, or None.

    Python's JSON parser accepts escapes such as ``"\\ud800"`` that no UTF-8 text (and
    so no database) can hold.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def check_value(value: Any) -> Any:
    """Validate a request body's ``value``; return it unchanged.

    Raises:
        XComValueError: reserved serialization keys, with Airflow's message.
    """
    hit = find_reserved_keys(value)
    if hit:
        path, keys = hit
        raise XComValueError(
            f"XCom {path} contains reserved serialization keys: {', '.join(keys)}. "
            "These keys are reserved for internal use."
        )
    return value


def encode(value: Any) -> str:
    """Encode a checked value as the compact JSON text that is stored.

    Python's encoder is used (not orjson) because request bodies may hold integers
    beyond 64 bits, which must round-trip exactly. Non-finite floats (``NaN``,
    ``Infinity``, which Airflow accepts from Python's JSON parser) are kept as
    Python writes them; :func:`is_plain_json` tells whether the text can be sent as is.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_NON_FINITE_TOKENS = ("NaN", "Infinity")


def as_json(text: str | None) -> Any:
    """Stored JSON text ready for a response body: spliced in as is when it is standard
    JSON (``orjson.Fragment``), else decoded so that NaN and Infinity are written as null.
    """
    if text is None:
        return None
    if is_plain_json(text):
        return orjson.Fragment(text)
    return decode(text)


def is_plain_json(text: str) -> bool:
    """True when stored text is standard JSON that can be spliced into a response.

    False when it may hold ``NaN`` or ``Infinity`` (also when those letters only occur
    inside a string, which merely costs a decode and re-encode).
    """
    return not any(token in text for token in _NON_FINITE_TOKENS)


def decode(text: str | None) -> Any:
    """Parse stored JSON text back to a Python value (``None`` for SQL NULL).

    Python's parser, so integers of any size stay exact (orjson would read those
    beyond 64 bits as floats) and ``NaN``/``Infinity`` come back as floats.
    """
    if text is None:
        return None
    return json.loads(text)


def deserialize(value: Any) -> Any:
    """Airflow's ``deserialize=true``: re-parse a stored JSON string, else return as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def stringify(value: Any) -> str | None:
    """Airflow's ``stringify=true``: Python's ``str()`` of the value; ``None`` stays ``None``."""
    if value is None:
        return None
    return str(value)
