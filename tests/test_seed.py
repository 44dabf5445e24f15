"""``xcomkit seed``: synthetic DAG runs and XComs that the server reads like any other."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import MANIFEST
from xcomkit.cli import app
from xcomkit.seed import SeedError, seed
from xcomkit.server.app import create_app
from xcomkit.settings import Settings
from xcomkit.store.db import make_engine, migrate
from xcomkit.store.schema import dag_run, xcom


def test_seed_command_fills_the_database_the_api_reads(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(
        app, ["seed", "--xcoms", "1000", "--runs", "10", "--dags", str(MANIFEST), "--db", url]
    )
    assert result.exit_code == 0, result.output
    assert "seeded 10 DAG runs and 1,000 XComs" in result.output
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(xcom)).scalar_one() == 1000
        run_id = conn.execute(
            select(dag_run.c.run_id).where(dag_run.c.run_id.like("seed__%")).limit(1)
        ).scalar_one()
    app_ = create_app(Settings(db=url, jwt_secret="s" * 64), engine=engine)
    with TestClient(app_) as client:
        token = app_.state.ctx.tokens.issue("admin", "admin")
        r = client.get(
            f"/api/v2/dags/~/dagRuns/{run_id}/taskInstances/~/xcomEntries",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200
    assert r.json()["total_entries"] == 100


def test_seed_without_dags_is_a_clear_error(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    migrate(engine)
    with pytest.raises(SeedError, match="DAG"):
        seed(engine, xcoms=10, runs=1)


class _Stop(Exception):
    pass


def _counts_match(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        kept = conn.execute(select(func.coalesce(func.sum(dag_run.c.xcom_count), 0))).scalar_one()
        rows = conn.execute(select(func.count()).select_from(xcom)).scalar_one()
    return kept, rows


def test_an_interrupted_seed_leaves_the_kept_counts_right(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'i.db'}")
    migrate(engine)
    CliRunner().invoke(app, ["dags", "load", str(MANIFEST), "--db", str(engine.url)])

    def stop_after_first_batch(progress) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        seed(engine, xcoms=5000, runs=20, batch_size=1000, progress=stop_after_first_batch)
    kept, rows = _counts_match(engine)
    assert rows == 1000
    assert kept == rows


def test_db_recount_repairs_counts_written_behind_xcomkits_back(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    runner = CliRunner()
    runner.invoke(
        app, ["seed", "--xcoms", "300", "--runs", "3", "--dags", str(MANIFEST), "--db", url]
    )
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(dag_run.update().values(xcom_count=0))
    assert _counts_match(engine) == (0, 300)
    result = runner.invoke(app, ["db", "recount", "--db", url])
    assert result.exit_code == 0, result.output
    assert _counts_match(engine) == (300, 300)
