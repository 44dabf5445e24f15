"""Failed-login counters on SQLite and PostgreSQL: counting, limits, windows, pruning."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from xcomkit.store import logins
from xcomkit.store.db import make_engine, migrate
from xcomkit.store.schema import login_failure


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, pg_database):
    url = f"sqlite:///{tmp_path / 'l.db'}" if request.param == "sqlite" else pg_database("logins_")
    engine = make_engine(url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_failures_count_up_to_the_limit_then_block_until_the_window_ends(engine) -> None:
    limits = {"user:a": 3, "client:1.2.3.4": 100}
    for i in range(3):
        with engine.begin() as conn:
            assert logins.seconds_blocked(conn, limits, window=60, now=1000 + i) is None
            logins.record_failure(conn, limits, window=60, now=1000 + i)
    with engine.begin() as conn:
        assert logins.seconds_blocked(conn, limits, window=60, now=1010) == 50
        assert logins.seconds_blocked(conn, limits, window=60, now=1060) is None
        counts = dict(conn.execute(select(login_failure.c.bucket, login_failure.c.failures)).all())
    assert counts == {"user:a": 3, "client:1.2.3.4": 3}


def test_a_new_window_starts_after_the_last_and_dead_windows_are_pruned(engine) -> None:
    with engine.begin() as conn:
        logins.record_failure(conn, ["user:a", "user:b"], window=60, now=1000)
        logins.record_failure(conn, ["user:a"], window=60, now=1070)
        rows = conn.execute(select(login_failure)).all()
    assert [(r.bucket, r.window_start, r.failures) for r in rows] == [("user:a", 1070, 1)]
