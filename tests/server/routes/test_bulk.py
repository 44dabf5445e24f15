"""xcomkit's bulk endpoints (``/xcomkit/v1``): export as NDJSON, import in batches.

On SQLite and PostgreSQL (the ``api`` fixture). Exports must equal what the single-XCom
endpoints answer; imports must count and refuse exactly as POST/PATCH would.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Api
from xcomkit.server.routes.bulk import EXPORT_PAGE, IMPORT_MAX_ENTRIES
from xcomkit.store.schema import dag_run

IMPORT = "/xcomkit/v1/xcomEntries/import"
BIG = 2**80 + 7


def export_url(dag_id: str = "xcom_demo", run: str = "~", task: str = "~") -> str:
    return f"/xcomkit/v1/dags/{dag_id}/dagRuns/{run}/taskInstances/{task}/xcomEntries/export"


def entry(key: str, value: Any = 1, **address: Any) -> dict[str, Any]:
    out = {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "extract", "map_index": -1}
    out.update(address)
    out.update(key=key, value=value)
    return out


def bulk_import(api: Api, entries: list[Any], role: str = "admin", **extra: Any) -> Any:
    r = api.client.post(IMPORT, json={"xcom_entries": entries, **extra}, headers=api.headers(role))
    assert r.status_code == 200, r.text
    return r.json()


def exported(api: Api, url: str | None = None, role: str = "admin") -> list[dict[str, Any]]:
    r = api.client.get(url or export_url(), headers=api.headers(role))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in r.text.splitlines()]


def test_probe_names_the_server_and_its_limits(api: Api) -> None:
    r = api.client.get("/xcomkit/v1", headers=api.headers("viewer"))
    assert r.status_code == 200
    body = r.json()
    assert body["server"] == "xcomkit"
    assert body["import_max_entries"] == IMPORT_MAX_ENTRIES
    assert body["max_body_bytes"] == api.settings.max_body_bytes
    assert api.client.get("/xcomkit/v1").status_code == 401


def test_import_then_export_equals_the_single_xcom_endpoints(api: Api) -> None:
    values: list[Any] = [1, 2.5, "text", None, [1, "a"], {"big": BIG, "f": -0.5}, True, "12"]
    entries = [entry(f"k{i}", v) for i, v in enumerate(values)]
    entries.append(entry("mapped", {"i": 3}, task_id="load", map_index=3))
    entries.append(entry("other", "x", run_id="run_2"))
    result = bulk_import(api, entries)
    assert result["created"] == len(entries)
    assert result["results"] == [{"outcome": "created"}] * len(entries)
    lines = exported(api)
    listed = api.client.get(
        "/api/v2/dags/xcom_demo/dagRuns/~/taskInstances/~/xcomEntries",
        params={"limit": 100},
        headers=api.headers(),
    ).json()["xcom_entries"]
    # The list endpoint's default order, and each value as a plain GET answers it.
    assert [(x["task_id"], x["run_id"], x["map_index"], x["key"]) for x in lines] == [
        (x["task_id"], x["run_id"], x["map_index"], x["key"]) for x in listed
    ]
    for line in lines:
        url = api.xcom_url("xcom_demo", line["run_id"], line["task_id"], line["key"])
        got = api.client.get(url, params={"map_index": line["map_index"]}, headers=api.headers())
        assert line["value"] == got.json()["value"]
        assert list(line) == ["dag_id", "run_id", "task_id", "map_index", "key", "value"]
    assert str(BIG) in api.client.get(export_url(), headers=api.headers()).text
    assert [x["key"] for x in exported(api, export_url("~", "run_1", "load"))] == ["mapped"]
    # The runs' kept counts followed the inserts (list totals read them).
    with api.engine.connect() as conn:
        counts = dict(conn.execute(select(dag_run.c.run_id, dag_run.c.xcom_count)).all())
    assert counts["run_1"] == len(entries) - 1
    assert counts["run_2"] == 1


def test_export_pages_by_key_order_across_page_boundaries(api: Api) -> None:
    n = EXPORT_PAGE * 2 + 3
    entries = [entry(f"key_{i:05}", i, task_id=("extract", "load")[i % 2]) for i in range(n)]
    for start in range(0, n, IMPORT_MAX_ENTRIES):
        bulk_import(api, entries[start : start + IMPORT_MAX_ENTRIES])
    r = api.client.get(export_url(), headers=api.headers("viewer"))
    assert r.headers["x-total-entries"] == str(n)
    lines = [json.loads(line) for line in r.text.splitlines()]
    expected = sorted(entries, key=lambda e: (e["task_id"], e["key"]))
    assert lines == expected


def test_import_is_idempotent_and_overwrite_updates_only_changed_values(api: Api) -> None:
    first = [entry("a", 1), entry("b", {"x": [1, 2]}), entry("c", "s")]
    assert bulk_import(api, first)["created"] == 3
    again = bulk_import(api, first)
    assert (again["created"], again["skipped"], again["updated"]) == (0, 3, 0)
    changed = [entry("a", 1.0), entry("b", {"x": [1, 2]}), entry("c", "t"), entry("d", 4)]
    result = bulk_import(api, changed)
    assert [r["outcome"] for r in result["results"]] == ["skipped"] * 3 + ["created"]
    result = bulk_import(api, changed, overwrite=True)
    # 1.0 is not 1 in JSON; an equal value is left alone.
    assert [r["outcome"] for r in result["results"]] == ["updated", "skipped", "updated", "skipped"]
    assert {x["key"]: x["value"] for x in exported(api)} == {
        "a": 1.0,
        "b": {"x": [1, 2]},
        "c": "t",
        "d": 4,
    }
    assert bulk_import(api, changed, overwrite=True)["skipped"] == 4


def test_an_address_repeated_in_a_batch_acts_as_lines_sent_in_order(api: Api) -> None:
    result = bulk_import(api, [entry("a", 1), entry("a", 2), entry("a", 2)], overwrite=True)
    assert [r["outcome"] for r in result["results"]] == ["created", "updated", "skipped"]
    result = bulk_import(api, [entry("b", 1), entry("b", 2)])
    assert [r["outcome"] for r in result["results"]] == ["created", "skipped"]
    assert {x["key"]: x["value"] for x in exported(api)} == {"a": 2, "b": 1}


def test_every_failed_entry_says_why_and_the_rest_are_written(api: Api) -> None:
    deep: Any = 0
    for _ in range(300):
        deep = [deep]
    entries = [
        entry("ok1"),
        entry("x", dag_id="no_such_dag"),
        entry("x", task_id="no_such_task"),
        entry("x", run_id="no_such_run"),
        entry("k" * 513),
        entry("x", map_index=-2),
        entry("x", map_index=2**31),
        entry("line\nfeed"),
        entry("nul\x00key"),
        entry("x", deep),
        entry("x", {"__classname__": "x"}),
        {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "extract", "key": "no_value"},
        {**entry("x"), "extra": 1},
        "not an object",
        entry("ok2"),
    ]
    result = bulk_import(api, entries)
    assert (result["created"], result["failed"]) == (2, len(entries) - 2)
    results = result["results"]
    assert results[0] == {"outcome": "created"} and results[-1] == {"outcome": "created"}
    assert results[1:4] == [
        {
            "outcome": "failed",
            "status": 404,
            "detail": "The Dag with ID: `no_such_dag` was not found",
        },
        {
            "outcome": "failed",
            "status": 404,
            "detail": "Task with ID: `no_such_task` not found in dag: `xcom_demo`",
        },
        {
            "outcome": "failed",
            "status": 404,
            "detail": "Dag Run with ID: `no_such_run` not found for dag: `xcom_demo`",
        },
    ]
    invalid = results[4:-1]
    assert all(r["outcome"] == "failed" and r["status"] == 422 for r in invalid)
    locs = [[tuple(d["loc"]) for d in r["detail"]] for r in invalid]
    assert locs == [
        [("key",)],
        [("map_index",)],
        [("map_index",)],
        [("key",)],
        [()],
        [()],
        [("value",)],
        [("value",)],
        [("extra",)],
        [()],
    ]
    assert "512" in invalid[0]["detail"][0]["msg"]
    assert "NUL" in invalid[4]["detail"][0]["msg"]
    assert "254 levels" in invalid[5]["detail"][0]["msg"]
    assert "reserved serialization keys" in invalid[6]["detail"][0]["msg"]
    assert [x["key"] for x in exported(api)] == ["ok1", "ok2"]


def test_lone_surrogates_fail_their_entry_only(api: Api) -> None:
    body = (
        '{"xcom_entries": [{"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "extract",'
        ' "key": "s", "value": "\\ud800"}, {"dag_id": "xcom_demo", "run_id": "run_1",'
        ' "task_id": "extract", "key": "fine", "value": 1}]}'
    )
    r = api.client.post(
        IMPORT, content=body, headers={**api.headers(), "content-type": "application/json"}
    )
    assert r.status_code == 200
    failed, created = r.json()["results"]
    assert failed["status"] == 422 and "surrogate" in failed["detail"][0]["msg"]
    assert created == {"outcome": "created"}


def test_import_needs_a_writer_and_export_a_caller(api: Api) -> None:
    body = {"xcom_entries": [entry("a")]}
    r = api.client.post(IMPORT, json=body)
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})
    r = api.client.post(IMPORT, json=body, headers=api.headers("viewer"))
    assert (r.status_code, r.json()) == (403, {"detail": "Forbidden"})
    r = api.client.post(IMPORT, json=body, headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()) == (403, {"detail": "Invalid JWT token"})
    assert api.client.get(export_url()).status_code == 401
    assert exported(api, role="viewer") == []


def test_a_batch_over_the_limits_is_refused_whole(api: Api) -> None:
    too_many = [entry(f"k{i}") for i in range(IMPORT_MAX_ENTRIES + 1)]
    r = api.client.post(IMPORT, json={"xcom_entries": too_many}, headers=api.headers())
    assert r.status_code == 413
    assert r.json() == {
        "detail": f"An import holds at most {IMPORT_MAX_ENTRIES} XComs per request; this "
        f"one holds {IMPORT_MAX_ENTRIES + 1}. Send them in batches."
    }
    assert exported(api) == []
    for bad in (b"[1]", b"not json", b'{"xcom_entries": [], "overwrite": "yes"}'):
        r = api.client.post(
            IMPORT, content=bad, headers={**api.headers(), "content-type": "application/json"}
        )
        assert r.status_code == 400
        assert "xcom_entries" in r.json()["detail"]


def test_a_body_over_max_body_bytes_is_413_unread(make_api: Any) -> None:
    api = make_api(max_body_bytes=4096)
    entries = [entry(f"k{i}", "v" * 100) for i in range(50)]
    r = api.client.post(IMPORT, json={"xcom_entries": entries}, headers=api.headers())
    assert r.status_code == 413
    assert r.json() == {"detail": "Request body too large: the limit is 4096 bytes."}


def test_max_value_bytes_fails_the_entry_over_it(make_api: Any) -> None:
    api = make_api(max_value_bytes=100)
    result = bulk_import(api, [entry("big", "x" * 200), entry("small", "x")])
    big, small = result["results"]
    assert big == {
        "outcome": "failed",
        "status": 413,
        "detail": "XCom value too large: its JSON is 202 bytes; the limit is 100 bytes.",
    }
    assert small == {"outcome": "created"}


def test_one_audit_record_per_entry(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    bulk_import(api, [entry("a")])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="xcomkit.audit"):
        bulk_import(api, [entry("a"), entry("b"), entry("c", dag_id="nope")], role="user")
    records = [r for r in caplog.records if r.name == "xcomkit.audit"]
    per_entry = [r for r in records if getattr(r, "action", None) == "import_xcom_entry"]
    assert [(r.key, r.change, r.status, r.outcome, r.who) for r in per_entry] == [  # type: ignore[attr-defined]
        ("a", "skipped", 200, "ok", "user"),
        ("b", "created", 200, "ok", "user"),
        ("c", "failed", 404, "failed", "user"),
    ]
    assert per_entry[1].dag_id == "xcom_demo"  # type: ignore[attr-defined]
    request = [r for r in records if getattr(r, "action", None) == "import_xcom_entries"]
    assert len(request) == 1 and request[0].status == 200  # type: ignore[attr-defined]


def test_values_in_object_storage_export_import_and_overwrite_without_leftovers(
    make_api: Any, tmp_path: Any
) -> None:
    """Values over the offload threshold go to objects as with POST; export reads them
    back; an overwrite compares with the object (skipped when equal, updated and the old
    object removed when not); objects of entries not written are removed."""
    from tests.server.test_offload import objects, row_of

    api = make_api(offload_threshold=1000, object_store=f"file://{tmp_path}/objects")
    big = {"rows": list(range(500))}
    other = {"rows": list(range(600))}
    result = bulk_import(api, [entry("big", big), entry("small", 1)])
    assert result["created"] == 2
    ref = row_of(api, "big").value_ref
    assert row_of(api, "big").value is None and objects(api) == [ref]
    assert {x["key"]: x["value"] for x in exported(api)} == {"big": big, "small": 1}

    # Skipped without overwrite, and skipped as equal with it: no new object stays.
    assert bulk_import(api, [entry("big", big)])["skipped"] == 1
    assert bulk_import(api, [entry("big", big)], overwrite=True)["skipped"] == 1
    assert objects(api) == [ref]

    result = bulk_import(api, [entry("big", other), entry("small", other)], overwrite=True)
    assert [r["outcome"] for r in result["results"]] == ["updated", "updated"]
    refs = {row_of(api, "big").value_ref, row_of(api, "small").value_ref}
    assert ref not in refs and objects(api) == sorted(refs)
    assert {x["key"]: x["value"] for x in exported(api)} == {"big": other, "small": other}

    # Repeated in one batch: only the value written last keeps an object.
    result = bulk_import(api, [entry("twice", big), entry("twice", other)], overwrite=True)
    assert [r["outcome"] for r in result["results"]] == ["created", "updated"]
    assert len(objects(api)) == 3
    assert {x["key"]: x["value"] for x in exported(api)}["twice"] == other


def test_an_import_refused_for_lack_of_room_leaves_no_object(
    make_api: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 from the work lanes means no entry was written: their new objects go."""
    from tests.server.test_offload import objects
    from xcomkit.server.execution import LaneFull

    api = make_api(offload_threshold=1000, object_store=f"file://{tmp_path}/objects")

    async def refused(*_args: Any, **_kwargs: Any) -> None:
        raise LaneFull("busy; retry")

    monkeypatch.setattr(api.client.app.state.ctx.work, "write", refused)
    r = api.client.post(
        IMPORT,
        json={"xcom_entries": [entry("big", {"rows": list(range(500))})]},
        headers=api.headers(),
    )
    assert r.status_code == 503
    assert objects(api) == []
