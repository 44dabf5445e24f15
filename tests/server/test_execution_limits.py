"""Requests under the work lanes: a held SQLite lock delays only writes, and only until the
request's deadline; reads and health go on answering."""

from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture
def locked(make_api):
    """An app with a 0.3 s request timeout, and another connection holding the write lock."""
    api = make_api(request_timeout=0.3)
    path = api.settings.db.removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield api, other
    other.close()


def test_write_waits_only_until_its_deadline_and_changes_nothing(locked) -> None:
    api, other = locked
    r = api.client.post(api.xcom_url(), json={"key": "w", "value": 1}, headers=api.headers())
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert "request timeout (0.3 s)" in r.json()["detail"]
    other.execute("ROLLBACK")
    assert api.client.get(api.xcom_url(key="w"), headers=api.headers()).status_code == 404
    r = api.client.post(api.xcom_url(), json={"key": "w", "value": 1}, headers=api.headers())
    assert r.status_code == 201


def test_reads_and_health_answer_while_another_process_holds_the_lock(locked) -> None:
    api, _other = locked
    r = api.client.get(api.xcom_url("~", "~", "~"), headers=api.headers())
    assert r.status_code == 200
    assert api.client.get(api.xcom_url(key="nothing"), headers=api.headers()).status_code == 404
    health = api.client.get("/api/v2/monitor/health")
    assert health.json()["metadatabase"] == {"status": "healthy"}


def test_list_running_past_the_deadline_is_503(make_api, monkeypatch) -> None:
    from sqlalchemy import text

    from xcomkit.service import xcoms as rules

    api = make_api(request_timeout=0.2)

    def slow_list(db, *_args, **_kwargs):
        with db.reading() as conn:
            conn.execute(
                text(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                    "LIMIT 1000000000) SELECT count(*) FROM c"
                )
            ).scalar()

    monkeypatch.setattr(rules, "list_xcoms", slow_list)
    r = api.client.get(api.xcom_url("~", "~", "~"), headers=api.headers())
    assert (r.status_code, r.headers["retry-after"]) == (503, "1")
    assert "request timeout" in r.json()["detail"]
