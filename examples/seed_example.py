"""The seed's example code (airflow_client.client.XComApi), run against xcomkit.

It is the code from the XComApi page with two changes only: the host, and where the
access token comes from. Run it with the official client after `make serve`:

    .venv/bin/python examples/seed_example.py

Environment: XCOMKIT_URL (default http://127.0.0.1:8080), and ACCESS_TOKEN, or
XCOMKIT_USERNAME/XCOMKIT_PASSWORD (default: the admin password `make serve` saved in
.xcomkit/passwords.json). DAG_ID, DAG_RUN_ID and TASK_ID default to the demo DAG's.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from pprint import pprint

import airflow_client.client
import httpx
from airflow_client.client.models.x_com_create_body import XComCreateBody
from airflow_client.client.models.x_com_update_body import XComUpdateBody

HOST = os.environ.get("XCOMKIT_URL", "http://127.0.0.1:8080")


def access_token() -> str:
    """ACCESS_TOKEN, or a token from POST /auth/token with the demo credentials."""
    if os.environ.get("ACCESS_TOKEN"):
        return os.environ["ACCESS_TOKEN"]
    username = os.environ.get("XCOMKIT_USERNAME", "admin")
    password = os.environ.get("XCOMKIT_PASSWORD")
    if password is None:
        password = json.loads(Path(".xcomkit/passwords.json").read_text())[username]
    r = httpx.post(f"{HOST}/auth/token", json={"username": username, "password": password})
    r.raise_for_status()
    return r.json()["access_token"]


configuration = airflow_client.client.Configuration(host=HOST)
configuration.access_token = access_token()

dag_id = os.environ.get("DAG_ID", "xcom_demo")
dag_run_id = os.environ.get("DAG_RUN_ID", "manual__2025-01-01T00:00:00+00:00")
task_id = os.environ.get("TASK_ID", "extract")
xcom_key = f"seed_example_{uuid.uuid4().hex[:8]}"

with airflow_client.client.ApiClient(configuration) as api_client:
    api_instance = airflow_client.client.XComApi(api_client)

    x_com_create_body = XComCreateBody(key=xcom_key, value={"rows": 3, "path": "s3://b/k"})
    api_response = api_instance.create_xcom_entry(dag_id, task_id, dag_run_id, x_com_create_body)
    print("The response of XComApi->create_xcom_entry:\n")
    pprint(api_response)

    api_response = api_instance.get_xcom_entries(dag_id, dag_run_id, task_id, limit=50, offset=0)
    print("The response of XComApi->get_xcom_entries:\n")
    pprint(api_response)

    api_response = api_instance.get_xcom_entry(dag_id, task_id, dag_run_id, xcom_key, map_index=-1)
    print("The response of XComApi->get_xcom_entry:\n")
    pprint(api_response)

    x_com_update_body = XComUpdateBody(value={"rows": 4, "path": "s3://b/k2"})
    api_response = api_instance.update_xcom_entry(
        dag_id, task_id, dag_run_id, xcom_key, x_com_update_body
    )
    print("The response of XComApi->update_xcom_entry:\n")
    pprint(api_response)

    api_instance.delete_xcom_entry(dag_id, task_id, dag_run_id, xcom_key)
    print(f"XComApi->delete_xcom_entry: deleted {xcom_key!r}")
