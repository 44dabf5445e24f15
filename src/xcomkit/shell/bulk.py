"""``xcomkit xcom export`` / ``import`` over xcomkit's bulk endpoints (``/xcomkit/v1``).

A real Airflow offers one XCom per request (:mod:`xcomkit.shell.transfer`); an xcomkit
server also answers ``GET /xcomkit/v1`` with ``"server": "xcomkit"`` (:func:`probe`,
asked once per command), and then:

- export reads one NDJSON stream of every matching XCom with its value and writes each
  line as the per-XCom path writes it (the same bytes, in the same order);
- import sends the file's lines in batches (at most the server's ``import_max_entries``
  entries and ``max_body_bytes`` bytes each), two batches in flight, each written by the
  server in one transaction with one outcome per entry.

Counts, per-line messages (in line order, numbered from 1) and exit codes are those of
the per-XCom path; a failed line names the XCom and the server's status and detail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from xcomkit.shell import remote
from xcomkit.shell.errors import SERVER, CliError
from xcomkit.shell.transfer import FIELDS, ImportReport, in_order, parse_line, progress_bar

BULK = "/xcomkit/v1"
IMPORT = f"{BULK}/xcomEntries/import"
#: Body bytes kept free for the batch's wrapper (``{"overwrite":..,"xcom_entries":[..]}``).
WRAPPER_BYTES = 64
#: Batches in flight at once: the server writes one while the next is built and sent.
IN_FLIGHT = 2


@dataclass(frozen=True)
class BulkServer:
    """What an xcomkit server's ``GET /xcomkit/v1`` said it accepts."""

    import_max_entries: int
    max_body_bytes: int


def probe(api: remote.Remote) -> BulkServer | None:
    """The server's bulk limits when it is xcomkit, else None (a real Airflow answers
    404, or its web page). One request; a refused token is not renewed here (None: the
    per-XCom path then renews it, or reports the refusal per line as it always has).

    Raises:
        CliError: no answer at all (the server is down).
    """
    status, data = api.request("GET", BULK, allow=tuple(range(400, 600)), renew=False)
    if status != 200 or not isinstance(data, dict) or data.get("server") != "xcomkit":
        return None
    try:
        return BulkServer(int(data["import_max_entries"]), int(data["max_body_bytes"]))
    except (KeyError, TypeError, ValueError):
        return None


def export_path(dag_id: str, dag_run_id: str, task_id: str) -> str:
    """The export path of an address (``~`` matches every dag_id, run or task)."""
    entries = remote.Remote.xcom_entries_path(dag_id, dag_run_id, task_id)
    return BULK + entries.removeprefix(remote.API) + "/export"


def export_entries(
    api: remote.Remote, out: TextIO, dag_id: str, dag_run_id: str = "~", task_id: str = "~"
) -> int:
    """Write every XCom matching the address as one JSON line each; return how many.

    The lines are those :func:`xcomkit.shell.transfer.export_entries` writes.

    Raises:
        CliError: a request failed, or the server ended the stream with an error (the
            lines written so far stay written).
    """
    written = 0
    with api.stream_lines(export_path(dag_id, dag_run_id, task_id)) as (headers, lines):
        total = headers.get("x-total-entries")
        with progress_bar("export", int(total) if total and total.isdigit() else None) as advance:
            for text in lines:
                record = json.loads(text)
                if "key" not in record:
                    raise CliError(f"the export stopped early: {record.get('error')}", SERVER)
                out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
                written += 1
                advance(1)
    return written


@dataclass
class _Batch:
    """Consecutive lines of the file: the numbers of those sent (in order) with their
    encoded entries, and the lines that failed before sending."""

    sent: list[tuple[int, dict[str, Any]]]
    parts: list[bytes]
    refused: list[tuple[int, CliError]]


def _batches(numbered: Iterable[tuple[int, str]], server: BulkServer) -> Iterator[_Batch]:
    limit = server.max_body_bytes - WRAPPER_BYTES
    batch, size = _Batch([], [], []), 0
    for number, text in numbered:
        try:
            record = parse_line(text)
            part = json.dumps(
                {name: record[name] for name in FIELDS}, ensure_ascii=False, allow_nan=False
            ).encode()
        except CliError as exc:
            batch.refused.append((number, exc))
            continue
        if batch.sent and (
            len(batch.sent) >= server.import_max_entries or size + len(part) + 1 > limit
        ):
            yield batch
            batch, size = _Batch([], [], []), 0
        batch.sent.append((number, record))
        batch.parts.append(part)
        size += len(part) + 1
    if batch.sent or batch.refused:
        yield batch


def _outcomes(
    api: remote.Remote, batch: _Batch, overwrite: bool
) -> list[tuple[int, str | CliError]]:
    """Send one batch; each line's outcome, in line order."""
    done: list[tuple[int, str | CliError]] = list(batch.refused)
    if batch.sent:
        head = b'{"overwrite":' + (b"true" if overwrite else b"false") + b',"xcom_entries":['
        content = head + b",".join(batch.parts) + b"]}"
        try:
            _, answer = api.request("POST", IMPORT, content=content)
            results = answer["results"]
        except CliError as exc:  # the whole batch was refused (e.g. 413, 403, 503)
            done.extend((number, exc) for number, _ in batch.sent)
        else:
            for (number, record), result in zip(batch.sent, results, strict=True):
                done.append((number, _outcome(record, result)))
    return sorted(done, key=lambda item: item[0])


def _outcome(record: dict[str, Any], result: dict[str, Any]) -> str | CliError:
    if result["outcome"] != "failed":
        return str(result["outcome"])
    status = int(result.get("status") or 500)
    where = f"{record['dag_id']}/{record['run_id']}/{record['task_id']}"
    message = (
        f"import of {record['key']!r} (map_index {record['map_index']}) into {where}: "
        f"{status} {remote.detail_text(result.get('detail'))}"
    )
    return CliError(message, remote.exit_code_for(status))


def import_lines(
    api: remote.Remote,
    lines: list[str],
    server: BulkServer,
    *,
    overwrite: bool = False,
    on_error: Callable[[int, CliError], None] | None = None,
) -> ImportReport:
    """Import JSONL ``lines`` (blank lines are ignored) in batches; a failed line does
    not stop the rest. Counts, messages (``on_error(line_number, error)``, in line
    order) and the report are those of :func:`xcomkit.shell.transfer.import_lines`.
    """
    report = ImportReport()
    numbered = [(n, text) for n, text in enumerate(lines, start=1) if text.strip()]
    if not numbered:
        return report
    with progress_bar("import", len(numbered)) as advance, ThreadPoolExecutor(IN_FLIGHT) as pool:
        batches = _batches(numbered, server)
        for outcomes in in_order(pool, lambda b: _outcomes(api, b, overwrite), batches, IN_FLIGHT):
            for number, outcome in outcomes:
                if isinstance(outcome, CliError):
                    report.failed += 1
                    report.errors.append((number, outcome))
                    if on_error is not None:
                        on_error(number, outcome)
                else:
                    setattr(report, outcome, getattr(report, outcome) + 1)
            advance(len(outcomes))
    return report
