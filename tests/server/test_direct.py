"""The direct path (server/direct.py) answers exactly as the FastAPI routes do.

Two apps on copies of one database, one with the direct path and one without, get the
same requests in the same order; every answer must be equal (status, JSON body with
timestamps blanked, the headers a client sees). The requests cover what the direct
path answers itself and what it must pass on (bad tokens, malformed queries and bodies).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api
from xcomkit.server.direct import DirectRoutes

BASE = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"
WILD = "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries"
JSON = {"content-type": "application/json"}

# (method, path, query params, body bytes or None, extra headers, role or None)
REQUESTS: list[tuple[str, str, Any, bytes | None, dict[str, str], str | None]] = [
    ("POST", BASE, None, b'{"key": "a", "value": {"n": 1}}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "b", "value": [1, 2.5, "x"], "map_index": 3}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "s", "value": "[1, {\\"a\\": 2}]"}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "big", "value": 123456789012345678901234567890}', {}, "admin"),
    ("POST", BASE, None, b'{"key": "a", "value": 2}', JSON, "admin"),  # 409
    ("POST", BASE.replace("run_1", "nope"), None, b'{"key": "a", "value": 1}', JSON, "admin"),
    ("POST", BASE.replace("extract", "nope"), None, b'{"key": "a", "value": 1}', JSON, "admin"),
    ("POST", BASE.replace("xcom_demo", "nope"), None, b'{"key": "a", "value": 1}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": 1, "extra": 1}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "", "value": 1}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": 1, "map_index": -2}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": "\\ud800"}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": ' + b"[" * 300 + b"]" * 300 + b"}", JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": 1', JSON, "admin"),
    ("POST", BASE, None, b"", JSON, "admin"),
    ("POST", BASE, None, b"[1]", JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": 1}', {"content-type": "text/plain"}, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": NaN}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "c", "value": 1}', JSON, "viewer"),
    ("POST", BASE, None, b'{"key": "c", "value": 1}', JSON, None),
    ("GET", f"{BASE}/a", None, None, {}, "admin"),
    ("GET", f"{BASE}/a", None, None, {}, "viewer"),
    ("GET", f"{BASE}/b", {"map_index": "3"}, None, {}, "viewer"),
    ("GET", f"{BASE}/b", {"map_index": "03"}, None, {}, "viewer"),
    ("GET", f"{BASE}/b", [("map_index", "1"), ("map_index", "3")], None, {}, "viewer"),
    ("GET", f"{BASE}/b", {"map_index": "x"}, None, {}, "viewer"),
    ("GET", f"{BASE}/b", {"map_index": ""}, None, {}, "viewer"),
    ("GET", f"{BASE}/b", {"map_index": "-2"}, None, {}, "viewer"),
    ("GET", f"{BASE}/s", {"deserialize": "true"}, None, {}, "viewer"),
    ("GET", f"{BASE}/s", {"stringify": "yes"}, None, {}, "viewer"),
    ("GET", f"{BASE}/s", {"deserialize": "1", "stringify": "on"}, None, {}, "viewer"),
    ("GET", f"{BASE}/s", {"deserialize": "maybe"}, None, {}, "viewer"),
    ("GET", f"{BASE}/big", {"unknown": "1"}, None, {}, "viewer"),
    ("GET", f"{BASE}/missing", None, None, {}, "viewer"),
    ("GET", f"{BASE}/", None, None, {}, "viewer"),
    ("GET", f"{BASE}/a", None, None, {}, None),
    ("GET", f"{BASE}/a", None, None, {"authorization": "Bearer not-a-token"}, None),
    ("GET", f"{BASE}/a", None, None, {"authorization": "Basic abc"}, None),
    ("GET", f"{BASE}/a", None, None, {"accept-encoding": "gzip"}, "viewer"),
    ("GET", BASE, None, None, {}, "viewer"),
    ("GET", BASE, {"limit": "1", "offset": "1"}, None, {}, "viewer"),
    ("GET", BASE, [("order_by", "-key"), ("order_by", "map_index")], None, {}, "viewer"),
    ("GET", BASE, {"order_by": "nope"}, None, {}, "viewer"),
    ("GET", BASE, {"limit": "-1"}, None, {}, "viewer"),
    ("GET", BASE, {"limit": ""}, None, {}, "viewer"),
    ("GET", BASE, {"limit": "1", "limit ": "x"}, None, {}, "viewer"),
    ("GET", BASE, [("limit", "x"), ("limit", "2")], None, {}, "viewer"),
    ("GET", WILD, {"xcom_key_pattern": "a|b"}, None, {}, "viewer"),
    ("GET", WILD, {"xcom_key_pattern": "x" * 5000}, None, {}, "viewer"),
    ("GET", WILD, {"logical_date_gte": "2025-01-01T00:00:00Z"}, None, {}, "viewer"),
    ("GET", WILD, {"logical_date_gte": "2025-01-01"}, None, {}, "viewer"),
    ("GET", WILD, {"map_index_filter": "3"}, None, {}, "viewer"),
    ("GET", WILD, {"xcom_key": "a\x00"}, None, {}, "viewer"),
    ("GET", WILD, None, None, {}, None),
    ("PATCH", f"{BASE}/a", None, b'{"value": {"n": 2}}', JSON, "admin"),
    ("PATCH", f"{BASE}/b", None, b'{"value": 9, "map_index": 3}', JSON, "admin"),
    ("PATCH", f"{BASE}/missing", None, b'{"value": 1}', JSON, "admin"),
    ("PATCH", f"{BASE}/a", None, b'{"value": 1, "key": "a"}', JSON, "admin"),
    ("PATCH", f"{BASE}/a", None, b'{"map_index": 0}', JSON, "admin"),
    ("PATCH", f"{BASE}/a", None, b"{", JSON, "admin"),
    ("PATCH", f"{BASE}/a", None, b'{"value": 1}', JSON, "viewer"),
    ("GET", f"{BASE}/a", None, None, {}, "viewer"),
    ("GET", BASE, None, None, {}, "viewer"),
]

#: Headers a client sees that both paths must give alike.
COMPARED_HEADERS = ("content-type", "content-encoding", "vary", "retry-after", "connection")


def _blank_timestamps(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: ("<t>" if k == "timestamp" else _blank_timestamps(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_blank_timestamps(v) for v in body]
    return body


def _without_direct(api: Api) -> None:
    app = api.client.app
    app.user_middleware = [m for m in app.user_middleware if m.cls is not DirectRoutes]
    app.middleware_stack = None  # rebuilt on the next request


def _direct_instance(api: Api) -> DirectRoutes:
    app = api.client.app
    if app.middleware_stack is None:
        api.client.get("/api/v2/version")
    layer: Any = app.middleware_stack
    while not isinstance(layer, DirectRoutes):
        layer = layer.app
    return layer


def _answer(api: Api, request: tuple[Any, ...]) -> tuple[int, Any, dict[str, str]]:
    method, path, params, body, headers, role = request
    sent = dict(headers)
    if role is not None:
        sent.update(api.headers(role))
    r = api.client.request(method, path, params=params, content=body, headers=sent)
    try:
        parsed: Any = _blank_timestamps(json.loads(r.content)) if r.content else None
    except ValueError:
        parsed = r.content
    kept = {h: r.headers[h] for h in COMPARED_HEADERS if h in r.headers}
    return r.status_code, parsed, kept


def test_direct_answers_equal_fastapi_answers(make_api: Any) -> None:
    direct, plain = make_api(), make_api()
    _without_direct(plain)
    reached = 0  # requests the direct path passed on to FastAPI
    inner = _direct_instance(direct)
    passed_on = inner.app

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        nonlocal reached
        reached += 1
        await passed_on(scope, receive, send)

    inner.app = counting
    for request in REQUESTS:
        assert _answer(direct, request) == _answer(plain, request), request
    # The direct path answered most of them itself (else this test compares FastAPI
    # with FastAPI): every well-formed read and write did not reach FastAPI.
    assert reached < len(REQUESTS) / 2, reached


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_well_formed_requests_do_not_reach_fastapi(make_api: Any, role: str) -> None:
    api = make_api()
    inner = _direct_instance(api)
    passed_on = inner.app
    reached: list[str] = []

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        reached.append(f"{scope['method']} {scope['path']}")
        await passed_on(scope, receive, send)

    inner.app = counting
    admin = api.headers("admin")
    assert api.client.post(BASE, json={"key": "k", "value": 1}, headers=admin).status_code == 201
    assert api.client.patch(f"{BASE}/k", json={"value": 2}, headers=admin).status_code == 200
    reader = api.headers(role)
    assert api.client.get(f"{BASE}/k", headers=reader).json()["value"] == 2
    assert api.client.get(BASE, params={"limit": 5}, headers=reader).json()["total_entries"] == 1
    assert api.client.get(f"{BASE}/nope", headers=reader).status_code == 404
    assert reached == []
    # ...and what it must not answer reaches FastAPI.
    assert api.client.get(f"{BASE}/k", params={"map_index": "x"}, headers=reader).status_code == 422
    assert reached == [f"GET {BASE}/k"]
