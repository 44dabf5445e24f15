"""``xcomkit serve`` imports only what serving needs at start (docs/performance.md, "Start-up").

Each test runs the real serve path in a fresh interpreter, up to the point where uvicorn
has imported :mod:`xcomkit.server.asgi` and built the app (``uvicorn.run`` is replaced by
``Config.load``), and then reads ``sys.modules``. With one worker that interpreter is the
worker, so whatever the CLI imported is carried in the serving process too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from xcomkit.store.db import make_engine, migrate

MANIFEST = Path(__file__).resolve().parents[1] / "data" / "manifest.yaml"

#: Runs ``xcomkit ARGS`` (argv[1:], through the console script's ``main``) with uvicorn.run
#: replaced by loading the app; prints the loaded app's class name, the imported modules
#: and the garbage collector's state once the app was loaded, as JSON.
SERVE = """
import gc, json, sys, uvicorn
loaded = []
def load_only(app, **kwargs):
    config = uvicorn.Config(app, **kwargs)
    config.load()
    loaded.append(type(sys.modules[app.partition(":")[0]].app).__name__)
    loaded.append({
        "gc_enabled": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
        "collections": [g["collections"] for g in gc.get_stats()],
        "collections_before": before,
    })
uvicorn.run = load_only
from xcomkit.cli import main
sys.argv = ["xcomkit", *sys.argv[1:]]
before = [g["collections"] for g in gc.get_stats()]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps({"loaded": loaded, "modules": sorted(sys.modules)}))
"""

#: Top-level packages a server on a current SQLite database, without an object store and
#: without ``--demo``, must not import before its first request, and why each is needed
#: elsewhere.
NOT_AT_START = {
    "alembic": "only to migrate an empty or older schema",
    "argon2": "password hashing, on the first login",
    "fsspec": "object storage, only with --object-store",
    "s3fs": "object storage on S3",
    "zstandard": "compression of offloaded values",
    "httpx": "the CLI's client commands (login, xcom)",
    "pygments": "httpx's command line, through httpx",
    "cryptography": "PyJWT's RSA/EC keys; tokens are HS512",
    "psycopg": "PostgreSQL only",
    "websockets": "WebSocket upgrades (uvicorn's protocol, imported by the first one)",
    "rich": "the CLI's tables, progress bars and marked-up messages; serve prints plain lines",
}
#: Modules (not top-level packages) the same server must not import at start.
MODULES_NOT_AT_START = {
    "sqlalchemy.dialects.postgresql": "SQLAlchemy's PostgreSQL dialect, on SQLite",
}


def serve_modules(*args: str, cwd: Path) -> tuple[list[Any], set[str]]:
    """Run the serve path with ``args``; the loaded app's class and the garbage collector's
    state once it was loaded, and the modules imported."""
    result = subprocess.run(
        [sys.executable, "-c", SERVE, "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    return report["loaded"], set(report["modules"])


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_serve_on_a_current_database_imports_none_of_the_heavy_optional_modules(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'current.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()

    loaded, modules = serve_modules("--db", url, "--dags", str(MANIFEST), cwd=tmp_path)

    assert loaded[0] == "FastAPI"
    assert top_level(modules) & set(NOT_AT_START) == set()
    assert modules & set(MODULES_NOT_AT_START) == set()
    assert not {m for m in modules if m.startswith(("xcomkit.modern", "xcomkit.client"))}


def test_serve_on_an_empty_database_migrates_it_with_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"

    loaded, modules = serve_modules("--db", url, cwd=tmp_path)

    assert loaded[0] == "FastAPI"
    assert "alembic" in top_level(modules)
    assert "yaml" not in top_level(modules)  # no --dags: no manifest to read
    engine = make_engine(url)
    try:
        from xcomkit.store.db import needs_migration

        assert needs_migration(engine) is False
    finally:
        engine.dispose()


def test_serve_demo_hashes_the_admin_password_with_argon2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"

    loaded, modules = serve_modules("--db", url, "--demo", cwd=tmp_path)

    assert loaded[0] == "FastAPI"
    assert "argon2" in top_level(modules)


def test_serve_pauses_the_garbage_collector_until_the_app_is_built(tmp_path: Path) -> None:
    """From the console script's start until the app is built the collector is paused
    (xcomkit.collector); then it runs again, with the objects made so far frozen."""
    url = f"sqlite:///{tmp_path / 'gc.db'}"

    loaded, _ = serve_modules("--db", url, cwd=tmp_path)

    assert loaded[0] == "FastAPI"
    state = loaded[1]
    assert state["collections"] == state["collections_before"]  # none while starting
    assert state["gc_enabled"] is True
    assert state["frozen"] > 50_000
