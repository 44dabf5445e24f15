"""DAG-run list cursors: Airflow's form, and the refusals of bad ones."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi import HTTPException

from xcomkit.server import cursors


def test_cursors_are_airflows_strings() -> None:
    # Strings a live Airflow 3.3.2 answered for the sort keys [3] and [4] (order by id).
    assert cursors.encode([3]) == "kQM"
    assert cursors.encode([4]) == "kQQ"
    assert cursors.parse("kQQ", 1) == ([4], False)
    assert cursors.parse("~kQM", 1) == ([3], True)


def test_round_trip_of_every_sort_value_kind() -> None:
    key = ["run_1", 7, 1.5, None, {"a": [1]}, datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)]
    assert cursors.parse(cursors.encode(key), len(key)) == (key, False)


@pytest.mark.parametrize(
    ("cursor", "detail"),
    [
        ("@@@", "Invalid cursor token"),
        ("é", "Invalid cursor token"),
        ("~", "Invalid cursor token"),
        ("gA", "Invalid cursor token structure"),
        ("kQM", "Cursor token does not match current query shape"),
    ],
)
def test_bad_cursors_are_400(cursor: str, detail: str) -> None:
    with pytest.raises(HTTPException) as caught:
        cursors.parse(cursor, 2)
    assert (caught.value.status_code, caught.value.detail) == (400, detail)
