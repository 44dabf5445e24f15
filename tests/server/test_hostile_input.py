"""Inputs that once answered 5xx or invalid JSON: each must now get a clear 4xx (or work)."""

from __future__ import annotations

import json

import pytest

JSON = {"Content-Type": "application/json"}
DAG_RUNS = "/api/v2/dags/xcom_demo/dagRuns"


def post_raw(api, url, raw: str, role: str = "admin"):
    return api.client.post(url, content=raw.encode(), headers={**api.headers(role), **JSON})


@pytest.mark.parametrize(
    "raw",
    [
        '{"value": "\\ud800"}',
        '{"key": "s\\ud800", "value": 1}',
        '{"key": "s1", "value": "\\ud800"}',
        '{"key": "s2", "value": {"\\udc00": 1}}',
        '{"key": "s3", "value": [["x\\udfff"]]}',
    ],
)
def test_lone_surrogates_in_xcom_bodies_are_422(read_only_api, raw) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = post_raw(api, api.xcom_url(), raw)
    assert r.status_code == 422, r.text
    r = api.client.patch(
        api.xcom_url(key="k"), content=b'{"value": "\\ud800"}', headers={**api.headers(), **JSON}
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    "raw",
    [
        '{"logical_date": null, "dag_run_id": "\\ud800"}',
        '{"logical_date": null, "note": "\\ud800"}',
        '{"logical_date": null, "conf": {"a": "\\ud800"}}',
    ],
)
def test_lone_surrogates_in_dag_run_bodies_are_422(read_only_api, raw) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    assert post_raw(api, DAG_RUNS, raw).status_code == 422


@pytest.mark.parametrize(
    "raw",
    ['{"username": "\\ud800", "password": "x"}', '{"username": "admin", "password": "\\ud800"}'],
)
def test_lone_surrogates_in_login_are_4xx(api, raw) -> None:
    for path in ("/auth/token", "/auth/token/cli"):
        r = api.client.post(path, content=raw.encode(), headers=JSON)
        assert r.status_code in (401, 422), (path, r.text)


@pytest.mark.parametrize(
    "params",
    [
        {"logical_date_gte": "0001-01-01T00:00:00+01:00"},
        {"logical_date_gte": "9999-12-31T23:59:59-01:00"},
        {"run_after_lt": "0001-01-01T00:00:00+23:59"},
    ],
)
def test_dates_outside_utc_range_in_filters_are_422(read_only_api, params) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = api.client.get(api.xcom_url("~", "~", "~"), params=params, headers=api.headers())
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"logical_date": "0001-01-01T00:00:00+01:00"},
        {"logical_date": "9999-12-31T23:59:59-01:00"},
        {"logical_date": None, "run_after": "0001-01-01T00:00:00+01:00"},
        {
            "logical_date": None,
            "data_interval_start": "0001-01-01T00:00:00+01:00",
            "data_interval_end": "2025-01-01T00:00:00Z",
        },
    ],
)
def test_dates_outside_utc_range_in_trigger_are_422(read_only_api, body) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = api.client.post(DAG_RUNS, json=body, headers=api.headers())
    assert r.status_code == 422, r.text


def test_deeply_nested_json_string_value_is_stored(api) -> None:
    deep = "[" * 1500 + "]" * 1500
    r = api.client.post(api.xcom_url(), json={"key": "deep", "value": deep}, headers=api.headers())
    assert r.status_code == 201, r.text


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


READ_MODES = (
    {},
    {"deserialize": "true"},
    {"stringify": "true"},
    {"deserialize": "true", "stringify": "true"},
)


def test_value_at_the_depth_limit_is_accepted_and_reads_in_every_mode(api) -> None:
    from xcomkit.values import MAX_JSON_DEPTH

    value = nested(MAX_JSON_DEPTH)
    raw = json.dumps({"key": "deep2", "value": value})
    assert post_raw(api, api.xcom_url(), raw).status_code == 201
    url = api.xcom_url(key="deep2")
    for params in READ_MODES:
        r = api.client.get(url, params=params, headers=api.headers())
        assert r.status_code == 200, (params, r.text[:200])
        got = json.loads(r.text)["value"]
        assert got == (str(value) if "stringify" in params else value)
    listed = api.client.get(api.xcom_url(), params={"xcom_key": "deep2"}, headers=api.headers())
    assert listed.status_code == 200
    patched = api.client.patch(
        url,
        content=json.dumps({"value": nested(MAX_JSON_DEPTH, "p")}),
        headers={**api.headers(), **JSON},
    )
    assert patched.status_code == 200


@pytest.mark.parametrize("depth", [255, 600, 959, 961, 5000, 100_000])
def test_values_past_the_depth_limit_are_422_everywhere(read_only_api, depth) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    deep = "[" * depth + "]" * depth
    for url, raw, method in (
        (api.xcom_url(), f'{{"key": "d{depth}", "value": {deep}}}', "POST"),
        (api.xcom_url(key="k"), f'{{"value": {deep}}}', "PATCH"),
        (
            DAG_RUNS,
            f'{{"logical_date": null, "dag_run_id": "c{depth}", "conf": {{"a": {deep}}}}}',
            "POST",
        ),
    ):
        r = api.client.request(method, url, content=raw.encode(), headers={**api.headers(), **JSON})
        assert r.status_code == 422, (method, url, r.status_code, r.text[:200])
        assert "nested more than 254 levels deep" in r.text
    r = api.client.get(api.xcom_url(key=f"d{depth}"), headers=api.headers())
    assert r.status_code == 404


@pytest.mark.parametrize("depth", [255, 1000, 100_000])
def test_string_holding_json_too_deep_is_served_as_the_string(api, depth) -> None:
    deep = "[" * depth + "]" * depth
    r = api.client.post(api.xcom_url(), json={"key": "sd", "value": deep}, headers=api.headers())
    assert r.status_code == 201
    for params in READ_MODES:
        r = api.client.get(api.xcom_url(key="sd"), params=params, headers=api.headers())
        assert r.status_code == 200, params
        assert json.loads(r.text)["value"] == deep


def test_values_stored_deeper_than_the_limit_still_read_in_every_mode(api) -> None:
    """Rows written before the limit existed (or behind xcomkit's back) are still served."""
    from xcomkit.store.schema import xcom

    value = nested(900)
    r = api.client.post(api.xcom_url(), json={"key": "legacy", "value": 0}, headers=api.headers())
    assert r.status_code == 201
    with api.engine.begin() as conn:
        conn.execute(xcom.update().where(xcom.c.key == "legacy").values(value=json.dumps(value)))
    for params in READ_MODES:
        r = api.client.get(api.xcom_url(key="legacy"), params=params, headers=api.headers())
        assert r.status_code == 200, (params, r.text[:200])
        got = json.loads(r.text)["value"]
        assert got == ("[" * 900 + "1" + "]" * 900 if "stringify" in params else value)
    r = api.client.get(api.xcom_url(), params={"xcom_key": "legacy"}, headers=api.headers())
    assert r.status_code == 200


def test_deeply_nested_login_body_is_422(api) -> None:
    r = api.client.post("/auth/token", content=b"[" * 50_000, headers=JSON)
    assert r.status_code == 422


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_dag_run_conf_are_written_as_null(api, token) -> None:
    raw = f'{{"logical_date": null, "dag_run_id": "c_{token}", "conf": {{"a": {token}}}}}'
    r = post_raw(api, DAG_RUNS, raw)
    assert r.status_code == 200
    assert json.loads(r.text)["conf"] == {"a": None}  # strict JSON: NaN would not parse here
    listed = api.client.get(DAG_RUNS, headers=api.headers())
    assert json.loads(listed.text)["total_entries"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"xcom_key_pattern": "a" * 60000},
        {"xcom_key_pattern": "|" * 20000},
        {"xcom_key_prefix_pattern": "|a" * 2000},
        {"task_id_pattern": "|".join(["x"] * 500)},
    ],
)
def test_oversized_patterns_are_422_not_503(read_only_api, params) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = api.client.get(api.xcom_url("~", "~", "~"), params=params, headers=api.headers())
    assert r.status_code == 422, r.text[:300]
    assert "pattern" in json.dumps(r.json()["detail"])


def test_trigger_without_run_id_names_it_after_run_after(api) -> None:
    r = api.client.post(
        DAG_RUNS,
        json={"logical_date": "2025-02-03T00:00:00Z", "run_after": "2025-04-01T00:00:00Z"},
        headers=api.headers(),
    )
    assert r.json()["dag_run_id"] == "manual__2025-04-01T00:00:00+00:00"


@pytest.mark.parametrize("key", ["a\nb", "line\n", "\n"])
def test_keys_the_path_cannot_address_are_refused(read_only_api, key) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = api.client.post(api.xcom_url(), json={"key": key, "value": 1}, headers=api.headers())
    assert r.status_code == 422


class _PgError(Exception):
    def __init__(self, sqlstate: str, message: str):
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        lambda: __import__("sqlalchemy").exc.TimeoutError("QueuePool limit of size 8 reached"),
        lambda: __import__("sqlalchemy").exc.OperationalError(
            "SELECT 1", {}, __import__("psycopg").OperationalError("server closed the connection")
        ),
        lambda: __import__("sqlalchemy").exc.OperationalError(
            "SELECT 1", {}, Exception("x"), connection_invalidated=True
        ),
        lambda: __import__("sqlalchemy").exc.OperationalError(
            "SELECT 1", {}, __import__("sqlite3").OperationalError("database is locked")
        ),
        lambda: __import__("sqlalchemy").exc.OperationalError(
            "SELECT 1", {}, _PgError("57P03", "the database system is starting up")
        ),
        lambda: __import__("sqlalchemy").exc.OperationalError(
            "SELECT 1", {}, _PgError("57P01", "the database system is shutting down")
        ),
        lambda: __import__("sqlalchemy").exc.InterfaceError(
            "SELECT 1", {}, __import__("psycopg").InterfaceError("the connection is lost")
        ),
    ],
    ids=[
        "pool-timeout",
        "server-closed",
        "invalidated",
        "locked",
        "starting-up",
        "shutting-down",
        "connection-lost",
    ],
)
def test_unavailable_database_is_503_with_retry_after(api, monkeypatch, error) -> None:
    from xcomkit.service import xcoms as rules

    def fail(*_args, **_kwargs):
        raise error()

    monkeypatch.setattr(rules, "get_xcom", fail)
    r = api.client.get(api.xcom_url(key="k"), headers=api.headers())
    assert (r.status_code, r.headers["retry-after"]) == (503, "1")
    assert "retry" in r.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"xcom_key": "a\x00b"},
        {"xcom_key_pattern": "\x00"},
        {"task_id_prefix_pattern": "x\x00"},
        {"order_by": "key\x00"},
    ],
)
def test_nul_in_query_text_is_422_on_every_backend(read_only_api, params) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = api.client.get(api.xcom_url("~", "~", "~"), params=params, headers=api.headers())
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", next(iter(params))]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (None, {"key": "a\x00b", "value": 1}),
        ("/api/v2/dags/xcom_demo/dagRuns", {"logical_date": None, "dag_run_id": "r\x00"}),
        ("/api/v2/dags/xcom_demo/dagRuns", {"logical_date": None, "note": "n\x00"}),
    ],
)
def test_nul_in_stored_body_fields_is_422_on_every_backend(read_only_api, url, body) -> None:
    api = read_only_api  # every request is refused: the module's shared app
    r = api.client.post(url or api.xcom_url(), json=body, headers=api.headers())
    assert r.status_code == 422, r.text


def test_nul_inside_a_json_value_is_kept(api) -> None:
    r = api.client.post(api.xcom_url(), json={"key": "n", "value": "a\x00b"}, headers=api.headers())
    assert (r.status_code, r.json()["value"]) == (201, "a\x00b")


def test_large_values_read_in_every_mode_off_the_event_loop(api, monkeypatch) -> None:
    """Values past the inline threshold are transformed in a lane, with the same answers."""
    from xcomkit.server.routes import xcom as xcom_routes

    threads: list[str] = []
    real = xcom_routes._transformed

    def spy(*args):
        threads.append(__import__("threading").current_thread().name)
        return real(*args)

    monkeypatch.setattr(xcom_routes, "_transformed", spy)
    big = {"rows": list(range(30_000)), "text": "é" * 1000}
    as_string = json.dumps(big)
    for key, value in (("big", big), ("big_text", as_string)):
        r = api.client.post(
            api.xcom_url(), json={"key": key, "value": value}, headers=api.headers()
        )
        assert r.status_code == 201
    url = api.xcom_url
    r = api.client.get(url(key="big"), params={"stringify": "true"}, headers=api.headers())
    assert r.json()["value"] == str(big)
    r = api.client.get(url(key="big_text"), params={"deserialize": "true"}, headers=api.headers())
    assert r.json()["value"] == big
    r = api.client.get(
        url(key="big_text"),
        params={"deserialize": "true", "stringify": "true"},
        headers=api.headers(),
    )
    assert r.json()["value"] == str(big)
    assert threads and all(name.startswith("xcomkit-scan") for name in threads)
