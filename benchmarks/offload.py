"""GET one of a 1 MB XCom value kept in its row vs offloaded to a ``file://`` object store.

    .venv/bin/python benchmarks/offload.py [--duration 10] [--warmup 3] [--connections 16]

Starts two xcomkit servers (``xcomkit serve``, one worker, fresh SQLite files): "row"
(defaults) and "offload" (``XCOMKIT_OBJECT_STORE=file://...``,
``XCOMKIT_OFFLOAD_THRESHOLD=65536``, no compression). Each gets the same 1 MB value
(1,000,000 bytes of stored JSON) under one key, then wrk loads ``GET`` of that key on
each in turn, twice, alternating (row, offload, row, offload), and the best run of each
is kept. Prints req/s, p50 and p99 of both and the ratio offload / row (target: at least
0.5). Also run by ``make bench`` (benchmarks/run.py --offload). Numbers only: nothing
here asserts a target.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from run import (
    TI_PATH,
    Result,
    Scenario,
    ensure_wrk,
    measure,
    ms,
    say,
    start_xcomkit,
)

KEY = "bench_big_value"
VALUE_BYTES = 1_000_000
THRESHOLD = 65536


def big_value() -> dict[str, Any]:
    """A JSON object whose compact stored text is exactly :data:`VALUE_BYTES` bytes."""
    base = '{"rows":[],"pad":""}'
    rows = [f"row-{i:06d}-" + "x" * 88 for i in range(9_000)]  # 100 chars a row
    text_len = len(base) + sum(len(r) + 2 for r in rows) + len(rows) - 1
    pad = VALUE_BYTES - text_len
    return {"rows": rows, "pad": "p" * pad}


def run_offload(
    wrk: str, args: argparse.Namespace, workdir: Path, results: list[Result] | None = None
) -> dict[str, Any]:
    """Measure both servers; return ``{"row": ..., "offload": ..., "ratio_rps": ...}``."""
    import json

    value = big_value()
    size = len(json.dumps(value, separators=(",", ":")).encode())
    store = workdir / "objects"
    servers = []
    try:
        row = start_xcomkit("xcomkit-row", f"sqlite:///{workdir / 'row.db'}", workdir)
        servers.append(row)
        offload = start_xcomkit(
            "xcomkit-offload",
            f"sqlite:///{workdir / 'offload.db'}",
            workdir,
            env={
                "XCOMKIT_OBJECT_STORE": f"file://{store}",
                "XCOMKIT_OFFLOAD_THRESHOLD": str(THRESHOLD),
            },
        )
        servers.append(offload)
        for server in servers:
            headers = {"Authorization": f"Bearer {server.token}"}
            r = httpx.post(
                server.base_url + TI_PATH,
                json={"key": KEY, "value": value},
                headers=headers,
                timeout=60,
            )
            if r.status_code not in (201, 409):
                raise RuntimeError(f"{server.name}: create: {r.status_code} {r.text[:200]}")
        objects = [p for p in store.iterdir() if p.is_file()]
        if len(objects) != 1:
            raise RuntimeError(f"expected one object in {store}, found {len(objects)}")
        scenario = Scenario("get_1mb", "GET", f"{TI_PATH}/{KEY}")
        best: dict[str, Result] = {}
        for _round in range(2):
            for server in servers:
                res = measure(wrk, server, scenario, args, workdir, "offload", False)
                if server.name not in best or res.rps > best[server.name].rps:
                    best[server.name] = res
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()
    in_row, offloaded = best["xcomkit-row"], best["xcomkit-offload"]
    if results is not None:
        results.extend([in_row, offloaded])
    ratio = round(offloaded.rps / in_row.rps, 3) if in_row.rps else None
    return {
        "value_bytes": size,
        "threshold": THRESHOLD,
        "row": {"rps": in_row.rps, "p50_ms": in_row.p50_ms, "p99_ms": in_row.p99_ms,
                "errors": in_row.errors},
        "offload": {"rps": offloaded.rps, "p50_ms": offloaded.p50_ms,
                    "p99_ms": offloaded.p99_ms, "errors": offloaded.errors},
        "ratio_rps": ratio,
        "target_ratio": 0.5,
    }  # fmt: skip


def print_offload(report: dict[str, Any]) -> None:
    """The comparison as lines of text, to stdout."""
    print(f"GET one of a {report['value_bytes']:,}-byte value (offload threshold "
          f"{report['threshold']:,} bytes, file://, no compression):")  # fmt: skip
    for name in ("row", "offload"):
        r = report[name]
        print(
            f"  {name:8} {r['rps']:9.1f} req/s  p50 {ms(r['p50_ms']):>8} ms"
            f"  p99 {ms(r['p99_ms']):>8} ms  errors {r['errors']}"
        )
    print(f"  offload / row: {report['ratio_rps']}x req/s (target >= {report['target_ratio']})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=10, help="measured seconds per load")
    p.add_argument("--warmup", type=float, default=3, help="warm-up seconds before each load")
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args(argv)
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="xcomkit-offload-"))
    try:
        say(f"offload bench: workdir {workdir}")
        print_offload(run_offload(wrk, args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
