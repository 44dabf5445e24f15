"""Retention on SQLite and PostgreSQL: exactly the old rows go, in whole batches, counts
stay right, a dry run changes nothing, a stopped clean continues, the scheduled pass
applies each DAG's xcom_retention once per interval."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select, text, update

from tests.conftest import MANIFEST, Api
from xcomkit.manifest import load_manifest, manifest_from_data
from xcomkit.service import retention
from xcomkit.store import retention as store
from xcomkit.store.objects import ObjectStore
from xcomkit.store.schema import dag, dag_run, xcom

OLD = datetime(2025, 1, 1, tzinfo=timezone.utc)
NEW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CUTOFF = datetime(2025, 6, 1, tzinfo=timezone.utc)

#: (dag_id, run_id, task_id, key, timestamp) of the XComs every test starts with.
XCOMS = [
    *[("xcom_demo", "run_1", "extract", f"old_{i}", OLD) for i in range(5)],
    *[("xcom_demo", "run_1", "extract", f"new_{i}", NEW) for i in range(2)],
    *[("xcom_demo", "run_2", "load", f"old_{i}", OLD + timedelta(hours=i)) for i in range(2)],
    ("xcom_demo", "run_2", "load", "new_0", NEW),
    *[("etl_daily", "daily_1", "fetch", f"old_{i}", OLD) for i in range(3)],
    ("etl_daily", "daily_1", "fetch", "new_0", NEW),
]


def put(api: Api, dag_id: str, run_id: str, task_id: str, key: str, at: datetime) -> None:
    """Create an XCom through the API (which keeps the counts), then date it ``at``."""
    url = api.xcom_url(dag_id, run_id, task_id)
    r = api.client.post(url, json={"key": key, "value": {"k": key}}, headers=api.headers())
    assert r.status_code == 201, r.text
    with api.engine.begin() as conn:
        conn.execute(
            update(xcom)
            .where(xcom.c.dag_id == dag_id, xcom.c.run_id == run_id, xcom.c.key == key)
            .values(timestamp=at)
        )


@pytest.fixture
def seeded(api: Api) -> Api:
    for row in XCOMS:
        put(api, *row)
    return api


def remaining(api: Api) -> set[tuple[str, str, str, str]]:
    with api.engine.connect() as conn:
        rows = conn.execute(select(xcom.c.dag_id, xcom.c.run_id, xcom.c.task_id, xcom.c.key))
        return {tuple(r) for r in rows}  # type: ignore[misc]


def counts_are_right(api: Api) -> dict[str, int]:
    """Each run's kept xcom_count, checked against its rows; returned by run_id."""
    with api.engine.connect() as conn:
        kept = dict(conn.execute(select(dag_run.c.run_id, dag_run.c.xcom_count)).all())
        actual = dict(
            conn.execute(select(xcom.c.run_id, func.count()).group_by(xcom.c.run_id)).all()
        )
    assert kept == {run_id: actual.get(run_id, 0) for run_id in kept}
    return kept


def addresses(where: object = None) -> set[tuple[str, str, str, str]]:
    return {(d, r, t, k) for d, r, t, k, at in XCOMS if where is None or where(d, r, at)}


def test_clean_removes_exactly_the_xcoms_older_than_the_cutoff(seeded: Api) -> None:
    report = retention.clean(seeded.engine, CUTOFF, batch_size=2)

    assert remaining(seeded) == addresses(lambda d, r, at: at >= CUTOFF)
    assert (report.xcoms, report.runs, report.complete) == (10, 0, True)
    assert report.by_dag == {"xcom_demo": [7, 0], "etl_daily": [3, 0]}
    assert counts_are_right(seeded) == {"run_1": 2, "run_2": 1, "daily_1": 1}
    listed = seeded.client.get(seeded.xcom_url("~", "~", "~"), headers=seeded.headers())
    assert listed.json()["total_entries"] == 4


def test_clean_of_one_dag_leaves_the_others(seeded: Api) -> None:
    report = retention.clean(seeded.engine, CUTOFF, dag_id="etl_daily", batch_size=2)

    assert report.by_dag == {"etl_daily": [3, 0]}
    assert remaining(seeded) == addresses(lambda d, r, at: d != "etl_daily" or at >= CUTOFF)
    assert counts_are_right(seeded) == {"run_1": 7, "run_2": 3, "daily_1": 1}


def test_a_cutoff_equal_to_a_timestamp_keeps_that_xcom(seeded: Api) -> None:
    retention.clean(seeded.engine, OLD + timedelta(hours=1))

    assert ("xcom_demo", "run_2", "load", "old_1") in remaining(seeded)
    assert ("xcom_demo", "run_2", "load", "old_0") not in remaining(seeded)


def test_dry_run_counts_what_clean_removes_and_changes_nothing(seeded: Api) -> None:
    before = remaining(seeded)

    planned = retention.plan(seeded.engine, CUTOFF, runs=True)

    assert remaining(seeded) == before
    assert counts_are_right(seeded) == {"run_1": 7, "run_2": 3, "daily_1": 4}
    assert (planned.xcoms, planned.runs) == (14, 3)  # every run is from 2025-01-01/02
    run_cutoff = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)
    planned = retention.plan(seeded.engine, run_cutoff, runs=True)
    done = retention.clean(seeded.engine, run_cutoff, runs=True)
    assert (planned.xcoms, planned.runs, planned.by_dag) == (done.xcoms, done.runs, done.by_dag)


def test_runs_go_with_all_their_xcoms_whatever_their_timestamp(seeded: Api) -> None:
    # run_1 (2025-01-01T00:00) and daily_1 (06:00) are older than the cutoff; run_2
    # (2025-01-02) is not, but its XComs older than the cutoff go too.
    cutoff = datetime(2025, 1, 1, 12, tzinfo=timezone.utc)

    report = retention.clean(seeded.engine, cutoff, runs=True, batch_size=2)

    assert (report.xcoms, report.runs) == (10 + 3, 2)
    assert report.by_dag == {"xcom_demo": [9, 1], "etl_daily": [4, 1]}
    assert remaining(seeded) == {("xcom_demo", "run_2", "load", "new_0")}
    assert counts_are_right(seeded) == {"run_2": 1}
    gone = seeded.client.get("/api/v2/dags/xcom_demo/dagRuns/run_1", headers=seeded.headers())
    assert gone.status_code == 404


def test_a_stopped_clean_leaves_whole_batches_and_the_next_one_finishes(seeded: Api) -> None:
    batches = 0

    def after_two_batches() -> bool:
        nonlocal batches
        batches += 1
        return batches > 2

    first = retention.clean(seeded.engine, CUTOFF, batch_size=3, should_stop=after_two_batches)

    assert (first.xcoms, first.complete) == (6, False)
    assert len(remaining(seeded)) == len(XCOMS) - 6
    counts_are_right(seeded)
    second = retention.clean(seeded.engine, CUTOFF, batch_size=3)
    assert (second.xcoms, second.complete) == (4, True)
    assert remaining(seeded) == addresses(lambda d, r, at: at >= CUTOFF)
    counts_are_right(seeded)


def test_a_batch_that_fails_is_rolled_back_whole(
    seeded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "_COUNT_DOWN", text("UPDATE no_such_table SET n = :removed"))
    before = remaining(seeded)

    with pytest.raises(Exception, match="no_such_table"):
        retention.clean(seeded.engine, CUTOFF)

    assert remaining(seeded) == before
    counts_are_right(seeded)


@pytest.mark.parametrize("given", [False, True], ids=["release_objects", "on_deleted"])
def test_the_object_hook_gets_each_committed_batch(
    seeded: Api, monkeypatch: pytest.MonkeyPatch, given: bool
) -> None:
    released: list[list[store.DeletedXCom]] = []

    def hook(rows: object) -> None:
        released.append(list(rows))  # type: ignore[call-overload]

    if given:
        retention.clean(seeded.engine, CUTOFF, dag_id="etl_daily", batch_size=2, on_deleted=hook)
    else:
        monkeypatch.setattr(retention, "release_objects", hook)
        retention.clean(seeded.engine, CUTOFF, dag_id="etl_daily", batch_size=2)

    assert [len(batch) for batch in released] == [2, 1]
    rows = sorted(row for batch in released for row in batch)
    assert [(r.dag_id, r.run_id, r.task_id, r.map_index, r.key, r.value) for r in rows] == [
        ("etl_daily", "daily_1", "fetch", -1, f"old_{i}", f'{{"k":"old_{i}"}}') for i in range(3)
    ]


def test_cleans_racing_for_the_same_rows_count_each_row_once(seeded: Api) -> None:
    """Two passes at once (two workers, two hosts): together they remove each old XCom
    once and the counts stay right."""
    reports: list[retention.CleanReport] = []
    start = threading.Barrier(2)

    def one() -> None:
        start.wait()
        reports.append(retention.clean(seeded.engine, CUTOFF, batch_size=1))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sum(r.xcoms for r in reports) == 10
    assert remaining(seeded) == addresses(lambda d, r, at: at >= CUTOFF)
    counts_are_right(seeded)


def with_retention(api: Api, **retentions: str) -> None:
    """Reload the test manifest's DAGs with ``xcom_retention`` set as given."""
    data = yaml.safe_load(MANIFEST.read_text())
    for d in data["dags"]:
        if d["dag_id"] in retentions:
            d["xcom_retention"] = retentions[d["dag_id"]]
    load_manifest(api.engine, manifest_from_data(data))


def test_the_manifest_keeps_each_dags_retention(seeded: Api) -> None:
    with_retention(seeded, xcom_demo="30d")
    with seeded.engine.connect() as conn:
        assert store.retention_by_dag(conn) == [("xcom_demo", 30 * 86400)]
    with_retention(seeded)
    with seeded.engine.connect() as conn:
        assert conn.execute(select(dag.c.xcom_retention_seconds)).scalars().all() == [None, None]


def test_the_pass_applies_each_dags_retention_and_logs_it(
    seeded: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with_retention(seeded, xcom_demo="30d")
    now = CUTOFF + timedelta(days=30)

    released: list[store.DeletedXCom] = []

    with caplog.at_level(logging.INFO, logger="xcomkit.retention"):
        done = retention.retention_pass(
            seeded.engine, now=now, batch_size=2, on_deleted=released.extend
        )

    assert done is not None
    assert [(p.dag_id, p.retention_seconds, p.report.xcoms) for p in done] == [
        ("xcom_demo", 2592000, 7)
    ]
    assert remaining(seeded) == addresses(lambda d, r, at: d != "xcom_demo" or at >= CUTOFF)
    assert sorted((r.run_id, r.key) for r in released) == sorted(
        (r, k) for d, r, t, k in addresses(lambda d, r, at: d == "xcom_demo" and at < CUTOFF)
    )
    counts_are_right(seeded)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0] == (
        "retention: removed 7 XCom(s) of DAG xcom_demo older than 30d "
        "(timestamp before 2025-06-01T00:00:00+00:00)"
    )
    assert lines[1].startswith("retention pass: 1 DAG(s) with a retention, removed 7 XCom(s) in ")


def test_the_pass_runs_once_per_interval_whoever_asks(seeded: Api) -> None:
    with_retention(seeded, etl_daily="1d")
    hour = 3600.0
    now = datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)

    first = retention.retention_pass(seeded.engine, interval_seconds=hour, now=now)
    again = retention.retention_pass(
        seeded.engine, interval_seconds=hour, now=now + timedelta(minutes=59)
    )
    later = retention.retention_pass(
        seeded.engine, interval_seconds=hour, now=now + timedelta(minutes=60)
    )

    assert first is not None and [p.report.xcoms for p in first] == [4]
    assert again is None
    assert later is not None and [p.report.xcoms for p in later] == [0]


def test_workers_asking_at_once_run_one_pass(seeded: Api) -> None:
    """Four workers (threads here, processes or hosts in production) reach the same slot
    together: one runs the pass, the others find it claimed."""
    with_retention(seeded, xcom_demo="30d")
    now = datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)
    start = threading.Barrier(4)
    answers: list[list[retention.DagPass] | None] = []

    def worker() -> None:
        start.wait()
        answers.append(retention.retention_pass(seeded.engine, interval_seconds=600, now=now))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    ran = [a for a in answers if a is not None]
    assert (len(answers), len(ran)) == (4, 1)
    assert [p.report.xcoms for p in ran[0]] == [10]
    counts_are_right(seeded)


def test_no_retention_no_pass(seeded: Api) -> None:
    assert retention.retention_pass(seeded.engine, interval_seconds=60) == []
    assert len(remaining(seeded)) == len(XCOMS)


def test_the_scheduler_runs_passes_until_stopped(seeded: Api) -> None:
    with_retention(seeded, xcom_demo="30d")
    scheduler = retention.RetentionScheduler(seeded.engine, interval_seconds=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        expected = addresses(lambda d, r, at: d != "xcom_demo")  # all older than 30 days
        while remaining(seeded) != expected:
            assert time.monotonic() < deadline, "the scheduled pass did not run"
            time.sleep(0.02)
    finally:
        scheduler.stop()
    counts_are_right(seeded)


def test_the_server_runs_the_pass_on_its_schedule(make_api: Any) -> None:
    api = make_api(retention_interval=0.05)
    for row in XCOMS:
        put(api, *row)
    with_retention(api, etl_daily="30d")  # every XCom here is older than 30 days

    deadline = time.monotonic() + 20
    while any(d == "etl_daily" for d, *_ in remaining(api)):
        assert time.monotonic() < deadline, "the server ran no retention pass"
        time.sleep(0.02)
    assert remaining(api) == addresses(lambda d, r, at: d != "etl_daily")
    counts_are_right(api)


def test_offloaded_values_lose_their_objects_with_their_rows(seeded: Api, tmp_path: Any) -> None:
    """With an object store, a removed XCom whose value was offloaded loses its object;
    the objects of kept rows stay."""
    objects = ObjectStore(f"file://{tmp_path / 'objects'}")
    old_ref = objects.put('{"k":"big old value"}')
    new_ref = objects.put('{"k":"big new value"}')
    with seeded.engine.begin() as conn:
        for key, ref in (("old_0", old_ref), ("new_0", new_ref)):
            conn.execute(
                update(xcom)
                .where(xcom.c.run_id == "daily_1", xcom.c.key == key)
                .values(value=None, value_ref=ref)
            )

    retention.clean(
        seeded.engine, CUTOFF, dag_id="etl_daily", on_deleted=retention.object_releaser(objects)
    )

    assert {o.name for o in objects.scan()} == {new_ref}
    assert remaining(seeded) == addresses(lambda d, r, at: d != "etl_daily" or at >= CUTOFF)


def test_the_server_pass_removes_offloaded_objects(make_api: Any, tmp_path: Any) -> None:
    url = f"file://{tmp_path / 'objects'}"
    api = make_api(retention_interval=0.05, object_store=url, offload_threshold=10)
    put(api, "etl_daily", "daily_1", "fetch", "big", OLD)  # {"k":"big"}: over 10 bytes
    objects = ObjectStore(url)
    assert len(list(objects.scan())) == 1
    with_retention(api, etl_daily="30d")

    deadline = time.monotonic() + 20
    while list(objects.scan()) or remaining(api):
        assert time.monotonic() < deadline, "the pass left the row or its object"
        time.sleep(0.02)
    counts_are_right(api)
