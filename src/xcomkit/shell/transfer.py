"""``xcomkit xcom export`` and ``xcomkit xcom import``: XComs as JSON Lines.

One JSON object per line, the whole address and the value::

    {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "extract", "map_index": -1,
     "key": "rows", "value": {"count": 3}}

Airflow 3.3.2's REST API has no bulk XCom call and its list answers no values (nor has
it an option to include them), so export lists the entries and fetches each value with
``GET .../xcomEntries/{key}``, and import sends one ``POST`` per line (and, with
``--overwrite``, ``GET`` + ``PATCH`` for keys that exist with another value); a second
import of the same file creates nothing.

Requests run on a thread pool over keep-alive connections, ``workers`` in flight at
once, fed as a sliding window: a slow request never idles the others, and results are
taken in input order, so the output file, the counts and the per-line messages come out
in line order whatever order the answers arrive in. List pages are asked for with
``limit=1000`` (a server caps it at its ``maximum_page_limit``, 100 on Airflow by
default, and paging follows what it returned) and the next page is fetched while the
values of the current one are.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from xcomkit.shell import remote
from xcomkit.shell.errors import NOT_FOUND, USAGE, CliError
from xcomkit.values import same_json

FIELDS = ("dag_id", "run_id", "task_id", "map_index", "key", "value")
#: Default number of requests in flight (``--workers``).
WORKERS = 16
#: Page size asked of the list endpoint; servers cap it (Airflow: maximum_page_limit).
EXPORT_PAGE = 1000

T = TypeVar("T")
R = TypeVar("R")


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


def in_order(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``fn(item)`` for each of ``items`` on ``pool``, at most ``window`` submitted ahead;
    yields the results in the order of ``items``.

    ``items`` is read lazily (only as far as the window reaches). An exception from
    ``fn`` is raised where its result is due; when the caller stops early (an exception,
    or closing the generator), submitted calls that have not started are cancelled.
    """
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _entries(
    api: remote.Remote, pool: ThreadPoolExecutor, path: str, first: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The entries of ``first`` and of every page after it, each next page fetched on
    ``pool`` while the current one is consumed (offset paging, as ``xcom list --all``)."""
    page, offset = first, 0

    def fetch(at: int) -> dict[str, Any]:
        _, answer = api.request("GET", path, params={"limit": EXPORT_PAGE, "offset": at})
        return cast(dict[str, Any], answer)

    while True:
        entries = page["xcom_entries"]
        offset += len(entries)
        following = None
        if entries and offset < page["total_entries"]:
            following = pool.submit(fetch, offset)
        yield from entries
        if following is None:
            return
        page = following.result()


def export_entries(
    api: remote.Remote,
    out: TextIO,
    dag_id: str,
    dag_run_id: str = "~",
    task_id: str = "~",
    *,
    workers: int = WORKERS,
) -> int:
    """Write every XCom matching the address as one JSON line each; return how many.

    Lines come in the list endpoint's default order (dag_id, task_id, run_id, map_index,
    key), each ``{"dag_id", "run_id", "task_id", "map_index", "key", "value"}`` with the
    value as the server's plain ``GET`` returns it (JSON types and big integers exact).

    Args:
        workers: requests in flight at once (value GETs and the next list page).

    Raises:
        CliError: a request failed (the lines written so far stay written).
    """
    path = api.xcom_entries_path(dag_id, dag_run_id, task_id)
    _, first = api.request("GET", path, params={"limit": EXPORT_PAGE, "offset": 0})

    def fetch(entry: dict[str, Any]) -> str:
        url = api.xcom_entry_path(entry["dag_id"], entry["run_id"], entry["task_id"], entry["key"])
        params = {"map_index": entry["map_index"]} if entry["map_index"] != -1 else None
        _, full = api.request("GET", url, params=params)
        record = {name: entry[name] for name in FIELDS[:-1]}
        record["value"] = full["value"]
        return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"

    written = 0
    with progress_bar("export", first["total_entries"]) as advance:
        pool = ThreadPoolExecutor(workers)
        try:
            entries = _entries(api, pool, path, first)
            for line in in_order(pool, fetch, entries, window=2 * workers):
                out.write(line)
                written += 1
                advance(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return written


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


class _NonFinite(ValueError):
    """A line holds ``NaN``, ``Infinity`` or ``-Infinity``, which no request can carry."""


def _no_constant(name: str) -> Any:
    raise _NonFinite(name)


def parse_line(text: str) -> dict[str, Any]:
    """One JSONL record, checked.

    Raises:
        CliError: (exit 2) not a JSON object with string dag_id/run_id/task_id/key,
            an integer map_index (default -1) and a value; ``NaN`` or ``Infinity``
            anywhere in it (Python's parser reads them, but JSON has no such numbers).
    """
    try:
        record = json.loads(text, parse_constant=_no_constant)
    except _NonFinite as exc:
        raise CliError(f"{exc} is not a JSON number (JSON has no NaN or Infinity)", USAGE) from None
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
    if current.get("value") == record["value"] and same_json(current["value"], record["value"]):
        return "skipped"
    api.request("PATCH", url, body={"value": record["value"], "map_index": record["map_index"]})
    return "updated"


def import_lines(
    api: remote.Remote,
    lines: list[str],
    *,
    overwrite: bool = False,
    fail_fast: bool = False,
    workers: int = WORKERS,
    on_error: Callable[[int, CliError], None] | None = None,
) -> ImportReport:
    """Import JSONL ``lines`` (blank lines are ignored) with ``workers`` requests in
    flight; a failed line does not stop the rest unless ``fail_fast``.

    ``on_error(line_number, error)`` is called per failed line, in line order (numbers
    count from 1 and include blank lines), as are the report's ``errors``. With
    ``fail_fast`` lines go one at a time, so nothing after the failed line is sent.
    """
    report = ImportReport()
    numbered = [(n, text) for n, text in enumerate(lines, start=1) if text.strip()]

    def one(item: tuple[int, str]) -> tuple[int, str | CliError]:
        number, text = item
        try:
            return number, _import_one(api, parse_line(text), overwrite)
        except CliError as exc:
            return number, exc

    width = 1 if fail_fast else workers
    with progress_bar("import", len(numbered)) as advance:
        pool = ThreadPoolExecutor(width)
        try:
            for number, outcome in in_order(pool, one, numbered, window=2 * width - 1):
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
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
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
