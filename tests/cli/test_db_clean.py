"""``xcomkit db clean``: what it prints, what it removes, its errors, an interrupted run
continued by a second one. On SQLite and PostgreSQL (the ``api`` fixture's database)."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tests.cli.conftest import Xk
from tests.conftest import Api
from tests.store.test_retention import counts_are_right, put, remaining
from xcomkit.store import retention as store
from xcomkit.store.objects import ObjectStore
from xcomkit.store.schema import xcom

NOW = datetime.now(timezone.utc)
#: (dag_id, run_id, task_id, key, timestamp): three XComs older than 30 days, two newer.
XCOMS = [
    ("xcom_demo", "run_1", "extract", "a", NOW - timedelta(days=60)),
    ("xcom_demo", "run_2", "load", "b", NOW - timedelta(days=31)),
    ("etl_daily", "daily_1", "fetch", "c", NOW - timedelta(days=45)),
    ("xcom_demo", "run_1", "extract", "d", NOW - timedelta(days=1)),
    ("etl_daily", "daily_1", "fetch", "e", NOW - timedelta(days=29)),
]
NEWER = {(d, r, t, k) for d, r, t, k, at in XCOMS if k in "de"}
CUTOFF_LINE = re.compile(r"XComs with a timestamp before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


@pytest.fixture
def db(api: Api) -> str:
    for row in XCOMS:
        put(api, *row)
    return api.settings.db


def test_dry_run_reports_and_changes_nothing(db: str, api: Api, xk: Xk) -> None:
    r = xk("db", "clean", "--older-than", "30d", "--dry-run", "--db", db)

    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert CUTOFF_LINE.fullmatch(lines[0])
    assert lines[1] == "would remove 3 XCom(s)"
    assert [line.split() for line in lines[2:] if "│" in line] == [
        ["│", "etl_daily", "│", "1", "│", "0", "│"],
        ["│", "xcom_demo", "│", "2", "│", "0", "│"],
    ]
    assert len(remaining(api)) == 5


def test_clean_removes_the_older_xcoms_and_summarizes(db: str, api: Api, xk: Xk) -> None:
    r = xk("db", "clean", "--older-than", "30d", "--db", db)

    assert r.exit_code == 0, r.stderr
    assert re.fullmatch(
        r"removed 3 XCom\(s\) in \d+\.\d s \([\d,]+ rows/s\)", r.stdout.splitlines()[1]
    )
    assert remaining(api) == NEWER
    assert counts_are_right(api) == {"run_1": 1, "run_2": 0, "daily_1": 1}
    again = xk("db", "clean", "--older-than", "30d", "--db", db)
    assert again.stdout.splitlines()[1].startswith("removed 0 XCom(s) in ")


def test_runs_of_one_dag(db: str, api: Api, xk: Xk) -> None:
    # The test manifest's runs are from 2025: older than 30 days.
    r = xk("db", "clean", "--older-than", "30d", "--runs", "--dag-id", "etl_daily", "--db", db)

    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("XComs with a timestamp and DAG runs with a run_after before ")
    assert lines[1].startswith("removed 2 XCom(s) and 1 DAG run(s) in ")
    assert remaining(api) == {(d, r, t, k) for d, r, t, k, _ in XCOMS if d == "xcom_demo"}
    assert counts_are_right(api) == {"run_1": 2, "run_2": 1}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--older-than", "30"],
            2,
            "error: --older-than: '30' is not a duration (e.g. 30d, 12h, 90m, 2w; "
            "units s, m, h, d, w)",
        ),
        (["--older-than", "0d"], 2, "error: --older-than: '0d' is zero; give a duration"),
        (["--older-than", "1d", "--dag-id", "nope"], 1, "error: no DAG 'nope'"),
    ],
)
def test_errors_are_one_line(
    db: str, api: Api, xk: Xk, args: list[str], code: int, message: str
) -> None:
    r = xk("db", "clean", *args, "--db", db)

    assert r.exit_code == code
    assert r.stderr.startswith(message)
    assert len(r.stderr.splitlines()) == 1
    assert len(remaining(api)) == 5


def _sqlite_interrupted() -> BaseException:
    """What Ctrl-C during a SQLite statement raises (the progress handler aborts it)."""
    return OperationalError("DELETE ...", {}, sqlite3.OperationalError("interrupted"))


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, _sqlite_interrupted])
def test_an_interrupted_clean_keeps_whole_batches_and_a_rerun_finishes(
    db: str, api: Api, xk: Xk, monkeypatch: pytest.MonkeyPatch, interrupt: Any
) -> None:
    real = store.delete_old_xcoms
    calls = 0

    def ctrl_c_in_the_third_batch(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise interrupt()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "delete_old_xcoms", ctrl_c_in_the_third_batch)
    r = xk("db", "clean", "--older-than", "30d", "--batch-size", "1", "--db", db)

    assert r.exit_code == 130
    assert r.stderr == (
        "interrupted: 2 row(s) removed in whole batches; run the same command again to continue\n"
    )
    assert len(remaining(api)) == 3
    counts_are_right(api)
    monkeypatch.setattr(store, "delete_old_xcoms", real)
    r = xk("db", "clean", "--older-than", "30d", "--db", db)
    assert r.stdout.splitlines()[1].startswith("removed 1 XCom(s) in ")
    assert remaining(api) == NEWER


def test_serve_refuses_a_bad_retention_interval(xk: Xk) -> None:
    r = xk("serve", "--retention-interval", "soon")

    assert r.exit_code == 2
    assert r.stderr == (
        "error: --retention-interval: 'soon' is not a duration "
        "(e.g. 30d, 12h, 90m, 2w; units s, m, h, d, w)\n"
    )


def test_offloaded_values_lose_their_objects(
    make_api: Any, xk: Xk, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"file://{tmp_path / 'objects'}"
    api = make_api(object_store=url, offload_threshold=10)
    put(api, "etl_daily", "daily_1", "fetch", "big_old", NOW - timedelta(days=60))
    put(api, "etl_daily", "daily_1", "fetch", "big_new", NOW)
    objects = ObjectStore(url)
    assert len(list(objects.scan())) == 2
    monkeypatch.setenv("XCOMKIT_OBJECT_STORE", url)

    r = xk("db", "clean", "--older-than", "30d", "--db", api.settings.db)

    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith("removed 1 XCom(s) in ")
    assert remaining(api) == {("etl_daily", "daily_1", "fetch", "big_new")}
    with api.engine.connect() as conn:
        kept = conn.execute(select(xcom.c.value_ref)).scalar_one()
    assert [o.name for o in objects.scan()] == [kept]
