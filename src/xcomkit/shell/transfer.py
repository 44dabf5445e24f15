"""``xcomkit xcom export`` and ``xcomkit xcom import``: XComs as JSON Lines.

One JSON object per line, the whole address and the value::

    {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "extract", "map_index": -1,
     "key": "rows", "value": {"count": 3}}

Export lists the entries (Airflow's list answers no values) and fetches each value with
``GET .../xcomEntries/{key}``, several at a time; import sends ``POST`` per line (and,
with ``--overwrite``, ``GET`` + ``PATCH`` for keys that exist with another value), so it
is idempotent: a second import of the same file creates nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from xcomkit.shell import remote
from xcomkit.shell.errors import NOT_FOUND, USAGE, CliError

FIELDS = ("dag_id", "run_id", "task_id", "map_index", "key", "value")
#: Lines sent per round of the thread pool (bounds memory and the --fail-fast overshoot).
BATCH = 256


def _console() -> Console:
    return Console(stderr=True)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on standard error when it is a terminal; yields ``advance(n)``."""
    console = _console()
    if not console.is_terminal:
        yield lambda n: None
        return
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def export_entries(
    api: remote.Remote,
    out: TextIO,
    dag_id: str,
    dag_run_id: str = "~",
    task_id: str = "~",
    *,
    workers: int = 8,
) -> int:
    """Write every XCom matching the address as one JSON line each; return how many.

    Raises:
        CliError: a request failed (the lines written so far stay written).
    """
    from xcomkit.shell.xcom import iter_entries

    path = api.xcom_entries_path(dag_id, dag_run_id, task_id)
    _, first = api.request("GET", path, params={"limit": 1})
    total = first["total_entries"]

    def fetch(entry: dict[str, Any]) -> str:
        url = api.xcom_entry_path(entry["dag_id"], entry["run_id"], entry["task_id"], entry["key"])
        params = {"map_index": entry["map_index"]} if entry["map_index"] != -1 else None
        _, full = api.request("GET", url, params=params)
        record = {name: entry[name] for name in FIELDS[:-1]}
        record["value"] = full["value"]
        return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"

    written = 0
    with progress_bar("export", total) as advance, ThreadPoolExecutor(workers) as pool:
        batch: list[dict[str, Any]] = []
        for entry in iter_entries(api, path, {}):
            batch.append(entry)
            if len(batch) >= BATCH:
                written += _write(pool, fetch, batch, out, advance)
                batch = []
        written += _write(pool, fetch, batch, out, advance)
    return written


def _write(
    pool: ThreadPoolExecutor,
    fetch: Callable[[dict[str, Any]], str],
    batch: list[dict[str, Any]],
    out: TextIO,
    advance: Callable[[int], None],
) -> int:
    for line in pool.map(fetch, batch):
        out.write(line)
        advance(1)
    return len(batch)


@dataclass
class ImportReport:
    """What an import did: counts, and one message per failed line."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[int, CliError]] = field(default_factory=list)

    def summary(self) -> str:
        """``created N, updated N, skipped N, failed N``."""
        return (
            f"created {self.created}, updated {self.updated}, "
            f"skipped {self.skipped}, failed {self.failed}"
        )


def parse_line(text: str) -> dict[str, Any]:
    """One JSONL record, checked.

    Raises:
        CliError: (exit 2) not a JSON object with string dag_id/run_id/task_id/key,
            an integer map_index (default -1) and a value.
    """
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise CliError(f"not JSON: {exc}", USAGE) from None
    if not isinstance(record, dict):
        raise CliError("not a JSON object", USAGE)
    for name in ("dag_id", "run_id", "task_id", "key"):
        if not isinstance(record.get(name), str) or not record[name]:
            raise CliError(f"{name} must be a non-empty string", USAGE)
    record.setdefault("map_index", -1)
    if type(record["map_index"]) is not int:
        raise CliError("map_index must be an integer", USAGE)
    if "value" not in record:
        raise CliError("value is missing", USAGE)
    return record


def _import_one(api: remote.Remote, record: dict[str, Any], overwrite: bool) -> str:
    """Import one record; return ``"created"``, ``"updated"`` or ``"skipped"``."""
    address = (record["dag_id"], record["run_id"], record["task_id"])
    status, _ = api.request(
        "POST",
        api.xcom_entries_path(*address),
        body={"key": record["key"], "value": record["value"], "map_index": record["map_index"]},
        allow=(409,),
    )
    if status != 409:
        return "created"
    if not overwrite:
        return "skipped"
    url = api.xcom_entry_path(*address, record["key"])
    params = {"map_index": record["map_index"]} if record["map_index"] != -1 else None
    _, current = api.request("GET", url, params=params)
    if current.get("value") == record["value"] and _same_types(current["value"], record["value"]):
        return "skipped"
    api.request("PATCH", url, body={"value": record["value"], "map_index": record["map_index"]})
    return "updated"


def _same_types(a: Any, b: Any) -> bool:
    """Equal values of the same JSON types (``1 == 1.0 == True`` in Python; not in JSON)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


def import_lines(
    api: remote.Remote,
    lines: list[str],
    *,
    overwrite: bool = False,
    fail_fast: bool = False,
    workers: int = 8,
    on_error: Callable[[int, CliError], None] | None = None,
) -> ImportReport:
    """Import JSONL ``lines`` (blank lines are ignored); failed lines do not stop the rest
    unless ``fail_fast``. ``on_error(line_number, error)`` is called per failed line, in
    line order within each batch.
    """
    report = ImportReport()
    numbered = [(n, text) for n, text in enumerate(lines, start=1) if text.strip()]

    def one(item: tuple[int, str]) -> tuple[int, str | CliError]:
        number, text = item
        try:
            return number, _import_one(api, parse_line(text), overwrite)
        except CliError as exc:
            return number, exc

    # --fail-fast goes one line at a time, so nothing after the failed line is sent.
    size = 1 if fail_fast else BATCH
    with progress_bar("import", len(numbered)) as advance, ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(numbered), size):
            batch = numbered[start : start + size]
            for number, outcome in pool.map(one, batch):
                if isinstance(outcome, CliError):
                    report.failed += 1
                    report.errors.append((number, outcome))
                    if on_error is not None:
                        on_error(number, outcome)
                else:
                    setattr(report, outcome, getattr(report, outcome) + 1)
                advance(1)
            if fail_fast and report.failed:
                break
    return report


def read_lines(path: str) -> list[str]:
    """The lines of ``path`` (``-`` for standard input).

    Raises:
        CliError: (exit 2) the file cannot be read or is not UTF-8.
    """
    try:
        if path == "-":
            return sys.stdin.read().splitlines()
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError as exc:
        code = NOT_FOUND if isinstance(exc, FileNotFoundError) else USAGE
        raise CliError(f"cannot read {path}: {exc.strerror}", code) from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text: {exc}", USAGE) from None
