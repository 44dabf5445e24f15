"""``xcomkit.shell.remote.Remote``: statuses to exit codes, bodies, URL prefixes (mocked server)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from xcomkit.shell import errors
from xcomkit.shell.errors import CliError
from xcomkit.shell.remote import Remote, token_expiry


def _remote(handler: object, url: str = "http://airflow.example/prefix") -> Remote:
    return Remote(url, "tok", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_sends_json_with_big_integers_under_the_url_prefix() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, content=b'{"value": 123456789012345678901234567890}')

    with _remote(handler) as api:
        status, data = api.request(
            "POST",
            api.xcom_entries_path("d", "r/1", "t"),
            params={"a": None, "order_by": ["-key", "map_index"]},
            body={"value": 2**100},
        )
    assert (status, data) == (201, {"value": 123456789012345678901234567890})
    request = seen[0]
    assert request.url.raw_path == (
        b"/prefix/api/v2/dags/d/dagRuns/r%2F1/taskInstances/t/xcomEntries"
        b"?order_by=-key&order_by=map_index"
    )
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"value": 2**100}


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [
        (404, {"detail": "gone"}, errors.NOT_FOUND, "GET /prefix/x: 404 gone"),
        (409, {"detail": "exists"}, errors.CONFLICT, "GET /prefix/x: 409 exists"),
        (400, {"detail": "bad"}, errors.USAGE, "GET /prefix/x: 400 bad"),
        (
            422,
            {"detail": [{"loc": ["query", "limit"], "msg": "too big"}, {"msg": "other"}]},
            errors.USAGE,
            "GET /prefix/x: 422 query.limit: too big; other",
        ),
        (
            403,
            {"detail": "Forbidden"},
            errors.AUTH,
            "GET /prefix/x: 403 Forbidden",
        ),
        (
            401,
            {"detail": "Token Expired"},
            errors.AUTH,
            "GET /prefix/x: 401 Token Expired — the kept token is missing, invalid or "
            "expired; run: xcomkit login --api-url http://airflow.example/prefix",
        ),
        (500, None, errors.SERVER, "GET /prefix/x: 500 Internal Server Error"),
        (503, {"detail": "busy"}, errors.SERVER, "GET /prefix/x: 503 busy"),
        (
            404,
            {"error": "API route not found"},
            errors.NOT_FOUND,
            "GET /prefix/x: 404 API route not found",
        ),
        (418, "not json", errors.USAGE, "GET /prefix/x: 418 not json"),
    ],
)
def test_error_statuses_become_exit_codes(
    status: int, body: object, code: int, message: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status)
        if isinstance(body, str):
            return httpx.Response(status, content=body.encode())
        return httpx.Response(status, json=body)

    with _remote(handler) as api, pytest.raises(CliError) as caught:
        api.request("GET", "/x")
    assert (caught.value.exit_code, caught.value.message) == (code, message)


def test_allowed_statuses_are_returned() -> None:
    with _remote(lambda r: httpx.Response(409, json={"detail": "x"})) as api:
        assert api.request("POST", "/x", body=1, allow=(409,)) == (409, {"detail": "x"})


def test_connection_errors_are_exit_5() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with _remote(handler) as api, pytest.raises(CliError) as caught:
        api.request("GET", "/x")
    assert caught.value.exit_code == errors.SERVER
    assert caught.value.message == "cannot reach http://airflow.example/prefix: refused"


def test_token_expiry_reads_the_jwt_exp() -> None:
    assert token_expiry("x.eyJleHAiOiAxMjN9.y") == 123.0  # {"exp": 123}
    assert token_expiry("not a jwt") is None
    assert token_expiry("a.!!!.b") is None


def test_a_refused_token_is_renewed_once_for_concurrent_requests() -> None:
    """Eight requests refused together (401) share one renewal, then each is sent again."""
    refused_together = threading.Barrier(8, timeout=10)
    renewals: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer old":
            refused_together.wait()
            return httpx.Response(401, json={"detail": "Token Expired"})
        return httpx.Response(200, json={"path": request.url.path})

    def renew() -> str:
        renewals.append("new")
        return "new"

    api = Remote(
        "http://airflow.example",
        "old",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        renew=renew,
    )
    with api, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: api.request("GET", f"/x/{i}"), range(8)))
    assert answers == [(200, {"path": f"/x/{i}"}) for i in range(8)]
    assert renewals == ["new"]
    assert api.token == "new"


@pytest.mark.parametrize(
    ("status", "detail", "renewed"),
    [
        (401, "Not authenticated", True),
        (403, "Invalid JWT token", True),
        (403, "Forbidden", False),  # a role that may not do this: a new token changes nothing
        (404, "not found", False),
    ],
)
def test_which_refusals_renew_the_token(status: int, detail: str, renewed: bool) -> None:
    renewals: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer new":
            return httpx.Response(200, json={})
        return httpx.Response(status, json={"detail": detail})

    def renew() -> str:
        renewals.append("new")
        return "new"

    api = Remote(
        "http://airflow.example",
        "old",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        renew=renew,
    )
    with api:
        if renewed:
            assert api.request("POST", "/x", body={"a": 1}) == (200, {})
        else:
            with pytest.raises(CliError):
                api.request("POST", "/x", body={"a": 1})
    assert renewals == (["new"] if renewed else [])
