"""Database-side commands (dags, users), --version, help, and one-line errors everywhere."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

import xcomkit
from tests.cli.conftest import Xk

DEMO = Path(__file__).parents[2] / "examples" / "demo_dags.yaml"
XCOMKIT = str(Path(sys.executable).parent / "xcomkit")


@pytest.fixture
def db(tmp_path: Path, xk: Xk) -> str:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    r = xk("dags", "load", str(DEMO), "--db", url)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (f"loaded 1 DAG(s) from {DEMO}: created 2 new DAG run(s), kept 0 existing\n")
    return url


def test_version(xk: Xk) -> None:
    r = xk("--version")
    assert (r.exit_code, r.stdout) == (0, f"xcomkit {xcomkit.__version__}\n")


def test_help_lists_the_exit_codes(xk: Xk) -> None:
    r = xk("--help")
    assert "Exit codes: 0 ok, 1 not found, 2 usage, 3 authentication, 4 conflict," in r.stdout
    assert "login" in r.stdout and "xcom" in r.stdout


def test_flags_show_no_value_in_help(xk: Xk) -> None:
    r = xk("serve", "--help")
    assert r.exit_code == 0
    lines = {
        line.split()[0]: line for line in r.stdout.splitlines() if line.strip().startswith("--")
    }
    assert lines["--no-auth"].split()[1] == "Development"
    assert lines["--demo"].split()[1] == "Create"
    assert "<bool>" not in r.stdout
    for args in (["--help"], ["xcom", "get", "--help"], ["xcom", "import", "--help"]):
        assert "<bool>" not in xk(*args).stdout


def test_loading_a_manifest_twice_keeps_the_runs_quietly(db: str, xk: Xk) -> None:
    r = xk("dags", "load", str(DEMO), "--db", db)
    assert r.exit_code == 0
    assert r.stdout == f"loaded 1 DAG(s) from {DEMO}: created 0 new DAG run(s), kept 2 existing\n"
    assert r.stderr == ""


def test_db_reindex_indexes_rows_written_behind_the_index(db: str, xk: Xk) -> None:
    """Rows written with the search triggers off (as a restored dump can leave them) are
    found by a pattern filter once ``db reindex`` has run."""
    import sqlite3

    from xcomkit.store import search

    path = db.removeprefix("sqlite:///")
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in search.SQLITE_DROP_TRIGGERS:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO xcom (dag_run_id, task_id, map_index, key, dag_id, run_id, value,"
        " timestamp) SELECT id, 'extract', -1, 'restored_key', dag_id, run_id, '1',"
        " '2025-01-01 00:00:00.000000' FROM dag_run LIMIT 1"
    )
    conn.close()
    r = xk("db", "reindex", "--db", db)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "rebuilt the search index of every XCom\n", "")
    conn = sqlite3.connect(path)
    found = conn.execute(
        "SELECT key FROM xcom WHERE rowid IN"
        " (SELECT rowid FROM xcom_search WHERE key LIKE '%STORED%')"
    ).fetchall()
    triggers = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()
    conn.close()
    assert found == [("restored_key",)]
    assert triggers == (3,)  # and the triggers are back


def test_dags_list_and_runs(db: str, xk: Xk) -> None:
    r = xk("dags", "list", "--db", db, "-o", "json")
    assert json.loads(r.stdout) == {
        "dags": [
            {
                "dag_id": "xcom_demo",
                "dag_display_name": "XCom Demo",
                "tasks": ["extract", "load", "transform"],
                "dag_runs": 2,
                "xcom_retention": "90d",
            }
        ],
        "total_entries": 1,
    }
    r = xk("dags", "list", "--db", db, "-o", "plain")
    assert r.stdout == "xcom_demo\tXCom Demo\textract load transform\t2\t90d\n"
    assert "xcom_demo" in xk("dags", "list", "--db", db).stdout
    r = xk("dags", "runs", "xcom_demo", "--db", db, "-o", "json")
    assert json.loads(r.stdout) == {
        "dag_runs": [
            {
                "dag_run_id": "manual__2025-01-01T00:00:00+00:00",
                "logical_date": "2025-01-01T00:00:00+00:00",
                "run_after": "2025-01-01T00:00:00+00:00",
                "state": "queued",
                "xcoms": 0,
            },
            {
                "dag_run_id": "run_1",
                "logical_date": "2025-01-02T00:00:00+00:00",
                "run_after": "2025-01-02T00:00:00+00:00",
                "state": "queued",
                "xcoms": 0,
            },
        ],
        "total_entries": 2,
    }
    r = xk("dags", "runs", "nope", "--db", db)
    assert (r.exit_code, r.stderr) == (1, "error: no DAG 'nope'\n")


def test_users_create_replace_short_password_and_delete(db: str, xk: Xk) -> None:
    r = xk("users", "create", "bob", "--db", db, input="short\n")
    assert (r.exit_code, r.stderr) == (
        2,
        "error: the password has 5 characters; use at least 8 (or --force)\n",
    )
    r = xk("users", "create", "bob", "--force", "--db", db, input="short\n")
    assert (r.exit_code, r.stdout) == (0, "created user 'bob' with role viewer\n")
    r = xk("users", "create", "bob", "--role", "admin", "--password", "long-enough", "--db", db)
    assert r.stdout == "replaced the password of existing user 'bob'; role admin\n"
    assert "bob" in xk("users", "list", "--db", db).stdout
    r = xk("users", "create", "bob", "--role", "nope", "--password", "long-enough", "--db", db)
    assert r.exit_code == 2 and r.stderr.startswith("error: ")
    r = xk("users", "delete", "bob", "--db", db)
    assert (r.exit_code, r.stdout) == (0, "deleted user 'bob'\n")
    r = xk("users", "delete", "bob", "--db", db)
    assert (r.exit_code, r.stderr) == (1, "error: no user 'bob'\n")


#: A SQLite URL in a directory that surely does not exist (not a fixed path such as
#: /nonexistent, which anyone on the machine may create).
MISSING_DIR_DB = (
    f"sqlite:///{Path(tempfile.gettempdir()) / f'xcomkit-missing-{uuid.uuid4().hex}' / 'x.db'}"
)


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        (
            MISSING_DIR_DB,
            5,
            f"error: cannot open the database {MISSING_DIR_DB}: unable to open database file\n",
        ),
        (
            "plain/path.db",
            2,
            "error: --db 'plain/path.db' is not a database URL; use e.g. sqlite:///xcomkit.db "
            "or postgresql://user:password@host/dbname\n",
        ),
    ],
    # Named ids: the missing directory's name is random, and pytest-xdist's workers must
    # collect the same test names.
    ids=["missing-directory", "not-a-url"],
)
def test_bad_db_is_one_line(xk: Xk, url: str, code: int, message: str) -> None:
    for args in (["users", "list"], ["dags", "list"], ["db", "migrate"], ["dags", "runs", "d"]):
        r = xk(*args, "--db", url)
        assert (r.exit_code, r.stderr, r.stdout) == (code, message, ""), args


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_nobody_listening_is_one_line_with_the_password_hidden(xk: Xk) -> None:
    port = _closed_port()
    r = xk("users", "list", "--db", f"postgresql://u:secret@127.0.0.1:{port}/x")
    assert r.exit_code == 5
    assert r.stderr.startswith(
        f"error: cannot open the database postgresql://u:***@127.0.0.1:{port}/x: "
    )
    assert "secret" not in r.stderr
    assert len(r.stderr.splitlines()) == 1


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [XCOMKIT, *args], cwd=cwd, capture_output=True, text=True, timeout=60, input=input,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_serve_on_a_port_in_use_is_one_line_and_no_serving_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = _run(
            "serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path
        )
    assert r.returncode == 5
    assert "serving on" not in r.stdout
    assert r.stderr == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(another server is using the port; pick one with --port)\n"
    )


def test_serve_with_a_bad_db_is_one_line(tmp_path: Path) -> None:
    r = _run("serve", "--db", MISSING_DIR_DB, cwd=tmp_path)
    assert r.returncode == 5
    assert r.stdout == ""
    assert r.stderr == (
        f"error: cannot open the database {MISSING_DIR_DB}: unable to open database file\n"
    )


def test_debug_shows_the_traceback_and_a_real_process_shows_none(tmp_path: Path) -> None:
    r = _run("users", "list", "--db", MISSING_DIR_DB, cwd=tmp_path)
    assert "Traceback" not in r.stderr
    r = _run("--debug", "users", "list", "--db", MISSING_DIR_DB, cwd=tmp_path)
    assert r.returncode == 5
    assert r.stderr.startswith("Traceback (most recent call last):")
    assert r.stderr.endswith(
        f"error: cannot open the database {MISSING_DIR_DB}: unable to open database file\n"
    )


def test_server_down_is_exit_5_in_a_real_process(tmp_path: Path) -> None:
    port = _closed_port()
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XCOMKIT_API_URL": f"http://127.0.0.1:{port}",
    }
    r = _run("login", "-u", "admin", cwd=tmp_path, env=env, input="a-password\n")
    assert r.returncode == 5
    assert r.stderr.startswith(f"error: cannot reach http://127.0.0.1:{port}: ")
    assert len(r.stderr.splitlines()) == 1


def test_make_serve_twice_prints_no_error_lines(tmp_path: Path) -> None:
    """What `make serve` runs, up to the bind: the second start reports kept runs."""
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        args = ("serve", "--port", port, "--db", db, "--dags", str(DEMO), "--demo")
        first = _run(*args, cwd=tmp_path)
        second = _run(*args, cwd=tmp_path)
    for r in (first, second):  # both stop at the busy port, after loading and the demo user
        assert r.returncode == 5
        assert r.stderr.startswith("error: cannot listen on")
        assert len(r.stderr.splitlines()) == 1
    assert "created 2 new DAG run(s), kept 0 existing" in first.stdout
    assert "created 0 new DAG run(s), kept 2 existing" in second.stdout


def test_an_unexpected_error_is_one_line_exit_1(xk: Xk, monkeypatch: pytest.MonkeyPatch) -> None:
    import xcomkit.cli

    def boom(_db: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(xcomkit.cli, "_settings", boom)
    r = xk("users", "list")
    assert (r.exit_code, r.stderr) == (
        1,
        "error: unexpected RuntimeError: boom (run with --debug for the traceback)\n",
    )


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    r = subprocess.run(
        f"'{XCOMKIT}' xcom list --help | head -1",
        shell=True, capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert r.stdout.startswith("Usage: xcomkit xcom list")
    assert r.stderr == ""


def test_user_changes_leave_an_audit_record_on_stderr(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    r = _run("users", "create", "eve", "--password", "long-enough", "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "action=create_user username=eve role=viewer outcome=ok" in r.stderr
    r = _run("users", "delete", "eve", "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "deleted user 'eve'\n"
    assert "action=delete_user username=eve outcome=ok" in r.stderr
