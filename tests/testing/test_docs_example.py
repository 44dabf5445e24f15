"""docs/testing.md's complete example passes under plain ``pytest`` outside the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "testing.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (example,) = [b for b in blocks if b.startswith("# test_my_xcoms.py")]
    return example


def test_docs_example_passes_under_plain_pytest_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "test_my_xcoms.py").write_text(_example())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XCOMKIT_", "PYTEST_"))}
    pytest_bin = Path(sys.executable).parent / "pytest"
    result = subprocess.run(
        [str(pytest_bin), "-p", "no:cacheprovider", "test_my_xcoms.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    # Nothing of the repository is used: the rootdir is the temporary directory.
    assert f"rootdir: {tmp_path}\n" in result.stdout


def test_the_plugin_is_registered_through_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_fixtures.py").write_text("def test_nothing(): pass\n")
    pytest_bin = Path(sys.executable).parent / "pytest"
    result = subprocess.run(
        [str(pytest_bin), "--fixtures", "-p", "no:cacheprovider", "test_fixtures.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for name in (
        "xcomkit_server",
        "xcomkit_session_server",
        "xcomkit_manifest",
        "xcomkit_session_manifest",
        "xcomkit_asgi",
    ):
        assert f"{name} " in result.stdout or f"{name}\n" in result.stdout, name


ASGI_ONLY = """
import threading


def test_blocking(xcomkit_asgi):
    with xcomkit_asgi.client() as client:
        r = client.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries")
        assert r.json() == {"xcom_entries": [], "total_entries": 0}
    assert not [t for t in threading.enumerate() if t.name == "xcomkit"]  # no server thread
"""


def test_a_session_using_only_the_asgi_fixture_opens_no_port(tmp_path: Path) -> None:
    (tmp_path / "test_asgi_only.py").write_text(ASGI_ONLY)
    pytest_bin = Path(sys.executable).parent / "pytest"
    result = subprocess.run(
        [str(pytest_bin), "-q", "-p", "no:cacheprovider", "test_asgi_only.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
