"""The seed's example code with only its import lines switched to xcomkit.client.

examples/seed_example.py is the XComApi page's code written for the official client;
here every ``airflow_client.client`` becomes ``xcomkit.client`` and nothing else changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_example.py"


def run_example(path: Path, live_server: Any) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "XCOMKIT_URL": live_server.base_url,
        "ACCESS_TOKEN": live_server.token("admin"),
        "DAG_RUN_ID": "run_1",
    }
    return subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60
    )


def test_seed_example_runs_with_only_the_import_changed(live_server: Any, tmp_path: Path) -> None:
    source = EXAMPLE.read_text()
    assert "airflow_client.client" in source
    switched = tmp_path / "seed_example_xcomkit.py"
    switched.write_text(source.replace("airflow_client.client", "xcomkit.client"))

    ours = run_example(switched, live_server)
    assert ours.returncode == 0, ours.stderr
    theirs = run_example(EXAMPLE, live_server)
    assert theirs.returncode == 0, theirs.stderr

    for call in ("create_xcom_entry", "get_xcom_entries", "get_xcom_entry", "update_xcom_entry"):
        assert f"The response of XComApi->{call}:" in ours.stdout
    assert "value={'rows': 3, 'path': 's3://b/k'}" in ours.stdout
    assert "value={'rows': 4, 'path': 's3://b/k2'}" in ours.stdout
    assert "XComApi->delete_xcom_entry: deleted" in ours.stdout
    assert "XComResponseNative(dag_display_name='XCom Demo'" in ours.stdout
    assert "XComCollectionResponse(total_entries=" in ours.stdout
