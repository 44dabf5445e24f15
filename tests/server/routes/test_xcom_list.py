"""``GET .../xcomEntries``: wildcards, filters, ordering, paging and their errors."""

from __future__ import annotations

import pytest

from tests.conftest import unchanged

# (dag_id, dag_run_id, task_id, key, map_index)
ROWS = [
    ("xcom_demo", "run_1", "extract", "v_empty_list", -1),
    ("xcom_demo", "run_1", "extract", "return_value", -1),
    ("xcom_demo", "run_1", "transform", "return_value", -1),
    ("xcom_demo", "run_1", "transform", "return_value", 0),
    ("xcom_demo", "run_1", "transform", "return_value", 1),
    ("xcom_demo", "run_2", "extract", "Upper_Key", -1),
    ("xcom_demo", "run_2", "load", "test_prefix.a", -1),
    ("etl_daily", "daily_1", "fetch", "rows", -1),
    ("etl_daily", "daily_1", "store", "v_e%x", 2),
]


def seed(api):
    for dag_id, run_id, task_id, key, map_index in ROWS:
        r = api.client.post(
            api.xcom_url(dag_id, run_id, task_id),
            json={"key": key, "value": 1, "map_index": map_index},
            headers=api.headers(),
        )
        assert r.status_code == 201, r.text
    return api


@pytest.fixture(scope="module")
def seeded_once(module_api):
    return seed(module_api)


@pytest.fixture
def seeded(seeded_once):
    """ROWS on the module's shared app, for a test that only reads (checked)."""
    with unchanged(seeded_once) as api:
        yield api


@pytest.fixture
def seeded_own(api):
    """ROWS on an app of the test's own, for a test that writes."""
    return seed(api)


def listing(api, dag_id="~", dag_run_id="~", task_id="~", **params):
    r = api.client.get(
        api.xcom_url(dag_id, dag_run_id, task_id), params=params, headers=api.headers("viewer")
    )
    return r


def ids(r):
    return [
        (e["dag_id"], e["run_id"], e["task_id"], e["key"], e["map_index"])
        for e in r.json()["xcom_entries"]
    ]


def test_wildcards_list_everything_in_default_order(seeded) -> None:
    r = listing(seeded)
    assert r.status_code == 200
    assert r.json()["total_entries"] == len(ROWS)
    # Airflow's default order: dag_id, task_id, run_id, map_index, key.
    expected = sorted(ROWS, key=lambda t: (t[0], t[2], t[1], t[4], t[3]))
    assert ids(r) == expected
    assert "value" not in r.json()["xcom_entries"][0]


@pytest.mark.parametrize(
    ("path", "count"),
    [
        (("xcom_demo", "~", "~"), 7),
        (("~", "run_1", "~"), 5),
        (("~", "~", "extract"), 3),
        (("xcom_demo", "run_1", "transform"), 3),
        (("nope", "~", "~"), 0),
        (("xcom_demo", "nope", "extract"), 0),
    ],
)
def test_path_filters(seeded, path, count) -> None:
    r = listing(seeded, *path)
    assert r.status_code == 200
    assert r.json()["total_entries"] == count


@pytest.mark.parametrize(
    ("params", "keys"),
    [
        ({"xcom_key": "return_value"}, {"return_value"}),
        ({"xcom_key_pattern": "V_E"}, {"v_empty_list", "v_e%x"}),
        ({"xcom_key_pattern": "upper|ROWS"}, {"Upper_Key", "rows"}),
        ({"xcom_key_pattern": "~"}, {r[3] for r in ROWS}),
        ({"xcom_key_pattern": "v%list"}, {"v_empty_list"}),
        ({"xcom_key_prefix_pattern": "V_"}, set()),
        ({"xcom_key_prefix_pattern": "v_e"}, {"v_empty_list", "v_e%x"}),
        ({"xcom_key_prefix_pattern": "test_"}, {"test_prefix.a"}),
        ({"xcom_key_prefix_pattern": "Upper|rows"}, {"Upper_Key", "rows"}),
        ({"xcom_key_prefix_pattern": "~"}, {r[3] for r in ROWS}),
        ({"dag_display_name_pattern": "etl"}, {"rows", "v_e%x"}),
        ({"dag_display_name_prefix_pattern": "XCom"}, {r[3] for r in ROWS if r[0] == "xcom_demo"}),
        ({"run_id_pattern": "DAILY"}, {"rows", "v_e%x"}),
        ({"run_id_prefix_pattern": "run_2"}, {"Upper_Key", "test_prefix.a"}),
        ({"task_id_pattern": "tor"}, {"v_e%x"}),
        ({"task_id_prefix_pattern": "lo"}, {"test_prefix.a"}),
        ({"map_index_filter": 1}, {"return_value"}),
        ({"map_index": 2}, {"v_e%x"}),
    ],
)
def test_filters(seeded, params, keys) -> None:
    r = listing(seeded, **params)
    assert r.status_code == 200, r.text
    assert {e["key"] for e in r.json()["xcom_entries"]} == keys


@pytest.mark.parametrize(
    ("params", "runs"),
    [
        ({"logical_date_gte": "2025-01-02T00:00:00Z"}, {"run_2"}),
        ({"logical_date_gt": "2025-01-01T00:00:00Z"}, {"run_2", "daily_1"}),
        ({"logical_date_lte": "2025-01-01T00:00:00Z"}, {"run_1"}),
        ({"logical_date_lt": "2025-01-01T06:00:00+00:00"}, {"run_1"}),
        (
            {"run_after_gte": "2025-01-01T06:00:00Z", "run_after_lt": "2025-01-02T00:00:00Z"},
            {"daily_1"},
        ),
    ],
)
def test_date_ranges(seeded, params, runs) -> None:
    r = listing(seeded, **params)
    assert r.status_code == 200, r.text
    assert {e["run_id"] for e in r.json()["xcom_entries"]} == runs


def test_naive_datetime_filter_is_422(seeded) -> None:
    r = listing(seeded, logical_date_gte="2025-01-01T00:00:00")
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "timezone_aware"
    r = listing(seeded, run_after_lt="yesterday")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "run_after_lt"]


@pytest.mark.parametrize(
    ("order_by", "sort_key", "reverse"),
    [
        (["key"], lambda t: (t[3], t), False),
        (["-map_index"], lambda t: (t[4],), True),
        (["task_id", "-key"], None, None),
    ],
)
def test_order_by(seeded, order_by, sort_key, reverse) -> None:
    r = listing(seeded, order_by=order_by)
    assert r.status_code == 200
    got = ids(r)
    if sort_key is None:
        assert [t[2] for t in got] == sorted(t[2] for t in got)
        for task in {t[2] for t in got}:
            keys = [t[3] for t in got if t[2] == task]
            assert keys == sorted(keys, reverse=True)
    else:
        assert [sort_key(t)[0] for t in got] == sorted(
            (sort_key(t)[0] for t in got), reverse=reverse
        )


def test_order_by_run_after_and_timestamp_are_allowed(seeded) -> None:
    assert listing(seeded, order_by="run_after").status_code == 200
    r = listing(seeded, order_by="-timestamp")
    stamps = [e["timestamp"] for e in r.json()["xcom_entries"]]
    assert stamps == sorted(stamps, reverse=True)


def test_bad_order_by_is_400(seeded) -> None:
    r = listing(seeded, order_by="value")
    assert (r.status_code, r.json()) == (
        400,
        {
            "detail": "Ordering with 'value' is disallowed or "
            "the attribute does not exist on the model"
        },
    )
    r = listing(seeded, order_by=["key"] * 11)
    assert r.status_code == 400
    assert r.json()["detail"].startswith("Ordering with more than 10 parameters is not allowed.")


def test_paging(seeded) -> None:
    first = listing(seeded, limit=4)
    second = listing(seeded, limit=4, offset=4)
    rest = listing(seeded, limit=4, offset=8)
    assert [len(r.json()["xcom_entries"]) for r in (first, second, rest)] == [4, 4, 1]
    assert ids(first) + ids(second) + ids(rest) == ids(listing(seeded))
    assert all(r.json()["total_entries"] == len(ROWS) for r in (first, second, rest))
    zero = listing(seeded, limit=0)
    assert zero.json() == {"xcom_entries": [], "total_entries": len(ROWS)}
    past = listing(seeded, offset=100)
    assert past.json() == {"xcom_entries": [], "total_entries": len(ROWS)}


def test_limit_is_capped_at_maximum_page_limit(api) -> None:
    for i in range(105):
        api.client.post(api.xcom_url(), json={"key": f"k{i:03}", "value": i}, headers=api.headers())
    assert len(listing(api, limit=1000).json()["xcom_entries"]) == 100
    assert len(listing(api).json()["xcom_entries"]) == 50
    api.settings.maximum_page_limit = 7
    assert len(listing(api, limit=1000).json()["xcom_entries"]) == 7


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": -1}, ["query", "limit"]),
        ({"limit": "x"}, ["query", "limit"]),
        ({"offset": -1}, ["query", "offset"]),
        ({"map_index": -2}, ["query", "map_index"]),
        ({"map_index_filter": "x"}, ["query", "map_index_filter"]),
    ],
)
def test_bad_query_parameters_are_422(read_only_api, params, loc) -> None:
    r = listing(read_only_api, **params)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc


def test_totals_from_kept_run_counts_match_the_rows(api) -> None:
    """Totals filtered at most by dag_id and run_id come from each run's kept count;
    after creates, failed creates and deletes they must equal a count of the rows."""
    import random

    from sqlalchemy import func, select

    from xcomkit.store.schema import xcom

    rng = random.Random(7)
    targets = [("xcom_demo", "run_1", "extract"), ("xcom_demo", "run_2", "load"),
               ("etl_daily", "daily_1", "fetch")]  # fmt: skip
    live: set[tuple[str, str, str, str]] = set()
    for i in range(60):
        dag_id, run_id, task_id = rng.choice(targets)
        key = f"k{rng.randrange(8)}"
        url = api.xcom_url(dag_id, run_id, task_id)
        if (dag_id, run_id, task_id, key) in live and rng.random() < 0.5:
            r = api.client.delete(f"{url}/{key}", headers=api.headers())
            assert r.status_code == 204
            live.discard((dag_id, run_id, task_id, key))
        else:
            r = api.client.post(url, json={"key": key, "value": i}, headers=api.headers())
            assert r.status_code in (201, 409)
            live.add((dag_id, run_id, task_id, key))
    for dag_id, run_id in [("~", "~"), ("xcom_demo", "~"), ("~", "run_2"), ("etl_daily", "daily_1"),
                           ("nope", "~"), ("~", "nope")]:  # fmt: skip
        got = listing(api, dag_id, run_id, "~", limit=0).json()["total_entries"]
        query = select(func.count()).select_from(xcom)
        if dag_id != "~":
            query = query.where(xcom.c.dag_id == dag_id)
        if run_id != "~":
            query = query.where(xcom.c.run_id == run_id)
        with api.engine.connect() as conn:
            assert got == conn.execute(query).scalar_one(), (dag_id, run_id)
    assert listing(api, limit=0).json()["total_entries"] == len(live)


def test_pattern_filters_follow_writes_through_the_api(seeded_own) -> None:
    """The search index behind ``*_pattern`` follows create, update, delete and DAG-run
    delete as the API makes them (total and entries)."""
    api = seeded_own

    def found(**params):
        r = listing(api, **params)
        assert r.status_code == 200
        body = r.json()
        assert body["total_entries"] == len(body["xcom_entries"])
        return ids(r)

    assert found(xcom_key_pattern="UPPER_key|prefix.") == [
        ("xcom_demo", "run_2", "extract", "Upper_Key", -1),
        ("xcom_demo", "run_2", "load", "test_prefix.a", -1),
    ]
    r = api.client.post(
        api.xcom_url("xcom_demo", "run_1", "load"),
        json={"key": "fresh_upper_keyed", "value": 1},
        headers=api.headers(),
    )
    assert r.status_code == 201
    r = api.client.patch(
        api.xcom_url("xcom_demo", "run_2", "extract", "Upper_Key"),
        json={"value": 2},
        headers=api.headers(),
    )
    assert r.status_code == 200
    assert found(xcom_key_pattern="upper_KEY") == [
        ("xcom_demo", "run_2", "extract", "Upper_Key", -1),
        ("xcom_demo", "run_1", "load", "fresh_upper_keyed", -1),
    ]
    r = api.client.delete(
        api.xcom_url("xcom_demo", "run_1", "load", "fresh_upper_keyed"), headers=api.headers()
    )
    assert r.status_code == 204
    assert found(xcom_key_pattern="upper_KEY") == [
        ("xcom_demo", "run_2", "extract", "Upper_Key", -1)
    ]
    assert found(run_id_pattern="run_2", task_id_pattern="oad") == [
        ("xcom_demo", "run_2", "load", "test_prefix.a", -1)
    ]
    r = api.client.delete("/api/v2/dags/xcom_demo/dagRuns/run_2", headers=api.headers())
    assert r.status_code == 204
    assert found(xcom_key_pattern="upper_KEY|prefix.") == []
    assert found(run_id_pattern="run_2") == []
