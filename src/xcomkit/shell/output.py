"""Printing results as ``json``, ``yaml``, ``table`` or ``plain`` (``-o``/``--output``).

JSON values keep their JSON types in every format: numbers stay numbers (integers of any
size exact), strings stay strings, ``null`` stays ``null``.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# yaml and rich are imported by the formats that use them: the CLI module imports this
# one, and ``xcomkit serve`` prints no table (docs/performance.md, "Start-up").
if TYPE_CHECKING:
    from rich.console import Console


class Output(str, enum.Enum):
    """The ``-o`` choices."""

    json = "json"
    yaml = "yaml"
    table = "table"
    plain = "plain"


def dumps(value: Any) -> str:
    """Compact JSON text of ``value`` (UTF-8 kept, big integers exact)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def plain_value(value: Any) -> str:
    """A value for shell pipelines: a string as is, anything else as compact JSON."""
    return value if isinstance(value, str) else dumps(value)


def _console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False, highlight=False)


def emit_document(data: Any, fmt: Output) -> None:
    """Print ``data`` (decoded JSON) as JSON or YAML."""
    if fmt is Output.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def emit_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Output, document: Any
) -> None:
    """Print records: ``document`` for json/yaml, a table, or tab-separated ``plain`` lines.

    Args:
        rows: the records (decoded JSON objects).
        columns: the fields shown by ``table`` and ``plain``, in order.
        document: what ``json`` and ``yaml`` print (usually the server's answer).
    """
    if fmt in (Output.json, Output.yaml):
        emit_document(document, fmt)
        return
    if fmt is Output.plain:
        for row in rows:
            sys.stdout.write("\t".join(_cell(row.get(c)) for c in columns) + "\n")
        return
    from rich.table import Table

    table = Table(*columns, show_lines=False)
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    _console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return plain_value(value)


def emit_entry(entry: dict[str, Any], fmt: Output) -> None:
    """Print one XCom entry; ``plain`` prints only its value (strings as is)."""
    if fmt in (Output.json, Output.yaml):
        emit_document(entry, fmt)
    elif fmt is Output.plain:
        sys.stdout.write(plain_value(entry.get("value")) + "\n")
    else:
        from rich.table import Table

        table = Table("field", "value", show_header=False)
        table.columns[1].overflow = "fold"
        for name, value in entry.items():
            table.add_row(name, _cell(value) if name != "value" else dumps(value))
        _console().print(table)
