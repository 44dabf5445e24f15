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
    # Odd bodies, content types, keys, queries and headers (an attacker's list).
    ("POST", BASE, None, b'\xef\xbb\xbf{"key": "bom", "value": 1}', JSON, "admin"),
    ("POST", BASE, None, '{"key": "u16", "value": 1}'.encode("utf-16"), JSON, "admin"),
    ("POST", BASE, None, b'{"key": "bad\xff", "value": 1}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "dup", "key": "dup2", "value": 1}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "inf", "value": [Infinity, -Infinity, NaN]}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "huge", "value": 1' + b"0" * 5000 + b"}", JSON, "admin"),
    (
        "POST",
        BASE,
        None,
        b'{"key": "deep", "value": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        JSON,
        "admin",
    ),
    (
        "POST",
        BASE,
        None,
        b'{"key": "ct1", "value": 1}',
        {"content-type": "Application/JSON"},
        "admin",
    ),
    (
        "POST",
        BASE,
        None,
        b'{"key": "ct2", "value": 1}',
        {"content-type": "application/json ; x=y"},
        "admin",
    ),
    (
        "POST",
        BASE,
        None,
        b'{"key": "ct3", "value": 1}',
        {"content-type": "application/x+json"},
        "admin",
    ),
    (
        "POST",
        BASE,
        None,
        b'{"key": "ct4", "value": 1}',
        {"content-type": '"application/json"'},
        "admin",
    ),
    ("POST", BASE, None, b'{"key": "sl/a b~\\u00e9", "value": 1}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "m", "value": 1, "map_index": "3"}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "m", "value": 1, "map_index": true}', JSON, "admin"),
    ("POST", BASE, None, b'{"key": "a\\u0000b", "value": null}', JSON, "admin"),
    ("POST", BASE, None, b"null", JSON, "admin"),
    ("POST", f"{BASE}/", None, b'{"key": "slash", "value": 1}', JSON, "admin"),
    ("GET", f"{BASE}/sl/a b~\u00e9", None, None, {}, "viewer"),
    ("GET", f"{BASE}/sl%2Fa%20b%7E%C3%A9", None, None, {}, "viewer"),
    ("GET", f"{BASE}/huge", {"stringify": "true"}, None, {}, "viewer"),
    ("GET", f"{BASE}/inf", {"deserialize": "true"}, None, {}, "viewer"),
    ("GET", f"{BASE}/a", {"map_index": "+1"}, None, {}, "viewer"),
    ("GET", f"{BASE}/a", {"map_index": "1_0"}, None, {}, "viewer"),
    ("GET", f"{BASE}/a", {"map_index": "9223372036854775808"}, None, {}, "viewer"),
    ("GET", f"{BASE}/a?map_index", None, None, {}, "viewer"),
    ("GET", f"{BASE}/a?&&=&map_index=-1", None, None, {}, "viewer"),
    ("GET", f"{BASE}/a?map%5Findex=x", None, None, {}, "viewer"),
    ("GET", f"{BASE}/a?map_index=%FF", None, None, {}, "viewer"),
    ("GET", f"{BASE}/a%00b", None, None, {}, "viewer"),
    ("GET", f"{BASE}/a", None, None, {"authorization": "BEARER  x"}, None),
    ("GET", BASE, {"order_by": ""}, None, {}, "viewer"),
    ("GET", BASE, {"order_by": "key,map_index"}, None, {}, "viewer"),
    ("GET", BASE, {"offset": "9223372036854775808"}, None, {}, "viewer"),
    ("GET", BASE, {"xcom_key_pattern": "\\%"}, None, {}, "viewer"),
    ("GET", BASE, {"xcom_key_prefix_pattern": "\U0010ffff"}, None, {}, "viewer"),
    ("GET", f"{BASE}?xcom_key_prefix_pattern=%ED%A0%80", None, None, {}, "viewer"),
    ("GET", BASE, {"map_index_filter": "-1,3"}, None, {}, "viewer"),
    ("GET", BASE, {"run_after_lt": "2025-01-01T00:00:00+05:00"}, None, {}, "viewer"),
    ("GET", BASE.replace("xcom_demo", "d" * 10000), None, None, {}, "viewer"),
    (
        "GET",
        "/api/v2/dags//dagRuns/run_1/taskInstances/extract/xcomEntries/a",
        None,
        None,
        {},
        "viewer",
    ),
    ("HEAD", f"{BASE}/a", None, None, {}, "viewer"),
    ("PUT", f"{BASE}/a", None, b'{"value": 1}', JSON, "admin"),
    ("PATCH", f"{BASE}/sl/a b~\u00e9", None, b'{"value": 2}', JSON, "admin"),
    ("PATCH", f"{BASE}/a", None, b'{"value": 1e400}', JSON, "admin"),
    ("PATCH", BASE, None, b'{"value": 1}', JSON, "admin"),
    ("GET", WILD, {"limit": "100", "order_by": "-key"}, None, {}, "viewer"),
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


def _asgi(
    api: Api, method: str, path: str, headers: list[tuple[bytes, bytes]], messages: list[Any]
) -> list[Any]:
    """Run one request through the app's ASGI interface on its own event loop, with the
    given ``receive`` messages (then a disconnect); what the app sent."""
    sent: list[Any] = []
    queue = list(messages)

    async def receive() -> Any:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }

    async def run() -> None:
        await api.client.app(scope, receive, send)

    api.client.portal.call(run)  # type: ignore[union-attr]
    return sent


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.disconnect"}],
        [{"type": "http.request", "body": b'{"key": "gone", ', "more_body": True}],
    ],
    ids=["before-body", "mid-body"],
)
def test_a_client_gone_before_its_body_ends_is_answered_and_audited_alike(
    make_api: Any, caplog: Any, messages: list[Any]
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="xcomkit.audit")
    direct, plain = make_api(), make_api()
    _without_direct(plain)
    answers = []
    for api in (direct, plain):
        caplog.clear()
        headers = [
            (b"content-type", b"application/json"),
            (b"authorization", api.headers("admin")["Authorization"].encode()),
        ]
        sent = _asgi(api, "POST", BASE, headers, messages)
        records = [r for r in caplog.records if r.name == "xcomkit.audit"]
        assert len(records) == 1
        fields = {k: getattr(records[0], k, None) for k in ("status", "outcome", "action", "who")}
        answers.append(
            ([m.get("status") for m in sent if m["type"] == "http.response.start"], fields)
        )
    assert answers[0] == answers[1]


def test_dependency_overrides_are_honoured(make_api: Any) -> None:
    # A test suite may override the app's dependencies (FastAPI's dependency_overrides),
    # e.g. to refuse every caller: the XCom routes then answer as the override says.
    from fastapi import HTTPException

    from xcomkit.server import deps

    api = make_api()
    admin = api.headers("admin")
    assert api.client.post(BASE, json={"key": "k", "value": 1}, headers=admin).status_code == 201

    async def refused() -> Any:
        raise HTTPException(status_code=403, detail="overridden")

    api.client.app.dependency_overrides[deps.current_user] = refused
    api.client.app.dependency_overrides[deps.writer] = refused
    for method, path, body in [
        ("GET", f"{BASE}/k", None),
        ("GET", BASE, None),
        ("POST", BASE, {"key": "j", "value": 1}),
        ("PATCH", f"{BASE}/k", {"value": 2}),
    ]:
        r = api.client.request(method, path, json=body, headers=admin)
        assert (r.status_code, r.json()) == (403, {"detail": "overridden"}), (method, path)
