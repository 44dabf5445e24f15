"""Server CPU per request, in process: the xcomkit ASGI app called directly (no sockets).

Wall-clock loads on a shared 2-core machine move by 10-30% between runs; the CPU this
process spends per request (``time.process_time``, all threads) moves much less, so it
is the figure for comparing two versions of the server. Pass ``--src`` to measure
another source tree (e.g. a ``git worktree`` of an older commit) with this venv:

    python benchmarks/server_cpu.py                      # this checkout
    python benchmarks/server_cpu.py --src /tmp/old/src   # another tree, same venv

Prints, per scenario (get, list of 50, create, update), the best of 3 rounds of
``--calls`` requests, in microseconds of CPU per request. Numbers only: it asserts no
target (docs/performance.md, "The redrawn core").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PATH = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"
SCENARIOS = ("get", "list", "create", "update")


def _scope(method: str, path: str, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _call(app: Any, token: str, method: str, path: str, body: bytes = b"") -> int:
    """One request through ``app``; its status."""
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # a client that never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(method, path, token), receive, send)
    return status


def _request(scenario: str, i: int, rnd: int) -> tuple[str, str, bytes, int]:
    """(method, path, body, expected status) of request ``i`` of round ``rnd``."""
    if scenario == "get":
        return "GET", f"{PATH}/k7", b"", 200
    if scenario == "list":
        return "GET", PATH, b"", 200
    if scenario == "create":
        return "POST", PATH, json.dumps({"key": f"c{rnd}-{i}", "value": {"a": i}}).encode(), 201
    return "PATCH", f"{PATH}/k3", json.dumps({"value": {"a": i}}).encode(), 200


async def measure(calls: int, scenarios: list[str]) -> dict[str, float]:
    """Best-of-3 CPU microseconds per request for each scenario, on a fresh SQLite file
    holding the test manifest and 50 XComs on ``xcom_demo/run_1/extract``."""
    from xcomkit.manifest import load_manifest, read_manifest
    from xcomkit.server.app import create_app
    from xcomkit.settings import Settings
    from xcomkit.store.db import make_engine, migrate

    url = f"sqlite:///{tempfile.mkdtemp(prefix='xcomkit-cpu-')}/x.db"
    engine = make_engine(url)
    migrate(engine)
    load_manifest(engine, read_manifest(REPO / "tests" / "data" / "manifest.yaml"))
    app = create_app(Settings(db=url, jwt_secret="b" * 64), engine=engine)
    token = app.state.ctx.tokens.issue("bench", "admin")
    for i in range(50):
        body = json.dumps({"key": f"k{i}", "value": {"a": i, "b": [1, 2, 3]}}).encode()
        assert await _call(app, token, "POST", PATH, body) == 201
    found: dict[str, float] = {}
    for scenario in scenarios:
        best = float("inf")
        for rnd in range(3):
            started = time.process_time()
            for i in range(calls):
                method, path, body, expected = _request(scenario, i, rnd)
                status = await _call(app, token, method, path, body)
                if status != expected:
                    raise RuntimeError(f"{scenario}: answered {status}, expected {expected}")
            best = min(best, (time.process_time() - started) / calls * 1e6)
        found[scenario] = best
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", type=Path, default=None, help="source tree to import xcomkit from")
    p.add_argument("--calls", type=int, default=3000, help="requests per round")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = p.parse_args(argv)
    if args.src is not None:
        sys.path.insert(0, str(args.src))
    warnings.simplefilter("ignore")  # an older tree may warn on import; figures only
    found = asyncio.run(measure(args.calls, args.scenarios.split(",")))
    for scenario, micros in found.items():
        print(f"{scenario:7} {micros:8.1f} us CPU per request (best of 3 x {args.calls})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
