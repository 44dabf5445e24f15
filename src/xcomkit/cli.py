"""The ``xcomkit`` command line (typer): serve, db, users, dags; login and xcom.

The server-side commands take ``--db`` (default ``$XCOMKIT_DB`` or
``sqlite:///xcomkit.db``); ``login`` and ``xcom`` talk to an API server
(:mod:`xcomkit.shell`). A failure prints one line and exits with a documented code
(:mod:`xcomkit.shell.errors`); ``xcomkit --debug ...`` adds the traceback.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer

from xcomkit import collector
from xcomkit.durations import format_duration, parse_duration
from xcomkit.logs import log_config
from xcomkit.private_files import write_private
from xcomkit.server.auth.roles import ROLES, normalize_role
from xcomkit.shell import errors as cli_errors
from xcomkit.shell.groups import LaterGroups, sub_app
from xcomkit.shell.output import Output, emit_rows
from xcomkit.shell.xcom import login, logout, xcom_app

# The database side (SQLAlchemy, pydantic-settings, the store) is imported by the commands
# that use it: ``xcomkit xcom ...`` then starts in about a third of the time.
if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from xcomkit.service.retention import CleanReport
    from xcomkit.settings import Settings
    from xcomkit.store.objects import ObjectStore

db_app = sub_app("Database schema.")
users_app = sub_app("Users and roles.")
dags_app = sub_app("DAG definitions and DAG runs.")
storage_app = sub_app("Values kept in object storage.")


class _Xcomkit(LaterGroups):
    """The ``xcomkit`` group: its sub-command groups are built when used (shell/groups.py)."""

    later: ClassVar[dict[str, typer.Typer]] = {
        "db": db_app,
        "users": users_app,
        "dags": dags_app,
        "storage": storage_app,
        "xcom": xcom_app,
    }


app = typer.Typer(
    cls=_Xcomkit,
    help="xcomkit: Apache Airflow 3's XCom REST API, standalone.",
    epilog=(
        "Exit codes: 0 ok, 1 not found, 2 usage, 3 authentication, 4 conflict, "
        "5 server or connection (docs/cli.md)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: a flag shows no value type (``--no-auth``, not ``--no-auth <bool>``),
    # and a usage error is one line, not a box.
    rich_markup_mode=None,
)
app.command("login")(login)
app.command("logout")(logout)


@cache
def _out() -> Console:
    """Standard output with rich markup, made on first use: rich is not imported by
    ``xcomkit serve``, which prints plain lines (docs/performance.md, "Start-up")."""
    from rich.console import Console

    return Console()


@cache
def _err() -> Console:
    """Standard error with rich markup, made on first use (as :func:`_out`)."""
    from rich.console import Console

    return Console(stderr=True)


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $XCOMKIT_DB or sqlite:///xcomkit.db)."),
]

#: Where ``serve --demo`` keeps the generated admin password (as Airflow's simple auth
#: manager keeps its generated passwords in a file beside its database).
DEMO_PASSWORD_FILE = Path(".xcomkit") / "passwords.json"


class CompressionName(str, Enum):
    """Choices of ``serve --offload-compression``."""

    none = "none"
    gzip = "gzip"
    zstd = "zstd"


class LogFormatName(str, Enum):
    """Choices of ``serve --log-format``."""

    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        import xcomkit

        typer.echo(f"xcomkit {xcomkit.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Print the traceback of an error, too.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """xcomkit: Apache Airflow 3's XCom REST API, standalone."""
    cli_errors.debug = debug
    if ctx.invoked_subcommand != "serve":  # serve: paused until its app is built
        collector.resume()  # paused by main() while the command line was built and parsed


def _settings(db: str | None) -> Settings:
    from pydantic import ValidationError

    from xcomkit.settings import Settings

    try:
        return Settings(db=db) if db else Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            _err().print(
                f"[red]error:[/red] {where}: {error['msg']}", highlight=False, soft_wrap=True
            )
        raise typer.Exit(2) from None


def _shown_url(url: str) -> str:
    """``url`` with any password masked, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _engine(settings: Settings, *, migrate_if_needed: bool = True) -> Engine:
    """An engine on ``settings.db``, migrated to the newest revision unless told not to.

    Raises:
        CliError: (exit 2) not a database URL; (exit 5) the database cannot be opened.
    """
    from sqlalchemy.exc import ArgumentError, OperationalError

    from xcomkit.store.db import make_engine, migrate, needs_migration

    try:
        engine = make_engine(settings.db, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    except ArgumentError:
        raise cli_errors.CliError(
            f"--db {settings.db!r} is not a database URL; "
            "use e.g. sqlite:///xcomkit.db or postgresql://user:password@host/dbname",
            cli_errors.USAGE,
        ) from None
    try:
        if migrate_if_needed and needs_migration(engine):
            migrate(engine)
        elif not migrate_if_needed:
            engine.connect().close()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise cli_errors.CliError(
            f"cannot open the database {_shown_url(settings.db)}: {reason}", cli_errors.SERVER
        ) from None
    return engine


def _object_store(settings: Settings) -> ObjectStore | None:
    """The object store ``settings`` name (None: none).

    Raises:
        CliError: (exit 2) it cannot be used as configured.
    """
    from xcomkit.store.objects import ObjectStore, ObjectStoreError

    if not settings.object_store:
        return None
    try:
        return ObjectStore(
            settings.object_store,
            compression=settings.offload_compression,
            options=settings.object_store_options,
        )
    except ObjectStoreError as exc:
        raise cli_errors.CliError(exc.detail, cli_errors.USAGE) from None


def _check_port(host: str, port: int) -> None:
    """Fail with one line (exit 5) when ``host:port`` cannot be listened on, before any
    "serving on" line is printed. uvicorn binds the same way (``SO_REUSEADDR``)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise cli_errors.CliError(
            f"cannot listen on {host}: {exc.strerror}", cli_errors.USAGE
        ) from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise cli_errors.CliError(
                f"cannot listen on {host}:{port}: {exc.strerror}"
                + (
                    " (another server is using the port; pick one with --port)"
                    if exc.errno == errno.EADDRINUSE
                    else ""
                ),
                cli_errors.SERVER,
            ) from None


def _load(engine: Engine, path: Path) -> None:
    from xcomkit.manifest import ManifestError, load_manifest, read_manifest

    try:
        manifest = read_manifest(path)
        dags, runs = load_manifest(engine, manifest)
    except ManifestError as exc:
        raise cli_errors.CliError(str(exc), cli_errors.USAGE) from None
    kept = len(manifest.runs) - runs
    typer.echo(  # plain: serve prints without rich
        f"loaded {dags} DAG(s) from {path}: created {runs} new DAG run(s), kept {kept} existing"
    )


def _demo_admin(engine: Engine) -> tuple[str, str | None]:
    """Ensure an ``admin`` user exists; return its name and, if known, its password."""
    from xcomkit.server.auth.passwords import generate_password, hash_password
    from xcomkit.store import users as user_store
    from xcomkit.store.db import STARTUP_LOCK, locked_transaction

    saved: dict[str, str] = {}
    if DEMO_PASSWORD_FILE.exists():
        saved = json.loads(DEMO_PASSWORD_FILE.read_text())
    with locked_transaction(engine, STARTUP_LOCK) as conn:
        exists = user_store.get_user(conn, "admin") is not None
        if exists:
            return "admin", saved.get("admin")
        password = saved.get("admin") or generate_password()
        user_store.upsert_user(conn, "admin", hash_password(password), "admin")
    write_private(DEMO_PASSWORD_FILE, json.dumps({"admin": password}))
    return "admin", password


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    db: DbOption = None,
    dags: Annotated[
        Path | None, typer.Option("--dags", help="Manifest (YAML/JSON) to load at start.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Development only: every caller is an admin.")
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Create an admin user if none exists and print it.")
    ] = False,
    request_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a request may spend on database work before 503 [10]."),
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option(help="Largest request body, in bytes, before 413 [16 MiB].")
    ] = None,
    header_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a connection may take to send a request head [10]."),
    ] = None,
    keep_alive_timeout: Annotated[
        int, typer.Option(min=1, help="Seconds an idle keep-alive connection stays open.")
    ] = 5,
    limit_concurrency: Annotated[
        int, typer.Option(min=1, help="Connections per worker before new requests get 503.")
    ] = 1000,
    log_format: Annotated[
        LogFormatName,
        typer.Option(envvar="XCOMKIT_LOG_FORMAT", help="Log lines as text or JSON objects."),
    ] = LogFormatName.text,
    object_store: Annotated[
        str | None,
        typer.Option(help="fsspec URL for large values: file:///dir, s3://bucket/prefix, ..."),
    ] = None,
    offload_threshold: Annotated[
        int | None,
        typer.Option(min=0, help="Values over this many bytes of JSON go to --object-store."),
    ] = None,
    offload_compression: Annotated[
        CompressionName | None,
        typer.Option(help="Compression of offloaded values: none, gzip or zstd [none]."),
    ] = None,
    max_value_bytes: Annotated[
        int | None,
        typer.Option(min=1, help="Largest XCom value, in bytes of JSON, before 413 [none]."),
    ] = None,
    retention_interval: Annotated[
        str | None,
        typer.Option(
            help="How often to apply the DAGs' xcom_retention, e.g. 1h or 15m; 0: never [1h]."
        ),
    ] = None,
) -> None:
    """Run the API server; migrates an empty or older database first.

    --request-timeout, --max-body-bytes, --header-timeout, --log-format, --object-store,
    --offload-threshold, --offload-compression, --max-value-bytes and --retention-interval
    also read XCOMKIT_REQUEST_TIMEOUT, XCOMKIT_MAX_BODY_BYTES, XCOMKIT_HEADER_TIMEOUT,
    XCOMKIT_LOG_FORMAT, XCOMKIT_OBJECT_STORE, XCOMKIT_OFFLOAD_THRESHOLD,
    XCOMKIT_OFFLOAD_COMPRESSION, XCOMKIT_MAX_VALUE_BYTES and XCOMKIT_RETENTION_INTERVAL;
    docs/server.md lists every setting.
    """
    # Paused again until the app is built (xcomkit.server.asgi resumes it), and
    # resumed here if the start stops before that: see xcomkit.collector.
    collector.pause()
    try:
        import uvicorn

        from xcomkit.server.connections import (
            HEADER_TIMEOUT_ENV,
            raise_fd_limit,
            websocket_protocol,
        )

        if retention_interval is not None:
            retention_interval = str(_duration("--retention-interval", retention_interval, True))
        for env, given in (
            ("XCOMKIT_RETENTION_INTERVAL", retention_interval),
            ("XCOMKIT_REQUEST_TIMEOUT", request_timeout),
            ("XCOMKIT_MAX_BODY_BYTES", max_body_bytes),
            (HEADER_TIMEOUT_ENV, header_timeout),
            ("XCOMKIT_OBJECT_STORE", object_store),
            ("XCOMKIT_OFFLOAD_THRESHOLD", offload_threshold),
            (
                "XCOMKIT_OFFLOAD_COMPRESSION",
                offload_compression.value if offload_compression else None,
            ),
            ("XCOMKIT_MAX_VALUE_BYTES", max_value_bytes),
        ):
            if given is not None:
                os.environ[env] = str(given)  # read again by each worker process
        settings = _settings(db)
        _object_store(settings)  # a store that cannot be used fails here, in one line
        engine = _engine(settings)
        if dags is not None:
            _load(engine, dags)
        if demo:
            name, password = _demo_admin(engine)
            shown = (
                password or "(set earlier; reset it with `xcomkit users create admin --role admin`)"
            )
            bold_name, bold_shown = typer.style(name, bold=True), typer.style(shown, bold=True)
            typer.echo(f"admin user: {bold_name}  password: {bold_shown}")
        if no_auth:
            warning = typer.style("warning:", fg="yellow")
            typer.echo(f"{warning} --no-auth: every request is served as an admin", err=True)
        engine.dispose()
        os.environ["XCOMKIT_DB"] = settings.db
        os.environ["XCOMKIT_AUTH"] = "false" if no_auth else "true"
        _check_port(host, port)
        typer.echo(f"xcomkit serving on http://{host}:{port}  (database {settings.db})")
        raise_fd_limit()
        if workers > 1:
            collector.resume()  # this process only supervises; each worker pauses its own
        uvicorn.run(
            "xcomkit.server.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            http="xcomkit.server.connections:HeaderDeadlineProtocol",
            ws=websocket_protocol(),
            timeout_keep_alive=keep_alive_timeout,
            limit_concurrency=limit_concurrency,
            log_config=log_config(log_format.value),
        )
    finally:
        collector.resume()


@db_app.command("migrate")
def db_migrate(db: DbOption = None) -> None:
    """Create or upgrade the schema to the newest revision."""
    from xcomkit.store.db import make_engine, migrate

    settings = _settings(db)
    _engine(settings, migrate_if_needed=False)
    migrate(make_engine(settings.db))
    _out().print(f"database {settings.db} is at the newest revision")


@db_app.command("recount")
def db_recount(db: DbOption = None) -> None:
    """Recompute each DAG run's kept XCom count from the XCom rows.

    The counts answer list totals; every write keeps them right. Run this after
    writing XCom rows behind xcomkit's back (SQL, a restored backup).
    """
    from xcomkit.store.xcoms import XComStore

    engine = _engine(_settings(db))
    with engine.begin() as conn:
        XComStore(conn).recount()
    _out().print("recounted the XComs of every DAG run")


def _duration(option: str, text: str, allow_zero: bool = False) -> int:
    """Seconds in ``text``; exit 2 with the option's name when it is not a duration."""
    try:
        return parse_duration(text, allow_zero=allow_zero)
    except ValueError as exc:
        raise cli_errors.CliError(f"{option}: {exc}", cli_errors.USAGE) from None


@db_app.command("clean")
def db_clean(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Remove what is older than this, e.g. 30d, 12h, 90m, 2w."
        ),
    ],
    dag_id: Annotated[str | None, typer.Option("--dag-id", help="Only this DAG.")] = None,
    runs: Annotated[
        bool,
        typer.Option(
            "--runs", help="Also remove DAG runs whose run_after is older, with their XComs."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be removed.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows removed per transaction.")] = 1000,
    db: DbOption = None,
) -> None:
    """Remove XComs whose timestamp is older than --older-than (and, with --runs, DAG runs).

    Works in short transactions of --batch-size rows, so a server on the same database
    keeps answering; stopped (Ctrl-C) it keeps what it removed, and running it again
    continues. Offloaded values' objects go too, from $XCOMKIT_OBJECT_STORE. Exit 1 if
    --dag-id names no DAG.
    """
    from sqlalchemy.exc import OperationalError

    from xcomkit.service import retention
    from xcomkit.shell.transfer import progress_bar
    from xcomkit.store import registry

    seconds = _duration("--older-than", older_than)
    settings = _settings(db)
    engine = _engine(settings)
    try:
        objects = _object_store(settings)
        if dag_id is not None:
            with engine.connect() as conn:
                if registry.get_dag(conn, dag_id) is None:
                    raise cli_errors.CliError(f"no DAG {dag_id!r}", cli_errors.NOT_FOUND)
        cutoff = retention.cutoff_for(seconds)
        what = "XComs with a timestamp" + (" and DAG runs with a run_after" if runs else "")
        _out().print(f"{what} before {cutoff.isoformat(timespec='seconds')}", soft_wrap=True)
        planned = retention.plan(engine, cutoff, dag_id=dag_id, runs=runs)
        if dry_run:
            _out().print(f"would remove {_removed(planned)}", soft_wrap=True)
            _by_dag(planned)
            return
        report: CleanReport | None = None
        removed = 0
        with progress_bar("clean", planned.rows) as advance:

            def done(rows: int) -> None:
                nonlocal removed
                removed += rows
                advance(rows)

            try:
                report = retention.clean(
                    engine,
                    cutoff,
                    dag_id=dag_id,
                    runs=runs,
                    batch_size=batch_size,
                    progress=done,
                    on_deleted=retention.object_releaser(objects) if objects is not None else None,
                )
            except KeyboardInterrupt:
                pass
            except OperationalError as exc:
                # Ctrl-C while SQLite runs a statement reaches its progress handler, which
                # aborts the statement: the driver reports "interrupted", not the signal.
                if "interrupted" not in str(exc.orig):
                    raise
        if report is None:
            _err().print(
                f"interrupted: {removed:,} row(s) removed in whole batches; "
                "run the same command again to continue",
                soft_wrap=True,
            )
            raise typer.Exit(130)
        _out().print(
            f"removed {_removed(report)} in {report.seconds:.1f} s ({report.rate:,.0f} rows/s)",
            soft_wrap=True,
        )
        _by_dag(report)
    finally:
        engine.dispose()  # its pooled connections, closed now, not when collected


def _removed(report: CleanReport) -> str:
    text = f"{report.xcoms:,} XCom(s)"
    if report.runs:
        text += f" and {report.runs:,} DAG run(s)"
    return text


def _by_dag(report: CleanReport) -> None:
    from rich.table import Table

    if not report.by_dag:
        return
    table = Table("dag_id", "xcoms", "dag_runs")
    for name, (xcoms, runs) in sorted(report.by_dag.items()):
        table.add_row(name, f"{xcoms:,}", f"{runs:,}")
    _out().print(table)


@db_app.command("reindex")
def db_reindex(db: DbOption = None) -> None:
    """Build the search index of the *_pattern filters again from every XCom row.

    Every write keeps it right. Run this after loading an SQL dump into a fresh SQLite
    file (the index follows row ids), or on PostgreSQL once an administrator has run
    CREATE EXTENSION pg_trgm where xcomkit's role could not.
    """
    from xcomkit.store import search

    engine = _engine(_settings(db))
    with engine.begin() as conn:
        built = search.rebuild(conn)
    if not built:
        raise cli_errors.CliError(
            "this database cannot have the search index (see the warning above); "
            "*_pattern filters scan every XCom",
            cli_errors.SERVER,
        )
    _out().print("rebuilt the search index of every XCom")


def _audit_user_change(action: str, username: str, role: str | None) -> None:
    """One audit record for a user change made here (who: the operating-system user)."""
    import getpass
    import logging.config

    from xcomkit.server.audit import record

    logging.config.dictConfig(log_config())
    record(
        who=f"os:{getpass.getuser()}",
        client="cli",
        action=action,
        username=username,
        role=role,
        outcome="ok",
    )


#: The shortest password ``users create`` accepts without ``--force``.
MIN_PASSWORD_LENGTH = 8


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option(help="Password (default: read from standard input, or prompted)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help=f"Accept a password shorter than {MIN_PASSWORD_LENGTH} characters."
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Create a user, or replace an existing user's password and role."""
    from xcomkit.server.auth.passwords import hash_password
    from xcomkit.store import users as user_store

    try:
        role = normalize_role(role)
    except ValueError as exc:
        raise cli_errors.CliError(str(exc), cli_errors.USAGE) from None
    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise cli_errors.CliError("the password must not be empty", cli_errors.USAGE)
    if len(password) < MIN_PASSWORD_LENGTH and not force:
        raise cli_errors.CliError(
            f"the password has {len(password)} characters; use at least "
            f"{MIN_PASSWORD_LENGTH} (or --force)",
            cli_errors.USAGE,
        )
    engine = _engine(_settings(db))
    with engine.begin() as conn:
        created = user_store.upsert_user(conn, username, hash_password(password), role)
    _audit_user_change("create_user" if created else "update_user", username, role)
    if created:
        _out().print(f"created user {username!r} with role {role}", soft_wrap=True)
    else:
        _out().print(
            f"replaced the password of existing user {username!r}; role {role}", soft_wrap=True
        )


@users_app.command("delete")
def users_delete(
    username: Annotated[str, typer.Argument(help="User name.")],
    db: DbOption = None,
) -> None:
    """Delete a user (exit 1 if there is none). Its issued tokens stay valid until they expire."""
    from xcomkit.store import users as user_store

    engine = _engine(_settings(db))
    with engine.begin() as conn:
        deleted = user_store.delete_user(conn, username)
    if not deleted:
        raise cli_errors.CliError(f"no user {username!r}", cli_errors.NOT_FOUND)
    _audit_user_change("delete_user", username, None)
    _out().print(f"deleted user {username!r}", soft_wrap=True)


@users_app.command("list")
def users_list(db: DbOption = None) -> None:
    """List users and their roles."""
    from rich.table import Table

    from xcomkit.store import users as user_store

    engine = _engine(_settings(db))
    with engine.connect() as conn:
        rows = user_store.list_users(conn)
    table = Table("username", "role", "created_at")
    for row in rows:
        table.add_row(row.username, row.role, row.created_at.isoformat())
    _out().print(table)


@dags_app.command("load")
def dags_load(
    file: Annotated[Path, typer.Argument(help="Manifest file (YAML or JSON).")],
    db: DbOption = None,
) -> None:
    """Create or update DAGs from a manifest and create its missing DAG runs."""
    _load(_engine(_settings(db)), file)


@dags_app.command("list")
def dags_list(
    db: DbOption = None,
    fmt: Annotated[Output, typer.Option("--output", "-o", help="json, yaml, table or plain.")] = (
        Output.table
    ),
) -> None:
    """List DAGs with their tasks, number of DAG runs and XCom retention (None: none)."""
    from sqlalchemy import func, select

    from xcomkit.store import registry
    from xcomkit.store.schema import dag_run

    engine = _engine(_settings(db))
    with engine.connect() as conn:
        dags = registry.list_dags(conn)
        counts: dict[str, int] = dict(
            conn.execute(select(dag_run.c.dag_id, func.count()).group_by(dag_run.c.dag_id)).all()
        )
    rows = [
        {
            "dag_id": d.dag_id,
            "dag_display_name": d.dag_display_name,
            "tasks": [t.task_id for t in tasks],
            "dag_runs": counts.get(d.dag_id, 0),
            "xcom_retention": (
                format_duration(d.xcom_retention_seconds)
                if d.xcom_retention_seconds is not None
                else None
            ),
        }
        for d, tasks in dags
    ]
    emit_rows(
        [{**r, "tasks": " ".join(r["tasks"])} for r in rows],
        ("dag_id", "dag_display_name", "tasks", "dag_runs", "xcom_retention"),
        fmt,
        {"dags": rows, "total_entries": len(rows)},
    )


@dags_app.command("runs")
def dags_runs(
    dag_id: Annotated[str, typer.Argument(help="DAG id.")],
    db: DbOption = None,
    fmt: Annotated[Output, typer.Option("--output", "-o", help="json, yaml, table or plain.")] = (
        Output.table
    ),
) -> None:
    """List the DAG runs of a DAG, oldest run_after first (exit 1 if no such DAG)."""
    from datetime import datetime, timezone

    from xcomkit.store import dag_runs, registry
    from xcomkit.store.schema import dag_run

    engine = _engine(_settings(db))
    with engine.connect() as conn:
        if registry.get_dag(conn, dag_id) is None:
            raise cli_errors.CliError(f"no DAG {dag_id!r}", cli_errors.NOT_FOUND)
        only_this_dag = dag_runs.DagRunFilter(dag_id=dag_id)
        now = datetime.now(timezone.utc)
        store = dag_runs.DagRunStore(conn)
        runs = store.page(
            only_this_dag,
            now,
            order_by=[(dag_run.c.run_after, False), (dag_run.c.id, False)],
            limit=1_000_000,
        )
        total = store.count(only_this_dag, now)
    rows = [
        {
            "dag_run_id": r.run_id,
            "logical_date": r.logical_date.isoformat() if r.logical_date else None,
            "run_after": r.run_after.isoformat(),
            "state": r.state,
            "xcoms": r.xcom_count,
        }
        for r in runs
    ]
    emit_rows(
        rows,
        ("dag_run_id", "logical_date", "run_after", "state", "xcoms"),
        fmt,
        {"dag_runs": rows, "total_entries": total},
    )


@storage_app.command("gc")
def storage_gc(
    db: DbOption = None,
    object_store: Annotated[
        str | None,
        typer.Option(help="The object store's URL (default: $XCOMKIT_OBJECT_STORE)."),
    ] = None,
    min_age: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds an unreferenced object must have existed to be garbage "
            "(younger ones may belong to a write not yet committed).",
        ),
    ] = 3600.0,
    apply: Annotated[
        bool, typer.Option("--apply", help="Remove the garbage (default: only report it).")
    ] = False,
) -> None:
    """Find objects in the object store that no XCom row points at; --apply removes them.

    They are left by writes that failed or were interrupted between their object and
    their row, by removals that failed, and by DAG runs deleted behind the server's back.
    Files whose names xcomkit did not make are never touched.
    """
    from xcomkit.store.objects import ObjectStoreError, collect_garbage

    settings = _settings(db)
    if object_store:
        settings = settings.model_copy(update={"object_store": object_store})
    store = _object_store(settings)
    if store is None:
        raise cli_errors.CliError(
            "no object store: give --object-store or set XCOMKIT_OBJECT_STORE", cli_errors.USAGE
        )
    engine = _engine(settings)
    try:
        report = collect_garbage(engine, store, min_age=min_age, apply=apply)
    except ObjectStoreError as exc:
        raise cli_errors.CliError(exc.detail, cli_errors.SERVER) from None

    def line(label: str, items: list[Any]) -> None:
        size = sum(obj.size for obj in items)
        _out().print(
            f"{label:<34} {len(items):>9,} objects {size:>15,} bytes",
            highlight=False,
            soft_wrap=True,
        )

    _out().print(f"object store {store.url}", highlight=False, soft_wrap=True)
    line("referenced by a row (kept)", report.referenced)
    line(f"younger than {min_age:g} s (kept)", report.young)
    line("not made by xcomkit (left alone)", report.foreign)
    line("garbage", report.garbage)
    if apply:
        _out().print(
            f"removed {report.removed:,} objects, {report.removed_bytes:,} bytes", highlight=False
        )
    else:
        _out().print(
            "dry run: nothing removed (--apply removes the garbage)",
            highlight=False,
            soft_wrap=True,
        )
    if report.dangling:
        _err().print(
            f"[yellow]warning:[/yellow] {report.dangling} rows name an object that was not "
            "found (written during this run, or removed behind xcomkit's back)",
            soft_wrap=True,
        )


@app.command()
def seed(
    xcoms: Annotated[int, typer.Option(min=1, help="XComs to create.")] = 1_000_000,
    runs: Annotated[int, typer.Option(min=1, help="DAG runs to spread them over.")] = 10_000,
    dags: Annotated[
        Path | None, typer.Option("--dags", help="Manifest to load first (DAGs and tasks).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Fill a database with synthetic DAG runs and XComs, for benchmarks and demos.

    Rebuilds the XCom indexes: run it on a database no server is writing to.
    """
    from xcomkit.seed import SeedError, print_progress
    from xcomkit.seed import seed as seed_database

    engine = _engine(_settings(db))
    if dags is not None:
        _load(engine, dags)
    try:
        stats = seed_database(engine, xcoms=xcoms, runs=runs, progress=print_progress)
    except SeedError as exc:
        _err().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    _out().print(
        f"seeded {stats.runs:,} DAG runs and {stats.xcoms:,} XComs ({stats.rate:,.0f} rows/s)"
    )


def main() -> None:
    """Console-script entry point.

    The cyclic garbage collector is paused while the command line is built and parsed
    and until the command starts (``serve``: until its app is built); see
    :mod:`xcomkit.collector`.
    """
    collector.pause()
    try:
        app()
    finally:
        collector.resume()
