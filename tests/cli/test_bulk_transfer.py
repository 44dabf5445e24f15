"""``xcomkit xcom export`` / ``import`` over the bulk endpoints, against the per-XCom path.

The bulk path must give the same bytes, counts, messages (by line number) and exit codes
as the per-XCom path; it is chosen by probing ``/xcomkit/v1`` once, and any server that
does not answer it as xcomkit gets the per-XCom path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Xk
from xcomkit.server.guard import RequestGuard
from xcomkit.shell import bulk, remote, transfer
from xcomkit.testing import XComkitServer

TASKS = ("extract", "transform", "load")


def records(n: int, run_id: str = "run_1") -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        value: Any = [i, {"big": 2**70 + i, "f": i / 7, "s": f"v{i}é"}] if i % 2 else i
        out.append(
            {
                "dag_id": "xcom_demo",
                "run_id": run_id,
                "task_id": TASKS[i % 3],
                "map_index": -1 if i % 5 else i,
                "key": f"key_{i:05}",
                "value": value,
            }
        )
    return out


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def used(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which path each export or import took, in order."""
    calls: list[str] = []
    for module, name in ((bulk, "bulk"), (transfer, "per-xcom")):
        for fn in ("export_entries", "import_lines"):
            original = getattr(module, fn)

            def spy(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
                calls.append(_name)
                return _original(*args, **kw)

            monkeypatch.setattr(module, fn, spy)
    return calls


def test_bulk_and_per_xcom_paths_give_equal_files_counts_and_stores(
    xcomkit_server: XComkitServer,
    logged_in: Xk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = used(monkeypatch)
    source = write_jsonl(
        tmp_path / "source.jsonl", records(120) + records(5, "manual__2025-01-01T00:00:00+00:00")
    )
    r = logged_in("xcom", "import", str(source))
    assert (r.exit_code, r.stdout) == (0, "created 125, updated 0, skipped 0, failed 0\n")
    by_bulk = logged_in("xcom", "export", "xcom_demo")
    by_rest = logged_in("xcom", "export", "xcom_demo", "--per-xcom")
    assert by_bulk.stdout == by_rest.stdout
    assert by_bulk.stderr == by_rest.stderr == "exported 125 XCom(s)\n"
    run_1 = logged_in("xcom", "export", "xcom_demo", "run_1", "load")
    assert (
        run_1.stdout
        == logged_in("xcom", "export", "xcom_demo", "run_1", "load", "--per-xcom").stdout
    )
    assert len(run_1.stdout.splitlines()) == 40
    assert calls == ["bulk", "bulk", "per-xcom", "bulk", "per-xcom"]

    # The export imported again by each path into an empty store: equal stores.
    dump = tmp_path / "dump.jsonl"
    dump.write_text(by_bulk.stdout)
    for flags in ((), ("--per-xcom",)):
        xcomkit_server.reset({"dags": [], "runs": []})
        from xcomkit.testing import DEMO_MANIFEST

        xcomkit_server.reset(DEMO_MANIFEST)
        r = logged_in("xcom", "import", str(dump), *flags)
        assert r.stdout == "created 125, updated 0, skipped 0, failed 0\n"
        assert logged_in("xcom", "export", "xcom_demo").stdout == by_bulk.stdout
        r = logged_in("xcom", "import", str(dump), "--overwrite", *flags)
        assert r.stdout == "created 0, updated 0, skipped 125, failed 0\n"


def test_a_server_without_the_bulk_endpoints_gets_the_per_xcom_path(
    logged_in: Xk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = used(monkeypatch)
    monkeypatch.setattr(bulk, "BULK", "/no/such/prefix")  # what a real Airflow answers: 404
    r = logged_in("xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", records(4))))
    assert r.stdout == "created 4, updated 0, skipped 0, failed 0\n"
    assert len(logged_in("xcom", "export", "xcom_demo").stdout.splitlines()) == 4
    assert calls == ["per-xcom", "per-xcom"]


def test_fail_fast_goes_one_line_at_a_time(
    logged_in: Xk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = used(monkeypatch)
    r = logged_in(
        "xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", records(2))), "--fail-fast"
    )
    assert r.stdout == "created 2, updated 0, skipped 0, failed 0\n"
    assert calls == ["per-xcom"]


@pytest.mark.parametrize("flags", [(), ("--per-xcom",)], ids=["bulk", "per-xcom"])
def test_nan_and_infinity_fail_their_line_only(
    logged_in: Xk, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    good = records(2)
    lines = [
        json.dumps(good[0]),
        json.dumps({**good[0], "key": "nan", "value": float("nan")}),
        json.dumps({**good[0], "key": "inf", "value": [float("-inf")]}),
        json.dumps(good[1]),
    ]
    r = logged_in("xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", lines)), *flags)
    assert r.stdout == "created 2, updated 0, skipped 0, failed 2\n"
    assert r.stderr.splitlines() == [
        "line 2: NaN is not a JSON number (JSON has no NaN or Infinity)",
        "line 3: -Infinity is not a JSON number (JSON has no NaN or Infinity)",
    ]
    assert r.exit_code == 2


def test_batches_follow_the_servers_limits_and_keep_line_order(
    logged_in: Xk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of at most 7 entries and 700 bytes; every 9th line names a missing run,
    every 13th is not JSON: the messages come in line order across batches."""
    sizes: list[tuple[int, int]] = []
    original_outcomes = bulk._outcomes

    def spy(api: Any, batch: Any, overwrite: bool) -> Any:
        sizes.append((len(batch.parts), sum(len(p) + 1 for p in batch.parts)))
        return original_outcomes(api, batch, overwrite)

    monkeypatch.setattr(bulk, "_outcomes", spy)
    monkeypatch.setattr(bulk, "probe", lambda api: bulk.BulkServer(7, 700 + bulk.WRAPPER_BYTES))
    lines: list[Any] = []
    failed = []
    for n, record in enumerate(records(100), start=1):
        if n % 13 == 0:
            lines.append("{oops")
            failed.append(n)
        elif n % 9 == 0:
            lines.append({**record, "run_id": "missing"})
            failed.append(n)
        else:
            lines.append(record)
    r = logged_in("xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", lines)))
    assert r.stdout == f"created {100 - len(failed)}, updated 0, skipped 0, failed {len(failed)}\n"
    numbers = [int(line.split(":")[0].removeprefix("line ")) for line in r.stderr.splitlines()]
    assert numbers == failed
    assert r.stderr.splitlines()[0] == (
        "line 9: import of 'key_00008' (map_index -1) into xcom_demo/missing/load: "
        "404 Dag Run with ID: `missing` not found for dag: `xcom_demo`"
    )
    assert r.exit_code == 1  # line 9's 404 comes first
    assert all(count <= 7 and size <= 700 for count, size in sizes)
    assert sum(count for count, _ in sizes) == 100 - len([n for n in failed if n % 13 == 0])


def _guard(server: XComkitServer) -> RequestGuard:
    app: Any = server.app.middleware_stack
    while not isinstance(app, RequestGuard):
        app = app.app
    return app


def test_a_line_over_the_body_limit_fails_alone_with_the_servers_413(
    xcomkit_server: XComkitServer,
    logged_in: Xk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_guard(xcomkit_server), "max_body_bytes", 2048)
    monkeypatch.setattr(xcomkit_server.app.state.ctx.settings, "max_body_bytes", 2048)
    rows = records(30)
    rows[10] = {**rows[10], "value": "x" * 3000}
    r = logged_in("xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", rows)))
    assert r.stdout == "created 29, updated 0, skipped 0, failed 1\n"
    assert r.stderr == (
        "line 11: POST /xcomkit/v1/xcomEntries/import: 413 Request body too large: "
        "the limit is 2048 bytes.\n"
    )
    assert r.exit_code == 2


def test_a_value_over_max_value_bytes_fails_its_line(
    xcomkit_server: XComkitServer,
    logged_in: Xk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(xcomkit_server.app.state.ctx.storage, "max_value_bytes", 100)
    rows = records(3)
    rows[1] = {**rows[1], "value": "x" * 200}
    r = logged_in("xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", rows)))
    assert r.stdout == "created 2, updated 0, skipped 0, failed 1\n"
    assert r.stderr == (
        "line 2: import of 'key_00001' (map_index -1) into xcom_demo/run_1/transform: "
        "413 XCom value too large: its JSON is 202 bytes; the limit is 100 bytes.\n"
    )


def test_a_viewer_may_export_but_every_line_of_its_import_fails_with_exit_3(
    xcomkit_server: XComkitServer, logged_in: Xk, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "x.jsonl", records(3))
    assert logged_in("xcom", "import", str(source)).exit_code == 0
    viewer = xcomkit_server.app.state.ctx.tokens.issue("watcher", "viewer")
    remote.save_token(xcomkit_server.base_url, "watcher", viewer)
    r = logged_in("xcom", "export", "xcom_demo")
    assert (r.exit_code, len(r.stdout.splitlines())) == (0, 3)
    for flags in ((), ("--per-xcom",)):
        r = logged_in("xcom", "import", str(source), *flags)
        assert r.stdout == "created 0, updated 0, skipped 0, failed 3\n"
        assert r.exit_code == 3
        assert [line.split(": ", 1)[0] for line in r.stderr.splitlines()] == [
            "line 1",
            "line 2",
            "line 3",
        ]
        assert all(line.endswith(": 403 Forbidden") for line in r.stderr.splitlines())


def test_without_a_login_the_probe_does_not_hide_the_401(
    xcomkit_server: XComkitServer, logged_in: Xk, tmp_path: Path
) -> None:
    remote.save_token(xcomkit_server.base_url, "admin", "not-a-token")
    r = logged_in("xcom", "export", "xcom_demo")
    assert r.exit_code == 3
    assert "403 Invalid JWT token" in r.stderr


def test_an_export_the_server_cuts_short_keeps_its_lines_and_exits_5(
    xcomkit_server: XComkitServer,
    logged_in: Xk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from xcomkit.server.execution import DeadlineExceeded
    from xcomkit.server.routes import bulk as routes
    from xcomkit.service import bulk as rules

    assert (
        logged_in("xcom", "import", str(write_jsonl(tmp_path / "x.jsonl", records(5)))).exit_code
        == 0
    )
    monkeypatch.setattr(routes, "EXPORT_PAGE", 2)
    original = rules.export_page

    def second_page_fails(db: Any, **kw: Any) -> Any:
        if kw["after"] is not None:
            raise DeadlineExceeded("out of time")
        return original(db, **kw)

    monkeypatch.setattr(rules, "export_page", second_page_fails)
    r = logged_in("xcom", "export", "xcom_demo")
    assert r.exit_code == 5
    assert [json.loads(line)["key"] for line in r.stdout.splitlines()] == [
        "key_00003",
        "key_00000",
    ]  # map_index -1, then 0
    assert r.stderr == "error: the export stopped early: out of time\n"
