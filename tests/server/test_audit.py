"""Every write leaves one audit record: who, what address, outcome; reads leave none."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from xcomkit.logs import log_config


@pytest.fixture
def audit(caplog):
    caplog.set_level(logging.INFO, logger="xcomkit.audit")

    def records():
        return [r for r in caplog.records if r.name == "xcomkit.audit"]

    return records


def test_create_is_recorded_with_its_whole_address(api, audit) -> None:
    r = api.client.post(
        api.xcom_url(), json={"key": "a/b", "value": 1, "map_index": 2}, headers=api.headers()
    )
    assert r.status_code == 201
    [rec] = audit()
    assert {
        k: getattr(rec, k)
        for k in (
            *("who", "role", "action", "method", "status", "outcome"),
            *("dag_id", "dag_run_id", "task_id", "key", "map_index"),
        )
    } == {
        "who": "admin",
        "role": "admin",
        "action": "create_xcom_entry",
        "method": "POST",
        "status": 201,
        "outcome": "ok",
        "dag_id": "xcom_demo",
        "dag_run_id": "run_1",
        "task_id": "extract",
        "key": "a/b",
        "map_index": 2,
    }
    assert "who=admin" in rec.getMessage() and "key=a/b" in rec.getMessage()


def test_refused_writes_are_recorded_as_denied_or_failed(api, audit) -> None:
    api.client.post(api.xcom_url(), json={"key": "k", "value": 1})
    api.client.delete(api.xcom_url(key="k"), headers=api.headers("viewer"))
    api.client.patch(api.xcom_url(key="nope"), json={"value": 1}, headers=api.headers())
    got = [(r.who, r.action, r.status, r.outcome) for r in audit()]
    assert got == [
        ("-", "create_xcom_entry", 401, "denied"),
        ("viewer", "delete_xcom_entry", 403, "denied"),
        ("admin", "update_xcom_entry", 404, "failed"),
    ]


def test_login_failure_names_the_attempted_user(api, audit) -> None:
    api.client.post("/auth/token", json={"username": "mallory", "password": "guess"})
    [rec] = audit()
    assert (rec.who, rec.action, rec.status, rec.outcome) == (
        "mallory",
        "create_token",
        401,
        "denied",
    )


def test_dag_run_trigger_and_delete_are_recorded(api, audit) -> None:
    api.client.post(
        "/api/v2/dags/xcom_demo/dagRuns",
        json={"logical_date": None, "dag_run_id": "audited"},
        headers=api.headers(),
    )
    [rec] = audit()
    assert (rec.action, rec.dag_id, rec.dag_run_id, rec.status) == (
        "trigger_dag_run",
        "xcom_demo",
        "audited",
        200,
    )


def test_reads_are_not_recorded(api, audit) -> None:
    api.client.get(api.xcom_url(), headers=api.headers())
    api.client.get(api.xcom_url(key="x"), headers=api.headers())
    assert audit() == []


def test_json_log_format_puts_audit_fields_at_the_top_level() -> None:
    from xcomkit.server.audit import record

    config = log_config("json")
    logging.config.dictConfig(config)
    stream = io.StringIO()
    handler = logging.getLogger("xcomkit").handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        record(who="alice", action="create_xcom_entry", status=201, outcome="ok", key='a "b"')
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    line = json.loads(stream.getvalue())
    assert {k: line[k] for k in ("who", "action", "status", "outcome", "key", "name")} == {
        "who": "alice",
        "action": "create_xcom_entry",
        "status": 201,
        "outcome": "ok",
        "key": 'a "b"',
        "name": "xcomkit.audit",
    }


@pytest.mark.parametrize(
    "name", ["a\rFAKE who=admin", "x\u2028y", "esc\x1b[2K", "t\tstatus=201", "n\x00"]
)
def test_text_records_escape_every_control_and_separator_character(audit, name) -> None:
    from xcomkit.server.audit import record

    record(who=name, action="create_token", outcome="denied")
    [rec] = audit()
    message = rec.getMessage()
    assert message.isprintable() and message.isascii(), repr(message)
    assert f"who={json.dumps(name)}" in message


def test_records_cut_long_fields(audit) -> None:
    from xcomkit.server.audit import MAX_FIELD_CHARS, record

    record(who="u" * 100_000, action="create_token")
    [rec] = audit()
    assert len(rec.getMessage()) < MAX_FIELD_CHARS + 200
    assert rec.who.endswith("...(100000 chars)")
