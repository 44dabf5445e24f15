"""The garbage collector paused while a process starts (xcomkit.collector, docs/performance.md)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from xcomkit import cli, collector


@pytest.fixture(autouse=True)
def _collector_as_found() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    collector.resume()
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:  # pragma: no cover - pytest runs with the collector on
        gc.disable()


def test_pause_disables_and_resume_enables_again() -> None:
    gc.enable()
    collector.pause()
    assert (gc.isenabled(), collector.paused()) == (False, True)
    collector.pause()  # twice: still one pause
    collector.resume()
    assert (gc.isenabled(), collector.paused()) == (True, False)


def test_a_collector_disabled_by_the_process_stays_disabled() -> None:
    gc.disable()
    collector.pause()
    assert collector.paused() is False
    collector.resume()
    assert gc.isenabled() is False
    collector.resume(freeze=True)
    assert (gc.isenabled(), gc.get_freeze_count()) == (False, 0)


def test_resume_with_freeze_moves_the_objects_made_so_far_out_of_collection() -> None:
    gc.enable()
    collector.pause()
    collector.resume(freeze=True)
    assert gc.isenabled() is True
    assert gc.get_freeze_count() > 1000  # this process's modules, at least


def test_a_command_runs_with_the_collector_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``main()`` pauses the collector while it builds and parses the command line; the
    command itself (here ``db migrate``) runs with it on, and it is on afterwards."""
    from xcomkit.store import db as store_db

    seen: list[bool] = []
    real = store_db.migrate

    def migrate(engine: object) -> None:
        seen.append(gc.isenabled())
        real(engine)  # type: ignore[arg-type]

    monkeypatch.setattr(store_db, "migrate", migrate)
    monkeypatch.setattr(
        "sys.argv", ["xcomkit", "db", "migrate", "--db", f"sqlite:///{tmp_path}/m.db"]
    )
    gc.enable()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    assert seen == [True]
    assert gc.isenabled() is True


def test_serve_resumes_the_collector_when_it_stops_before_serving(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    gc.enable()
    result = CliRunner().invoke(cli.app, ["serve", "--db", "not a url", "--port", "0"])
    assert result.exit_code == 2
    assert (gc.isenabled(), collector.paused()) == (True, False)
