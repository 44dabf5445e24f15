"""The official ``airflow_client.client`` (and xcomkit's drop-in) cannot tell that a value
is kept in object storage: a real uvicorn with --offload-threshold, compared with one
that keeps every value in its row."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import airflow_client.client as official_pkg
import pytest

import xcomkit.client as client_pkg
from tests.conftest import TEST_SECRET, serve_in_thread
from xcomkit.server.app import create_app
from xcomkit.settings import Settings
from xcomkit.store.db import make_engine
from xcomkit.store.objects import ObjectStore

DAG, RUN, TASK = "xcom_demo", "run_1", "extract"
BIG = {"frame": [[i, f"v{i}", i / 3] for i in range(300)]}
BIG_TEXT = json.dumps(BIG)


@pytest.fixture(scope="module")
def servers(tmp_path_factory, template_db: Path) -> Iterator[dict[str, Any]]:
    """Two live servers on their own databases: "offload" (file://, zstd) and "row"."""
    made: dict[str, Any] = {}
    with_store = {
        "object_store": f"file://{tmp_path_factory.mktemp('objects')}",
        "offload_threshold": 1024,
        "offload_compression": "zstd",
    }
    engines = []
    try:
        for name, extra in (("offload", with_store), ("row", {})):
            path = tmp_path_factory.mktemp(name) / "xcomkit.db"
            shutil.copyfile(template_db, path)
            engine = make_engine(f"sqlite:///{path}")
            engines.append(engine)
            app = create_app(
                Settings(db=f"sqlite:///{path}", jwt_secret=TEST_SECRET, **extra), engine=engine
            )
            token = app.state.ctx.tokens.issue("admin", "admin")
            made[name] = (app, token)
        with serve_in_thread(made["offload"][0]) as a, serve_in_thread(made["row"][0]) as b:
            yield {
                "offload": (a, made["offload"][1]),
                "row": (b, made["row"][1]),
                "store": made["offload"][0].state.ctx.storage.store,
            }
    finally:
        for engine in engines:
            engine.dispose()


@pytest.mark.parametrize("pkg", [official_pkg, client_pkg], ids=["official", "xcomkit"])
def test_the_client_cannot_tell_an_offloaded_value(servers, pkg) -> None:
    answers: dict[str, list[Any]] = {}
    key = f"big-{pkg.__name__}"
    for name in ("offload", "row"):
        base_url, token = servers[name]
        api_client = pkg.ApiClient(pkg.Configuration(host=base_url, access_token=token))
        api = pkg.XComApi(api_client)
        for k, value in ((key, BIG), (key + "-text", BIG_TEXT)):
            created = api.create_xcom_entry(DAG, TASK, RUN, pkg.XComCreateBody(key=k, value=value))
            assert created.value == value
        got = [
            api.get_xcom_entry(DAG, TASK, RUN, key).actual_instance.value,
            api.get_xcom_entry(DAG, TASK, RUN, key, stringify=True).actual_instance.value,
            api.get_xcom_entry(DAG, TASK, RUN, key + "-text").actual_instance.value,
            api.get_xcom_entry(
                DAG, TASK, RUN, key + "-text", deserialize=True
            ).actual_instance.value,
        ]
        updated = api.update_xcom_entry(
            DAG, TASK, RUN, key, pkg.XComUpdateBody(value={**BIG, "v": 2})
        )
        got.append(updated.value)
        got.append(api.get_xcom_entry(DAG, TASK, RUN, key).actual_instance.value)
        listed = api.get_xcom_entries(DAG, RUN, TASK, xcom_key=key)
        got.append([(e.key, e.map_index) for e in listed.xcom_entries])
        answers[name] = got
        api_client.rest_client.pool_manager.clear()
    assert answers["offload"] == answers["row"]
    assert answers["offload"][0] == BIG
    assert answers["offload"][3] == BIG
    assert answers["offload"][5] == {**BIG, "v": 2}
    store: ObjectStore = servers["store"]
    assert len(list(store.scan())) >= 2  # the values really are in objects
