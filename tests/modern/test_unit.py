"""XComClient / AsyncXComClient against httpx.MockTransport: no server, no real sleeps."""

from __future__ import annotations

import base64
import dataclasses
import inspect
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from xcomkit.modern import (
    AsyncXComClient,
    XComAuthError,
    XComBadRequest,
    XComClient,
    XComConflict,
    XComConnectionError,
    XComEntry,
    XComError,
    XComNotFound,
    XComServerError,
    XComValidationError,
)
from xcomkit.modern._base import jwt_expiry, parse_retry_after, quote_key

BASE = "http://xcom.test"
COLLECTION = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"


def entry_json(key: str = "k", value: Any = 1, *, with_value: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "timestamp": "2025-01-01T00:00:01.123456Z",
        "logical_date": "2025-01-01T00:00:00Z",
        "map_index": -1,
        "task_id": "extract",
        "dag_id": "xcom_demo",
        "run_id": "run_1",
        "dag_display_name": "XCom Demo",
        "task_display_name": "extract",
        "run_after": "2025-01-01T00:00:00Z",
    }
    if with_value:
        body["value"] = value
    return body


def jwt(exp: float | None, sub: str = "admin") -> str:
    """An unsigned JWT-shaped token with the given ``exp`` (the client never verifies)."""

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims: dict[str, Any] = {"sub": sub}
    if exp is not None:
        claims["exp"] = exp
    return f"{b64({'alg': 'HS512', 'typ': 'JWT'})}.{b64(claims)}.c2ln"


class Recorder:
    """A MockTransport handler answering from a list of canned responses, recording requests."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[..., Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.raw_path.decode().split('?')[0]}" for r in self.requests]


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def err(status: int, detail: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail}, headers=headers)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(rec: Recorder, **kwargs: Any) -> tuple[XComClient, Sleeps]:
    sleeps = Sleeps()
    kwargs.setdefault("token", "static-token")
    client = XComClient(BASE, transport=httpx.MockTransport(rec), sleep=sleeps, **kwargs)
    return client, sleeps


# -- results ---------------------------------------------------------------------------


def test_pull_returns_typed_entry_with_aware_datetimes() -> None:
    rec = Recorder(ok(entry_json(value={"a": [1, None]})))
    client, _ = make(rec)
    entry = client.pull("xcom_demo", "run_1", "extract", "k")
    assert entry == XComEntry(
        key="k",
        timestamp=datetime(2025, 1, 1, 0, 0, 1, 123456, tzinfo=timezone.utc),
        logical_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        map_index=-1,
        task_id="extract",
        dag_id="xcom_demo",
        run_id="run_1",
        dag_display_name="XCom Demo",
        task_display_name="extract",
        run_after=datetime(2025, 1, 1, tzinfo=timezone.utc),
        value={"a": [1, None]},
        has_value=True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.value = 2  # type: ignore[misc]
    assert rec.paths == [f"GET {COLLECTION}/k"]
    assert rec.requests[0].headers["authorization"] == "Bearer static-token"
    assert rec.requests[0].headers["accept"] == "application/json"


def test_pull_sends_map_index_deserialize_stringify_only_when_set() -> None:
    rec = Recorder(ok(entry_json(value="{'a': 1}")))
    client, _ = make(rec)
    entry = client.pull(
        "xcom_demo", "run_1", "extract", "k", map_index=2, deserialize=True, stringify=True
    )
    assert entry.value == "{'a': 1}"
    assert rec.requests[0].url.query == b"map_index=2&deserialize=true&stringify=true"


def test_null_logical_date_and_list_entries_without_value() -> None:
    item = entry_json(with_value=False)
    item["logical_date"] = None
    rec = Recorder(ok({"xcom_entries": [item], "total_entries": 1}))
    client, _ = make(rec)
    page = client.list()
    assert page.total_entries == 1
    assert len(page) == 1
    (entry,) = page
    assert entry.logical_date is None
    assert entry.value is None
    assert entry.has_value is False
    assert page.next_offset is None


def test_push_sends_json_body_and_returns_entry() -> None:
    rec = Recorder(ok(entry_json(value={"1": [1, 2]}), status=201))
    client, _ = make(rec)
    entry = client.push("xcom_demo", "run_1", "extract", "k", {1: [1, 2]}, map_index=3)
    assert entry.value == {"1": [1, 2]}
    request = rec.requests[0]
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"key": "k", "value": {"1": [1, 2]}, "map_index": 3}


def test_push_value_json_cannot_hold_raises_type_error() -> None:
    client, _ = make(Recorder())
    with pytest.raises(TypeError, match="not JSON serialisable"):
        client.push("xcom_demo", "run_1", "extract", "k", {1, 2})


def test_push_overwrite_updates_on_conflict() -> None:
    rec = Recorder(err(409, "exists"), ok(entry_json(value=5)))
    client, _ = make(rec)
    entry = client.push("xcom_demo", "run_1", "extract", "k", 5, overwrite=True)
    assert entry.value == 5
    assert rec.paths == [f"POST {COLLECTION}", f"PATCH {COLLECTION}/k"]
    assert json.loads(rec.requests[1].content) == {"value": 5, "map_index": -1}


def test_push_without_overwrite_raises_conflict() -> None:
    detail = "The XCom with key: `k` with mentioned task instance already exists."
    client, _ = make(Recorder(err(409, detail)))
    with pytest.raises(XComConflict) as info:
        client.push("xcom_demo", "run_1", "extract", "k", 5)
    assert info.value.status == 409
    assert info.value.detail == detail
    assert info.value.method == "POST"


def test_delete_sends_map_index() -> None:
    rec = Recorder(httpx.Response(204))
    client, _ = make(rec)
    assert client.delete("xcom_demo", "run_1", "extract", "k", map_index=0) is None
    assert rec.paths == [f"DELETE {COLLECTION}/k"]
    assert rec.requests[0].url.query == b"map_index=0"


def test_malformed_success_body_raises_xcom_error() -> None:
    client, _ = make(Recorder(httpx.Response(200, content=b"<html>proxy</html>")))
    with pytest.raises(XComError, match="unexpected body") as info:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert info.value.status == 200


# -- URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("a/b/c", "a/b/c"),
        ("50%", "50%25"),
        ("with space", "with%20space"),
        ("ünï/çødé", "%C3%BCn%C3%AF/%C3%A7%C3%B8d%C3%A9"),
        ("q?x#y&z=1", "q%3Fx%23y%26z%3D1"),
        ("a/../b", "a/%2E%2E/b"),
        ("./x", "%2E/x"),
        ("%2F", "%252F"),
        ("tilde~plus+", "tilde~plus%2B"),
    ],
)
def test_key_is_quoted_but_slash_kept(key: str, raw: str) -> None:
    assert quote_key(key) == raw
    rec = Recorder(ok(entry_json(key=key)))
    client, _ = make(rec)
    client.pull("xcom_demo", "run_1", "extract", key)
    assert rec.paths == [f"GET {COLLECTION}/{raw}"]


def test_ids_are_quoted_as_one_segment_and_tilde_kept() -> None:
    rec = Recorder(ok({"xcom_entries": [], "total_entries": 0}))
    client, _ = make(rec)
    client.list("d/1", "~", "t x")
    assert rec.paths == ["GET /api/v2/dags/d%2F1/dagRuns/~/taskInstances/t%20x/xcomEntries"]


def test_base_url_path_prefix_is_kept() -> None:
    rec = Recorder(ok(entry_json()))
    client = XComClient("http://xcom.test/airflow/", token="t", transport=httpx.MockTransport(rec))
    client.pull("xcom_demo", "run_1", "extract", "k")
    assert rec.paths == [f"GET /airflow{COLLECTION}/k"]


def test_empty_key_is_refused_before_sending() -> None:
    client, _ = make(Recorder())
    with pytest.raises(ValueError, match="non-empty"):
        client.pull("xcom_demo", "run_1", "extract", "")


def test_list_query_parameters() -> None:
    rec = Recorder(ok({"xcom_entries": [], "total_entries": 0}))
    client, _ = make(rec)
    client.list(
        key="k",
        map_index=0,
        limit=10,
        offset=20,
        order_by=["-timestamp", "key"],
        xcom_key_pattern="v_%",
        logical_date_gte=datetime(2025, 1, 1, tzinfo=timezone.utc),
        run_after_lt=None,
    )
    assert rec.requests[0].url.params.multi_items() == [
        ("xcom_key", "k"),
        ("map_index", "0"),
        ("limit", "10"),
        ("offset", "20"),
        ("order_by", "-timestamp"),
        ("order_by", "key"),
        ("xcom_key_pattern", "v_%"),
        ("logical_date_gte", "2025-01-01T00:00:00+00:00"),
    ]


def test_list_refuses_naive_datetimes() -> None:
    client, _ = make(Recorder())
    with pytest.raises(ValueError, match="naive"):
        client.list(logical_date_gte=datetime(2025, 1, 1))


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, XComBadRequest),
        (401, XComAuthError),
        (403, XComAuthError),
        (404, XComNotFound),
        (409, XComConflict),
        (418, XComError),
        (500, XComServerError),
        (501, XComServerError),
    ],
)
def test_error_statuses_map_to_typed_exceptions(status: int, cls: type[XComError]) -> None:
    client, _ = make(Recorder(err(status, "nope")))
    with pytest.raises(cls) as info:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert type(info.value) is cls
    assert (info.value.status, info.value.detail) == (status, "nope")
    assert info.value.url == f"{BASE}{COLLECTION}/k"
    assert str(info.value) == f"GET {BASE}{COLLECTION}/k -> {status}: nope"


def test_validation_error_carries_error_list() -> None:
    errors = [
        {
            "type": "value_error",
            "loc": ["body", "value"],
            "msg": "Value error, XCom value contains reserved serialization keys: __var.",
            "input": {"__var": 1},
            "ctx": {"error": {}},
        }
    ]
    client, _ = make(Recorder(err(422, errors)))
    with pytest.raises(XComValidationError) as info:
        client.push("xcom_demo", "run_1", "extract", "k", {"__var": 1})
    assert info.value.status == 422
    assert info.value.errors == errors
    assert info.value.detail == errors


def test_error_body_that_is_not_json_gives_text_detail() -> None:
    client, _ = make(Recorder(httpx.Response(500, text="Internal Server Error")), retries=0)
    with pytest.raises(XComServerError) as info:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert info.value.detail == "Internal Server Error"


# -- retries ---------------------------------------------------------------------------


def test_get_retries_503_with_jittered_exponential_backoff() -> None:
    rec = Recorder(err(503, "busy"), err(502, "bad gw"), err(504, "timeout"), ok(entry_json()))
    client, sleeps = make(rec, retries=3, backoff=0.5, max_backoff=30)
    client._retry.random = random.Random(7)
    assert client.pull("xcom_demo", "run_1", "extract", "k").key == "k"
    assert len(rec.requests) == 4
    assert len(sleeps) == 3
    for n, delay in enumerate(sleeps):
        assert 0 <= delay <= 0.5 * 2**n
    assert sleeps == [pytest.approx(d) for d in _expected_jitter(7, 0.5, 30, 3)]


def _expected_jitter(seed: int, backoff: float, cap: float, n: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0, min(cap, backoff * 2**i)) for i in range(n)]


def test_backoff_is_capped_by_max_backoff() -> None:
    rec = Recorder(*[err(503, "busy")] * 6, ok(entry_json()))
    client, sleeps = make(rec, retries=6, backoff=1.0, max_backoff=2.0)
    client.pull("xcom_demo", "run_1", "extract", "k")
    assert len(sleeps) == 6
    assert all(0 <= d <= 2.0 for d in sleeps)


def test_retries_exhausted_raises_last_error() -> None:
    rec = Recorder(*[err(503, "busy")] * 3)
    client, sleeps = make(rec, retries=2)
    with pytest.raises(XComServerError) as info:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert info.value.status == 503
    assert len(rec.requests) == 3
    assert len(sleeps) == 2


def test_429_exhausted_is_plain_xcom_error() -> None:
    client, _ = make(Recorder(err(429, "slow down")), retries=0)
    with pytest.raises(XComError) as info:
        client.list()
    assert type(info.value) is XComError
    assert info.value.status == 429


def test_retry_after_seconds_is_honoured() -> None:
    rec = Recorder(err(429, "slow down", {"Retry-After": "7"}), ok(entry_json()))
    client, sleeps = make(rec)
    client.pull("xcom_demo", "run_1", "extract", "k")
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=20)
    header = format_datetime(when.replace(microsecond=0), usegmt=True)
    rec = Recorder(err(503, "busy", {"Retry-After": header}), ok(entry_json()))
    client, sleeps = make(rec)
    client.pull("xcom_demo", "run_1", "extract", "k")
    assert len(sleeps) == 1
    assert 17 <= sleeps[0] <= 20


def test_retry_after_longer_than_max_backoff_is_not_waited_for() -> None:
    rec = Recorder(err(503, "maintenance", {"Retry-After": "3600"}))
    client, sleeps = make(rec, max_backoff=30)
    with pytest.raises(XComServerError):
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert sleeps == []


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("12", 12.0),
        (" 3.5 ", 3.5),
        ("-4", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_date_relative_to_now() -> None:
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0


def test_patch_and_delete_are_retried() -> None:
    rec = Recorder(err(502, "bad"), ok(entry_json(value=2)), err(503, "busy"), httpx.Response(204))
    client, sleeps = make(rec)
    client.update("xcom_demo", "run_1", "extract", "k", 2)
    client.delete("xcom_demo", "run_1", "extract", "k")
    assert [r.method for r in rec.requests] == ["PATCH", "PATCH", "DELETE", "DELETE"]
    assert len(sleeps) == 2


def test_post_is_not_retried_on_503() -> None:
    rec = Recorder(err(503, "busy"))
    client, sleeps = make(rec)
    with pytest.raises(XComServerError):
        client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert len(rec.requests) == 1
    assert sleeps == []


def test_post_is_retried_on_503_with_retry_after() -> None:
    # A 503 with Retry-After is a refusal (xcomkit changes nothing before answering it;
    # a balancer with no instance up never forwarded the request): safe to resend.
    rec = Recorder(err(503, "busy", {"Retry-After": "1"}), ok(entry_json(), status=201))
    client, sleeps = make(rec)
    assert client.push("xcom_demo", "run_1", "extract", "k", 1).key == "k"
    assert [r.method for r in rec.requests] == ["POST", "POST"]
    assert sleeps == [1.0]


@pytest.mark.parametrize("status", [502, 504])
def test_post_is_not_retried_on_a_gateway_error(status: int) -> None:
    # The balancer lost the instance mid-request: the entry may have been created.
    rec = Recorder(err(status, "gateway"))
    client, sleeps = make(rec)
    with pytest.raises(XComServerError):
        client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert len(rec.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "failure", [httpx.ReadError("reset"), err(502, "gateway"), err(504, "gateway")]
)
def test_push_with_overwrite_is_resent_after_an_unknown_outcome(failure: Any) -> None:
    # The first POST may have created the entry: the resent POST then finds it (409)
    # and the push goes on as an update, so the outcome is the same either way.
    rec = Recorder(failure, err(409, "exists"), ok(entry_json(value=3)))
    client, sleeps = make(rec)
    assert client.push("xcom_demo", "run_1", "extract", "k", 3, overwrite=True).value == 3
    assert [r.method for r in rec.requests] == ["POST", "POST", "PATCH"]
    assert len(sleeps) == 1


def test_post_is_retried_when_connection_failed_before_sending() -> None:
    rec = Recorder(httpx.ConnectError("refused"), ok(entry_json(), status=201))
    client, sleeps = make(rec)
    assert client.push("xcom_demo", "run_1", "extract", "k", 1).key == "k"
    assert len(rec.requests) == 2
    assert len(sleeps) == 1


def test_post_is_not_retried_after_the_request_may_have_been_sent() -> None:
    rec = Recorder(httpx.ReadError("reset"))
    client, sleeps = make(rec)
    with pytest.raises(XComConnectionError) as info:
        client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert info.value.status is None
    assert "ReadError" in str(info.value)
    assert len(rec.requests) == 1
    assert sleeps == []


def test_get_is_retried_on_any_transport_error_then_raises_connection_error() -> None:
    rec = Recorder(
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("closed"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("slow"),
    )
    client, sleeps = make(rec, retries=3)
    with pytest.raises(XComConnectionError):
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert len(rec.requests) == 4
    assert len(sleeps) == 3


def test_no_retries_when_retries_is_zero() -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    client, sleeps = make(rec, retries=0)
    with pytest.raises(XComConnectionError):
        client.list()
    assert sleeps == []


# -- tokens ----------------------------------------------------------------------------


def login_ok(token: str) -> httpx.Response:
    return ok({"access_token": token}, status=201)


def test_token_fetched_on_first_use_and_reused() -> None:
    token = jwt(exp=None)
    rec = Recorder(login_ok(token), ok(entry_json()), ok(entry_json()))
    client, _ = make(rec, token=None, username="admin", password="pw")
    client.pull("xcom_demo", "run_1", "extract", "k")
    client.pull("xcom_demo", "run_1", "extract", "k")
    assert rec.paths == ["POST /auth/token", f"GET {COLLECTION}/k", f"GET {COLLECTION}/k"]
    assert json.loads(rec.requests[0].content) == {"username": "admin", "password": "pw"}
    assert "authorization" not in rec.requests[0].headers
    assert rec.requests[1].headers["authorization"] == f"Bearer {token}"


def test_token_refreshed_when_exp_passes() -> None:
    now = [1_000_000.0]
    first, second = jwt(exp=now[0] + 3600, sub="a"), jwt(exp=now[0] + 7200, sub="b")
    rec = Recorder(login_ok(first), ok(entry_json()), login_ok(second), ok(entry_json()))
    client, _ = make(rec, token=None, username="admin", password="pw")
    client._tokens.clock = lambda: now[0]
    client.pull("xcom_demo", "run_1", "extract", "k")
    now[0] += 3600  # past exp (minus the leeway): refresh before sending
    client.pull("xcom_demo", "run_1", "extract", "k")
    assert rec.paths == [
        "POST /auth/token",
        f"GET {COLLECTION}/k",
        "POST /auth/token",
        f"GET {COLLECTION}/k",
    ]
    assert rec.requests[3].headers["authorization"] == f"Bearer {second}"


@pytest.mark.parametrize(
    "rejection",
    [err(401, "Not authenticated"), err(403, "Invalid JWT token")],
    ids=["401", "403-invalid-jwt"],
)
def test_rejected_token_is_refetched_once_and_request_resent(rejection: httpx.Response) -> None:
    rec = Recorder(login_ok("t1"), rejection, login_ok("t2"), ok(entry_json()))
    client, sleeps = make(rec, token=None, username="admin", password="pw")
    assert client.pull("xcom_demo", "run_1", "extract", "k").key == "k"
    assert rec.paths == [
        "POST /auth/token",
        f"GET {COLLECTION}/k",
        "POST /auth/token",
        f"GET {COLLECTION}/k",
    ]
    assert rec.requests[3].headers["authorization"] == "Bearer t2"
    assert sleeps == []


def test_post_is_resent_after_token_refresh() -> None:
    rec = Recorder(login_ok("t1"), err(403, "Invalid JWT token"), login_ok("t2"), ok(entry_json()))
    client, _ = make(rec, token=None, username="admin", password="pw")
    client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert [r.method for r in rec.requests] == ["POST", "POST", "POST", "POST"]


def test_token_refetched_only_once_per_call() -> None:
    rec = Recorder(login_ok("t1"), err(401, "Not authenticated"), login_ok("t2"), err(401, "no"))
    client, _ = make(rec, token=None, username="admin", password="pw")
    with pytest.raises(XComAuthError) as info:
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert info.value.status == 401
    assert len(rec.requests) == 4


def test_forbidden_is_not_a_token_problem() -> None:
    rec = Recorder(login_ok("t1"), err(403, "Forbidden"))
    client, _ = make(rec, token=None, username="viewer", password="pw")
    with pytest.raises(XComAuthError) as info:
        client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert info.value.detail == "Forbidden"
    assert len(rec.requests) == 2


def test_static_token_is_never_refreshed() -> None:
    rec = Recorder(err(403, "Invalid JWT token"))
    client, _ = make(rec, token="fixed")
    with pytest.raises(XComAuthError):
        client.pull("xcom_demo", "run_1", "extract", "k")
    assert rec.paths == [f"GET {COLLECTION}/k"]


def test_bad_credentials_raise_auth_error() -> None:
    rec = Recorder(err(401, "Invalid credentials"))
    client, _ = make(rec, token=None, username="admin", password="wrong")
    with pytest.raises(XComAuthError) as info:
        client.list()
    assert info.value.status == 401
    assert info.value.url == f"{BASE}/auth/token"


def test_login_answer_without_token_raises_auth_error() -> None:
    client, _ = make(
        Recorder(ok({"nothing": 1}, status=201)), token=None, username="a", password="b"
    )
    with pytest.raises(XComAuthError, match="no access_token"):
        client.list()


def test_no_credentials_sends_no_authorization() -> None:
    rec = Recorder(ok({"xcom_entries": [], "total_entries": 0}))
    client, _ = make(rec, token=None)
    client.list()
    assert "authorization" not in rec.requests[0].headers


@pytest.mark.parametrize(
    "kwargs",
    [{"username": "a"}, {"password": "b"}, {"username": "a", "password": "b", "token": "t"}],
)
def test_inconsistent_credentials_are_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        XComClient(BASE, **kwargs)


def test_jwt_expiry() -> None:
    assert jwt_expiry(jwt(exp=1234)) == 1234.0
    assert jwt_expiry(jwt(exp=None)) is None
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.!!!.c") is None


# -- paging ----------------------------------------------------------------------------


def paged_server(total: int) -> Callable[[httpx.Request], httpx.Response]:
    keys = [f"k{i:03d}" for i in range(total)]

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", 50))
        offset = int(request.url.params.get("offset", 0))
        items = [entry_json(k, with_value=False) for k in keys[offset : offset + limit]]
        return ok({"xcom_entries": items, "total_entries": total})

    return handler


def test_iter_entries_walks_every_page() -> None:
    handler = paged_server(250)
    rec = Recorder(handler, handler, handler)
    client, _ = make(rec)
    keys = [e.key for e in client.iter_entries(xcom_key_pattern="k")]
    assert keys == [f"k{i:03d}" for i in range(250)]
    assert [r.url.query.decode() for r in rec.requests] == [
        "limit=100&xcom_key_pattern=k",
        "limit=100&offset=100&xcom_key_pattern=k",
        "limit=100&offset=200&xcom_key_pattern=k",
    ]


def test_iter_entries_stops_on_an_empty_page() -> None:
    # total_entries says more, but a page comes back empty (entries deleted meanwhile).
    rec = Recorder(
        ok({"xcom_entries": [entry_json("a", with_value=False)], "total_entries": 5}),
        ok({"xcom_entries": [], "total_entries": 5}),
    )
    client, _ = make(rec)
    assert [e.key for e in client.iter_entries(page_size=1)] == ["a"]
    assert len(rec.requests) == 2


def test_iter_entries_of_nothing() -> None:
    rec = Recorder(ok({"xcom_entries": [], "total_entries": 0}))
    client, _ = make(rec)
    assert list(client.iter_entries()) == []


# -- lifecycle -------------------------------------------------------------------------


def test_context_manager_closes() -> None:
    rec = Recorder(ok({"xcom_entries": [], "total_entries": 0}))
    with XComClient(BASE, token="t", transport=httpx.MockTransport(rec)) as client:
        client.list()
    with pytest.raises(RuntimeError):
        client.list()


def test_extra_headers_are_sent() -> None:
    rec = Recorder(ok({"xcom_entries": [], "total_entries": 0}))
    client, _ = make(rec, headers={"X-Trace": "abc"})
    client.list()
    assert rec.requests[0].headers["x-trace"] == "abc"


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        XComClient("ftp://example.com")


# -- async -----------------------------------------------------------------------------


class AsyncSleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def amake(rec: Recorder, **kwargs: Any) -> tuple[AsyncXComClient, AsyncSleeps]:
    sleeps = AsyncSleeps()
    kwargs.setdefault("token", "static-token")
    client = AsyncXComClient(BASE, transport=httpx.MockTransport(rec), sleep=sleeps, **kwargs)
    return client, sleeps


async def test_async_roundtrip() -> None:
    rec = Recorder(
        ok(entry_json(value=[1]), status=201),
        ok(entry_json(value=[1])),
        ok(entry_json(value=[2])),
        httpx.Response(204),
    )
    async with amake(rec)[0] as client:
        assert (await client.push("xcom_demo", "run_1", "extract", "a/b", [1])).value == [1]
        assert (await client.pull("xcom_demo", "run_1", "extract", "a/b")).value == [1]
        assert (await client.update("xcom_demo", "run_1", "extract", "a/b", [2])).value == [2]
        assert await client.delete("xcom_demo", "run_1", "extract", "a/b") is None
    assert rec.paths == [
        f"POST {COLLECTION}",
        f"GET {COLLECTION}/a/b",
        f"PATCH {COLLECTION}/a/b",
        f"DELETE {COLLECTION}/a/b",
    ]


async def test_async_retries_with_retry_after_and_errors() -> None:
    rec = Recorder(err(503, "busy", {"Retry-After": "2"}), err(404, "missing"))
    client, sleeps = amake(rec)
    with pytest.raises(XComNotFound) as info:
        await client.pull("xcom_demo", "run_1", "extract", "k")
    assert info.value.detail == "missing"
    assert sleeps == [2.0]
    await client.close()


async def test_async_post_not_retried_after_send_but_retried_before() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.ReadError("reset"))
    client, sleeps = amake(rec)
    with pytest.raises(XComConnectionError):
        await client.push("xcom_demo", "run_1", "extract", "k", 1)
    assert len(rec.requests) == 2
    assert len(sleeps) == 1
    await client.close()


async def test_async_post_retried_on_503_with_retry_after_and_overwrite_after_send() -> None:
    rec = Recorder(
        err(503, "busy", {"Retry-After": "1"}),
        httpx.ReadError("reset"),
        err(409, "exists"),
        ok(entry_json(value=3)),
    )
    client, sleeps = amake(rec)
    assert (await client.push("xcom_demo", "run_1", "extract", "k", 3, overwrite=True)).value == 3
    assert [r.method for r in rec.requests] == ["POST", "POST", "POST", "PATCH"]
    assert len(sleeps) == 2 and sleeps[0] == 1.0
    await client.close()


async def test_async_token_refresh_on_invalid_jwt() -> None:
    rec = Recorder(login_ok("t1"), err(403, "Invalid JWT token"), login_ok("t2"), ok(entry_json()))
    client, _ = amake(rec, token=None, username="admin", password="pw")
    await client.pull("xcom_demo", "run_1", "extract", "k")
    assert rec.requests[-1].headers["authorization"] == "Bearer t2"
    await client.close()


async def test_async_aiter_entries() -> None:
    handler = paged_server(120)
    client, _ = amake(Recorder(handler, handler))
    keys = [e.key async for e in client.aiter_entries()]
    assert len(keys) == 120
    assert keys[-1] == "k119"
    await client.close()


async def test_async_push_overwrite() -> None:
    rec = Recorder(err(409, "exists"), ok(entry_json(value=3)))
    client, _ = amake(rec)
    assert (await client.push("xcom_demo", "run_1", "extract", "k", 3, overwrite=True)).value == 3
    await client.close()


def test_sync_and_async_clients_have_the_same_api() -> None:
    def api(cls: type) -> dict[str, inspect.Signature]:
        return {
            name.replace("aiter_", "iter_"): inspect.signature(fn)
            for name, fn in vars(cls).items()
            if not name.startswith("_") and callable(fn)
        }

    sync_api, async_api = api(XComClient), api(AsyncXComClient)
    assert sync_api.keys() == async_api.keys()
    for name, sig in sync_api.items():
        if name != "__init__":
            assert list(sig.parameters) == list(async_api[name].parameters), name
    assert inspect.iscoroutinefunction(AsyncXComClient.pull)
    assert inspect.isasyncgenfunction(AsyncXComClient.aiter_entries)


def test_response_bodies_parse_exactly() -> None:
    from xcomkit.exact_json import loads as load_json

    assert load_json(b'{"value": [1180591620717411303424, -9223372036854775809]}') == {
        "value": [1180591620717411303424, -9223372036854775809]
    }
    assert load_json(b'{"value": "\\ud800"}') == {"value": "\ud800"}
    deep = b"[" * 300 + b"]" * 300
    assert load_json(deep) is not None
    assert load_json(b'{"value": 1.5}') == {"value": 1.5}
    with pytest.raises(ValueError):
        load_json(b"not json")


def test_request_bodies_encode_big_integers_exactly() -> None:
    from xcomkit.modern._base import dump_json

    assert dump_json({"value": 2**64}) == b'{"value":18446744073709551616}'
    with pytest.raises(TypeError, match="not JSON serialisable"):
        dump_json({"value": {1, 2}})
