"""examples/seed_example.py (the seed's code, official client) against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_example.py"


def test_seed_example_prints_created_listed_fetched_updated(live_server) -> None:
    env = {
        **os.environ,
        "XCOMKIT_URL": live_server.base_url,
        "ACCESS_TOKEN": live_server.token("admin"),
        "DAG_RUN_ID": "run_1",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for call in ("create_xcom_entry", "get_xcom_entries", "get_xcom_entry", "update_xcom_entry"):
        assert f"The response of XComApi->{call}:" in out
    assert "value={'rows': 3, 'path': 's3://b/k'}" in out
    assert "value={'rows': 4, 'path': 's3://b/k2'}" in out
    assert "XComApi->delete_xcom_entry: deleted" in out
