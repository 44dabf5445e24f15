"""CLI tests: ``xcomkit`` run in-process (CliRunner) against the plugin's live server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xcomkit.cli import app
from xcomkit.testing import XComkitServer


@dataclass
class Run:
    """What one ``xcomkit`` invocation did."""

    exit_code: int
    stdout: str
    stderr: str


Xk = Callable[..., Run]


@pytest.fixture(autouse=True)
def _logging_config_stays_put(monkeypatch: pytest.MonkeyPatch) -> None:
    """``xcomkit users ...`` configures logging for its own process (``dictConfig``) to
    write its audit record. Run in-process here, that would leave handlers on streams
    CliRunner closes, which the in-process test server's audit records then hit."""
    import logging.config

    monkeypatch.setattr(logging.config, "dictConfig", lambda _config: None)


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config directory (``$XDG_CONFIG_HOME``) for kept tokens."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("XCOMKIT_API_URL", raising=False)
    return home


@pytest.fixture
def xk(config_home: Path) -> Xk:
    """Run ``xcomkit ARGS`` in-process; ``input`` feeds standard input."""

    def run(*args: str, input: str | None = None) -> Run:
        result = CliRunner().invoke(app, list(args), input=input)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def logged_in(xcomkit_server: XComkitServer, xk: Xk, monkeypatch: pytest.MonkeyPatch) -> Xk:
    """``xk`` after ``xcomkit login`` to the test server, chosen by ``$XCOMKIT_API_URL``."""
    r = xk(
        "login",
        "--api-url",
        xcomkit_server.base_url,
        "--username",
        xcomkit_server.username,
        input=xcomkit_server.password + "\n",
    )
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("XCOMKIT_API_URL", xcomkit_server.base_url)
    return xk
