"""``xcomkit.shell.transfer``: the ordered sliding window, and export's paging against a
server that caps the page size (mocked, as Airflow caps ``limit`` at maximum_page_limit)."""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from xcomkit.shell import transfer, xcom
from xcomkit.shell.errors import CliError
from xcomkit.shell.remote import Remote


def test_in_order_yields_in_input_order_when_answers_come_back_reversed() -> None:
    """Item i may finish only after item i+1 has: results still come out 0, 1, 2, 3."""
    done = [threading.Event() for _ in range(4)]

    def work(i: int) -> int:
        if i < 3:
            assert done[i + 1].wait(timeout=10)
        done[i].set()
        return i * 10

    with ThreadPoolExecutor(4) as pool:
        assert list(transfer.in_order(pool, work, range(4), window=4)) == [0, 10, 20, 30]


def test_in_order_reads_items_lazily_and_keeps_at_most_window_submitted() -> None:
    read: list[int] = []
    peak = 0
    running = 0
    lock = threading.Lock()

    def items() -> Any:
        for i in range(50):
            read.append(i)
            yield i

    def work(i: int) -> int:
        nonlocal peak, running
        with lock:
            running += 1
            peak = max(peak, running)
        with lock:
            running -= 1
        return i

    with ThreadPoolExecutor(8) as pool:
        results = transfer.in_order(pool, work, items(), window=5)
        assert next(results) == 0
        assert read == [0, 1, 2, 3, 4]  # the window, no further
        assert list(results) == list(range(1, 50))
    assert peak <= 5


def test_in_order_raises_where_the_failed_result_is_due_and_cancels_the_rest() -> None:
    started: list[int] = []
    gate = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        if i == 1:
            raise CliError("boom")
        if i >= 2:
            gate.wait(timeout=10)
        return i

    with ThreadPoolExecutor(1) as pool:
        results = transfer.in_order(pool, work, range(10), window=4)
        assert next(results) == 0
        with pytest.raises(CliError, match="boom"):
            next(results)
        gate.set()
    # 2 may have started before the cancel (it then waits for the gate); 3 and 4 were
    # submitted but cancelled; 5 and later were never read.
    assert started in ([0, 1], [0, 1, 2])


def _capped_server(entries: list[dict[str, Any]], cap: int, seen: list[str]) -> Any:
    """A list endpoint that answers at most ``cap`` entries a page, and values by key."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        if request.url.path.endswith("/xcomEntries"):
            limit = min(int(request.url.params["limit"]), cap)
            offset = int(request.url.params["offset"])
            page = [{k: v for k, v in e.items() if k != "value"} for e in entries]
            body = {"xcom_entries": page[offset : offset + limit], "total_entries": len(entries)}
            return httpx.Response(200, json=body)
        key = request.url.path.rsplit("/", 1)[1]
        (entry,) = [e for e in entries if e["key"] == key]
        return httpx.Response(200, content=json.dumps(entry).encode())

    return handler


def test_export_pages_by_what_the_server_returned_and_keeps_the_list_order() -> None:
    entries = [
        {
            "dag_id": "d",
            "run_id": "r",
            "task_id": "t",
            "map_index": i % 3 - 1,
            "key": f"k{i:03}",
            "value": {"n": 2**80 + i, "f": i / 7},
        }
        for i in range(25)
    ]
    seen: list[str] = []
    api = Remote(
        "http://airflow.example",
        "tok",
        transport=httpx.MockTransport(_capped_server(entries, 10, seen)),  # type: ignore[arg-type]
    )
    out = io.StringIO()
    with api:
        assert transfer.export_entries(api, out, "d", "r", workers=4) == 25
    assert [json.loads(line) for line in out.getvalue().splitlines()] == entries
    pages = [p for p in seen if "/xcomEntries?" in p]
    assert pages == [
        f"/api/v2/dags/d/dagRuns/r/taskInstances/~/xcomEntries?limit=1000&offset={n}"
        for n in (0, 10, 20)
    ]
    values = [p for p in seen if "/xcomEntries/" in p]
    assert len(values) == 25
    one = "/api/v2/dags/d/dagRuns/r/taskInstances/t/xcomEntries/"
    assert f"{one}k000" in values  # map_index -1: left out, as Airflow's default
    assert f"{one}k001?map_index=0" in values


def test_the_cli_default_workers_is_the_transfer_default() -> None:
    assert xcom.DEFAULT_WORKERS == transfer.WORKERS
