"""A kept login (``xcomkit login --keep-password``) renews an expired token; without one,
an expired token is answered with the command to run."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Xk
from xcomkit.shell import remote
from xcomkit.testing import XComkitServer

PASSWORD = "admin-password"


def _kept(server: XComkitServer) -> dict[str, str]:
    kept = remote.load_token(server.base_url)
    assert kept is not None
    return kept


def _count_logins(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the user of every ``remote.login`` call (the real call still happens)."""
    calls: list[str] = []
    real = remote.login

    def counting(api_url: str, username: str, password: str, **kwargs: object) -> str:
        calls.append(username)
        return real(api_url, username, password, **kwargs)

    monkeypatch.setattr(remote, "login", counting)
    return calls


def _expired(server: XComkitServer) -> str:
    return str(server.app.state.ctx.tokens.issue("admin", "admin", expiration_seconds=-5))


def _foreign(server: XComkitServer) -> str:
    """A token whose ``exp`` is an hour ahead but whose signature the server refuses."""
    good = str(server.app.state.ctx.tokens.issue("admin", "admin", expiration_seconds=3600))
    head, payload, signature = good.split(".")
    return f"{head}.{payload}.{signature[::-1]}"


def test_login_keep_password_keeps_it_0600_and_a_plain_login_drops_it(
    xcomkit_server: XComkitServer, xk: Xk
) -> None:
    url = xcomkit_server.base_url
    r = xk("login", "--api-url", url, "-u", "admin", "--keep-password", input=PASSWORD + "\n")
    assert r.exit_code == 0, r.stderr
    path = remote.token_path(url)
    assert r.stdout == f"logged in to {url} as admin; token and password kept in {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["password"] == PASSWORD
    r = xk("login", "--api-url", url, "-u", "admin", input=PASSWORD + "\n")
    assert r.stdout == f"logged in to {url} as admin; token kept in {path}\n"
    assert "password" not in json.loads(path.read_text())


def test_an_expired_token_is_renewed_from_the_kept_login(
    xcomkit_server: XComkitServer, xk: Xk, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = xcomkit_server.base_url
    expired = _expired(xcomkit_server)
    remote.save_token(url, "admin", expired, PASSWORD)
    logins = _count_logins(monkeypatch)
    r = xk("xcom", "set", "xcom_demo", "run_1", "extract", "k", "7", "--api-url", url)
    assert r.exit_code == 0, r.stderr
    assert logins == ["admin"]
    kept = _kept(xcomkit_server)
    assert kept["token"] != expired
    assert (remote.token_expiry(kept["token"]) or 0) > time.time()
    assert kept["password"] == PASSWORD  # still kept for the next renewal
    r = xk("xcom", "get", "xcom_demo", "run_1", "extract", "k", "-o", "plain", "--api-url", url)
    assert (r.exit_code, r.stdout) == (0, "7\n")
    assert logins == ["admin"]  # the renewed token is used as is


def test_a_token_that_is_about_to_expire_is_renewed_before_the_command(
    xcomkit_server: XComkitServer, xk: Xk, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = xcomkit_server.base_url
    soon = str(xcomkit_server.app.state.ctx.tokens.issue("admin", "admin", expiration_seconds=30))
    remote.save_token(url, "admin", soon, PASSWORD)
    logins = _count_logins(monkeypatch)
    assert xk("xcom", "list", "~", "--api-url", url).exit_code == 0
    assert logins == ["admin"]
    assert _kept(xcomkit_server)["token"] != soon


def test_a_token_refused_during_an_export_is_renewed_once_for_all_requests(
    xcomkit_server: XComkitServer, xk: Xk, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = xcomkit_server.base_url
    with xcomkit_server.xcom_client() as client:
        for i in range(40):
            client.push("xcom_demo", "run_1", "extract", f"k{i:02}", i)
    remote.save_token(url, "admin", _foreign(xcomkit_server), PASSWORD)
    logins = _count_logins(monkeypatch)
    r = xk("xcom", "export", "xcom_demo", "--workers", "16", "--api-url", url)
    assert r.exit_code == 0, r.stderr
    assert [json.loads(line)["value"] for line in r.stdout.splitlines()] == list(range(40))
    assert logins == ["admin"]


def test_an_expired_token_without_a_kept_password_says_what_to_run(
    xcomkit_server: XComkitServer, xk: Xk
) -> None:
    url = xcomkit_server.base_url
    remote.save_token(url, "admin", _expired(xcomkit_server))
    r = xk("xcom", "list", "~", "--api-url", url)
    assert r.exit_code == 3
    assert r.stderr == (
        f"error: the token for {url} (user admin) has expired; run: xcomkit login "
        f"--api-url {url} (add --keep-password to have it renewed)\n"
    )


def test_a_refused_renewal_is_one_line_exit_3_and_tried_once(
    xcomkit_server: XComkitServer, xk: Xk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = xcomkit_server.base_url
    remote.save_token(url, "admin", _expired(xcomkit_server), "changed-since")
    logins = _count_logins(monkeypatch)
    r = xk("xcom", "list", "~", "--api-url", url)
    assert r.exit_code == 3
    assert r.stderr == (
        f"error: the token for {url} (user admin) has expired and renewing it failed: "
        f"POST /auth/token: 401 Invalid credentials; run: xcomkit login --api-url {url}\n"
    )
    assert logins == ["admin"]

    # Refused during an import: the first line reports the failed renewal, the others the
    # refused token; the login is tried once, not once per line.
    remote.save_token(url, "admin", _foreign(xcomkit_server), "changed-since")
    lines = [
        json.dumps({"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "t", "key": k, "value": 1})
        for k in "abc"
    ]
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n")
    r = xk("xcom", "import", str(tmp_path / "x.jsonl"), "--workers", "1", "--api-url", url)
    assert r.exit_code == 3
    assert r.stdout == "created 0, updated 0, skipped 0, failed 3\n"
    messages = r.stderr.splitlines()
    assert messages[0].startswith("line 1: the token for ")
    assert "renewing it failed: POST /auth/token: 401 Invalid credentials" in messages[0]
    assert [m.split(":")[0] for m in messages[1:]] == ["line 2", "line 3"]
    assert all(
        ": 403 Invalid JWT token — " in m and "run: xcomkit login" in m for m in messages[1:]
    )
    assert logins == ["admin", "admin"]  # one per command
