"""Logins whose answer is known before their body (client at its limit: 429; password lane
full: 503) are refused without reading the body, audited, with Retry-After."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest

from tests.conftest import password_for
from xcomkit.server.login_gate import BUSY, TOO_MANY, BlockedClients, LoginGate


class Lanes:
    """A stand-in for WorkLanes whose lanes are full when told."""

    def __init__(self, full: set[str] | None = None) -> None:
        self.full_lanes = full or set()

    def full(self, lane_name: str) -> bool:
        return lane_name in self.full_lanes


def call(gate: LoginGate, path: str, method: str = "POST", client: str = "10.0.0.1") -> Any:
    """Run ``gate`` on one request; (status, headers, body, whether the app was reached,
    whether the body was read)."""
    sent: list[dict[str, Any]] = []
    seen = {"app": False, "receive": False}

    async def receive() -> dict[str, Any]:
        seen["receive"] = True
        return {"type": "http.request", "body": b"{", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [],
        "client": (client, 5000),
    }
    asyncio.run(gate(scope, receive, send))
    if not sent:
        return None, {}, None, seen["app"], seen["receive"]
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    body = json.loads(sent[1]["body"])
    return sent[0]["status"], headers, body, seen["app"], seen["receive"]


def make_gate(lanes: Lanes, blocked: BlockedClients) -> tuple[LoginGate, dict[str, bool]]:
    reached = {"app": False}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached["app"] = True

    return LoginGate(app, work=lanes, blocked=blocked), reached  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/cli"])
def test_a_blocked_client_gets_429_with_retry_after_and_its_body_is_not_read(path) -> None:
    blocked = BlockedClients()
    blocked.block("10.0.0.1", time.time() + 30)
    gate, reached = make_gate(Lanes(), blocked)
    status, headers, body, _, body_read = call(gate, path)
    assert (status, body) == (429, {"detail": TOO_MANY})
    assert 29 <= int(headers["retry-after"]) <= 30
    assert not body_read and not reached["app"]
    # Another client, or another route, goes through.
    assert call(gate, path, client="10.0.0.2")[0] is None and reached["app"]


def test_a_full_password_lane_answers_503_before_the_body() -> None:
    gate, reached = make_gate(Lanes({"hash"}), BlockedClients())
    status, headers, body, _, body_read = call(gate, "/auth/token")
    assert (status, headers["retry-after"], body) == (503, "1", {"detail": BUSY})
    assert not body_read and not reached["app"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/auth/token"), ("POST", "/auth/token/login"), ("POST", "/api/v2/dags")],
)
def test_other_requests_pass_even_when_full_and_blocked(method, path) -> None:
    blocked = BlockedClients()
    blocked.block("10.0.0.1", time.time() + 30)
    gate, reached = make_gate(Lanes({"hash"}), blocked)
    assert call(gate, path, method)[0] is None
    assert reached["app"]


def test_blocked_clients_forget_ended_blocks_and_keep_the_latest_end(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    blocked = BlockedClients()
    blocked.block("a", 1030.0)
    blocked.block("a", 1010.0)  # an older answer never shortens a block
    assert blocked.seconds_left("a") == 30
    assert blocked.seconds_left("b") is None
    now[0] = 1030.0
    assert blocked.seconds_left("a") is None


def test_blocked_clients_are_bounded(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    blocked = BlockedClients(max_entries=3)
    blocked.block("ended", 1001.0)
    blocked.block("b", 1050.0)
    blocked.block("c", 1050.0)
    now[0] = 1002.0
    blocked.block("d", 1050.0)  # room made by dropping the ended block
    assert [blocked.seconds_left(c) for c in ("b", "c", "d")] == [48, 48, 48]
    blocked.block("e", 1050.0)  # then by dropping the oldest
    assert blocked.seconds_left("b") is None
    assert [blocked.seconds_left(c) for c in ("c", "d", "e")] == [48, 48, 48]


def login(api: Any, username: str, password: str, content: str | None = None) -> Any:
    if content is not None:
        return api.client.post(
            "/auth/token", content=content, headers={"Content-Type": "application/json"}
        )
    return api.client.post("/auth/token", json={"username": username, "password": password})


def test_a_client_the_database_says_is_blocked_is_refused_before_its_body(make_api, caplog) -> None:
    api = make_api(login_failures_per_user=0, login_failures_per_client=2)
    assert [login(api, n, "guess").status_code for n in ("a", "b")] == [401, 401]
    # The database answers the first 429; the app remembers it...
    first = login(api, "admin", password_for("admin"))
    assert first.status_code == 429
    caplog.set_level(logging.INFO, logger="xcomkit.audit")
    caplog.clear()  # only the next request's records
    # ...and refuses the next login unread: a malformed body would otherwise be 422.
    r = login(api, "", "", content="{not json")
    assert (r.status_code, r.json()) == (429, {"detail": TOO_MANY})
    assert 1 <= int(r.headers["retry-after"]) <= int(first.headers["retry-after"])
    [rec] = [r for r in caplog.records if r.name == "xcomkit.audit"]
    assert (rec.who, rec.client, rec.action, rec.path, rec.status, rec.outcome) == (
        "-",
        "testclient",
        "create_token",
        "/auth/token",
        429,
        "denied",
    )


def test_a_user_past_its_limit_does_not_block_the_client(make_api) -> None:
    api = make_api(login_failures_per_user=1, login_failures_per_client=0)
    assert login(api, "user", "wrong").status_code == 401
    assert login(api, "user", "wrong").status_code == 429
    assert login(api, "viewer", password_for("viewer")).status_code == 201
    assert login(api, "", "", content="{not json").status_code == 422


def test_a_full_password_lane_refuses_logins_before_their_body(
    make_api, monkeypatch, caplog
) -> None:
    api = make_api()
    work = api.client.app.state.ctx.work
    monkeypatch.setattr(work, "full", lambda lane_name: lane_name == "hash")
    caplog.set_level(logging.INFO, logger="xcomkit.audit")
    caplog.clear()  # only the next request's records
    r = api.client.post("/auth/token/cli", content="{not json")
    assert (r.status_code, r.headers["retry-after"], r.json()) == (503, "1", {"detail": BUSY})
    [rec] = [r for r in caplog.records if r.name == "xcomkit.audit"]
    assert (rec.who, rec.action, rec.status, rec.outcome) == (
        "-",
        "create_token_cli",
        503,
        "failed",
    )
    # Reads do not need the password lane.
    assert api.client.get("/api/v2/version").status_code == 200


def test_a_lane_filled_while_the_body_arrived_refuses_before_any_database_work(
    make_api, monkeypatch
) -> None:
    api = make_api(login_failures_per_user=1, login_failures_per_client=0)
    work = api.client.app.state.ctx.work
    asked: list[str] = []

    def full_after_the_gate(lane_name: str) -> bool:
        asked.append(lane_name)
        return len(asked) == 2  # the gate's question: no; the route's: yes

    monkeypatch.setattr(work, "full", full_after_the_gate)
    r = login(api, "user", "wrong")
    assert (r.status_code, r.json()) == (503, {"detail": BUSY})
    assert asked == ["hash", "hash"]
    monkeypatch.setattr(work, "full", lambda lane_name: False)
    # Nothing was counted: the user's one allowed failure is still there.
    assert login(api, "user", "wrong").status_code == 401
    assert login(api, "user", "wrong").status_code == 429
