"""The path a user takes: a real uvicorn, real HTTP, login then the XCom round trip."""

from __future__ import annotations

import uuid

import httpx


def test_login_create_get_over_real_http(live_server) -> None:
    key = f"live-{uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {live_server.token('user')}"}
    base = (
        f"{live_server.base_url}/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/load/xcomEntries"
    )
    with httpx.Client(headers=headers) as http:
        created = http.post(base, json={"key": key, "value": [1, {"a": None}]})
        assert created.status_code == 201, created.text
        got = http.get(f"{base}/{key}")
    assert got.status_code == 200
    assert got.json()["value"] == [1, {"a": None}]
    assert got.json()["task_display_name"] == "load"
