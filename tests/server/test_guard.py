"""Who pays is decided before the body is read, and every body is bounded while it streams.

These tests drive the ASGI app directly, so they can see whether the body was read at all.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

XCOMS = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"
DAG_RUNS = "/api/v2/dags/xcom_demo/dagRuns"


def http_scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """An ASGI HTTP scope for ``method path`` with ``headers`` from a loopback client."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }


@dataclass
class Outcome:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks_read: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Driver:
    """Sends one request to an ASGI app, counting how many body chunks it pulled."""

    app: Any
    sent: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        chunks: list[bytes],
        headers: dict[str, str] | None = None,
        content_length: bool = True,
    ) -> Outcome:
        hdrs = {"content-type": "application/json", **(headers or {})}
        if content_length and "content-length" not in hdrs:
            hdrs["content-length"] = str(sum(len(c) for c in chunks))
        scope = http_scope(method, path, hdrs)
        pending = list(chunks)
        read = 0
        messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            nonlocal read
            if not pending:
                return {"type": "http.disconnect"}
            read += 1
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: dict[str, Any]) -> None:
            messages.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return Outcome(
            status=start["status"],
            headers={k.decode(): v.decode() for k, v in start["headers"]},
            body=body,
            chunks_read=read,
        )


@pytest.fixture
def driver(api) -> Driver:
    return Driver(api.client.app)


BIG = [b'{"key": "k", "value": "' + b"x" * 65536, b"x" * 65536, b'"}']


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", XCOMS), ("PATCH", f"{XCOMS}/some/key"), ("POST", DAG_RUNS)],
)
def test_write_without_token_is_401_before_the_body_is_read(driver, method, path) -> None:
    out = driver.request(method, path, [b"{not json", b"at all"])
    assert (out.status, out.json(), out.chunks_read) == (401, {"detail": "Not authenticated"}, 0)


def test_write_with_forged_token_is_403_before_the_body_is_read(driver) -> None:
    out = driver.request("POST", XCOMS, BIG, headers={"authorization": "Bearer forged.token.x"})
    assert (out.status, out.json(), out.chunks_read) == (403, {"detail": "Invalid JWT token"}, 0)


def test_viewer_write_is_403_before_the_body_is_read(api, driver) -> None:
    out = driver.request("POST", XCOMS, BIG, headers=api.headers("viewer"))
    assert (out.status, out.json(), out.chunks_read) == (403, {"detail": "Forbidden"}, 0)


def test_declared_length_over_the_limit_is_413_unread(api, driver) -> None:
    limit = api.settings.max_body_bytes
    out = driver.request(
        "POST", XCOMS, [b"x"], headers={**api.headers(), "content-length": str(limit + 1)}
    )
    assert out.status == 413
    assert out.json() == {"detail": f"Request body too large: the limit is {limit} bytes."}
    assert out.headers["connection"] == "close"
    assert out.chunks_read == 0


def test_streamed_body_over_the_limit_is_413_and_not_stored(api, driver) -> None:
    limit = api.settings.max_body_bytes
    piece = b" " * (1024 * 1024)
    chunks = [b'{"key": "huge", "value": 1', *([piece] * (limit // len(piece) + 1)), b"}"]
    out = driver.request("POST", XCOMS, chunks, headers=api.headers(), content_length=False)
    assert out.status == 413
    assert out.json() == {"detail": f"Request body too large: the limit is {limit} bytes."}
    assert out.chunks_read < len(chunks)  # cut off once past the limit
    assert api.client.get(f"{XCOMS}/huge", headers=api.headers()).status_code == 404


def test_body_at_the_limit_is_accepted(api, driver) -> None:
    limit = api.settings.max_body_bytes
    head, tail = b'{"key": "at_limit", "value": "', b'"}'
    body = head + b"y" * (limit - len(head) - len(tail)) + tail
    out = driver.request("POST", XCOMS, [body], headers=api.headers())
    assert out.status == 201, out.body[:200]


@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/cli"])
def test_login_body_has_its_own_small_limit(api, driver, path) -> None:
    limit = api.settings.login_body_bytes
    body = json.dumps({"username": "admin", "password": "p" * limit}).encode()
    out = driver.request("POST", path, [body])
    assert out.status == 413
    out = driver.request(
        "POST", path, [body[: limit // 2], body[limit // 2 :]], content_length=False
    )
    assert (out.status, out.chunks_read) == (413, 2)


def test_authenticated_write_under_the_limit_still_works(api, driver) -> None:
    out = driver.request("POST", XCOMS, [b'{"key": "ok", "value": [1, 2]}'], headers=api.headers())
    assert out.status == 201
    assert out.json()["value"] == [1, 2]


def test_unknown_route_is_404_not_401(driver) -> None:
    out = driver.request("POST", "/api/v2/nothing/here", [b"{}"])
    assert (out.status, out.json()) == (404, {"error": "API route not found"})


def test_reads_are_not_prechecked_but_still_need_a_token(api) -> None:
    r = api.client.get(XCOMS)
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})


def _slow_request(app, path: str, chunks: list[bytes], pause: float, headers=None) -> Outcome:
    """Send ``chunks`` with ``pause`` seconds before each one after the first."""
    hdrs = {"content-type": "application/json", **(headers or {})}
    hdrs["content-length"] = str(sum(len(c) for c in chunks))
    scope = http_scope("POST", path, hdrs)
    pending = list(chunks)
    first = True
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal first
        if not pending:
            await asyncio.sleep(3600)  # a client that never finishes
        if not first:
            await asyncio.sleep(pause)
        first = False
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Outcome(start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, 0)


def test_login_body_trickled_past_its_time_is_408(make_api) -> None:
    api = make_api(login_body_timeout=0.2)
    out = _slow_request(api.client.app, "/auth/token", [b'{"username": ', b'"a"}'], pause=1.0)
    assert out.status == 408
    assert out.json() == {"detail": "Request body not received within 0.2 s."}
    assert out.headers["connection"] == "close"


def test_write_body_trickled_past_its_time_is_408(make_api) -> None:
    api = make_api(body_timeout=0.2)
    out = _slow_request(
        api.client.app, XCOMS, [b'{"key": "slow", ', b'"value": 1}'], 1.0, api.headers()
    )
    assert out.status == 408
    assert api.client.get(f"{XCOMS}/slow", headers=api.headers()).status_code == 404


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_login_client_leaving_mid_body_is_not_a_500(api, content_type) -> None:
    scope = http_scope(
        "POST", "/auth/token", {"content-type": content_type, "content-length": "100"}
    )
    messages = iter(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    )
    sent: list[dict[str, Any]] = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    asyncio.run(api.client.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
