"""``xcomkit login`` and ``xcomkit xcom list|get|set|delete`` against a live xcomkit."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import yaml

from tests.cli.conftest import Xk
from xcomkit.shell import remote
from xcomkit.testing import XComkitServer

BIG = 123456789012345678901234567890
ADDR = ("xcom_demo", "run_1", "extract")


def test_login_keeps_a_0600_token_per_api_url(
    xcomkit_server: XComkitServer, xk: Xk, config_home: Path
) -> None:
    r = xk(
        "login",
        "--api-url",
        xcomkit_server.base_url + "/",
        "-u",
        "admin",
        input="admin-password\n",
    )
    assert r.exit_code == 0, r.stderr
    path = remote.token_path(xcomkit_server.base_url)
    assert str(path).startswith(str(config_home / "xcomkit" / "tokens"))
    assert r.stdout == (f"logged in to {xcomkit_server.base_url} as admin; token kept in {path}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    kept = json.loads(path.read_text())
    assert kept["api_url"] == xcomkit_server.base_url
    assert kept["username"] == "admin"
    other = remote.token_path("http://127.0.0.1:1")
    assert other != path


def test_token_file_is_never_wider_than_0600_even_with_a_lax_umask(
    xcomkit_server: XComkitServer, config_home: Path
) -> None:
    old = os.umask(0)
    try:
        path = remote.save_token(xcomkit_server.base_url, "admin", "t1")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path = remote.save_token(xcomkit_server.base_url, "admin", "t2")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert remote.load_token(xcomkit_server.base_url)["token"] == "t2"  # type: ignore[index]
    finally:
        os.umask(old)


def test_login_refused_is_exit_3(xcomkit_server: XComkitServer, xk: Xk) -> None:
    r = xk("login", "--api-url", xcomkit_server.base_url, "-u", "admin", input="wrong\n")
    assert r.exit_code == 3
    assert r.stderr == "error: POST /auth/token: 401 Invalid credentials\n"
    assert not remote.token_path(xcomkit_server.base_url).exists()


def test_not_logged_in_is_exit_3_with_what_to_run(xcomkit_server: XComkitServer, xk: Xk) -> None:
    r = xk("xcom", "list", "~", "--api-url", xcomkit_server.base_url)
    assert r.exit_code == 3
    assert r.stderr == (
        f"error: not logged in to {xcomkit_server.base_url}; "
        f"run: xcomkit login --api-url {xcomkit_server.base_url}\n"
    )


def test_expired_token_is_exit_3_with_what_to_run(xcomkit_server: XComkitServer, xk: Xk) -> None:
    expired = xcomkit_server.app.state.ctx.tokens.issue("admin", "admin", expiration_seconds=-5)
    remote.save_token(xcomkit_server.base_url, "admin", expired)
    r = xk("xcom", "list", "~", "--api-url", xcomkit_server.base_url)
    assert r.exit_code == 3
    assert "has expired; run: xcomkit login --api-url" in r.stderr


def test_a_token_the_server_refuses_is_exit_3(xcomkit_server: XComkitServer, xk: Xk) -> None:
    remote.save_token(xcomkit_server.base_url, "admin", "not-a-jwt")
    r = xk("xcom", "list", "~", "--api-url", xcomkit_server.base_url)
    assert r.exit_code == 3
    assert r.stderr.startswith(
        "error: GET /api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries: 403"
    )
    assert f"run: xcomkit login --api-url {xcomkit_server.base_url}" in r.stderr


def test_set_get_numbers_stay_numbers_and_big_ints_exact(logged_in: Xk) -> None:
    value = {"n": BIG, "f": 1.5, "s": "12", "none": None, "list": [1, "a", True]}
    r = logged_in("xcom", "set", *ADDR, "k", json.dumps(value), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["value"] == value
    r = logged_in("xcom", "get", *ADDR, "k", "-o", "json")
    assert r.exit_code == 0
    entry = json.loads(r.stdout)
    assert entry["value"] == value
    assert str(BIG) in r.stdout
    assert {k: entry[k] for k in ("dag_id", "run_id", "task_id", "map_index", "key")} == {
        "dag_id": "xcom_demo",
        "run_id": "run_1",
        "task_id": "extract",
        "map_index": -1,
        "key": "k",
    }
    r = logged_in("xcom", "get", *ADDR, "k", "-o", "plain")
    assert r.stdout == json.dumps(value, separators=(",", ":")) + "\n"
    r = logged_in("xcom", "get", *ADDR, "k", "-o", "yaml")
    assert yaml.safe_load(r.stdout)["value"] == value
    r = logged_in("xcom", "get", *ADDR, "k")  # table
    assert r.exit_code == 0
    assert str(BIG) in r.stdout


def test_plain_prints_a_string_as_is_and_string_flag_keeps_text(logged_in: Xk) -> None:
    r = logged_in("xcom", "set", *ADDR, "text", "12", "--string")
    assert r.exit_code == 0, r.stderr
    assert logged_in("xcom", "get", *ADDR, "text", "-o", "plain").stdout == "12\n"
    r = logged_in("xcom", "get", *ADDR, "text", "-o", "json")
    assert json.loads(r.stdout)["value"] == "12"
    r = logged_in("xcom", "get", *ADDR, "text", "--deserialize", "-o", "json")
    assert json.loads(r.stdout)["value"] == 12
    r = logged_in("xcom", "set", *ADDR, "num", "12")
    assert json.loads(logged_in("xcom", "get", *ADDR, "num", "-o", "json").stdout)["value"] == 12
    r = logged_in("xcom", "get", *ADDR, "num", "--stringify", "-o", "json")
    assert json.loads(r.stdout)["value"] == "12"


def test_set_from_file_and_stdin(logged_in: Xk, tmp_path: Path) -> None:
    f = tmp_path / "v.json"
    f.write_text('{"from": "file"}')
    assert logged_in("xcom", "set", *ADDR, "f", "--file", str(f)).exit_code == 0
    r = logged_in("xcom", "set", *ADDR, "s", "--file", "-", input="[1, 2]")
    assert r.exit_code == 0, r.stderr
    assert logged_in("xcom", "get", *ADDR, "f", "-o", "plain").stdout == '{"from":"file"}\n'
    assert logged_in("xcom", "get", *ADDR, "s", "-o", "plain").stdout == "[1,2]\n"


def test_set_usage_errors_are_exit_2(logged_in: Xk, tmp_path: Path) -> None:
    r = logged_in("xcom", "set", *ADDR, "k", "not json")
    assert r.exit_code == 2
    assert "the value is not JSON" in r.stderr and "--string" in r.stderr
    r = logged_in("xcom", "set", *ADDR, "k")
    assert r.exit_code == 2
    assert r.stderr == "error: give either VALUE or --file (- for standard input)\n"
    r = logged_in("xcom", "set", *ADDR, "k", "--file", str(tmp_path / "missing"))
    assert r.exit_code == 2
    assert "cannot read" in r.stderr
    r = logged_in("xcom", "get", *ADDR, "k", "--stringify", "--deserialize")
    assert r.exit_code == 2
    r = logged_in("xcom", "get", *ADDR)
    assert r.exit_code == 2
    assert "Missing argument 'KEY'" in r.stderr or "Missing argument 'key'" in r.stderr


def test_conflict_is_exit_4_and_overwrite_updates(logged_in: Xk) -> None:
    assert logged_in("xcom", "set", *ADDR, "c", "1").exit_code == 0
    r = logged_in("xcom", "set", *ADDR, "c", "2")
    assert r.exit_code == 4
    assert r.stderr == (
        "error: XCom 'c' of xcom_demo/run_1/extract (map_index -1) exists; "
        "add --overwrite to update it\n"
    )
    r = logged_in("xcom", "set", *ADDR, "c", "2", "--overwrite", "-o", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["value"] == 2


def test_not_found_is_exit_1_with_the_servers_detail(logged_in: Xk) -> None:
    r = logged_in("xcom", "get", *ADDR, "missing")
    assert r.exit_code == 1
    assert r.stderr == (
        "error: GET /api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries/"
        "missing: 404 XCom entry with key: `missing` not found\n"
    )
    r = logged_in("xcom", "delete", *ADDR, "missing")
    assert r.exit_code == 1
    r = logged_in("xcom", "set", "nope", "run_1", "extract", "k", "1")
    assert r.exit_code == 1
    assert "404" in r.stderr and "nope" in r.stderr


def test_422_is_exit_2_with_the_detail(logged_in: Xk) -> None:
    r = logged_in("xcom", "set", *ADDR, "k", "1", "--map-index", "-5")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: POST ") and ": 422 " in r.stderr
    assert "map_index" in r.stderr


def test_delete(logged_in: Xk) -> None:
    logged_in("xcom", "set", *ADDR, "d", "1", "--map-index", "3")
    r = logged_in("xcom", "delete", *ADDR, "d", "--map-index", "3")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "deleted XCom 'd' of xcom_demo/run_1/extract (map_index 3)\n"
    assert logged_in("xcom", "get", *ADDR, "d", "--map-index", "3").exit_code == 1


def test_keys_with_slashes_and_odd_characters(logged_in: Xk) -> None:
    key = "a/b c?d#e%f"
    assert logged_in("xcom", "set", *ADDR, key, '"x"').exit_code == 0
    assert logged_in("xcom", "get", *ADDR, key, "-o", "plain").stdout == "x\n"
    assert logged_in("xcom", "delete", *ADDR, key).exit_code == 0


def test_list_formats_filters_and_paging(xcomkit_server: XComkitServer, logged_in: Xk) -> None:
    with xcomkit_server.xcom_client() as client:
        for i in range(105):
            client.push(*ADDR, f"k{i:03}", i)
    logged_in("xcom", "set", "xcom_demo", "run_1", "load", "other", "1")
    r = logged_in("xcom", "list", "xcom_demo", "-o", "json")
    page = json.loads(r.stdout)
    assert page["total_entries"] == 106
    assert len(page["xcom_entries"]) == 50  # the server's default page
    r = logged_in("xcom", "list", "xcom_demo", "--all", "-o", "json")
    everything = json.loads(r.stdout)
    assert everything["total_entries"] == 106
    assert len({(e["task_id"], e["key"]) for e in everything["xcom_entries"]}) == 106
    r = logged_in("xcom", "list", "xcom_demo", "run_1", "load", "-o", "plain")
    assert r.stdout.splitlines() == [
        "xcom_demo\trun_1\tload\t-1\tother\t" + r.stdout.split("\t")[-1].strip()
    ]
    r = logged_in("xcom", "list", "~", "--key", "k007", "-o", "json")
    assert [e["key"] for e in json.loads(r.stdout)["xcom_entries"]] == ["k007"]
    r = logged_in("xcom", "list", "~", "--key-pattern", "k10%", "--order-by", "-key", "-o", "json")
    assert [e["key"] for e in json.loads(r.stdout)["xcom_entries"]] == [
        "k104",
        "k103",
        "k102",
        "k101",
        "k100",
    ]
    r = logged_in("xcom", "list", "~", "--task-id-pattern", "loa%", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 1
    r = logged_in("xcom", "list", "~", "--limit", "2", "--offset", "3", "-o", "json")
    assert [e["key"] for e in json.loads(r.stdout)["xcom_entries"]] == ["k003", "k004"]
    r = logged_in("xcom", "list", "~", "--run-after-gte", "2100-01-01", "-o", "json")
    assert json.loads(r.stdout) == {"xcom_entries": [], "total_entries": 0}
    r = logged_in("xcom", "list", "~", "--logical-date-gte", "2025-01-02", "-o", "yaml")
    assert yaml.safe_load(r.stdout)["total_entries"] == 106
    r = logged_in("xcom", "list", "~", "--logical-date-lte", "2025-01-01T12:00:00+00:00")
    assert r.exit_code == 0 and "xcom_demo" not in r.stdout
    r = logged_in("xcom", "list", "~", "--run-after-gt", "2025-01-02", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 0  # run_1's run_after is 2025-01-02
    r = logged_in("xcom", "list", "~", "--run-after-lt", "2025-01-02T00:00:01Z", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 106
    r = logged_in("xcom", "list", "~", "--logical-date-gt", "2025-01-01", "--logical-date-lt",
                  "2025-01-03", "--run-after-gte", "2025-01-02", "-o", "json")  # fmt: skip
    assert json.loads(r.stdout)["total_entries"] == 106
    r = logged_in("xcom", "list", "~", "--dag-display-name-prefix", "XCom", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 106
    r = logged_in("xcom", "list", "~", "--dag-display-name-pattern", "nothing", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 0
    r = logged_in("xcom", "list", "~", "--run-id-prefix", "run_", "--task-id-prefix", "lo",
                  "--key-prefix", "oth", "--map-index-filter", "-1", "-o", "json")  # fmt: skip
    assert [e["key"] for e in json.loads(r.stdout)["xcom_entries"]] == ["other"]
    r = logged_in("xcom", "list", "~", "--run-id-pattern", "manual%", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 0
    r = logged_in("xcom", "list", "~", "--map-index", "0", "-o", "json")
    assert json.loads(r.stdout)["total_entries"] == 0
    r = logged_in("xcom", "list", "xcom_demo", "--key", "other")
    assert r.exit_code == 0
    assert "other" in r.stdout and "run_1" in r.stdout  # the table


def test_unreachable_server_is_exit_5(xk: Xk) -> None:
    remote.save_token("http://127.0.0.1:9", "admin", "x")
    r = xk("xcom", "list", "~", "--api-url", "http://127.0.0.1:9")
    assert r.exit_code == 5
    assert r.stderr.startswith("error: cannot reach http://127.0.0.1:9: ")
    assert len(r.stderr.splitlines()) == 1
    r = xk("login", "--api-url", "http://127.0.0.1:9", "-u", "a", input="pw\n")
    assert r.exit_code == 5


def test_bad_api_url_is_exit_2(xk: Xk) -> None:
    r = xk("xcom", "list", "~", "--api-url", "localhost:8080")
    assert r.exit_code == 2
    assert r.stderr == "error: --api-url 'localhost:8080' must start with http:// or https://\n"


def test_logout(xcomkit_server: XComkitServer, logged_in: Xk) -> None:
    r = logged_in("logout")
    assert r.stdout == f"logged out of {xcomkit_server.base_url}\n"
    assert not remote.token_path(xcomkit_server.base_url).exists()
    assert logged_in("logout").stdout == f"no token kept for {xcomkit_server.base_url}\n"
    assert logged_in("xcom", "list", "~").exit_code == 3
