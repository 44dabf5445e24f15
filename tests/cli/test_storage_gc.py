"""``xcomkit storage gc`` and the object-store options of ``xcomkit serve``."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.cli.conftest import Xk
from tests.cli.test_admin_and_errors import DEMO, _run
from xcomkit.store.db import make_engine
from xcomkit.store.objects import ObjectStore
from xcomkit.store.schema import dag_run, xcom


@pytest.fixture
def db(tmp_path: Path, xk: Xk) -> str:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert xk("dags", "load", str(DEMO), "--db", url).exit_code == 0
    return url


def _point_at(db: str, ref: str) -> None:
    engine = make_engine(db)
    with engine.begin() as conn:
        run_pk = conn.execute(select(dag_run.c.id).limit(1)).scalar_one()
        conn.execute(
            insert(xcom),
            {
                "dag_run_id": run_pk,
                "task_id": "extract",
                "key": "big",
                "dag_id": "demo",
                "run_id": "r",
                "value": None,
                "value_ref": ref,
                "timestamp": datetime.now(timezone.utc),
            },
        )
    engine.dispose()


def test_gc_reports_by_default_and_removes_with_apply(db: str, xk: Xk, tmp_path: Path) -> None:
    url = f"file://{tmp_path}/objects"
    store = ObjectStore(url)
    kept = store.put("[" + "1," * 50 + "1]")  # 103 bytes
    store.put('"orphan"')  # 8 bytes
    (tmp_path / "objects" / "README").write_text("mine\n")  # 5 bytes, not xcomkit's
    _point_at(db, kept)

    r = xk("storage", "gc", "--db", db, "--object-store", url, "--min-age", "0")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [
        f"object store {url}",
        "referenced by a row (kept)                 1 objects             103 bytes",
        "younger than 0 s (kept)                    0 objects               0 bytes",
        "not made by xcomkit (left alone)           1 objects               5 bytes",
        "garbage                                    1 objects               8 bytes",
        "dry run: nothing removed (--apply removes the garbage)",
    ]
    assert len(list(store.scan())) == 3

    r = xk("storage", "gc", "--db", db, "--object-store", url, "--min-age", "0", "--apply")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "removed 1 objects, 8 bytes"
    assert sorted(o.name for o in store.scan()) == sorted([kept, "README"])


def test_gc_keeps_young_garbage_by_default(db: str, xk: Xk, tmp_path: Path) -> None:
    url = f"file://{tmp_path}/objects"
    ObjectStore(url).put('"just written"')
    r = xk("storage", "gc", "--db", db, "--object-store", url, "--apply")
    assert r.exit_code == 0, r.stderr
    assert "younger than 3600 s (kept)                 1 objects" in r.stdout
    assert r.stdout.splitlines()[-1] == "removed 0 objects, 0 bytes"
    assert len(list(ObjectStore(url).scan())) == 1


def test_gc_warns_of_rows_whose_object_is_missing(db: str, xk: Xk, tmp_path: Path) -> None:
    url = f"file://{tmp_path}/objects"
    store = ObjectStore(url)
    ref = store.put("[1]")
    _point_at(db, ref)
    store.remove(ref)
    r = xk("storage", "gc", "--db", db, "--object-store", url)
    assert r.exit_code == 0
    assert r.stderr == (
        "warning: 1 rows name an object that was not found (written during this run, "
        "or removed behind xcomkit's back)\n"
    )


def test_gc_without_an_object_store_is_one_line(db: str, xk: Xk, monkeypatch) -> None:
    monkeypatch.delenv("XCOMKIT_OBJECT_STORE", raising=False)
    r = xk("storage", "gc", "--db", db)
    assert r.exit_code == 2
    assert r.stderr == "error: no object store: give --object-store or set XCOMKIT_OBJECT_STORE\n"


def test_serve_refuses_unusable_offload_settings_in_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    r = _run("serve", "--db", db, "--offload-threshold", "10", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (
        "error: settings: Value error, XCOMKIT_OFFLOAD_THRESHOLD needs XCOMKIT_OBJECT_STORE "
        "(where values go)\n"
    )
    r = _run("serve", "--db", db, "--object-store", "nosuch://x", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "error: cannot use object store 'nosuch://x': Protocol not known: nosuch\n"
