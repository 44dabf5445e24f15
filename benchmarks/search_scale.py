"""The XCom list's pattern filters at scale, in process: through the search index vs the
plain scan, on the same SQLite database (``make bench`` runs it on its 1M database).

For each filter: milliseconds per first page (total count + page of 50, the two
statements the list endpoint runs, plus the candidate lookup), median of ``--repeat``
runs, with the index and with it switched off (``search.ready`` answering False), and the
total, which must be equal both ways.

    python benchmarks/search_scale.py --db sqlite:///big.db      # a seeded database
    python benchmarks/search_scale.py --xcoms 1000000            # seeds a temporary one

Numbers only: nothing here asserts a target.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "tests" / "data" / "manifest.yaml"

#: (label, ListFilter keyword arguments): seeded keys are seed_key_0000..; run_ids
#: seed__0000000..; the bench server adds bench_key_0000.. to xcom_demo/run_1/extract.
FILTERS: list[tuple[str, dict[str, Any]]] = [
    ("key bench_key_00 (the wrk scenario)", {"key_like": ["%bench_key_00%"]}),
    ("key seed_key_0042 (1% of rows)", {"key_like": ["%seed_key_0042%"]}),
    ("key seed_key_00 (every row)", {"key_like": ["%seed_key_00%"]}),
    ("key no_such_key (none)", {"key_like": ["%no_such_key%"]}),
    ("key 42 (short: scan)", {"key_like": ["%42%"]}),
    ("key a|b alternatives", {"key_like": ["%key_0042%", "%KEY_0043%"]}),
    ("run_id 0004242 (0.01%)", {"run_id_like": ["%0004242%"]}),
    ("run_id 000424 (0.1%)", {"run_id_like": ["%000424%"]}),
    ("task_id ransf", {"task_id_like": ["%ransf%"]}),
    ("dag_display_name daily", {"dag_display_name_like": ["%daily%"]}),
    ("key bench_key + dag_id", {"key_like": ["%bench_key%"], "dag_id": "xcom_demo"}),
]


def measure(url: str, repeat: int) -> list[dict[str, Any]]:
    """Time each filter with and without the index on the database at ``url``."""
    from xcomkit.store import search
    from xcomkit.store.db import make_engine
    from xcomkit.store.xcoms import ListFilter, XComStore

    engine = make_engine(url)
    ready = search.ready
    out = []
    try:
        with engine.connect() as conn:
            for label, kwargs in FILTERS:
                f = ListFilter(**kwargs)
                row: dict[str, Any] = {"filter": label}
                for mode in ("indexed", "plain"):
                    search.ready = ready if mode == "indexed" else (lambda _conn: False)
                    times = []
                    total = 0
                    for _ in range(repeat):
                        started = time.perf_counter()
                        _rows, total = XComStore(conn).page(f, order_by=[], limit=50, offset=0)
                        times.append((time.perf_counter() - started) * 1000)
                    row[f"{mode}_ms"] = round(statistics.median(times), 2)
                    row[f"{mode}_total"] = total
                search.ready = ready
                row["speedup"] = round(row["plain_ms"] / max(row["indexed_ms"], 0.001), 1)
                out.append(row)
                print(
                    f"  {label:40s} total {row['indexed_total']:>9,}"
                    f"  indexed {row['indexed_ms']:8.2f} ms  plain {row['plain_ms']:8.2f} ms"
                    f"  x{row['speedup']}",
                    flush=True,
                )
    finally:
        search.ready = ready
        engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="a seeded database URL (default: seed a temporary one)")
    p.add_argument("--xcoms", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--output", type=Path, default=None, help="JSON file to write")
    args = p.parse_args(argv)
    url = args.db
    if url is None:
        from xcomkit.manifest import load_manifest, read_manifest
        from xcomkit.seed import seed
        from xcomkit.store.db import make_engine, migrate

        url = f"sqlite:///{tempfile.mkdtemp(prefix='xcomkit-search-')}/big.db"
        engine = make_engine(url)
        migrate(engine)
        load_manifest(engine, read_manifest(MANIFEST))
        stats = seed(engine, xcoms=args.xcoms, runs=args.runs)
        engine.dispose()
        print(f"seeded {stats.xcoms:,} XComs in {stats.xcoms_seconds:.1f} s", flush=True)
    rows = measure(url, args.repeat)
    if args.output:
        args.output.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
