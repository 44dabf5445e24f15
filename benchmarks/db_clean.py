"""``xcomkit db clean`` throughput, and GET-one latency of a server on the same database.

    .venv/bin/python benchmarks/db_clean.py [--xcoms 200000] [--batch-size 1000] [--postgres]

1. seeds a fresh database (SQLite file; with ``--postgres`` a throw-away PostgreSQL
   cluster from tests/pg.py) with N XComs over N/100 DAG runs (``xcomkit seed``);
2. starts ``xcomkit serve`` (one worker) on it and creates one more XCom, dated in the
   future so that the clean keeps it;
3. reads that XCom with GET one in a loop (one connection, one request at a time) for
   3 s while nothing else runs, then during ``xcomkit db clean --older-than 1s`` run as a
   user runs it (a subprocess, start-up included; no terminal, so no progress bar);
4. prints the clean's rows/s (as the command reports it, and wall time from the outside)
   and the GET-one latencies (p50, p99, max, non-200 answers) idle and meanwhile.

Numbers only: nothing here asserts a target. The issue's figure is at 1,000,000 XComs
(``--xcoms 1000000``); ``make bench`` runs 200,000 to stay within a couple of minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import MANIFEST, start_xcomkit, xcomkit_bin

GET_PATH = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries/keep_me"
CREATE_PATH = "/api/v2/dags/xcom_demo/dagRuns/run_1/taskInstances/extract/xcomEntries"
IDLE_SECONDS = 3.0
SUMMARY = re.compile(r"removed ([\d,]+) XCom\(s\) in ([\d.]+) s \(([\d,]+) rows/s\)")


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank), or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class Reader:
    """GET one in a loop on its own thread; latencies (ms) and failures per phase."""

    def __init__(self, base_url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.phase = "idle"
        self.samples: dict[str, list[float]] = {"idle": [], "clean": []}
        self.failures: dict[str, int] = {"idle": 0, "clean": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            phase = self.phase
            started = time.perf_counter()
            try:
                ok = self.client.get(GET_PATH).status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                self.samples[phase].append(elapsed)
            else:
                self.failures[phase] += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[Reader]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=60)
            self.client.close()

    def figures(self, phase: str) -> dict[str, Any]:
        got = self.samples[phase]

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "requests": len(got),
            "non_200": self.failures[phase],
            "p50_ms": ms(percentile(got, 0.5)),
            "p99_ms": ms(percentile(got, 0.99)),
            "max_ms": ms(max(got) if got else None),
        }


def _future_dated(db: str) -> None:
    """Date the ``keep_me`` XCom in 2100, so that no --older-than reaches it."""
    from sqlalchemy import update

    from xcomkit.store.db import make_engine
    from xcomkit.store.schema import xcom

    engine = make_engine(db)
    with engine.begin() as conn:
        conn.execute(
            update(xcom)
            .where(xcom.c.key == "keep_me")
            .values(timestamp=datetime(2100, 1, 1, tzinfo=timezone.utc))
        )
    engine.dispose()


def _measure(db: str, workdir: Path, xcoms: int, batch_size: int, label: str) -> dict[str, Any]:
    started = time.perf_counter()
    subprocess.run(
        [xcomkit_bin(), "seed", "--xcoms", str(xcoms), "--runs", str(max(1, xcoms // 100)),
         "--dags", str(MANIFEST), "--db", db],
        check=True, capture_output=True, cwd=workdir,
    )  # fmt: skip
    seed_s = time.perf_counter() - started
    print(f"[{label}] seeded {xcoms:,} XComs in {seed_s:.1f} s")
    server = start_xcomkit(f"clean-{label}", db, workdir)
    try:
        r = httpx.post(
            server.base_url + CREATE_PATH,
            json={"key": "keep_me", "value": {"kept": True}},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=30,
        )
        r.raise_for_status()
        _future_dated(db)
        reader = Reader(server.base_url, server.token)
        with reader.running():
            time.sleep(IDLE_SECONDS)  # the idle baseline: a fixed span, not a wait for a state
            reader.phase = "clean"
            started = time.perf_counter()
            done = subprocess.run(
                [xcomkit_bin(), "db", "clean", "--older-than", "1s",
                 "--batch-size", str(batch_size), "--db", db],
                capture_output=True, text=True, cwd=workdir,
            )  # fmt: skip
            wall_s = time.perf_counter() - started
        server.check_alive()
    finally:
        server.stop()
    if done.returncode != 0:
        raise RuntimeError(f"db clean failed ({done.returncode}): {done.stderr.strip()}")
    match = SUMMARY.search(done.stdout)
    if match is None:
        raise RuntimeError(f"unexpected db clean output: {done.stdout!r}")
    removed = int(match.group(1).replace(",", ""))
    result = {
        "backend": label,
        "xcoms": xcoms,
        "batch_size": batch_size,
        "seed_s": round(seed_s, 1),
        "removed": removed,
        "clean_s": float(match.group(2)),
        "rows_per_s": int(match.group(3).replace(",", "")),
        "command_wall_s": round(wall_s, 2),
        "get_one_idle": reader.figures("idle"),
        "get_one_during_clean": reader.figures("clean"),
    }
    idle, during = result["get_one_idle"], result["get_one_during_clean"]
    print(
        f"[{label}] db clean: removed {removed:,} XComs in {result['clean_s']} s "
        f"({result['rows_per_s']:,} rows/s; command {wall_s:.1f} s with start-up)\n"
        f"[{label}] GET one idle:         p50 {idle['p50_ms']} ms  p99 {idle['p99_ms']} ms  "
        f"max {idle['max_ms']} ms  ({idle['requests']} requests, {idle['non_200']} non-200)\n"
        f"[{label}] GET one during clean: p50 {during['p50_ms']} ms  p99 {during['p99_ms']} ms  "
        f"max {during['max_ms']} ms  ({during['requests']} requests, {during['non_200']} non-200)"
    )
    return result


def run_clean(
    xcoms: int = 200_000, batch_size: int = 1000, postgres: bool = False
) -> list[dict[str, Any]]:
    """Measure on SQLite and, with ``postgres``, on a throw-away PostgreSQL cluster."""
    results = []
    with tempfile.TemporaryDirectory(prefix="xcomkit-clean-") as tmp:
        workdir = Path(tmp)
        results.append(
            _measure(f"sqlite:///{workdir / 'clean.db'}", workdir, xcoms, batch_size, "sqlite")
        )
        if postgres:
            from tests import pg

            with pg.temporary_cluster() as admin_url:
                db = pg.create_database(admin_url, "xcomkit_clean")
                results.append(_measure(db, workdir, xcoms, batch_size, "postgresql"))
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--xcoms", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL")
    p.add_argument("--output", type=Path, default=None, help="JSON file to write")
    args = p.parse_args(argv)
    results = run_clean(args.xcoms, args.batch_size, args.postgres)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
