"""Browser-test fixtures: a real uvicorn serving xcomkit on a free loopback port with a
fresh SQLite database, and Debian's chromium driven headless by Playwright for Python.

Where chromium (``/usr/bin/chromium``, or ``XCOMKIT_CHROMIUM``) or Playwright is missing,
the browser tests are skipped with a reason saying so (``make test`` prints it).
Screenshots go to a temporary folder, or to ``XCOMKIT_UI_SCREENSHOTS`` when set (the
ones in docs/ui.md are made with ``XCOMKIT_UI_SCREENSHOTS=docs/img``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    TEST_SECRET,
    XCOM_BASE,
    password_for,
    prepare_database,
    serve_in_thread,
)
from xcomkit.server.app import create_app
from xcomkit.server.auth.tokens import TokenService
from xcomkit.settings import Settings

CHROMIUM = os.environ.get("XCOMKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "browser tests skipped: Playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).is_file():
        return (
            f"browser tests skipped: no chromium at {CHROMIUM} "
            "(apt-get install -y chromium, or set XCOMKIT_CHROMIUM)"
        )
    return None


@dataclass
class UiServer:
    """xcomkit under uvicorn, with helpers to reach its API directly."""

    base_url: str
    tokens: TokenService

    def token(self, role: str, *, expiration_seconds: int | None = None) -> str:
        """A token for the user named ``role`` signed with the server's secret."""
        return self.tokens.issue(role, role, expiration_seconds=expiration_seconds)

    def api(self, role: str = "admin") -> httpx.Client:
        """An httpx client for the API, logged in as ``role``."""
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token(role)}"}
        )

    def xcom_url(self, dag_id: str, run_id: str, task_id: str, key: str | None = None) -> str:
        url = XCOM_BASE.format(dag_id=dag_id, dag_run_id=run_id, task_id=task_id)
        return url if key is None else f"{url}/{key}"


@contextlib.contextmanager
def serve(path: Path, password_hashes: dict[str, str], *, auth: bool = True) -> Iterator[UiServer]:
    """A fresh database at ``path`` (the test manifest, one user per role) under uvicorn."""
    url = f"sqlite:///{path}"
    engine = prepare_database(url, password_hashes)
    settings = Settings(db=url, jwt_secret=TEST_SECRET, auth=auth)
    app = create_app(settings, engine=engine)
    with serve_in_thread(app) as base_url:
        yield UiServer(base_url=base_url, tokens=TokenService(TEST_SECRET, expiration_seconds=3600))
    engine.dispose()


@pytest.fixture(scope="module")
def ui_server(
    tmp_path_factory: pytest.TempPathFactory, password_hashes: dict[str, str]
) -> Iterator[UiServer]:
    """xcomkit with authentication on, for the module's tests."""
    with serve(tmp_path_factory.mktemp("ui") / "xcomkit.db", password_hashes) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium (module-scoped; every test gets its own context)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, ui_server: UiServer) -> Iterator[Any]:
    """A fresh page (own sessionStorage) whose console errors fail the test."""
    context = browser.new_context(viewport={"width": 1100, "height": 760}, locale="en-US")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    yield pg
    context.close()
    assert errors == [], errors


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go (``XCOMKIT_UI_SCREENSHOTS`` or a temporary folder)."""
    target = os.environ.get("XCOMKIT_UI_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_in(page: Any, base_url: str, role: str, start: str = "/") -> None:
    """Open ``start`` and log in as the user named ``role`` through the login form."""
    page.goto(base_url + start)
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(password_for(role))
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for()
    page.locator('main h1:not(:text-is("Log in"))').wait_for()
