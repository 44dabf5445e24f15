"""Durations of --older-than, xcom_retention and --retention-interval; and where they are read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from xcomkit.durations import format_duration, parse_duration
from xcomkit.manifest import ManifestError, manifest_from_data
from xcomkit.settings import Settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("12h", 12 * 3600),
        ("90m", 90 * 60),
        ("2w", 14 * 86400),
        ("45s", 45),
        ("1d12h", 36 * 3600),
        ("1.5h", 5400),
        (" 30 days ", 30 * 86400),
    ],
)
def test_accepted_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", "'30' is not a duration (e.g. 30d, 12h, 90m, 2w; units s, m, h, d, w)"),
        ("1y", "'1y' is not a duration (e.g. 30d, 12h, 90m, 2w; units s, m, h, d, w)"),
        ("thirty days", "'thirty days' is not a duration"),
        ("", "'' is not a duration"),
        ("-3d", "'-3d' is negative; give a duration such as 30d"),
        ("0d", "'0d' is zero; give a duration of at least 1s"),
    ],
)
def test_refused_durations_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value).startswith(message)


def test_zero_where_it_means_off() -> None:
    assert [parse_duration(t, allow_zero=True) for t in ("0", "off", "0s", "OFF")] == [0, 0, 0, 0]


def test_format_duration_picks_the_largest_whole_unit() -> None:
    shown = [format_duration(s) for s in (2592000, 1209600, 43200, 5400, 90, 0)]
    assert shown == ["30d", "2w", "12h", "90m", "90s", "0s"]


def test_manifest_xcom_retention() -> None:
    manifest = manifest_from_data(
        {"dags": [{"dag_id": "a", "xcom_retention": "30d"}, {"dag_id": "b"}]}
    )
    assert [d.xcom_retention_seconds for d in manifest.dag_defs()] == [2592000, None]
    with pytest.raises(ManifestError, match=r"'30 dayz' is not a duration"):
        manifest_from_data({"dags": [{"dag_id": "a", "xcom_retention": "30 dayz"}]})
    with pytest.raises(ManifestError, match="xcom_retention"):
        manifest_from_data({"dags": [{"dag_id": "a", "xcom_retention": 30}]})


@pytest.mark.parametrize(
    ("given", "seconds"), [(None, 3600.0), ("15m", 900.0), ("120", 120.0), ("off", 0.0)]
)
def test_retention_interval_setting(
    given: str | None, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    if given is None:
        monkeypatch.delenv("XCOMKIT_RETENTION_INTERVAL", raising=False)
    else:
        monkeypatch.setenv("XCOMKIT_RETENTION_INTERVAL", given)
    assert Settings().retention_interval == seconds


def test_a_bad_retention_interval_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XCOMKIT_RETENTION_INTERVAL", "soon")
    with pytest.raises(ValidationError, match="'soon' is not a duration"):
        Settings()


def test_a_duration_past_a_thousand_years_is_refused() -> None:
    from xcomkit.durations import MAX_SECONDS

    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999d")
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999999999999d")
    assert parse_duration(f"{MAX_SECONDS}s") == MAX_SECONDS


def test_a_cutoff_before_year_one_is_the_earliest_date() -> None:
    from datetime import datetime, timezone

    from xcomkit.service.retention import cutoff_for

    earliest = datetime.min.replace(tzinfo=timezone.utc)
    assert cutoff_for(10**12) == earliest
    assert cutoff_for(3600, now=datetime(2026, 1, 1, 1, tzinfo=timezone.utc)) == datetime(
        2026, 1, 1, tzinfo=timezone.utc
    )
