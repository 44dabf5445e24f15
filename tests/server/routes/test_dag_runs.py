"""The DAG-run endpoints: every parameter Airflow 3.3.2 declares is honoured or refused.

``tests/data/airflow-3.3.2-dag-runs-openapi.json`` holds Airflow's own OpenAPI for these
paths (extracted from apache-airflow-core 3.3.2). :func:`test_every_declared_parameter`
walks it: each query parameter and body field must have a probe below, and each probe
must show the parameter taking effect (the exact runs that match, or the exact field it
sets) or being refused with Airflow's status and detail. A parameter Airflow adds, or one
xcomkit would silently ignore, fails it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import Api, unchanged
from xcomkit.store.schema import dag_run

SPEC = json.loads(
    (Path(__file__).parents[2] / "data" / "airflow-3.3.2-dag-runs-openapi.json").read_text()
)
RUNS = "/api/v2/dags/{dag_id}/dagRuns"
ONE = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}"
ALL = "/api/v2/dags/~/dagRuns"
EVERY = {"run_1", "run_2", "daily_1", "m_conf"}
NOT_PARTITIONED_ON_ALL = (
    400,
    "partition_date_gte and partition_date_lte require a specific dag_id.",
)

#: A query parameter's probe: (params, expected) where expected is the exact set of
#: run ids listed, or (status, detail) for a refusal.
Probe = tuple[list[tuple[str, str]], Any]
EARLY, LATE = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"

#: Every query parameter of Airflow's GET .../dagRuns, with a probe that shows its effect
#: on the runs of :func:`runs` (all queued but run_2, set to success; none started, so
#: no start_date and no duration; run_2 ended now).
LIST_PROBES: dict[str, Probe] = {
    "limit": ([("limit", "1"), ("order_by", "run_id")], {"daily_1"}),
    "offset": ([("offset", "3"), ("order_by", "run_id")], {"run_2"}),
    "cursor": ([("cursor", ""), ("limit", "1"), ("order_by", "-run_id")], {"run_2"}),
    "partition_date_gte": ([("partition_date_gte", "2025-01-01")], NOT_PARTITIONED_ON_ALL),
    "partition_date_lte": ([("partition_date_lte", "2025-01-01")], NOT_PARTITIONED_ON_ALL),
    "run_after_gte": ([("run_after_gte", "2025-01-02T00:00:00Z")], {"run_2", "m_conf"}),
    "run_after_gt": ([("run_after_gt", "2025-01-01T00:00:00Z")], EVERY - {"run_1"}),
    "run_after_lte": ([("run_after_lte", "2025-01-01T06:00:00Z")], {"run_1", "daily_1"}),
    "run_after_lt": ([("run_after_lt", "2025-01-01T06:00:00Z")], {"run_1"}),
    "logical_date_gte": ([("logical_date_gte", "2025-01-02T00:00:00Z")], {"run_2", "m_conf"}),
    "logical_date_gt": ([("logical_date_gt", "2025-01-01T06:00:00Z")], {"run_2", "m_conf"}),
    "logical_date_lte": ([("logical_date_lte", "2025-01-01T00:00:00Z")], {"run_1"}),
    "logical_date_lt": ([("logical_date_lt", "2025-01-02T00:00:00Z")], {"run_1", "daily_1"}),
    # Runs not started or not ended (NULL) pass a lower bound, and an upper bound that
    # lies after now; run_2 started at 2025-01-02 and ended now.
    "start_date_gte": ([("start_date_gte", LATE)], EVERY - {"run_2"}),
    "start_date_gt": ([("start_date_gt", "2025-01-03T00:00:00Z")], EVERY - {"run_2"}),
    "start_date_lte": ([("start_date_lte", EARLY)], set()),
    "start_date_lt": ([("start_date_lt", "2025-01-03T00:00:00Z")], {"run_2"}),
    "end_date_gte": ([("end_date_gte", LATE)], EVERY - {"run_2"}),
    "end_date_gt": ([("end_date_gt", LATE)], EVERY - {"run_2"}),
    "end_date_lte": ([("end_date_lte", EARLY)], set()),
    "end_date_lt": ([("end_date_lt", LATE), ("state", "success")], {"run_2"}),
    "duration_gte": ([("duration_gte", "1")], {"run_2"}),
    "duration_gt": ([("duration_gt", "86400")], {"run_2"}),
    "duration_lte": ([("duration_lte", "1")], set()),
    "duration_lt": ([("duration_lt", "1e12")], {"run_2"}),
    "updated_at_gte": ([("updated_at_gte", LATE)], set()),
    "updated_at_gt": ([("updated_at_gt", LATE)], set()),
    "updated_at_lte": ([("updated_at_lte", EARLY)], set()),
    "updated_at_lt": ([("updated_at_lt", EARLY)], set()),
    "conf_contains": ([("conf_contains", '"a": [1]')], {"m_conf"}),
    "run_type": ([("run_type", "scheduled")], set()),
    "state": ([("state", "success")], {"run_2"}),
    "dag_version": ([("dag_version", "2")], set()),
    "bundle_version": ([("bundle_version", "v1")], set()),
    "order_by": ([("order_by", "-run_id"), ("limit", "1")], {"run_2"}),
    "run_id_pattern": ([("run_id_pattern", "RUN_")], {"run_1", "run_2"}),
    "run_id_prefix_pattern": ([("run_id_prefix_pattern", "daily|m_")], {"daily_1", "m_conf"}),
    "triggering_user_name_pattern": ([("triggering_user_name_pattern", "DMI")], {"m_conf"}),
    "triggering_user_name_prefix_pattern": (
        [("triggering_user_name_prefix_pattern", "admin")],
        {"m_conf"},
    ),
    "dag_id_pattern": ([("dag_id_pattern", "ETL")], {"daily_1"}),
    "dag_id_prefix_pattern": ([("dag_id_prefix_pattern", "xcom")], EVERY - {"daily_1"}),
    "partition_key_pattern": ([("partition_key_pattern", "~")], set()),
    "partition_key_prefix_pattern": ([("partition_key_prefix_pattern", "~")], set()),
    "consuming_asset_pattern": ([("consuming_asset_pattern", "a")], set()),
}


def add_runs(api: Api) -> Api:
    """The manifest's runs (run_1, run_2, daily_1), plus m_conf triggered by admin with a
    conf, and run_2 started at 2025-01-02 (as a seeded run may be) and set to success."""
    r = api.client.post(
        RUNS.format(dag_id="xcom_demo"),
        headers=api.headers(),
        json={"dag_run_id": "m_conf", "logical_date": "2025-02-01T00:00:00Z", "conf": {"a": [1]}},
    )
    assert r.status_code == 200, r.text
    with api.engine.begin() as conn:
        started = datetime(2025, 1, 2, tzinfo=timezone.utc)
        conn.execute(update(dag_run).where(dag_run.c.run_id == "run_2").values(start_date=started))
    r = api.client.patch(
        ONE.format(dag_id="xcom_demo", dag_run_id="run_2"),
        headers=api.headers(),
        json={"state": "success"},
    )
    assert r.status_code == 200, r.text
    return api


@pytest.fixture(scope="module")
def runs_once(module_api: Api) -> Api:
    return add_runs(module_api)


@pytest.fixture
def runs(runs_once: Api) -> Iterator[Api]:
    """:func:`add_runs` on the module's shared app, for a test that only reads (checked)."""
    with unchanged(runs_once) as api:
        yield api


@pytest.fixture
def runs_own(api: Api) -> Api:
    """:func:`add_runs` on an app of the test's own, for a test that writes."""
    return add_runs(api)


def _listed(api: Api, params: list[tuple[str, str]], path: str = ALL) -> Any:
    r = api.client.get(path, params=params, headers=api.headers())
    if r.status_code != 200:
        return r.status_code, r.json()["detail"]
    return {run["dag_run_id"] for run in r.json()["dag_runs"]}


def _declared(method: str, path: str) -> tuple[set[str], set[str]]:
    """(query parameter names, body field names) Airflow declares on an operation."""
    op = SPEC["paths"][path][method]
    query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
    body: set[str] = set()
    if "requestBody" in op:
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = set(SPEC["components"]["schemas"][ref.split("/")[-1]]["properties"])
    return query, body


def test_probes_cover_exactly_what_airflow_declares() -> None:
    query, _ = _declared("get", RUNS)
    assert set(LIST_PROBES) == query
    assert _declared("post", RUNS)[1] == set(TRIGGER_PROBES)
    assert _declared("patch", ONE) == ({"update_mask"}, {"state", "note"})
    assert _declared("get", ONE) == (set(), set())
    assert _declared("delete", ONE) == (set(), set())


def test_xcomkit_declares_the_same_parameters(api: Api) -> None:
    ours = api.client.get("/openapi.json").json()
    for path, methods in SPEC["paths"].items():
        for method, op in methods.items():
            theirs = {(p["name"], p["in"]) for p in op.get("parameters", [])}
            mine = {(p["name"], p["in"]) for p in ours["paths"][path][method].get("parameters", [])}
            assert mine == theirs, (method, path)


@pytest.mark.parametrize("name", sorted(LIST_PROBES))
def test_every_declared_list_parameter(runs: Api, name: str) -> None:
    params, expected = LIST_PROBES[name]
    assert _listed(runs, params) == expected
    if isinstance(expected, set):
        # Honoured, not ignored: the unfiltered list differs.
        assert _listed(runs, []) == EVERY != expected


#: Every field of Airflow's trigger body: (body, field of the answer it sets, value).
TRIGGER_PROBES: dict[str, tuple[dict[str, Any], str, Any]] = {
    "dag_run_id": ({"dag_run_id": "t_1"}, "dag_run_id", "t_1"),
    "logical_date": (
        {"logical_date": "2025-05-01T00:00:00Z"},
        "logical_date",
        "2025-05-01T00:00:00Z",
    ),
    "data_interval_start": (
        {
            "data_interval_start": "2025-04-01T00:00:00Z",
            "data_interval_end": "2025-04-02T00:00:00Z",
        },
        "data_interval_start",
        "2025-04-01T00:00:00Z",
    ),
    "data_interval_end": (
        {
            "data_interval_start": "2025-04-01T00:00:00Z",
            "data_interval_end": "2025-04-02T00:00:00Z",
        },
        "data_interval_end",
        "2025-04-02T00:00:00Z",
    ),
    "run_after": ({"run_after": "2030-01-01T00:00:00Z"}, "run_after", "2030-01-01T00:00:00Z"),
    "conf": ({"conf": {"x": "é"}}, "conf", {"x": "é"}),
    "note": ({"note": "hello"}, "note", "hello"),
    "partition_key": (
        {"partition_key": "pk1"},
        "detail",
        "Dag 'xcom_demo' is not a partitioned Dag and does not accept a partition_key.",
    ),
}


@pytest.mark.parametrize("name", sorted(TRIGGER_PROBES))
def test_every_declared_trigger_field(api: Api, name: str) -> None:
    body, answer_field, value = TRIGGER_PROBES[name]
    body = {"dag_run_id": f"t_{name}", "logical_date": "2025-06-01T00:00:00Z", **body}
    r = api.client.post(RUNS.format(dag_id="xcom_demo"), headers=api.headers(), json=body)
    assert r.json()[answer_field] == value
    assert r.status_code == (400 if name == "partition_key" else 200)


def test_trigger_with_null_conf_stores_an_empty_conf(api: Api) -> None:
    # Airflow stores ``conf or {}``: a run triggered with "conf": null answers {}.
    body = {"dag_run_id": "t_null", "logical_date": None, "conf": None}
    r = api.client.post(RUNS.format(dag_id="xcom_demo"), headers=api.headers(), json=body)
    assert (r.status_code, r.json()["conf"]) == (200, {})


def test_partition_key_refused_before_the_run_exists(api: Api) -> None:
    url = RUNS.format(dag_id="xcom_demo")
    body = {"dag_run_id": "t_pk", "logical_date": None, "partition_key": ""}
    assert api.client.post(url, headers=api.headers(), json=body).status_code == 400
    one = ONE.format(dag_id="xcom_demo", dag_run_id="t_pk")
    assert api.client.get(one, headers=api.headers()).status_code == 404
    r = api.client.post("/api/v2/dags/nodag/dagRuns", headers=api.headers(), json=body)
    assert (r.status_code, r.json()) == (404, {"detail": "Dag with dag_id: 'nodag' not found"})


def test_state_and_run_type_refused_with_airflow_detail(api: Api) -> None:
    r = api.client.get(ALL, params={"state": "bogus"}, headers=api.headers())
    assert (r.status_code, r.json()) == (
        422,
        {"detail": "Invalid value for state. Valid values are queued, running, success, failed"},
    )
    r = api.client.get(ALL, params={"run_type": "x", "state": "x"}, headers=api.headers())
    assert (r.status_code, r.json()) == (
        422,
        {
            "detail": "Invalid value for run type. Valid values are backfill, scheduled, manual, "
            "operator_triggered, asset_triggered, asset_materialization"
        },
    )


def test_partition_date_on_a_dag(api: Api) -> None:
    params = {"partition_date_lte": "2025-01-01"}
    assert _listed(api, list(params.items()), RUNS.format(dag_id="xcom_demo")) == (
        400,
        "Dag with dag_id: 'xcom_demo' is not partitioned; "
        "partition_date_gte and partition_date_lte are not supported.",
    )
    assert _listed(api, list(params.items()), RUNS.format(dag_id="nodag")) == (
        404,
        "The Dag with ID: `nodag` was not found",
    )


@pytest.mark.parametrize(
    "name",
    [
        "id",
        "state",
        "dag_id",
        "run_id",
        "dag_run_id",
        "logical_date",
        "partition_date",
        "run_after",
        "start_date",
        "end_date",
        "updated_at",
        "conf",
        "duration",
    ],
)
def test_every_order_airflow_allows(runs: Api, name: str) -> None:
    for sign in ("", "-"):
        r = runs.client.get(ALL, params={"order_by": sign + name}, headers=runs.headers())
        assert r.status_code == 200, r.text
        assert {run["dag_run_id"] for run in r.json()["dag_runs"]} == EVERY


def test_orders_airflow_refuses(api: Api) -> None:
    for name in ("run_type", "queued_at", "nope"):
        assert _listed(api, [("order_by", name)]) == (
            400,
            f"Ordering with '{name}' is disallowed or the attribute does not exist on the model",
        )


def test_order_by_run_id_descending(runs: Api) -> None:
    r = runs.client.get(ALL, params={"order_by": "-run_id"}, headers=runs.headers())
    assert [run["dag_run_id"] for run in r.json()["dag_runs"]] == sorted(EVERY, reverse=True)


@pytest.mark.parametrize(
    "order",
    [
        ["id"],
        ["-logical_date"],
        ["state", "-run_id"],
        ["conf"],
        # Columns holding NULLs (where each backend puts them: SQLite first, PostgreSQL last).
        ["end_date"],
        ["-start_date", "run_id"],
        ["duration"],
        ["-duration"],
    ],
)
def test_cursor_pages_walk_every_run_both_ways(runs: Api, order: list[str]) -> None:
    def page(cursor: str) -> dict[str, Any]:
        params = [("limit", "1"), ("cursor", cursor)] + [("order_by", o) for o in order]
        r = runs.client.get(ALL, params=params, headers=runs.headers())
        assert r.status_code == 200, r.text
        return r.json()

    full = runs.client.get(ALL, params=[("order_by", o) for o in order], headers=runs.headers())
    expected = [run["dag_run_id"] for run in full.json()["dag_runs"]]
    seen, body = [], page("")
    assert body["previous_cursor"] is None
    assert (body["total_entries"], body["total_entries_limit"]) == (4, 50000)
    for _ in range(len(expected) + 1):  # bounded: a cursor that repeats fails, not hangs
        seen += [run["dag_run_id"] for run in body["dag_runs"]]
        if body["next_cursor"] is None:
            break
        body = page(body["next_cursor"])
    assert seen == expected
    back: list[str] = []
    for _ in range(len(expected) + 1):
        if body["previous_cursor"] is None:
            break
        body = page(body["previous_cursor"])
        back += [run["dag_run_id"] for run in body["dag_runs"]]
        assert body["next_cursor"] is not None  # a backward page always has a next one
    assert back == expected[-2::-1]


@pytest.mark.parametrize(
    ("cursor", "detail"),
    [
        ("@@@", "Invalid cursor token"),
        ("~", "Invalid cursor token"),
        ("gA", "Invalid cursor token structure"),
        ("kgEC", "Cursor token does not match current query shape"),
        ("kaFh", "Invalid cursor token"),
    ],
)
def test_bad_cursors(read_only_api: Api, cursor: str, detail: str) -> None:
    assert _listed(read_only_api, [("cursor", cursor)]) == (400, detail)


def test_patch_state_and_note(api: Api) -> None:
    url = ONE.format(dag_id="xcom_demo", dag_run_id="run_1")
    before = api.client.get(url, headers=api.headers()).json()
    r = api.client.patch(url, headers=api.headers(), json={"state": "success", "note": "done"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["state"], done["note"], done["start_date"], done["duration"]) == (
        "success",
        "done",
        None,
        None,
    )
    assert done["end_date"] is not None
    # update_mask keeps only the fields it names.
    r = api.client.patch(
        url,
        params={"update_mask": "note"},
        headers=api.headers(),
        json={"state": "failed", "note": ""},
    )
    assert (r.json()["state"], r.json()["note"]) == ("success", None)
    # Back to queued: a new queued_at, no end_date.
    r = api.client.patch(url, headers=api.headers(), json={"state": "queued"})
    assert (r.json()["state"], r.json()["end_date"]) == ("queued", None)
    assert r.json()["queued_at"] > before["queued_at"]
    r = api.client.patch(url, headers=api.headers(), json={"state": "running"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "state"]
    r = api.client.patch(url, headers=api.headers("viewer"), json={"note": "x"})
    assert (r.status_code, r.json()) == (403, {"detail": "Forbidden"})
    r = api.client.patch(
        ONE.format(dag_id="xcom_demo", dag_run_id="nope"), headers=api.headers(), json={}
    )
    assert (r.status_code, r.json()) == (
        404,
        {"detail": "The DagRun with dag_id: `xcom_demo` and run_id: `nope` was not found"},
    )


def _xcom_total(api: Api) -> int:
    url = "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries"
    return int(
        api.client.get(url, params={"limit": 0}, headers=api.headers()).json()["total_entries"]
    )


def test_delete_run_deletes_its_xcoms_and_their_count(api: Api) -> None:
    xcoms = api.xcom_url(dag_run_id="run_2")
    for key in ("k1", "k2"):
        body = {"key": key, "value": 1}
        assert api.client.post(xcoms, headers=api.headers(), json=body).status_code == 201
    other = api.client.post(api.xcom_url(), headers=api.headers(), json={"key": "k", "value": 1})
    assert other.status_code == 201
    total = _xcom_total(api)
    url = ONE.format(dag_id="xcom_demo", dag_run_id="run_2")
    assert api.client.delete(url, headers=api.headers("viewer")).status_code == 403
    r = api.client.delete(url, headers=api.headers())
    assert (r.status_code, r.content) == (204, b"")
    assert api.client.get(url, headers=api.headers()).status_code == 404
    assert _xcom_total(api) == total - 2
    assert api.client.get(xcoms + "/k1", headers=api.headers()).status_code == 404
    assert api.client.delete(url, headers=api.headers()).status_code == 404
    # A run made again with the same id starts with no XComs.
    body = {"dag_run_id": "run_2", "logical_date": None}
    assert (
        api.client.post(
            RUNS.format(dag_id="xcom_demo"), headers=api.headers(), json=body
        ).status_code
        == 200
    )
    r = api.client.get(xcoms, headers=api.headers())
    assert (r.json()["total_entries"], r.json()["xcom_entries"]) == (0, [])


def test_running_run_cannot_be_deleted(api: Api) -> None:
    with api.engine.begin() as conn:
        conn.execute(update(dag_run).where(dag_run.c.run_id == "run_1").values(state="running"))
    r = api.client.delete(ONE.format(dag_id="xcom_demo", dag_run_id="run_1"), headers=api.headers())
    assert (r.status_code, r.json()) == (
        409,
        {
            "detail": "The DagRun with dag_id: `xcom_demo` and run_id: `run_1` cannot be "
            "deleted in running state"
        },
    )


def test_gzip_as_airflow_answers(runs_own: Api) -> None:
    """Every answer with a body is compressed when asked (small ones and errors too, as
    Airflow's streamed answers are), with Vary; bodiless answers are left alone."""
    runs = runs_own
    headers = {**runs.headers(), "Accept-Encoding": "gzip"}
    for url, status in [(ALL, 200), ("/api/v2/version", 200), (ALL + "?state=x", 422)]:
        r = runs.client.get(url, headers=headers)
        assert r.status_code == status
        assert (r.headers["content-encoding"], r.headers["vary"]) == ("gzip", "Accept-Encoding")
        plain = runs.client.get(url, headers={**runs.headers(), "Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.headers["vary"] == "Accept-Encoding"
        assert plain.json() == r.json()  # the client decoded the gzip body
    r = runs.client.delete(ONE.format(dag_id="xcom_demo", dag_run_id="run_1"), headers=headers)
    assert (r.status_code, r.content, r.headers["content-type"]) == (204, b"", "application/json")
    assert "content-encoding" not in r.headers
    assert "vary" not in r.headers
