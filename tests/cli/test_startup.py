"""The ``xcomkit xcom`` commands start without the database side of xcomkit."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_module_imports_no_database_or_settings_library() -> None:
    """SQLAlchemy, pydantic-settings and the store are imported by the commands that use
    them, so ``xcomkit xcom ...`` (and export/import, timed start-up included) starts fast."""
    code = (
        "import sys, xcomkit.cli, xcomkit.shell.transfer; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic', 'pydantic_settings', 'uvicorn', 'fastapi') "
        "or m.startswith(('xcomkit.store', 'xcomkit.server.app', 'xcomkit.service'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
