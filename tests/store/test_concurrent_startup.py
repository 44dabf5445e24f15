"""Processes that start on one fresh database at the same time take turns: concurrent
``db migrate``, manifest loads and secret creation all succeed, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from xcomkit.store.db import HEAD_REVISION, make_engine

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "examples" / "demo_dags.yaml"
#: Imports everything, says it is ready, waits for the go file, then starts as a server
#: does: migrate if needed, load the manifest, read or create the signing secret.
STARTUP = """
import sys, time
from pathlib import Path
from xcomkit.cli import _engine, _settings
from xcomkit.manifest import load_manifest, read_manifest
from xcomkit.server.app import jwt_secret
from xcomkit.store.db import migrate
import alembic.command, alembic.script
url, dags, go, mode = sys.argv[1:]
settings = _settings(url)
Path(go + "." + str(__import__("os").getpid())).touch()
while not Path(go).exists():
    time.sleep(0.001)
if mode == "migrate":
    from xcomkit.store.db import make_engine
    migrate(make_engine(url))
else:
    engine = _engine(settings)
    load_manifest(engine, read_manifest(Path(dags)))
    print(jwt_secret(settings, engine))
"""
RACERS = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path, pg_database) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    return pg_database("fresh_")


def run_together(url: str, mode: str, tmp_path: Path) -> list[subprocess.CompletedProcess[str]]:
    """Start :data:`RACERS` processes, release them at one instant, collect them."""
    go = tmp_path / "go"
    argvs = [[sys.executable, "-c", STARTUP, url, str(EXAMPLE_DAGS), str(go), mode]] * RACERS
    procs = [
        subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for a in argvs
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.*"))) < RACERS and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = []
    for p, a in zip(procs, argvs, strict=True):
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(a, p.returncode, out, err))
    return results


def test_migrations_at_once_all_succeed(fresh_url, tmp_path) -> None:
    results = run_together(fresh_url, "migrate", tmp_path)
    assert [r.returncode for r in results] == [0] * RACERS, [r.stderr[-500:] for r in results]
    engine = make_engine(fresh_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
            (HEAD_REVISION,)
        ]
    engine.dispose()


def test_servers_starting_together_share_schema_manifest_and_secret(fresh_url, tmp_path) -> None:
    results = run_together(fresh_url, "serve", tmp_path)
    assert [r.returncode for r in results] == [0] * RACERS, [r.stderr[-500:] for r in results]
    secrets = {r.stdout.strip() for r in results}
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    engine = make_engine(fresh_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dag")).scalar() >= 1
    engine.dispose()
