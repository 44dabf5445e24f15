"""xcomkit.store.objects: objects under file://, memory:// and s3:// (moto), their names,
compression, deadlines and the garbage collector."""

from __future__ import annotations

import gzip
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.objects_s3 import S3, moto_s3
from xcomkit.store import db
from xcomkit.store.objects import (
    DeadlinePassed,
    ObjectMissing,
    ObjectStore,
    ObjectStoreError,
    collect_garbage,
    created_at,
    is_object_name,
)
from xcomkit.store.schema import dag_run, xcom

VALUE = '{"rows":[1,2,3],"name":"ünïcødé \\ud800","big":' + "9" * 40 + "}"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with moto_s3() as s3:
        yield s3


@pytest.fixture(params=["file", "memory", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict]:
    if request.param == "file":
        return f"file://{tmp_path}/objects", {}
    if request.param == "memory":
        return f"memory://xcomkit-test-{secrets.token_hex(4)}", {}
    s3: S3 = request.getfixturevalue("s3")
    return s3.url(f"p{secrets.token_hex(4)}"), s3.options


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_put_get_remove_round_trip(store_url, compression) -> None:
    url, options = store_url
    store = ObjectStore(url, compression=compression, options=options)
    before = time.time()
    ref = store.put(VALUE)
    assert is_object_name(ref)
    assert ref.endswith({"none": ".json", "gzip": ".json.gz", "zstd": ".json.zst"}[compression])
    assert before - 0.001 <= created_at(ref) <= time.time() + 0.001
    assert store.get(ref) == VALUE
    assert [obj.name for obj in store.scan()] == [ref]
    store.remove(ref)
    store.remove(ref)  # gone already: no error
    with pytest.raises(ObjectMissing):
        store.get(ref)
    assert list(store.scan()) == []


def test_names_are_unique_and_objects_keep_their_own_compression(tmp_path) -> None:
    url = f"file://{tmp_path}"
    plain = ObjectStore(url).put(VALUE)
    zipped = ObjectStore(url, compression="gzip").put(VALUE)
    assert plain != zipped
    # Written gzip'ed, read back by a store now configured otherwise: the name tells.
    assert (
        gzip.decompress((tmp_path / zipped).read_bytes()).decode("utf-8", "surrogatepass") == VALUE
    )
    assert ObjectStore(url, compression="zstd").get(zipped) == VALUE
    assert ObjectStore(url).get(plain) == VALUE


@pytest.mark.parametrize("ref", ["../etc/passwd", "x.json", "/abs", "1234567890123-zz.json"])
def test_a_reference_never_leaves_the_store(tmp_path, ref) -> None:
    store = ObjectStore(f"file://{tmp_path}")
    with pytest.raises(ObjectStoreError, match="not an XCom object name"):
        store.get(ref)


def test_a_read_past_its_deadline_stops(tmp_path) -> None:
    store = ObjectStore(f"file://{tmp_path}")
    ref = store.put(VALUE)
    with db.deadline(time.monotonic() - 1), pytest.raises(DeadlinePassed):
        store.get(ref)


def test_unknown_compression_and_url_are_refused(tmp_path) -> None:
    with pytest.raises(ObjectStoreError, match="unknown compression 'lz4'"):
        ObjectStore(f"file://{tmp_path}", compression="lz4")
    with pytest.raises(ObjectStoreError, match="cannot use object store"):
        ObjectStore("nosuchprotocol://x")


def _row(conn, ref: str | None, key: str) -> None:
    run_pk = conn.execute(select(dag_run.c.id).where(dag_run.c.run_id == "run_1")).scalar_one()
    conn.execute(
        insert(xcom),
        {
            "dag_run_id": run_pk,
            "task_id": "extract",
            "map_index": -1,
            "key": key,
            "dag_id": "xcom_demo",
            "run_id": "run_1",
            "value": None if ref else "1",
            "value_ref": ref,
            "timestamp": datetime(2026, 1, 1, tzinfo=timezone.utc),
        },
    )


def test_gc_reports_then_removes_only_old_unreferenced_objects(store_url, api_engine) -> None:
    url, options = store_url
    store = ObjectStore(url, options=options)
    kept = store.put("[1]")
    garbage = store.put('"gone"')
    # Named 5 s after the garbage: at `now` one is 6 s old, the other 1 s.
    young = f"{round(created_at(garbage) * 1000) + 5000:013d}-{'a' * 24}.json"
    store.fs.pipe_file(f"{store.root}/{young}", b"[2]")
    store.fs.pipe_file(f"{store.root}/notes.txt", b"not ours")
    with api_engine.begin() as conn:
        _row(conn, kept, "kept")
        _row(conn, None, "inline")
    now, min_age = created_at(young) + 1, 3.0

    report = collect_garbage(api_engine, store, min_age=min_age, apply=False, now=now)
    assert [o.name for o in report.referenced] == [kept]
    assert [o.name for o in report.garbage] == [garbage]
    assert [o.name for o in report.young] == [young]
    assert [o.name for o in report.foreign] == ["notes.txt"]
    assert report.garbage[0].size == len(b'"gone"')
    assert (report.removed, report.dangling) == (0, 0)
    assert store.get(garbage) == '"gone"'  # a dry run removes nothing

    report = collect_garbage(api_engine, store, min_age=min_age, apply=True, now=now)
    assert (report.removed, report.removed_bytes) == (1, len(b'"gone"'))
    assert sorted(o.name for o in store.scan()) == sorted([kept, young, "notes.txt"])


@pytest.fixture
def api_engine(tmp_path, template_db):
    path = tmp_path / "gc.db"
    shutil.copyfile(template_db, path)
    engine = db.make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()
