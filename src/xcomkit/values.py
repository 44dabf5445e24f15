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
import re
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


#: Deepest nesting of objects and arrays accepted in any JSON a request carries (an XCom
#: value, a DAG run's ``conf``; ``[]`` is depth 1). Airflow 3.3.2 serves values up to
#: this depth in every mode and fails with 500 beyond it; xcomkit refuses them with 422.
MAX_JSON_DEPTH = 254


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


#: Any text that could spell a reserved key: every one starts with "__", which a nested
#: JSON string may also write as "\u005f\u005f".
_RESERVED_HINT = re.compile(r"__|u005f", re.IGNORECASE)


def json_text(value: Any) -> str | None:
    """``value`` as JSON text for quick scans, or None when it cannot be encoded."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None


def find_reserved_keys(
    value: Any, path: str = "value", text: str | None = None
) -> tuple[str, list[str]] | None:
    """Return ``(path, sorted reserved keys)`` for the first dict holding reserved keys.

    Walks dicts and lists depth-first (iteratively, so depth is not limited by the
    interpreter's recursion limit); a string whose content parses as a JSON object or
    array is walked as well, because ``deserialize=true`` would re-parse it, as Airflow
    checks. ``path`` renders like ``value.a[2].b``. Returns None when the value is clean.
    Numbers, booleans and nulls are never visited, and a path is only spelled out for
    the hit, so a value of millions of numbers costs one pass over its containers.
    """
    if text is not None and not _RESERVED_HINT.search(text):
        return None  # ``text`` is ``value`` as JSON: no key can start with "__"
    # Each entry: (item, trail); a trail is (parent trail, dict key or list index) or None.
    stack: list[tuple[Any, Any]] = [(value, None)]
    while stack:
        item, trail = stack.pop()
        if isinstance(item, str):
            nested = _parse_nested(item)
            if nested is not None:
                stack.append((nested, trail))
        elif isinstance(item, dict):
            found = RESERVED_KEYS.intersection(item)
            if found:
                return _render_path(path, trail), sorted(found)
            stack.extend(
                (v, (trail, str(k)))
                for k, v in reversed(item.items())
                if isinstance(v, (dict, list, str))
            )
        elif isinstance(item, list):
            stack.extend(
                (v, (trail, i))
                for i, v in reversed(list(enumerate(item)))
                if isinstance(v, (dict, list, str))
            )
    return None


def _render_path(root: str, trail: Any) -> str:
    steps: list[str] = []
    while trail is not None:
        trail, step = trail
        steps.append(f"[{step}]" if isinstance(step, int) else f".{step}")
    return root + "".join(reversed(steps))


def find_lone_surrogate(value: Any) -> str | None:
    """The first string (or dict key) in ``value`` holding a lone UTF-16 surrogate, or None.

    Python's JSON parser accepts escapes such as ``"\\ud800"`` that no UTF-8 text (and
    so no database) can hold.
    """
    if isinstance(value, (dict, list)):
        try:  # the common case, at C speed: the whole value encodes as UTF-8
            json.dumps(value, ensure_ascii=False).encode("utf-8")
            return None
        except UnicodeEncodeError:
            pass  # find which string
        except (TypeError, ValueError, RecursionError):
            pass  # not plain JSON data, or too deep to encode: walk it
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


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH, text: str | None = None) -> bool:
    """True when ``value`` nests objects/arrays more than ``limit`` levels deep.

    Iterative, so any depth the JSON parser produced is measured without recursion.
    With ``text`` (``value`` as JSON), a value with too few brackets to be that deep is
    answered without a walk.
    """
    if not isinstance(value, (dict, list)):
        return False
    if text is not None and text.count("[") + text.count("{") <= limit:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def depth_error(what: str) -> str:
    """The user-facing reason for a value nested beyond :data:`MAX_JSON_DEPTH`."""
    return f"{what} is nested more than {MAX_JSON_DEPTH} levels deep"


def check_value(value: Any) -> Any:
    """Validate a request body's ``value``; return it unchanged.

    Raises:
        XComValueError: reserved serialization keys, with Airflow's message; nesting
            beyond :data:`MAX_JSON_DEPTH`.
    """
    text = json_text(value) if isinstance(value, (dict, list, str)) else None
    if too_deep(value, text=text):
        raise XComValueError(depth_error("value"))
    hit = find_reserved_keys(value, text=text)
    if hit:
        path, keys = hit
        raise XComValueError(
            f"XCom {path} contains reserved serialization keys: {', '.join(keys)}. "
            "These keys are reserved for internal use."
        )
    return value


def same_json(a: Any, b: Any) -> bool:
    """For two values already equal in Python (``a == b``): True when their JSON types
    match too (``1 == 1.0 == True`` in Python, three different JSON values). Used to
    tell whether an import changes an XCom."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return True


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
    """Airflow's ``deserialize=true``: re-parse a stored JSON string, else return as is.

    A string whose JSON nests beyond :data:`MAX_JSON_DEPTH` is returned as the string
    (Airflow answers 500 there), so every stored value can be served.
    """
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if too_deep(parsed):
            return value
        return parsed
    return value


def stringify(value: Any) -> str | None:
    """Airflow's ``stringify=true``: Python's ``str()`` of the value; ``None`` stays ``None``.

    Values nested beyond :data:`MAX_JSON_DEPTH` (stored before that limit existed) are
    rendered without recursion, to the same text ``str()`` gives.
    """
    if value is None:
        return None
    if too_deep(value):
        return _python_text(value)
    return str(value)


def _python_text(value: Any) -> str:
    """``str(value)`` for a JSON-shaped dict or list of any depth (iterative)."""
    out: list[str] = []
    # Work items: a value to render, or a literal piece of text to emit.
    stack: list[tuple[bool, Any]] = [(False, value)]
    while stack:
        literal, item = stack.pop()
        if literal:
            out.append(item)
        elif isinstance(item, dict):
            pieces: list[tuple[bool, Any]] = [(True, "{")]
            for i, (k, v) in enumerate(item.items()):
                pieces += [(True, (", " if i else "") + repr(k) + ": "), (False, v)]
            pieces.append((True, "}"))
            stack.extend(reversed(pieces))
        elif isinstance(item, list):
            pieces = [(True, "[")]
            for i, v in enumerate(item):
                if i:
                    pieces.append((True, ", "))
                pieces.append((False, v))
            pieces.append((True, "]"))
            stack.extend(reversed(pieces))
        else:
            out.append(repr(item))
    return "".join(out)
