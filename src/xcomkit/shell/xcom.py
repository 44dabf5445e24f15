"""``xcomkit login``/``logout`` and ``xcomkit xcom list|get|set|delete|export|import``.

Every command works against any Airflow 3 API server through the public REST API; the
server comes from ``--api-url``, else ``$XCOMKIT_API_URL``, else ``http://127.0.0.1:8080``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from xcomkit.shell import output, remote
from xcomkit.shell.errors import CONFLICT, USAGE, CliError
from xcomkit.shell.groups import sub_app
from xcomkit.shell.output import Output

xcom_app = sub_app("Read, write and move XComs on an Airflow 3 API server.")

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="XCOMKIT_API_URL",
        help=f"API server root (default: $XCOMKIT_API_URL or {remote.DEFAULT_API_URL}).",
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Output, typer.Option("--output", "-o", help="json, yaml, table or plain.", show_default=True)
]
MapIndex = Annotated[
    int, typer.Option("--map-index", help="Mapped task instance (-1: not mapped).")
]

ENTRY_COLUMNS = ("dag_id", "run_id", "task_id", "map_index", "key", "timestamp")


def login(
    username: Annotated[str, typer.Option("--username", "-u", help="User name.")],
    api_url: ApiUrl = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input."),
    ] = False,
    keep_password: Annotated[
        bool,
        typer.Option(
            "--keep-password",
            help="Keep the password too (same 0600 file) to renew an expired token.",
        ),
    ] = False,
) -> None:
    """Log in to an API server and keep its token (0600, per API URL) for later commands.

    The password is prompted for on a terminal, else read from standard input. With
    --keep-password a token that expires is renewed by logging in again; without it,
    an expired token is answered with the login command to run.
    """
    url = remote.normalize_url(api_url or remote.DEFAULT_API_URL)
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    if not password:
        raise CliError("the password must not be empty", USAGE)
    token = remote.login(url, username, password)
    path = remote.save_token(url, username, token, password if keep_password else None)
    kept = "token and password" if keep_password else "token"
    typer.echo(f"logged in to {url} as {username}; {kept} kept in {path}")


def logout(api_url: ApiUrl = None) -> None:
    """Forget the kept token of an API server."""
    url = remote.normalize_url(api_url or remote.DEFAULT_API_URL)
    if remote.forget_token(url):
        typer.echo(f"logged out of {url}")
    else:
        typer.echo(f"no token kept for {url}")


def _date(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@xcom_app.command("list")
def xcom_list(
    dag_id: Annotated[str, typer.Argument(help="DAG id, or ~ for every DAG.")],
    dag_run_id: Annotated[str, typer.Argument(help="DAG run id, or ~ (default).")] = "~",
    task_id: Annotated[str, typer.Argument(help="Task id, or ~ (default).")] = "~",
    key: Annotated[str | None, typer.Option("--key", help="Exactly this key.")] = None,
    key_pattern: Annotated[
        str | None, typer.Option("--key-pattern", help="Keys matching a LIKE pattern (%, _).")
    ] = None,
    key_prefix: Annotated[
        str | None, typer.Option("--key-prefix", help="Keys starting with this text.")
    ] = None,
    map_index: Annotated[
        int | None, typer.Option("--map-index", help="Only this map index.")
    ] = None,
    map_index_filter: Annotated[
        int | None, typer.Option("--map-index-filter", help="Airflow's map_index_filter.")
    ] = None,
    dag_display_name_pattern: Annotated[
        str | None,
        typer.Option("--dag-display-name-pattern", help="DAG display names matching a pattern."),
    ] = None,
    dag_display_name_prefix: Annotated[
        str | None,
        typer.Option("--dag-display-name-prefix", help="DAG display names starting with this."),
    ] = None,
    run_id_pattern: Annotated[
        str | None, typer.Option("--run-id-pattern", help="DAG run ids matching a pattern.")
    ] = None,
    run_id_prefix: Annotated[
        str | None, typer.Option("--run-id-prefix", help="DAG run ids starting with this.")
    ] = None,
    task_id_pattern: Annotated[
        str | None, typer.Option("--task-id-pattern", help="Task ids matching a pattern.")
    ] = None,
    task_id_prefix: Annotated[
        str | None, typer.Option("--task-id-prefix", help="Task ids starting with this.")
    ] = None,
    logical_date_gte: Annotated[datetime | None, typer.Option(help="logical_date >= this.")] = None,
    logical_date_gt: Annotated[datetime | None, typer.Option(help="logical_date > this.")] = None,
    logical_date_lte: Annotated[datetime | None, typer.Option(help="logical_date <= this.")] = None,
    logical_date_lt: Annotated[datetime | None, typer.Option(help="logical_date < this.")] = None,
    run_after_gte: Annotated[datetime | None, typer.Option(help="run_after >= this.")] = None,
    run_after_gt: Annotated[datetime | None, typer.Option(help="run_after > this.")] = None,
    run_after_lte: Annotated[datetime | None, typer.Option(help="run_after <= this.")] = None,
    run_after_lt: Annotated[datetime | None, typer.Option(help="run_after < this.")] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", help="Sort field, - for descending; repeatable."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Page size (server default 50, cap 100).")
    ] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Entries to skip.")] = 0,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Every matching entry, page after page.")
    ] = False,
    api_url: ApiUrl = None,
    fmt: OutputOpt = Output.table,
) -> None:
    """List XComs (no values; use get for one value, export for all of them).

    Dates are ISO 8601 (a date without a time zone is taken as UTC).
    """
    params: dict[str, Any] = {
        "xcom_key": key,
        "xcom_key_pattern": key_pattern,
        "xcom_key_prefix_pattern": key_prefix,
        "map_index": map_index,
        "map_index_filter": map_index_filter,
        "dag_display_name_pattern": dag_display_name_pattern,
        "dag_display_name_prefix_pattern": dag_display_name_prefix,
        "run_id_pattern": run_id_pattern,
        "run_id_prefix_pattern": run_id_prefix,
        "task_id_pattern": task_id_pattern,
        "task_id_prefix_pattern": task_id_prefix,
        "logical_date_gte": _utc(logical_date_gte),
        "logical_date_gt": _utc(logical_date_gt),
        "logical_date_lte": _utc(logical_date_lte),
        "logical_date_lt": _utc(logical_date_lt),
        "run_after_gte": _utc(run_after_gte),
        "run_after_gt": _utc(run_after_gt),
        "run_after_lte": _utc(run_after_lte),
        "run_after_lt": _utc(run_after_lt),
        "order_by": order_by or None,
    }
    path = remote.Remote.xcom_entries_path(dag_id, dag_run_id, task_id)
    with remote.connect(api_url) as api:
        if all_pages:
            entries, total = list(iter_entries(api, path, params, offset)), None
            total = len(entries)
        else:
            _, page = api.request(
                "GET", path, params={**params, "limit": limit, "offset": offset or None}
            )
            entries, total = page["xcom_entries"], page["total_entries"]
    document = {"xcom_entries": entries, "total_entries": total}
    output.emit_rows(entries, ENTRY_COLUMNS, fmt, document)


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "Z"
    return value.isoformat()


PAGE = 100


def iter_entries(api: remote.Remote, path: str, params: dict[str, Any], offset: int = 0) -> Any:
    """Every entry of a list query, fetched 100 at a time (offset paging).

    Yields the decoded entry objects (without values). A page that comes back empty or
    reaches ``total_entries`` ends it.
    """
    while True:
        _, page = api.request("GET", path, params={**params, "limit": PAGE, "offset": offset})
        entries = page["xcom_entries"]
        yield from entries
        offset += len(entries)
        if not entries or offset >= page["total_entries"]:
            return


@xcom_app.command("get")
def xcom_get(
    dag_id: Annotated[str, typer.Argument(help="DAG id.")],
    dag_run_id: Annotated[str, typer.Argument(help="DAG run id.")],
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    key: Annotated[str, typer.Argument(help="XCom key.")],
    map_index: MapIndex = -1,
    stringify: Annotated[
        bool, typer.Option("--stringify", help="The server's str() of the value.")
    ] = False,
    deserialize: Annotated[
        bool, typer.Option("--deserialize", help="Let the server parse a stored JSON string.")
    ] = False,
    api_url: ApiUrl = None,
    fmt: OutputOpt = Output.table,
) -> None:
    """Print one XCom (-o plain: just its value, e.g. for jq)."""
    if stringify and deserialize:
        raise CliError("--stringify and --deserialize cannot be used together", USAGE)
    params = {
        "map_index": map_index if map_index != -1 else None,
        "stringify": "true" if stringify else None,
        "deserialize": "true" if deserialize else None,
    }
    with remote.connect(api_url) as api:
        _, entry = api.request(
            "GET", api.xcom_entry_path(dag_id, dag_run_id, task_id, key), params=params
        )
    output.emit_entry(entry, fmt)


def _read_value(value: str | None, file: str | None, as_string: bool) -> Any:
    if (value is None) == (file is None):
        raise CliError("give either VALUE or --file (- for standard input)", USAGE)
    if file is not None:
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror}", USAGE) from None
    else:
        text = value or ""
    if as_string:
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(
            f"the value is not JSON ({exc}); add --string to store it as text", USAGE
        ) from None


@xcom_app.command("set")
def xcom_set(
    dag_id: Annotated[str, typer.Argument(help="DAG id.")],
    dag_run_id: Annotated[str, typer.Argument(help="DAG run id.")],
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    key: Annotated[str, typer.Argument(help="XCom key.")],
    value: Annotated[
        str | None, typer.Argument(help="The value, as JSON (or text with --string).")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="Read the value from a file (- : stdin).")
    ] = None,
    as_string: Annotated[
        bool, typer.Option("--string", help="Store the text as is, not parsed as JSON.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Update the XCom if the key exists.")
    ] = False,
    map_index: MapIndex = -1,
    api_url: ApiUrl = None,
    fmt: OutputOpt = Output.table,
) -> None:
    """Create an XCom (exit 4 if the key exists, unless --overwrite)."""
    parsed = _read_value(value, file, as_string)
    with remote.connect(api_url) as api:
        entry = set_entry(api, dag_id, dag_run_id, task_id, key, parsed, map_index, overwrite)[1]
    output.emit_entry(entry, fmt)


def set_entry(
    api: remote.Remote,
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    key: str,
    value: Any,
    map_index: int,
    overwrite: bool,
) -> tuple[bool, Any]:
    """POST the entry; on 409 with ``overwrite``, PATCH it. Return ``(created, entry)``.

    Raises:
        CliError: exit 4 on 409 without ``overwrite``; others as :class:`remote.Remote`.
    """
    status, entry = api.request(
        "POST",
        api.xcom_entries_path(dag_id, dag_run_id, task_id),
        body={"key": key, "value": value, "map_index": map_index},
        allow=(409,),
    )
    if status != 409:
        return True, entry
    if not overwrite:
        raise CliError(
            f"XCom {key!r} of {dag_id}/{dag_run_id}/{task_id} (map_index {map_index}) "
            "exists; add --overwrite to update it",
            CONFLICT,
        )
    _, entry = api.request(
        "PATCH",
        api.xcom_entry_path(dag_id, dag_run_id, task_id, key),
        body={"value": value, "map_index": map_index},
    )
    return False, entry


@xcom_app.command("delete")
def xcom_delete(
    dag_id: Annotated[str, typer.Argument(help="DAG id.")],
    dag_run_id: Annotated[str, typer.Argument(help="DAG run id.")],
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    key: Annotated[str, typer.Argument(help="XCom key.")],
    map_index: MapIndex = -1,
    api_url: ApiUrl = None,
) -> None:
    """Delete one XCom (exit 1 if there is none)."""
    with remote.connect(api_url) as api:
        api.request(
            "DELETE",
            api.xcom_entry_path(dag_id, dag_run_id, task_id, key),
            params={"map_index": map_index},
        )
    typer.echo(f"deleted XCom {key!r} of {dag_id}/{dag_run_id}/{task_id} (map_index {map_index})")


Workers = Annotated[
    int, typer.Option("--workers", min=1, max=64, help="Requests in flight at once.")
]
DEFAULT_WORKERS = 16  # xcomkit.shell.transfer.WORKERS (not imported here: start-up time)
PerXCom = Annotated[
    bool,
    typer.Option(
        "--per-xcom",
        help="One REST request per XCom (Airflow's API), even when the server is xcomkit.",
    ),
]


@xcom_app.command("export")
def xcom_export(
    dag_id: Annotated[str, typer.Argument(help="DAG id, or ~ for every DAG.")],
    dag_run_id: Annotated[str, typer.Argument(help="DAG run id, or ~ (default).")] = "~",
    task_id: Annotated[str, typer.Argument(help="Task id, or ~ (default).")] = "~",
    workers: Workers = DEFAULT_WORKERS,
    per_xcom: PerXCom = False,
    api_url: ApiUrl = None,
) -> None:
    """Write XComs with their values to standard output, one JSON object per line.

    From an xcomkit server in one streamed request; from any other server (Airflow) one
    request per XCom, --workers at once.
    """
    from xcomkit.shell import bulk, transfer

    with remote.connect(api_url, pool=workers) as api:
        server = None if per_xcom else bulk.probe(api)
        if server is not None:
            count = bulk.export_entries(api, sys.stdout, dag_id, dag_run_id, task_id)
        else:
            count = transfer.export_entries(
                api, sys.stdout, dag_id, dag_run_id, task_id, workers=workers
            )
    sys.stdout.flush()
    typer.echo(f"exported {count} XCom(s)", err=True)


@xcom_app.command("import")
def xcom_import(
    file: Annotated[str, typer.Argument(help="A JSONL file from export (- : stdin).")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Update XComs that exist with another value.")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first line that fails.")
    ] = False,
    workers: Workers = DEFAULT_WORKERS,
    per_xcom: PerXCom = False,
    api_url: ApiUrl = None,
) -> None:
    """Create the XComs of a JSONL file; report created / updated / skipped / failed.

    An XCom that exists is skipped (with --overwrite: updated if its value differs), so
    importing a file twice changes nothing. A failed line is reported with its number and
    the rest go on (unless --fail-fast); the exit code is then that of the first failure.
    An xcomkit server takes the lines in batches of up to 1,000; any other server
    (Airflow), and --fail-fast, one request per line.
    """
    from xcomkit.shell import bulk, transfer

    lines = transfer.read_lines(file)

    def report_line(number: int, error: CliError) -> None:
        typer.echo(f"line {number}: {error.message}", err=True)

    with remote.connect(api_url, pool=workers) as api:
        server = None if per_xcom or fail_fast else bulk.probe(api)
        if server is not None:
            report = bulk.import_lines(
                api, lines, server, overwrite=overwrite, on_error=report_line
            )
        else:
            report = transfer.import_lines(
                api,
                lines,
                overwrite=overwrite,
                fail_fast=fail_fast,
                workers=1 if fail_fast else workers,
                on_error=report_line,
            )
    typer.echo(report.summary())
    if report.errors:
        first = report.errors[0][1]
        raise typer.Exit(first.exit_code)
