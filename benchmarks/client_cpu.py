"""Client CPU per call: official ``apache-airflow-client``, ``xcomkit.client``, ``XComClient``.

Starts ``benchmarks/bare_app.py`` (constant answers, so the server costs the same for
all) under uvicorn in another process, then for each call kind runs the three clients
in interleaved rounds, each over its own keep-alive connection, and reports the median
of :func:`time.process_time` per call, in microseconds, for this process only (the
client). Numbers only: nothing is asserted.

Run from the repository root: ``.venv/bin/python benchmarks/client_cpu.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("bare_app did not start")


def cpu_per_call(call: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    import airflow_client.client as official

    import xcomkit.client as dropin
    from xcomkit.modern import XComClient

    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        config = official.Configuration(host=base)
        config.access_token = "benchmark-token"
        api = official.XComApi(official.ApiClient(config))
        dconfig = dropin.Configuration(host=base)
        dconfig.access_token = "benchmark-token"
        dapi = dropin.XComApi(dropin.ApiClient(dconfig))
        xcom = XComClient(base, token="benchmark-token")
        value = {"rows": 1234, "path": "s3://bucket/data/part-0001.parquet", "ok": True}
        d, r, t = "xcom_demo", "run_1", "extract"
        k = "bench_key_0007"
        kinds: dict[str, tuple[Callable[[], object], ...]] = {
            "get one": (
                lambda: api.get_xcom_entry(d, t, r, k),
                lambda: dapi.get_xcom_entry(d, t, r, k),
                lambda: xcom.pull(d, r, t, k),
            ),
            "list 50": (
                lambda: api.get_xcom_entries(d, r, t),
                lambda: dapi.get_xcom_entries(d, r, t),
                lambda: xcom.list(d, r, t),
            ),
            "create": (
                lambda: api.create_xcom_entry(d, t, r, official.XComCreateBody(key=k, value=value)),
                lambda: dapi.create_xcom_entry(d, t, r, dropin.XComCreateBody(key=k, value=value)),
                lambda: xcom.push(d, r, t, k, value),
            ),
            "update": (
                lambda: api.update_xcom_entry(d, t, r, k, official.XComUpdateBody(value=value)),
                lambda: dapi.update_xcom_entry(d, t, r, k, dropin.XComUpdateBody(value=value)),
                lambda: xcom.update(d, r, t, k, value),
            ),
        }
        print(f"client CPU per call, median of {args.rounds} rounds x {args.calls} calls (us)")
        print(
            f"{'call':<10} {'official':>9} {'xcomkit.client':>15} {'XComClient':>11}"
            f" {'drop-in/off':>12} {'XComClient/off':>15}"
        )
        for name, clients in kinds.items():
            for call in clients:
                cpu_per_call(call, 50)  # warm up
            samples: list[list[float]] = [[] for _ in clients]
            for _ in range(args.rounds):
                for i, call in enumerate(clients):
                    samples[i].append(cpu_per_call(call, args.calls))
            off, drop, modern = (statistics.median(s) for s in samples)
            print(
                f"{name:<10} {off:>9.0f} {drop:>15.0f} {modern:>11.0f}"
                f" {drop / off:>12.2f} {modern / off:>15.2f}"
            )
        xcom.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
