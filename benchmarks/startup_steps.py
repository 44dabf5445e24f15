"""CPU of each step of an ``xcomkit serve`` start, up to and including the first 200.

Each round runs, in a fresh interpreter, the real serve path (``xcomkit.cli.main``, on a
fresh SQLite file with the bench user created first and ``--dags
tests/data/manifest.yaml``, as ``benchmarks/startup.py`` and ``make bench`` start it) with
``time.process_time()`` marked around each step: the CLI module, uvicorn, the command
line, settings, SQLAlchemy, engine and migration check, manifest, FastAPI, PyJWT,
xcomkit's server modules, ``create_app``, uvicorn's start, and one GET of
``/api/v2/monitor/health`` over the bound socket. uvicorn's main loop is skipped, so the
process stops after that answer. An import is counted in the first step that needs it.

``--src NAME=DIR`` (repeatable) runs another source tree (``DIR`` first on
``PYTHONPATH``), interleaved round by round, e.g. the tree before a change:

    git archive <commit> src | tar -x -C /tmp/before
    python benchmarks/startup_steps.py --src before=/tmp/before/src --src after=src

A tree with ``xcomkit.collector`` pauses the garbage collector as ``main()`` does, right
after the CLI module is imported. Prints the median milliseconds of each step per tree
(docs/performance.md, "Start-up and memory"). Numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.run import (  # noqa: E402  (after the sys.path entry above)
    BENCH_USER,
    MANIFEST,
    compile_bytecode,
    free_port,
    xcomkit_bin,
)

#: The child: marks each step, prints {step: CPU ms} as JSON on its last line.
CHILD = r"""
import functools, importlib, json, sys, time
T = time.process_time
marks = [("Python start", T())]
def mark(name): marks.append((name, T()))
import xcomkit.cli as cli
mark("the CLI module (typer)")
try:
    from xcomkit import collector
except ImportError:
    pass  # a tree from before the collector pause
else:
    collector.pause()  # as main() does, once the CLI module is imported
import uvicorn, uvicorn.config, uvicorn.server
mark("uvicorn")

async def no_main_loop(self): return None
uvicorn.server.Server.main_loop = no_main_loop
real_startup = uvicorn.server.Server.startup
async def startup(self, sockets=None):
    import asyncio
    mark("uvicorn: loop and server set-up")
    await real_startup(self, sockets)
    mark("uvicorn start, lifespan, bind")
    reader, writer = await asyncio.open_connection("127.0.0.1", self.config.port)
    writer.write(b"GET /api/v2/monitor/health HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status = await reader.readline()
    assert b" 200 " in status, status
    writer.close()
    mark("first GET /api/v2/monitor/health")
uvicorn.server.Server.startup = startup

def marked(name, label):
    real = getattr(cli, name)
    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        first = label.startswith("settings")
        mark("command line (typer; imports pydantic)" if first else "serve's other steps")
        result = real(*args, **kwargs)
        mark(label)
        return result
    setattr(cli, name, wrapper)
marked("_settings", "settings (pydantic-settings)")
marked("_object_store", "SQLAlchemy, SQLite dialect")
marked("_engine", "engine, migration check")
marked("_load", "manifest: module, YAML, load")

real_import = uvicorn.config.import_from_string
def import_from_string(name):
    if name != "xcomkit.server.asgi:app":
        return real_import(name)
    mark("uvicorn.run up to the app (config, logging, protocols)")
    import fastapi
    mark("FastAPI (the rest of pydantic)")
    importlib.import_module("xcomkit.server.process").prepare_serving_process()
    mark("PyJWT, HMAC only")
    importlib.import_module("xcomkit.server.app")
    mark("xcomkit server modules")
    app = real_import(name)
    mark("create_app (engines, secret, routes)")
    return app
uvicorn.config.import_from_string = import_from_string

sys.argv = ["xcomkit", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
steps, before = {}, 0.0
for name, at in marks:
    steps[name] = steps.get(name, 0.0) + (at - before) * 1000
    before = at
print(json.dumps(steps))
"""


def one_start(src: Path | None, workdir: Path) -> dict[str, float]:
    """One marked start of ``xcomkit serve`` from ``src``: CPU ms by step."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    url = f"sqlite:///{workdir / 'xcomkit.db'}"
    create = [xcomkit_bin(), "users", "create", BENCH_USER, "--role", "admin"]
    create += ["--password", secrets.token_urlsafe(16), "--db", url]
    subprocess.run(create, check=True, capture_output=True, cwd=workdir, env=env)
    serve = ["serve", "--db", url, "--dags", str(MANIFEST), "--port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *serve],
        check=True,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
    )
    steps: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--src", action="append", default=[], metavar="NAME=DIR")
    args = parser.parse_args()
    trees: list[tuple[str, Path | None]] = []
    for spec in args.src:
        name, _, where = spec.partition("=")
        compile_bytecode(Path(where).resolve())
        trees.append((name, Path(where).resolve()))
    if not trees:
        compile_bytecode()
        trees = [("xcomkit", None)]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    for i in range(args.runs):
        for name, src in trees:
            with tempfile.TemporaryDirectory(prefix="xcomkit-steps-") as tmp:
                results[name].append(one_start(src, Path(tmp)))
        print(f"round {i + 1}/{args.runs}", file=sys.stderr)
    steps = list(dict.fromkeys(step for rounds in results.values() for s in rounds for step in s))
    width = max(len(step) for step in steps)
    print(f"{'step (CPU ms, median)':{width}} " + " ".join(f"{n:>9}" for n in results))
    for step in steps:
        cells = [statistics.median(r.get(step, 0.0) for r in rounds) for rounds in results.values()]
        print(f"{step:{width}} " + " ".join(f"{c:9.1f}" for c in cells))
    totals = [statistics.median(sum(r.values()) for r in rounds) for rounds in results.values()]
    print(f"{'total':{width}} " + " ".join(f"{t:9.1f}" for t in totals))


if __name__ == "__main__":
    main()
