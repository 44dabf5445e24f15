"""Large values in object storage, through the API: nothing changes on the wire.

Every store kind (file://, memory://, s3:// on moto's local S3 server) answers exactly as
a server that keeps every value in its row; update and delete remove the objects they
replace; a failed write leaves no row pointing at a missing object; reads run in the
objects lane under the request deadline; and --max-value-bytes answers 413.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.objects_s3 import S3, moto_s3
from xcomkit.store import xcoms
from xcomkit.store.database import Database
from xcomkit.store.db import deadline_passed
from xcomkit.store.objects import ObjectStore, is_object_name
from xcomkit.store.schema import xcom

THRESHOLD = 1000
BIG = {"rows": [{"i": i, "name": f"row-{i}", "ok": i % 2 == 0} for i in range(200)]}
BIG_JSON_STRING = json.dumps(BIG)  # a JSON string value: deserialize parses it
SMALL = {"a": [1, None]}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with moto_s3() as s3:
        yield s3


@pytest.fixture(params=["file", "memory", "s3"])
def store_settings(request: pytest.FixtureRequest, tmp_path) -> dict[str, Any]:
    if request.param == "file":
        return {"object_store": f"file://{tmp_path}/objects"}
    if request.param == "memory":
        return {"object_store": f"memory://xcomkit-api-{secrets.token_hex(4)}"}
    s3: S3 = request.getfixturevalue("s3")
    return {
        "object_store": s3.url(f"p{secrets.token_hex(4)}"),
        "object_store_options": s3.options,
    }


@pytest.fixture(params=["none", "zstd"])
def offload_api(request: pytest.FixtureRequest, make_api, store_settings):
    return make_api(
        offload_threshold=THRESHOLD, offload_compression=request.param, **store_settings
    )


def store_of(api) -> ObjectStore:
    store = api.client.app.state.ctx.storage.store
    assert store is not None
    return store


def objects(api) -> list[str]:
    return sorted(obj.name for obj in store_of(api).scan())


def row_of(api, key: str) -> Any:
    with api.engine.connect() as conn:
        return conn.execute(select(xcom.c.value, xcom.c.value_ref).where(xcom.c.key == key)).one()


def create(api, key, value, **where):
    return api.client.post(
        api.xcom_url(**where), json={"key": key, "value": value}, headers=api.headers()
    )


def get(api, key, **params):
    return api.client.get(api.xcom_url(key=key), params=params, headers=api.headers("viewer"))


def without_timestamp(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timestamp"}


@pytest.mark.parametrize("value", [BIG, BIG_JSON_STRING, [BIG, "x" * 2000]], ids=repr)
def test_offloaded_values_answer_as_in_row_ones_in_every_form(offload_api, make_api, value) -> None:
    plain = make_api()  # no object store: every value in its row
    for api in (offload_api, plain):
        r = create(api, "big", value)
        assert r.status_code == 201, r.text
        assert r.json()["value"] == value
    value_json, ref = row_of(offload_api, "big")
    assert value_json is None and is_object_name(ref)
    assert objects(offload_api) == [ref]
    assert row_of(plain, "big").value_ref is None

    for params in (
        {},
        {"stringify": "true"},
        {"deserialize": "true"},
        {"deserialize": "true", "stringify": "true"},
    ):
        got, expected = get(offload_api, "big", **params), get(plain, "big", **params)
        assert (got.status_code, expected.status_code) == (200, 200)
        assert without_timestamp(got.json()) == without_timestamp(expected.json()), params
    listed = offload_api.client.get(offload_api.xcom_url(), headers=offload_api.headers())
    assert [e["key"] for e in listed.json()["xcom_entries"]] == ["big"]


def test_small_values_and_values_shaped_like_references_stay_values(offload_api) -> None:
    big_ref = create(offload_api, "big", BIG)
    assert big_ref.status_code == 201
    ref = row_of(offload_api, "big").value_ref
    # A user value that is exactly an object's name, or a reference-looking object.
    for key, value in (("small", SMALL), ("name", ref), ("obj", {"value_ref": ref})):
        assert create(offload_api, key, value).status_code == 201
        assert row_of(offload_api, key).value_ref is None
        assert get(offload_api, key).json()["value"] == value
    # A large value whose content names an object is still that content.
    looks = {"value_ref": ref, "pad": "p" * 2000}
    assert create(offload_api, "looks", looks).status_code == 201
    assert get(offload_api, "looks").json()["value"] == looks
    assert len(objects(offload_api)) == 2


def test_update_and_delete_remove_the_objects_they_replace(offload_api) -> None:
    assert create(offload_api, "k", BIG).status_code == 201
    first = row_of(offload_api, "k").value_ref
    url = offload_api.xcom_url(key="k")
    bigger = {**BIG, "more": "m" * 3000}

    r = offload_api.client.patch(url, json={"value": bigger}, headers=offload_api.headers())
    assert (r.status_code, r.json()["value"]) == (200, bigger)
    second = row_of(offload_api, "k").value_ref
    assert second != first and objects(offload_api) == [second]
    assert get(offload_api, "k").json()["value"] == bigger

    r = offload_api.client.patch(url, json={"value": SMALL}, headers=offload_api.headers())
    assert (r.status_code, r.json()["value"]) == (200, SMALL)
    assert row_of(offload_api, "k") == (json.dumps(SMALL, separators=(",", ":")), None)
    assert objects(offload_api) == []

    r = offload_api.client.patch(url, json={"value": BIG}, headers=offload_api.headers())
    assert r.status_code == 200
    third = row_of(offload_api, "k").value_ref
    assert objects(offload_api) == [third]
    assert offload_api.client.delete(url, headers=offload_api.headers()).status_code == 204
    assert objects(offload_api) == []
    assert get(offload_api, "k").status_code == 404


def test_deleting_a_dag_run_removes_its_objects(offload_api) -> None:
    for i in range(3):
        assert create(offload_api, f"k{i}", BIG, dag_run_id="run_2").status_code == 201
    assert create(offload_api, "other", BIG).status_code == 201
    keep = row_of(offload_api, "other").value_ref
    r = offload_api.client.delete(
        "/api/v2/dags/xcom_demo/dagRuns/run_2", headers=offload_api.headers()
    )
    assert r.status_code == 204, r.text
    assert objects(offload_api) == [keep]


def test_refused_writes_leave_no_object(offload_api) -> None:
    assert create(offload_api, "k", BIG).status_code == 201
    assert create(offload_api, "k", BIG).status_code == 409
    assert create(offload_api, "k2", BIG, dag_run_id="no_such_run").status_code == 404
    r = offload_api.client.patch(
        offload_api.xcom_url(key="missing"), json={"value": BIG}, headers=offload_api.headers()
    )
    assert r.status_code == 404
    assert objects(offload_api) == [row_of(offload_api, "k").value_ref]


def test_a_write_that_fails_after_its_object_leaves_only_an_orphan(
    offload_api, monkeypatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("row write interrupted")

    monkeypatch.setattr(xcoms.XComStore, "insert", broken)
    with pytest.raises(RuntimeError, match="row write interrupted"):
        create(offload_api, "k", BIG)
    with offload_api.engine.connect() as conn:
        assert conn.execute(select(xcom.c.key).where(xcom.c.key == "k")).all() == []
    assert len(objects(offload_api)) == 1  # garbage for `xcomkit storage gc`, no row


def test_a_missing_object_answers_503_and_a_replaced_one_is_read_again(offload_api) -> None:
    assert create(offload_api, "k", BIG).status_code == 201
    ref = row_of(offload_api, "k").value_ref
    store_of(offload_api).remove(ref)
    r = get(offload_api, "k")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json() == {
        "detail": f"The value's object storage failed: the object {ref} of a stored value "
        "is missing. Retry the request shortly."
    }


def test_an_object_replaced_between_row_and_object_read_is_read_again(
    make_api, tmp_path, monkeypatch
) -> None:
    api = make_api(object_store=f"file://{tmp_path}/o", offload_threshold=THRESHOLD)
    assert create(api, "k", BIG).status_code == 201
    bigger = {**BIG, "v": 2}
    store = store_of(api)
    real_get = store.get
    calls: list[str] = []

    def racing_get(ref: str) -> str:
        if not calls:  # an update commits (and removes this object) just before the read
            r = api.client.patch(
                api.xcom_url(key="k"), json={"value": bigger}, headers=api.headers()
            )
            assert r.status_code == 200
        calls.append(ref)
        return real_get(ref)

    # The PATCH above reaches the app (TestClient's event loop, idle while the GET waits
    # for its objects lane) from inside that lane.
    monkeypatch.setattr(store, "get", racing_get)
    r = get(api, "k")
    assert (r.status_code, r.json()["value"]) == (200, bigger)
    assert len(calls) == 2 and calls[0] != calls[1]


def test_object_reads_run_in_the_objects_lane_under_the_deadline(
    make_api, tmp_path, monkeypatch
) -> None:
    api = make_api(
        object_store=f"file://{tmp_path}/o", offload_threshold=THRESHOLD, request_timeout=0.2
    )
    assert create(api, "k", BIG).status_code == 201
    store = store_of(api)
    threads: list[str] = []

    class Endless:
        """An object that never ends: only the deadline stops its read."""

        def __enter__(self) -> Endless:
            threads.append(threading.current_thread().name)
            return self

        def __exit__(self, *_: Any) -> None:
            pass

        def read(self, _n: int) -> bytes:
            return b" "

    monkeypatch.setattr(store.fs, "open", lambda *_a, **_k: Endless())
    r = get(api, "k")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert "request timeout (0.2 s)" in r.json()["detail"]
    assert len(threads) == 1 and threads[0].startswith("xcomkit-objects")
    assert not deadline_passed()  # the loop's thread was never under the deadline


def test_an_offloaded_row_without_a_configured_store_answers_503(make_api, tmp_path) -> None:
    url = f"file://{tmp_path}/o"
    writer = make_api(object_store=url, offload_threshold=THRESHOLD)
    assert create(writer, "k", BIG).status_code == 201
    reader = make_api()
    reader.client.app.state.ctx.engine = writer.engine  # same database, no store
    reader.client.app.state.ctx.work.engine = writer.engine
    reader.client.app.state.ctx.work.db = Database(writer.engine)
    reader.client.app.state.ctx.work._inline = None
    r = reader.client.get(reader.xcom_url(key="k"), headers=reader.headers())
    assert r.status_code == 503
    assert "no object store configured (XCOMKIT_OBJECT_STORE)" in r.json()["detail"]


# ------------------------------------------------------------------- --max-value-bytes


def test_values_over_max_value_bytes_answer_413(make_api) -> None:
    api = make_api(max_value_bytes=100)
    fits = "x" * 98  # 100 bytes of JSON with its quotes
    assert create(api, "fits", fits).status_code == 201
    r = create(api, "over", fits + "y")
    assert r.status_code == 413
    assert r.json() == {
        "detail": "XCom value too large: its JSON is 101 bytes; the limit is 100 bytes."
    }
    r = api.client.patch(
        api.xcom_url(key="fits"), json={"value": "é" * 50}, headers=api.headers()
    )  # 50 characters, 102 bytes of UTF-8
    assert r.status_code == 413
    assert r.json()["detail"] == (
        "XCom value too large: its JSON is 102 bytes; the limit is 100 bytes."
    )
    assert get(api, "fits").json()["value"] == fits


def test_a_value_under_the_limit_is_accepted_however_its_body_escapes_it(make_api) -> None:
    # Python's default encoder (the official client's) writes each "é" (two bytes
    # stored) as six body bytes; "\u0041" is "A" (one byte stored) in six.
    api = make_api(max_value_bytes=1000)
    for key, text in (("accent", "é" * 499), ("ascii", "A" * 998)):
        escaped = "".join(f"\\u{ord(c):04x}" for c in text)
        body = ("{" + f'"key": "{key}", "value": "{escaped}"' + "}").encode()
        assert len(body) > 2 * 1000
        r = api.client.post(
            api.xcom_url(),
            content=body,
            headers={**api.headers(), "content-type": "application/json"},
        )
        assert r.status_code == 201, r.text
        assert get(api, key).json()["value"] == text


def test_a_body_far_over_max_value_bytes_is_refused_before_it_is_read(make_api) -> None:
    api = make_api(max_value_bytes=100)
    body = json.dumps({"key": "k", "value": "x" * 5000}).encode()
    expected = {
        "detail": "XCom value too large: the limit is 100 bytes of JSON "
        "(a request body of at most 4696 bytes)."
    }
    r = api.client.post(
        api.xcom_url(),
        content=body,
        headers={**api.headers(), "content-type": "application/json"},
    )
    assert (r.status_code, r.json()) == (413, expected)
    assert r.headers["connection"] == "close"

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while it streams
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    r = api.client.post(
        api.xcom_url(),
        content=chunks(),
        headers={**api.headers(), "content-type": "application/json"},
    )
    assert (r.status_code, r.json()) == (413, expected)
    # Other routes keep the general body limit.
    r = api.client.post(
        "/api/v2/dags/xcom_demo/dagRuns",
        json={"logical_date": None, "conf": {"pad": "x" * 5000}},
        headers=api.headers(),
    )
    assert r.status_code == 200, r.text


def test_offload_on_both_backends(api, tmp_path) -> None:
    """Create, read, update and delete of offloaded values on SQLite and PostgreSQL (whose
    update and delete lock the row while they read its object's name)."""
    from xcomkit.server.offload import ValueStorage

    store = ObjectStore(f"file://{tmp_path}/objects", compression="gzip")
    api.client.app.state.ctx.storage = ValueStorage(store, offload_threshold=THRESHOLD)
    assert create(api, "k", BIG).status_code == 201
    first = row_of(api, "k").value_ref
    assert objects(api) == [first]
    assert get(api, "k").json()["value"] == BIG
    assert get(api, "k", stringify="true").json()["value"] == str(BIG)
    url = api.xcom_url(key="k")
    r = api.client.patch(url, json={"value": [BIG]}, headers=api.headers())
    assert (r.status_code, r.json()["value"]) == (200, [BIG])
    second = row_of(api, "k").value_ref
    assert objects(api) == [second] != [first]
    assert get(api, "k").json()["value"] == [BIG]
    assert api.client.delete(url, headers=api.headers()).status_code == 204
    assert objects(api) == []


@pytest.mark.parametrize("refusal", ["lane full", "deadline"])
def test_a_write_refused_for_lack_of_room_or_time_leaves_no_object(
    offload_api, monkeypatch, refusal
) -> None:
    """A 503 from the work lanes means nothing was written: the value's new object is
    removed at once, not left for `xcomkit storage gc`."""
    from xcomkit.server.execution import DeadlineExceeded, LaneFull

    assert create(offload_api, "k", BIG).status_code == 201
    kept = objects(offload_api)
    work = offload_api.client.app.state.ctx.work

    async def refused(*_args: Any, **_kwargs: Any) -> None:
        raise (LaneFull if refusal == "lane full" else DeadlineExceeded)("busy; retry")

    monkeypatch.setattr(work, "write", refused)
    assert create(offload_api, "k2", {**BIG, "v": 2}).status_code == 503
    r = offload_api.client.patch(
        offload_api.xcom_url(key="k"),
        json={"value": {**BIG, "v": 3}},
        headers=offload_api.headers(),
    )
    assert r.status_code == 503
    assert objects(offload_api) == kept
