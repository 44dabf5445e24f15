"""Login, token validation, DAG runs, version and health."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.conftest import TEST_SECRET, password_for
from xcomkit.server.auth.tokens import ALGORITHM, AUDIENCE, ISSUER


def login(api, *, json_body=None, data=None, path="/auth/token", **kw):
    return api.client.post(path, json=json_body, data=data, **kw)


@pytest.mark.parametrize("path", ["/auth/token", "/auth/token/cli"])
def test_login_with_json_answers_201_and_a_working_token(api, path) -> None:
    r = login(api, json_body={"username": "viewer", "password": password_for("viewer")}, path=path)
    assert r.status_code == 201
    assert list(r.json()) == ["access_token"]
    token = r.json()["access_token"]
    ok = api.client.get(api.xcom_url(), headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["role"]) == ("viewer", "viewer")
    assert claims["exp"] > time.time()


def test_login_with_form_body(api) -> None:
    r = login(api, data={"username": "op", "password": password_for("op")})
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong"), ("nobody", "admin-password"), ("admin", "x" * 200)],
)
def test_wrong_credentials_are_401(api, username, password) -> None:
    r = login(api, json_body={"username": username, "password": password})
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid credentials"})


def test_empty_credentials_are_400(api) -> None:
    r = login(api, json_body={"username": "", "password": ""})
    assert (r.status_code, r.json()) == (400, {"detail": "Username and password must be provided"})


def test_login_body_errors(api) -> None:
    r = login(api, json_body={"username": "admin"})
    assert r.status_code == 422
    # Airflow's login answers a wrong shape with pydantic's text as a string detail.
    assert r.json()["detail"] == (
        "1 validation error for LoginBody\npassword\n  Field required [type=missing, "
        "input_value={'username': 'admin'}, input_type=dict]\n    For further information "
        "visit https://errors.pydantic.dev/2.14/v/missing"
    )
    r = login(api, json_body={"username": "admin", "password": "p", "extra": 1})
    assert r.status_code == 422
    assert "extra_forbidden" in r.json()["detail"]
    r = api.client.post("/auth/token", content="x", headers={"Content-Type": "text/plain"})
    assert (r.status_code, r.json()) == (
        415,
        {"detail": "Only application/json or application/x-www-form-urlencoded is supported"},
    )
    # No Content-Type: read as JSON, as Airflow reads it (an empty body is not JSON: 422).
    r = api.client.post("/auth/token")
    assert r.status_code == 422
    assert r.json()["detail"].startswith("Request body is not valid JSON")
    r = api.client.post(
        "/auth/token", content=json.dumps({"username": "admin", "password": password_for("admin")})
    )
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"access_token"}
    r = api.client.post("/auth/token", content="{bad", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = api.client.post("/auth/token", data={"username": "admin"})
    assert r.status_code == 422
    assert "input_value=None, input_type=NoneType" in r.json()["detail"]
    r = api.client.get("/auth/token")
    assert r.status_code == 403


def _forge(claims: dict, secret: str = TEST_SECRET, alg: str = ALGORITHM) -> str:
    return jwt.encode(claims, secret, algorithm=alg)


def _claims(**over) -> dict:
    now = int(time.time())
    base = {
        "sub": "admin",
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    base.update(over)
    return base


def _alg_none(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "status", "detail"),
    [
        (lambda: _forge(_claims(exp=int(time.time()) - 10)), 401, "Token Expired"),
        (lambda: _forge(_claims(), secret="another-secret-" + "z" * 60), 403, "Invalid JWT token"),
        (lambda: _alg_none(_claims()), 403, "Invalid JWT token"),
        (lambda: _forge(_claims(), alg="HS256"), 403, "Invalid JWT token"),
        (lambda: _forge(_claims(aud="someone-else")), 403, "Invalid JWT token"),
        (
            lambda: _forge({k: v for k, v in _claims().items() if k != "role"}),
            403,
            "Invalid JWT token",
        ),
        (lambda: _forge(_claims(nbf=int(time.time()) + 600)), 403, "Invalid JWT token"),
    ],
    ids=["expired", "other-secret", "alg-none", "hs256", "audience", "no-role", "not-yet-valid"],
)
def test_bad_tokens(api, token, status, detail) -> None:
    r = api.client.get(api.xcom_url(), headers={"Authorization": f"Bearer {token()}"})
    assert (r.status_code, r.json()) == (status, {"detail": detail})


def test_no_auth_mode_serves_everyone_as_admin(api) -> None:
    api.settings.auth = False
    r = api.client.post(api.xcom_url(), json={"key": "open", "value": 1})
    assert r.status_code == 201


# ----------------------------------------------------------------------- DAG runs


def test_trigger_dag_run_and_read_it_back(api) -> None:
    body = {
        "dag_run_id": "manual_1",
        "logical_date": "2025-03-01T12:00:00Z",
        "conf": {"a": [1]},
        "note": "hello",
    }
    r = api.client.post("/api/v2/dags/xcom_demo/dagRuns", json=body, headers=api.headers("user"))
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["dag_run_id"] == "manual_1"
    assert run["logical_date"] == "2025-03-01T12:00:00Z"
    assert run["data_interval_start"] == run["data_interval_end"] == "2025-03-01T12:00:00Z"
    assert (run["state"], run["run_type"], run["triggered_by"]) == ("queued", "manual", "rest_api")
    assert (run["conf"], run["note"], run["dag_display_name"]) == ({"a": [1]}, "hello", "XCom Demo")
    assert run["triggering_user_name"] == "user"
    got = api.client.get("/api/v2/dags/xcom_demo/dagRuns/manual_1", headers=api.headers("viewer"))
    assert got.json() == run
    listed = api.client.get("/api/v2/dags/xcom_demo/dagRuns", headers=api.headers("viewer")).json()
    assert listed["total_entries"] == 3
    assert [x["dag_run_id"] for x in listed["dag_runs"]] == ["run_1", "run_2", "manual_1"]
    # an XCom can now hang off the new run
    r = api.client.post(
        api.xcom_url(dag_run_id="manual_1"), json={"key": "k", "value": 1}, headers=api.headers()
    )
    assert r.status_code == 201


def test_trigger_without_run_id_generates_one(api) -> None:
    r = api.client.post(
        "/api/v2/dags/etl_daily/dagRuns",
        json={"logical_date": "2025-05-05T00:00:00Z"},
        headers=api.headers(),
    )
    # named after run_after (now, when not given), as Airflow names it
    assert r.json()["dag_run_id"] == "manual__" + r.json()["run_after"].replace("Z", "+00:00")
    r = api.client.post(
        "/api/v2/dags/etl_daily/dagRuns", json={"logical_date": None}, headers=api.headers()
    )
    assert r.status_code == 200
    assert r.json()["logical_date"] is None
    assert r.json()["dag_run_id"].startswith("manual__")


def test_dag_run_errors(api) -> None:
    h = api.headers()
    r = api.client.post("/api/v2/dags/nope/dagRuns", json={"logical_date": None}, headers=h)
    assert (r.status_code, r.json()) == (404, {"detail": "Dag with dag_id: 'nope' not found"})
    for body in (
        {"dag_run_id": "run_1", "logical_date": None},
        {"dag_run_id": "fresh", "logical_date": "2025-01-01T00:00:00Z"},
    ):
        r = api.client.post("/api/v2/dags/xcom_demo/dagRuns", json=body, headers=h)
        assert r.status_code == 409
        detail = r.json()["detail"]
        assert {k: detail[k] for k in ("reason", "statement", "orig_error")} == {
            "reason": "Unique constraint violation",
            "statement": "hidden",
            "orig_error": "hidden",
        }
    r = api.client.post("/api/v2/dags/xcom_demo/dagRuns", json={}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "logical_date"]
    r = api.client.post(
        "/api/v2/dags/xcom_demo/dagRuns", json={"logical_date": "2025-01-01T00:00:00"}, headers=h
    )
    assert r.json()["detail"][0]["type"] == "timezone_aware"
    r = api.client.post(
        "/api/v2/dags/xcom_demo/dagRuns", json={"logical_date": None}, headers=api.headers("viewer")
    )
    assert (r.status_code, r.json()) == (403, {"detail": "Forbidden"})
    r = api.client.get("/api/v2/dags/xcom_demo/dagRuns/nope", headers=h)
    assert (r.status_code, r.json()) == (
        404,
        {"detail": "The DagRun with dag_id: `xcom_demo` and run_id: `nope` was not found"},
    )
    r = api.client.get("/api/v2/dags/nope/dagRuns", headers=h)
    assert (r.status_code, r.json()) == (404, {"detail": "The Dag with ID: `nope` was not found"})
    r = api.client.get("/api/v2/dags/~/dagRuns", params={"order_by": "bogus"}, headers=h)
    assert r.status_code == 400


def test_list_dag_runs_of_every_dag(api) -> None:
    r = api.client.get(
        "/api/v2/dags/~/dagRuns", params={"order_by": "-logical_date"}, headers=api.headers()
    )
    assert [x["dag_run_id"] for x in r.json()["dag_runs"]] == ["run_2", "daily_1", "run_1"]


def test_version_and_health_need_no_credentials(api) -> None:
    r = api.client.get("/api/v2/version")
    assert r.json()["version"] == "3.3.2"
    r = api.client.get("/api/v2/monitor/health")
    assert r.json()["metadatabase"] == {"status": "healthy"}
    assert r.json()["scheduler"]["status"] == "unhealthy"


def test_unknown_api_paths_answer_like_airflow(api) -> None:
    r = api.client.get("/api/v2/nothing/here", headers=api.headers())
    assert (r.status_code, r.json()) == (404, {"error": "API route not found"})
    r = api.client.get("/api/v1/dags")
    assert r.status_code == 404
    assert r.json()["error"].startswith("/api/v1 has been removed in Airflow 3")


def test_trailing_slash_is_not_redirected(api) -> None:
    r = api.client.get("/api/v2/version/", follow_redirects=False)
    assert (r.status_code, r.json()) == (404, {"error": "API route not found"})


def test_all_admins_login_routes_are_403(api) -> None:
    for path in ("/auth/token", "/auth/token/login"):
        r = api.client.get(path, follow_redirects=False)
        assert r.status_code == 403
        assert "simple_auth_manager_all_admins" in r.json()["detail"]


def test_dag_run_list_has_airflow_paging_fields(api) -> None:
    r = api.client.get("/api/v2/dags/xcom_demo/dagRuns", headers=api.headers())
    body = r.json()
    assert list(body) == [
        "dag_runs",
        "total_entries",
        "total_entries_limit",
        "next_cursor",
        "previous_cursor",
    ]
    assert (body["total_entries_limit"], body["next_cursor"], body["previous_cursor"]) == (
        None,
        None,
        None,
    )
