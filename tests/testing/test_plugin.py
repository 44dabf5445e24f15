"""The pytest plugin's fixtures, used as a test suite uses them (through the entry point)."""

from __future__ import annotations

import time
from pathlib import Path

import airflow_client.client
import httpx
import pytest
from airflow_client.client.models.x_com_create_body import XComCreateBody

import xcomkit.client
from xcomkit.testing import (
    DEMO_MANIFEST,
    XComkitAsgi,
    XComkitServer,
    create_server,
    start_server,
)

KEY = "plugin_key"

# These tests run in order in one process: some check what an earlier one left on a
# shared server (or that it is gone). `make test` keeps a file on one pytest-xdist
# worker, in order (--dist loadfile).


def test_server_serves_the_demo_dag_with_an_admin_token(xcomkit_server: XComkitServer) -> None:
    assert xcomkit_server.base_url.startswith("http://127.0.0.1:")
    r = httpx.get(
        f"{xcomkit_server.base_url}/api/v2/dags/xcom_demo/dagRuns",
        headers=xcomkit_server.headers,
    )
    assert r.status_code == 200
    assert sorted(run["dag_run_id"] for run in r.json()["dag_runs"]) == [
        "manual__2025-01-01T00:00:00+00:00",
        "run_1",
    ]


def test_admin_can_log_in_with_the_published_password(xcomkit_server: XComkitServer) -> None:
    r = httpx.post(
        f"{xcomkit_server.base_url}/auth/token",
        json={"username": xcomkit_server.username, "password": xcomkit_server.password},
    )
    assert r.status_code == 201
    assert r.json()["access_token"]


def test_official_client_configuration(xcomkit_server: XComkitServer) -> None:
    configuration = xcomkit_server.airflow_client_configuration()
    assert isinstance(configuration, airflow_client.client.Configuration)
    with airflow_client.client.ApiClient(configuration) as api_client:
        api = airflow_client.client.XComApi(api_client)
        api.create_xcom_entry("xcom_demo", "extract", "run_1", XComCreateBody(key=KEY, value=[1]))
        assert api.get_xcom_entry("xcom_demo", "extract", "run_1", KEY).actual_instance.value == [1]


def test_each_test_starts_with_an_empty_store(xcomkit_server: XComkitServer) -> None:
    # The test above wrote KEY through the same shared server; here it is gone.
    with xcomkit_server.xcom_client() as client:
        assert client.list().total_entries == 0
        client.push("xcom_demo", "run_1", "extract", KEY, {"n": 1})
        assert client.list().total_entries == 1


def test_store_is_empty_again(xcomkit_server: XComkitServer) -> None:
    with xcomkit_server.xcom_client() as client:
        assert client.list().total_entries == 0


def test_dropin_client_configuration(xcomkit_server: XComkitServer) -> None:
    configuration = xcomkit_server.xcomkit_client_configuration()
    assert isinstance(configuration, xcomkit.client.Configuration)
    with xcomkit.client.ApiClient(configuration) as api_client:
        api = xcomkit.client.XComApi(api_client)
        assert api.get_xcom_entries("xcom_demo", "run_1", "extract").total_entries == 0


class TestManifestOverride:
    @pytest.fixture
    def xcomkit_manifest(self) -> dict[str, object]:
        return {
            "dags": [{"dag_id": "mine", "tasks": [{"task_id": "t"}]}],
            "runs": [{"dag_id": "mine", "dag_run_id": "r"}],
        }

    def test_serves_the_overriding_manifest(self, xcomkit_server: XComkitServer) -> None:
        with xcomkit_server.xcom_client() as client:
            assert client.push("mine", "r", "t", "k", 5).value == 5
        r = httpx.get(
            f"{xcomkit_server.base_url}/api/v2/dags/xcom_demo/dagRuns",
            headers=xcomkit_server.headers,
        )
        assert r.status_code == 404


class TestManifestPath:
    @pytest.fixture
    def xcomkit_manifest(self, tmp_path: Path) -> Path:
        path = tmp_path / "dags.yaml"
        path.write_text(
            "dags:\n  - dag_id: from_file\n    tasks: [{task_id: a}]\n"
            "runs:\n  - {dag_id: from_file, dag_run_id: r1}\n"
        )
        return path

    def test_serves_a_manifest_file(self, xcomkit_server: XComkitServer) -> None:
        with xcomkit_server.xcom_client() as client:
            assert client.push("from_file", "r1", "a", "k", "v").value == "v"


def test_session_server_keeps_state_between_tests(
    xcomkit_session_server: XComkitServer, xcomkit_server: XComkitServer
) -> None:
    assert xcomkit_session_server.base_url != xcomkit_server.base_url
    with xcomkit_session_server.xcom_client() as client:
        client.push("xcom_demo", "run_1", "extract", "session_key", 1, overwrite=True)


def test_session_server_still_has_it(xcomkit_session_server: XComkitServer) -> None:
    with xcomkit_session_server.xcom_client() as client:
        assert client.pull("xcom_demo", "run_1", "extract", "session_key").value == 1


async def test_asgi_async_client(xcomkit_asgi: XComkitAsgi) -> None:
    async with xcomkit_asgi.async_client() as client:
        url = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/load/xcomEntries"
        r = await client.post(url, json={"key": "k", "value": 12345678901234567890123})
        assert r.status_code == 201
        r = await client.get(f"{url}/k")
        assert r.json()["value"] == 12345678901234567890123


def test_asgi_blocking_client_shares_the_servers_empty_store(
    xcomkit_asgi: XComkitAsgi, xcomkit_server: XComkitServer
) -> None:
    with xcomkit_asgi.client() as client:
        r = client.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries")
        assert r.status_code == 200
        assert r.json() == {"xcom_entries": [], "total_entries": 0}
        r = client.get(
            "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", headers={"Authorization": ""}
        )
        assert r.status_code == 401


def test_start_server_directly(tmp_path: Path) -> None:
    started = time.perf_counter()
    server = start_server(tmp_path, DEMO_MANIFEST)
    elapsed = time.perf_counter() - started
    try:
        print(f"start_server took {elapsed * 1000:.0f} ms")
        r = httpx.get(f"{server.base_url}/api/v2/version")
        assert r.status_code == 200
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/api/v2/version")


def test_a_bad_manifest_is_a_manifest_error(xcomkit_server: XComkitServer) -> None:
    from xcomkit.manifest import ManifestError

    with pytest.raises(ManifestError, match="unknown dag_id 'nope'"):
        xcomkit_server.reset({"dags": [], "runs": [{"dag_id": "nope", "dag_run_id": "r"}]})


def test_asgi_needs_no_port(tmp_path: Path) -> None:
    server = create_server(tmp_path, DEMO_MANIFEST)
    try:
        assert (server.serving, server.base_url) == (False, "")
        with XComkitAsgi(server).client() as client:
            r = client.get("/api/v2/dags/xcom_demo/dagRuns/run_1")
            assert r.status_code == 200
            assert r.json()["dag_run_id"] == "run_1"
        assert server.serving is False
        assert server._thread is None  # no uvicorn thread, no socket
        server.serve()
        assert server.serving and server.base_url.startswith("http://127.0.0.1:")
        server.serve()  # a second call does nothing
        assert httpx.get(f"{server.base_url}/api/v2/version").status_code == 200
    finally:
        server.stop()


def test_a_blocking_asgi_client_leaves_the_shared_app_running(xcomkit_asgi: XComkitAsgi) -> None:
    for _ in range(2):  # the second client works: the first did not shut the app down
        with xcomkit_asgi.client() as client:
            assert client.get("/api/v2/dags/xcom_demo/dagRuns/run_1").status_code == 200
