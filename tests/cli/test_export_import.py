"""``xcomkit xcom export`` / ``import``: JSONL round trips, counts, line errors, exit codes.

Every test runs twice: on the bulk path (the default against an xcomkit server,
``/xcomkit/v1``) and on the per-XCom REST path (``--per-xcom``, what a real Airflow gets).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Run, Xk
from xcomkit.testing import XComkitServer

BIG = 2**100 + 1
VALUES = {
    "int": 1,
    "big": BIG,
    "float": 2.5,
    "str": "text",
    "numeric_str": "12",
    "none": None,
    "list": [1, "a", None, True],
    "nested": {"a": {"b": [BIG, -1.25]}},
}


@pytest.fixture(params=["bulk", "per-xcom"])
def path(request: pytest.FixtureRequest) -> str:
    """Which way export and import talk to the server."""
    return str(request.param)


@pytest.fixture
def logged_in(logged_in: Xk, path: str) -> Xk:
    """The logged-in ``xcomkit`` runner; on the per-XCom path, export and import get
    ``--per-xcom``."""
    if path == "bulk":
        return logged_in

    def run(*args: str, input: str | None = None) -> Run:
        if args[:2] in (("xcom", "export"), ("xcom", "import")):
            args = (*args, "--per-xcom")
        return logged_in(*args, input=input)

    return run


def _fill(server: XComkitServer) -> None:
    # httpx encodes with the stdlib json module: integers past 64 bits stay exact.
    with httpx.Client(base_url=server.base_url, headers=server.headers) as http:
        base = "/api/v2/dags/xcom_demo/dagRuns/{}/taskInstances/{}/xcomEntries"
        for key, value in VALUES.items():
            r = http.post(base.format("run_1", "extract"), json={"key": key, "value": value})
            assert r.status_code == 201, r.text
        r = http.post(
            base.format("run_1", "load"), json={"key": "mapped", "value": {"i": 3}, "map_index": 3}
        )
        assert r.status_code == 201
        r = http.post(
            base.format("manual__2025-01-01T00:00:00+00:00", "load"),
            json={"key": "old", "value": "x"},
        )
        assert r.status_code == 201


def _export(xk: Xk, *address: str) -> list[dict[str, object]]:
    r = xk("xcom", "export", *address)
    assert r.exit_code == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_export_writes_every_xcom_with_its_value(
    xcomkit_server: XComkitServer, logged_in: Xk
) -> None:
    _fill(xcomkit_server)
    r = logged_in("xcom", "export", "xcom_demo", "run_1")
    assert r.exit_code == 0
    assert r.stderr == f"exported {len(VALUES) + 1} XCom(s)\n"
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert str(BIG) in r.stdout
    by_key = {rec["key"]: rec for rec in records}
    assert {k: by_key[k]["value"] for k in VALUES} == VALUES
    assert by_key["mapped"] == {
        "dag_id": "xcom_demo",
        "run_id": "run_1",
        "task_id": "load",
        "map_index": 3,
        "key": "mapped",
        "value": {"i": 3},
    }
    assert list(by_key["int"]) == ["dag_id", "run_id", "task_id", "map_index", "key", "value"]
    assert len(_export(logged_in, "xcom_demo")) == len(VALUES) + 2
    assert [rec["key"] for rec in _export(logged_in, "~", "~", "load")] == ["old", "mapped"]


def test_import_into_an_empty_server_gives_an_equal_store_and_is_idempotent(
    xcomkit_server: XComkitServer, logged_in: Xk, tmp_path: Path
) -> None:
    _fill(xcomkit_server)
    before = _export(logged_in, "~")
    dump = tmp_path / "x.jsonl"
    dump.write_text("".join(json.dumps(rec) + "\n" for rec in before))
    xcomkit_server.reset({"dags": [], "runs": []})
    from xcomkit.testing import DEMO_MANIFEST

    xcomkit_server.reset(DEMO_MANIFEST)
    r = logged_in("xcom", "import", str(dump))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"created {len(before)}, updated 0, skipped 0, failed 0\n"
    assert _export(logged_in, "~") == before
    r = logged_in("xcom", "import", str(dump))
    assert r.stdout == f"created 0, updated 0, skipped {len(before)}, failed 0\n"
    r = logged_in("xcom", "import", str(dump), "--overwrite")
    assert r.stdout == f"created 0, updated 0, skipped {len(before)}, failed 0\n"
    assert _export(logged_in, "~") == before


def test_overwrite_updates_only_changed_values_json_types_kept_apart(
    logged_in: Xk, tmp_path: Path
) -> None:
    base = {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "extract", "map_index": -1}
    first = [{**base, "key": "a", "value": 1}, {**base, "key": "b", "value": [1]}]
    second = [{**base, "key": "a", "value": 1.0}, {**base, "key": "b", "value": [1]}]
    (tmp_path / "1.jsonl").write_text("\n".join(json.dumps(r) for r in first))
    (tmp_path / "2.jsonl").write_text("\n".join(json.dumps(r) for r in second))
    assert logged_in("xcom", "import", str(tmp_path / "1.jsonl")).exit_code == 0
    r = logged_in("xcom", "import", str(tmp_path / "2.jsonl"))
    assert r.stdout == "created 0, updated 0, skipped 2, failed 0\n"
    r = logged_in("xcom", "import", str(tmp_path / "2.jsonl"), "--overwrite")
    assert r.stdout == "created 0, updated 1, skipped 1, failed 0\n"
    r = logged_in("xcom", "get", "xcom_demo", "run_1", "extract", "a", "-o", "plain")
    assert r.stdout == "1.0\n"


def _bad_file(tmp_path: Path) -> Path:
    good = {
        "dag_id": "xcom_demo",
        "run_id": "run_1",
        "task_id": "extract",
        "key": "ok1",
        "value": 1,
    }
    lines = [
        json.dumps(good),
        "not json",
        "",
        json.dumps({**good, "key": "ok2"}),
        json.dumps({**good, "dag_id": "missing_dag", "key": "k"}),
        json.dumps([1, 2]),
        json.dumps({**good, "key": "ok3", "map_index": "x"}),
        json.dumps({k: v for k, v in good.items() if k != "value"}),
        json.dumps({**good, "key": "ok4"}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_failed_lines_are_reported_by_number_and_the_rest_go_on(
    logged_in: Xk, tmp_path: Path, path: str
) -> None:
    r = logged_in("xcom", "import", str(_bad_file(tmp_path)))
    assert r.stdout == "created 3, updated 0, skipped 0, failed 5\n"
    lines = r.stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "line 2",
        "line 5",
        "line 6",
        "line 7",
        "line 8",
    ]
    assert lines[0].startswith("line 2: not JSON: ")
    if path == "bulk":
        assert lines[1] == (
            "line 5: import of 'k' (map_index -1) into missing_dag/run_1/extract: "
            "404 The Dag with ID: `missing_dag` was not found"
        )
    else:
        assert lines[1].startswith("line 5: POST /api/v2/dags/missing_dag/")
        assert lines[1].endswith(": 404 The Dag with ID: `missing_dag` was not found")
    assert lines[2] == "line 6: not a JSON object"
    assert lines[3] == "line 7: map_index must be an integer"
    assert lines[4] == "line 8: value is missing"
    assert r.exit_code == 2  # the first failure's: a usage error in the file
    keys = json.loads(logged_in("xcom", "list", "~", "-o", "json").stdout)["xcom_entries"]
    assert sorted(e["key"] for e in keys) == ["ok1", "ok2", "ok4"]


def test_fail_fast_stops_at_the_first_failed_line(logged_in: Xk, tmp_path: Path) -> None:
    r = logged_in("xcom", "import", str(_bad_file(tmp_path)), "--fail-fast")
    assert r.exit_code == 2
    assert r.stdout == "created 1, updated 0, skipped 0, failed 1\n"
    assert r.stderr.startswith("line 2: not JSON")
    keys = json.loads(logged_in("xcom", "list", "~", "-o", "json").stdout)["xcom_entries"]
    assert [e["key"] for e in keys] == ["ok1"]


def test_import_from_stdin_and_a_missing_file(logged_in: Xk, tmp_path: Path) -> None:
    line = json.dumps(
        {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "load", "key": "s", "value": "v"}
    )
    r = logged_in("xcom", "import", "-", input=line + "\n")
    assert r.stdout == "created 1, updated 0, skipped 0, failed 0\n"
    r = logged_in("xcom", "import", str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 1
    assert r.stderr == f"error: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory\n"


def test_progress_bar_on_a_terminal_only(
    logged_in: Xk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rich.console import Console

    from xcomkit.shell import transfer

    line = json.dumps(
        {"dag_id": "xcom_demo", "run_id": "run_1", "task_id": "load", "key": "p", "value": 1}
    )
    r = logged_in("xcom", "import", "-", input=line + "\n")
    assert r.stderr == ""  # not a terminal: no bar
    screen = io.StringIO()
    monkeypatch.setattr(
        transfer, "_console", lambda: Console(file=screen, force_terminal=True, width=80)
    )
    r = logged_in("xcom", "import", "-", input=line + "\n")
    assert r.stdout == "created 0, updated 0, skipped 1, failed 0\n"
    assert "import" in screen.getvalue() and "1/1" in screen.getvalue()
    screen.truncate(0)
    r = logged_in("xcom", "export", "xcom_demo")
    assert "export" in screen.getvalue() and "1/1" in screen.getvalue()


def test_concurrent_import_keeps_counts_exact_and_messages_in_line_order(
    logged_in: Xk, tmp_path: Path
) -> None:
    """240 lines with 16 in flight: every 7th names a missing task (404), every 11th is
    not JSON; the messages come in line order and the export equals the good lines."""
    good = []
    lines = []
    for i in range(240):
        record = {
            "dag_id": "xcom_demo",
            "run_id": "run_1",
            "task_id": ("extract", "transform", "load")[i % 3],
            "map_index": -1 if i % 4 else i,
            "key": f"k{i:03}",
            "value": [i, 2**70 + i],
        }
        if i % 11 == 5:
            lines.append("{oops")
        elif i % 7 == 3:
            lines.append(json.dumps({**record, "task_id": "nope"}))
        else:
            lines.append(json.dumps(record))
            good.append(record)
    (tmp_path / "x.jsonl").write_text("\n".join(lines) + "\n")
    r = logged_in("xcom", "import", str(tmp_path / "x.jsonl"), "--workers", "16")
    failed = [n + 1 for n in range(240) if n % 11 == 5 or n % 7 == 3]
    assert r.stdout == f"created {len(good)}, updated 0, skipped 0, failed {len(failed)}\n"
    numbers = [int(line.split(":")[0].removeprefix("line ")) for line in r.stderr.splitlines()]
    assert numbers == failed
    assert failed[:2] == [4, 6]
    assert r.exit_code == 1  # the first failure's: line 4's 404 (line 6's bad JSON is 2)
    exported = _export(logged_in, "xcom_demo", "run_1", "--workers", "16")
    key_order = sorted(good, key=lambda g: (g["task_id"], g["map_index"], g["key"]))
    assert exported == key_order
    r = logged_in("xcom", "import", str(tmp_path / "x.jsonl"), "--workers", "16")
    assert r.stdout == f"created 0, updated 0, skipped {len(good)}, failed {len(failed)}\n"
