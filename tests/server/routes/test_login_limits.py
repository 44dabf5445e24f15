"""Failed logins are limited per user name and per client, across workers: 429 with
Retry-After past the limit, checked before the password is."""

from __future__ import annotations

import pytest

from tests.conftest import password_for
from xcomkit.server.app import create_app
from xcomkit.settings import Settings


def login(api, username: str, password: str, path: str = "/auth/token"):
    return api.client.post(path, json={"username": username, "password": password})


def test_user_past_its_failure_limit_gets_429_even_with_the_right_password(make_api) -> None:
    api = make_api(login_failures_per_user=3, login_failures_per_client=0)
    assert [login(api, "user", "wrong").status_code for _ in range(3)] == [401] * 3
    r = login(api, "user", password_for("user"))
    assert r.status_code == 429
    assert r.json() == {"detail": "Too many failed logins; retry later."}
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Another user is not affected, on either login route.
    assert login(api, "viewer", password_for("viewer")).status_code == 201
    assert login(api, "user", "wrong", "/auth/token/cli").status_code == 429


def test_client_past_its_limit_is_refused_for_every_user(make_api) -> None:
    api = make_api(login_failures_per_user=0, login_failures_per_client=4)
    for name in ("a", "b", "c", "d"):
        assert login(api, name, "guess").status_code == 401
    assert login(api, "admin", password_for("admin")).status_code == 429


def test_successful_logins_do_not_count(make_api) -> None:
    api = make_api(login_failures_per_user=2)
    assert {login(api, "op", password_for("op")).status_code for _ in range(5)} == {201}


def test_window_reopens(make_api, monkeypatch) -> None:
    import time as time_module

    api = make_api(login_failures_per_user=1, login_window_seconds=30)
    assert login(api, "op", "wrong").status_code == 401
    assert login(api, "op", password_for("op")).status_code == 429
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 31)
    assert login(api, "op", password_for("op")).status_code == 201


def test_limits_are_shared_by_apps_on_one_database(make_api) -> None:
    """Two apps (as two worker processes would) on one database count together."""
    from fastapi.testclient import TestClient

    api = make_api(login_failures_per_user=2, login_failures_per_client=0)
    settings = Settings(
        db=api.settings.db, jwt_secret=api.settings.jwt_secret, login_failures_per_user=2
    )
    with TestClient(create_app(settings)) as other:
        assert login(api, "user", "wrong").status_code == 401
        r = other.post("/auth/token", json={"username": "user", "password": "wrong"})
        assert r.status_code == 401
        r = other.post("/auth/token", json={"username": "user", "password": password_for("user")})
        assert r.status_code == 429
    assert login(api, "user", password_for("user")).status_code == 429


@pytest.mark.parametrize(
    "body", [{"username": "", "password": "x"}, {"username": "u", "password": ""}]
)
def test_empty_credentials_are_400_and_not_counted(make_api, body) -> None:
    api = make_api(login_failures_per_user=1)
    assert api.client.post("/auth/token", json=body).status_code == 400
    assert login(api, "u", "x").status_code == 401
