"""The five XCom endpoints over raw HTTP (in-process), with exact statuses and bodies."""

from __future__ import annotations

import json
import threading
from urllib.parse import quote

import pytest

VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1.5,
    0.1,
    1e100,
    "",
    "plain",
    "ünïcødé ✓",
    "123",
    '{"a": 1}',
    [],
    {},
    [1, "two", None, [3.5, {"x": []}]],
    {"nested": {"deep": [{"k": "v"}]}, "n": None},
]


def create(api, key, value, *, map_index=None, role="admin", **where):
    body = {"key": key, "value": value}
    if map_index is not None:
        body["map_index"] = map_index
    return api.client.post(api.xcom_url(**where), json=body, headers=api.headers(role))


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_create_then_get_round_trips_every_json_value(api, value) -> None:
    r = create(api, "k", value)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["value"] == value
    got = api.client.get(api.xcom_url(key="k"), headers=api.headers("viewer"))
    assert got.status_code == 200
    assert got.json() == body


def test_create_answers_airflow_shape(api) -> None:
    r = create(api, "shape", {"a": 1}, task_id="transform")
    body = r.json()
    assert list(body) == [
        "key",
        "timestamp",
        "logical_date",
        "map_index",
        "task_id",
        "dag_id",
        "run_id",
        "dag_display_name",
        "task_display_name",
        "run_after",
        "value",
    ]
    assert body["logical_date"] == "2025-01-01T00:00:00Z"
    assert body["run_after"] == "2025-01-01T00:00:00Z"
    assert body["timestamp"].endswith("Z")
    assert (body["dag_display_name"], body["task_display_name"]) == ("XCom Demo", "Transform step")
    assert (body["dag_id"], body["run_id"], body["task_id"], body["map_index"]) == (
        "xcom_demo",
        "run_1",
        "transform",
        -1,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, None]}, "{'a': [1, None]}"),
        (True, "True"),
        (None, None),
        ("text", "text"),
        (1.0, "1.0"),
        ([1, "x"], "[1, 'x']"),
    ],
)
def test_stringify_is_python_str(api, value, expected) -> None:
    create(api, "s", value)
    r = api.client.get(api.xcom_url(key="s"), params={"stringify": "true"}, headers=api.headers())
    assert r.status_code == 200
    assert r.json()["value"] == expected


@pytest.mark.parametrize(
    ("value", "deserialized", "both"),
    [
        ("123", 123, "123"),
        ('{"a": [1, null]}', {"a": [1, None]}, "{'a': [1, None]}"),
        ("not json", "not json", "not json"),
        ({"a": "1"}, {"a": "1"}, "{'a': '1'}"),
        (5, 5, "5"),
        ("NaN", None, "nan"),
    ],
)
def test_deserialize_reparses_stored_json_strings(api, value, deserialized, both) -> None:
    create(api, "d", value)
    url = api.xcom_url(key="d")
    r = api.client.get(url, params={"deserialize": "true"}, headers=api.headers())
    assert r.json()["value"] == deserialized
    r = api.client.get(url, params={"deserialize": "1", "stringify": "yes"}, headers=api.headers())
    assert r.json()["value"] == both


@pytest.mark.parametrize(
    "key", ["a/b/c", "100%", "with space", "ключ", "dots.in.key", "~", "x" * 512]
)
def test_keys_with_special_characters(api, key) -> None:
    assert create(api, key, 1).status_code == 201
    url = api.xcom_url(key=quote(key, safe="/"))
    got = api.client.get(url, headers=api.headers())
    assert got.status_code == 200, got.text
    assert got.json()["key"] == key
    patched = api.client.patch(url, json={"value": 2}, headers=api.headers())
    assert patched.json()["value"] == 2
    assert api.client.delete(url, headers=api.headers()).status_code == 204
    assert api.client.get(url, headers=api.headers()).status_code == 404


def test_create_404_precedence_dag_then_task_then_run(api) -> None:
    r = create(api, "k", 1, dag_id="nope", task_id="nope", dag_run_id="nope")
    assert (r.status_code, r.json()) == (404, {"detail": "The Dag with ID: `nope` was not found"})
    r = create(api, "k", 1, task_id="nope", dag_run_id="nope")
    assert (r.status_code, r.json()) == (
        404,
        {"detail": "Task with ID: `nope` not found in dag: `xcom_demo`"},
    )
    r = create(api, "k", 1, dag_run_id="nope")
    assert (r.status_code, r.json()) == (
        404,
        {"detail": "Dag Run with ID: `nope` not found for dag: `xcom_demo`"},
    )


def test_create_duplicate_is_409_per_map_index(api) -> None:
    assert create(api, "dup", 1).status_code == 201
    r = create(api, "dup", 2)
    assert (r.status_code, r.json()) == (
        409,
        {"detail": "The XCom with key: `dup` with mentioned task instance already exists."},
    )
    assert create(api, "dup", 3, map_index=0).status_code == 201
    assert create(api, "dup", 4, task_id="load").status_code == 201


def test_concurrent_creates_of_one_key_give_one_201_and_rest_409(api) -> None:
    statuses: list[int] = []
    headers = api.headers()
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        r = api.client.post(api.xcom_url(), json={"key": "race", "value": 1}, headers=headers)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201] + [409] * 7


def test_concurrent_mixed_creates_each_get_their_own_answer_and_count(api) -> None:
    """Creates arriving together may share a transaction (group commit on SQLite): each
    still gets its own answer, a refused one changes nothing, and the run's kept XCom
    count matches its rows."""
    headers = api.headers()
    posts = [(api.xcom_url(), f"u{i}") for i in range(20)]
    posts += [(api.xcom_url(), "dup")] * 3
    posts += [(api.xcom_url(dag_run_id="no_such_run"), "x"), (api.xcom_url(task_id="nope"), "y")]
    statuses: dict[int, int] = {}
    barrier = threading.Barrier(len(posts))

    def post(i: int, url: str, key: str) -> None:
        barrier.wait()
        statuses[i] = api.client.post(
            url, json={"key": key, "value": i}, headers=headers
        ).status_code

    threads = [threading.Thread(target=post, args=(i, *p)) for i, p in enumerate(posts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [statuses[i] for i in range(20)] == [201] * 20
    assert sorted(statuses[i] for i in range(20, 23)) == [201, 409, 409]
    assert (statuses[23], statuses[24]) == (404, 404)
    run = api.client.get(api.xcom_url(task_id="~"), headers=headers).json()  # kept count
    task = api.client.get(api.xcom_url(), params={"limit": 100}, headers=headers).json()
    assert run["total_entries"] == task["total_entries"] == len(task["xcom_entries"]) == 21
    values = {e["key"]: e for e in task["xcom_entries"]}
    for i in range(20):
        got = api.client.get(api.xcom_url(key=f"u{i}"), headers=headers).json()
        assert (got["value"], got["timestamp"]) == (i, values[f"u{i}"]["timestamp"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"key": "k"},
            [
                {
                    "type": "missing",
                    "loc": ["body", "value"],
                    "msg": "Field required",
                    "input": {"key": "k"},
                }
            ],
        ),
        (
            {"key": "k", "value": 1, "extra": 1},
            [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", "extra"],
                    "msg": "Extra inputs are not permitted",
                    "input": 1,
                }
            ],
        ),
        (
            {"key": 5, "value": 1},
            [
                {
                    "type": "string_type",
                    "loc": ["body", "key"],
                    "msg": "Input should be a valid string",
                    "input": 5,
                }
            ],
        ),
        (
            {"key": "k", "value": 1, "map_index": "x"},
            [
                {
                    "type": "int_parsing",
                    "loc": ["body", "map_index"],
                    "msg": "Input should be a valid integer, unable to parse string as an integer",
                    "input": "x",
                }
            ],
        ),
        (
            {"key": "", "value": 1},
            [
                {
                    "type": "string_too_short",
                    "loc": ["body", "key"],
                    "msg": "String should have at least 1 character",
                    "input": "",
                    "ctx": {"min_length": 1},
                }
            ],
        ),
        (
            {"key": "k", "value": 1, "map_index": -2},
            [
                {
                    "type": "greater_than_equal",
                    "loc": ["body", "map_index"],
                    "msg": "Input should be greater than or equal to -1",
                    "input": -2,
                    "ctx": {"ge": -1},
                }
            ],
        ),
    ],
)
def test_create_422_bodies(api, body, expected) -> None:
    r = api.client.post(api.xcom_url(), json=body, headers=api.headers())
    assert r.status_code == 422
    assert r.json() == {"detail": expected}


def test_key_longer_than_column_is_422(api) -> None:
    r = create(api, "k" * 513, 1)
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "string_too_long"


@pytest.mark.parametrize(
    ("value", "path", "keys"),
    [
        ({"__classname__": "x", "__version__": 1}, "value", "__classname__, __version__"),
        ({"a": [{"b": {"__var": 1}}]}, "value.a[0].b", "__var"),
        ([1, {"__type": "dict"}], "value[1]", "__type"),
        ('{"__data__": 1}', "value", "__data__"),
        ({"s": '[{"__id__": 1}]'}, "value.s[0]", "__id__"),
        ({"__cache__": 1}, "value", "__cache__"),
        ({"x": {"__source": 1}}, "value.x", "__source"),
    ],
)
def test_reserved_keys_refused_anywhere(api, value, path, keys) -> None:
    r = create(api, "r", value)
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "value"]
    assert err["msg"] == (
        f"Value error, XCom {path} contains reserved serialization keys: {keys}. "
        "These keys are reserved for internal use."
    )
    r = api.client.patch(api.xcom_url(key="r"), json={"value": value}, headers=api.headers())
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("raw", "native", "stringified"),
    [
        ("NaN", None, "nan"),
        ("[Infinity, 1]", [None, 1], "[inf, 1]"),
        ("-Infinity", None, "-inf"),
        ("1e400", None, "inf"),
        (
            '{"a": NaN, "s": "NaN text"}',
            {"a": None, "s": "NaN text"},
            "{'a': nan, 's': 'NaN text'}",
        ),
    ],
)
def test_non_finite_numbers_are_accepted_and_written_as_null(api, raw, native, stringified) -> None:
    # Airflow parses bodies with Python's json, which accepts these; JSON has no form
    # for them, so they are answered as null (and as Python's str() with stringify).
    r = api.client.post(
        api.xcom_url(),
        content=f'{{"key": "nf", "value": {raw}}}',
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert (r.status_code, r.json()["value"]) == (201, native)
    url = api.xcom_url(key="nf")
    assert api.client.get(url, headers=api.headers()).json()["value"] == native
    r = api.client.get(url, params={"stringify": "true"}, headers=api.headers())
    assert r.json()["value"] == stringified


def test_validation_error_echoing_nan_or_huge_int_is_still_422(api) -> None:
    r = api.client.post(
        api.xcom_url(),
        content='{"key": "k", "value": 1, "x": NaN, "y": 1e999999}',
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    r = api.client.post(
        api.xcom_url(), json={"key": "k", "value": 1, "x": 2**80}, headers=api.headers()
    )
    assert (r.status_code, r.json()["detail"][0]["input"]) == (422, 2**80)


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        ("{bad json", "application/json"),
        ("[1, 2]", "application/json"),
        ("", "application/json"),
        ("key=k&value=1", "application/x-www-form-urlencoded"),
        ("hello", "text/plain"),
    ],
)
def test_malformed_bodies_are_422(api, content, ctype) -> None:
    r = api.client.post(
        api.xcom_url(), content=content, headers={**api.headers(), "Content-Type": ctype}
    )
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], list)


def test_get_missing_and_map_index(api) -> None:
    create(api, "m", "mapped", map_index=3)
    url = api.xcom_url(key="m")
    assert api.client.get(url, headers=api.headers()).json() == {
        "detail": "XCom entry with key: `m` not found"
    }
    assert api.client.get(url, params={"map_index": 3}, headers=api.headers()).json()["value"] == (
        "mapped"
    )
    r = api.client.get(url, params={"map_index": -2}, headers=api.headers())
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "map_index"]


def test_get_with_empty_key_is_404(api) -> None:
    r = api.client.get(api.xcom_url() + "/", headers=api.headers())
    assert (r.status_code, r.json()) == (404, {"detail": "XCom entry with key: `` not found"})


def test_update_changes_value_and_timestamp(api) -> None:
    first = create(api, "u", 1).json()
    r = api.client.patch(
        api.xcom_url(key="u"), json={"value": {"new": True}}, headers=api.headers()
    )
    assert r.status_code == 200
    assert r.json()["value"] == {"new": True}
    assert r.json()["timestamp"] > first["timestamp"]


def test_update_missing_and_bad_bodies(api) -> None:
    url = api.xcom_url(key="absent")
    r = api.client.patch(url, json={"value": 1}, headers=api.headers())
    assert (r.status_code, r.json()) == (
        404,
        {"detail": "The XCom with key: `absent` with mentioned task instance doesn't exist."},
    )
    r = api.client.patch(url, json={"value": 1, "key": "x"}, headers=api.headers())
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "extra_forbidden"
    r = api.client.patch(url, json={}, headers=api.headers())
    assert r.json()["detail"][0]["type"] == "missing"


def test_update_targets_the_given_map_index(api) -> None:
    create(api, "mi", "a", map_index=1)
    url = api.xcom_url(key="mi")
    assert api.client.patch(url, json={"value": 1}, headers=api.headers()).status_code == 404
    r = api.client.patch(url, json={"value": "b", "map_index": 1}, headers=api.headers())
    assert r.json()["value"] == "b"


def test_delete(api) -> None:
    create(api, "del", 1, map_index=2)
    url = api.xcom_url(key="del")
    r = api.client.delete(url, headers=api.headers())
    assert (r.status_code, r.json()) == (
        404,
        {"detail": "The XCom with key: `del` with mentioned task instance doesn't exist."},
    )
    r = api.client.delete(url, params={"map_index": 2}, headers=api.headers())
    assert (r.status_code, r.content) == (204, b"")
    assert r.headers["content-type"] == "application/json"
    assert api.client.get(url, params={"map_index": 2}, headers=api.headers()).status_code == 404


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({}, 401, "Not authenticated"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "Not authenticated"),
        ({"Authorization": "Bearer"}, 401, "Not authenticated"),
        ({"Authorization": "Bearer not.a.jwt"}, 403, "Invalid JWT token"),
        ({"Authorization": "Bearer garbage"}, 403, "Invalid JWT token"),
    ],
)
def test_auth_failures(api, headers, status, detail) -> None:
    for method, url in [
        ("GET", api.xcom_url()),
        ("GET", api.xcom_url(key="k")),
        ("POST", api.xcom_url()),
        ("DELETE", api.xcom_url(key="k")),
    ]:
        r = api.client.request(method, url, headers=headers, json={"key": "k", "value": 1})
        assert (r.status_code, r.json()) == (status, {"detail": detail}), (method, url)


@pytest.mark.parametrize("role", ["user", "op", "admin"])
def test_writer_roles_may_write(api, role) -> None:
    assert create(api, f"by-{role}", 1, role=role).status_code == 201


def test_viewer_reads_but_may_not_write(api) -> None:
    create(api, "v", 1)
    assert api.client.get(api.xcom_url(key="v"), headers=api.headers("viewer")).status_code == 200
    forbidden = (403, {"detail": "Forbidden"})
    r = create(api, "v2", 1, role="viewer")
    assert (r.status_code, r.json()) == forbidden
    r = api.client.patch(api.xcom_url(key="v"), json={"value": 2}, headers=api.headers("viewer"))
    assert (r.status_code, r.json()) == forbidden
    r = api.client.delete(api.xcom_url(key="v"), headers=api.headers("viewer"))
    assert (r.status_code, r.json()) == forbidden


def test_stored_value_is_compact_json_text(api) -> None:
    from sqlalchemy import select

    from xcomkit.store.schema import xcom

    create(api, "raw", {"b": [1, 2], "a": "é"})
    with api.engine.connect() as conn:
        stored = conn.execute(select(xcom.c.value).where(xcom.c.key == "raw")).scalar_one()
    assert stored == '{"b":[1,2],"a":"é"}'
    assert json.loads(stored) == {"b": [1, 2], "a": "é"}


@pytest.mark.parametrize(
    ("value", "stringified"),
    [
        (2**70, "1180591620717411303424"),
        (
            {"n": 2**70, "m": [2**64 + 1]},
            "{'n': 1180591620717411303424, 'm': [18446744073709551617]}",
        ),
    ],
)
def test_big_integers_stay_exact_under_stringify_and_deserialize(api, value, stringified) -> None:
    create(api, "big", value)
    url = api.xcom_url(key="big")
    for params in ({"deserialize": "true"}, {}):
        assert api.client.get(url, params=params, headers=api.headers()).json()["value"] == value
    for params in ({"stringify": "true"}, {"stringify": "true", "deserialize": "true"}):
        got = api.client.get(url, params=params, headers=api.headers()).json()["value"]
        assert got == stringified


HUGE = str(2**70)


@pytest.mark.parametrize(
    ("method", "suffix", "params", "body"),
    [
        ("GET", "/k", {"map_index": HUGE}, None),
        ("DELETE", "/k", {"map_index": HUGE}, None),
        ("GET", "", {"map_index": HUGE}, None),
        ("GET", "", {"map_index_filter": HUGE}, None),
        ("GET", "", {"map_index_filter": "-" + HUGE}, None),
        ("POST", "", None, {"key": "k", "value": 1, "map_index": 2**70}),
        ("POST", "", None, {"key": "k", "value": 1, "map_index": 2**31}),
        ("PATCH", "/k", None, {"value": 1, "map_index": 2**70}),
        ("PATCH", "/k", None, {"value": 1, "map_index": -(2**40)}),
    ],
)
def test_out_of_range_integers_are_422_not_500(api, method, suffix, params, body) -> None:
    r = api.client.request(
        method, api.xcom_url() + suffix, params=params, json=body, headers=api.headers()
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["type"] in ("less_than_equal", "greater_than_equal")


def test_huge_offset_is_an_empty_page(api) -> None:
    r = api.client.get(api.xcom_url(), params={"offset": HUGE}, headers=api.headers())
    assert r.json() == {"xcom_entries": [], "total_entries": 0}
    r = api.client.get("/api/v2/dags/~/dagRuns", params={"offset": HUGE}, headers=api.headers())
    assert r.status_code == 200
    assert r.json()["dag_runs"] == []


@pytest.mark.parametrize("key", ["nul%00char", "%00"])
def test_nul_characters_in_keys_are_not_5xx(api, key) -> None:
    # SQLite can hold NUL (so nothing is found: 404); PostgreSQL text cannot (422).
    url = api.xcom_url(key=key)
    assert api.client.get(url, headers=api.headers()).status_code in (404, 422)
    assert api.client.delete(url, headers=api.headers()).status_code in (404, 422)
    r = create(api, "nul\x00char", 1)
    assert r.status_code in (201, 422), r.text


def test_patch_on_the_collection_is_405(api) -> None:
    r = api.client.patch(api.xcom_url(), json={"value": 1}, headers=api.headers())
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})
