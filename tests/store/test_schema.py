"""How SQLite's stored timestamps read back: as datetimes (sqlite_utc) and as the ISO
text the API writes for them (sqlite_iso, used by list pages)."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from xcomkit.server.encoding import dumps
from xcomkit.store.schema import UtcDateTime, sqlite_iso, sqlite_utc

_DIALECT = sqlite.dialect()
_STORE = UtcDateTime().dialect_impl(_DIALECT).bind_processor(_DIALECT)
_TYPE = UtcDateTime()


def _stored(moment: datetime) -> str:
    """The text SQLite keeps for ``moment`` (what an INSERT through the type binds)."""
    naive = _TYPE.process_bind_param(moment, _DIALECT)
    text = _STORE(naive) if _STORE else naive
    assert isinstance(text, str)
    return text


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31),
        timezones=st.just(timezone.utc),
    )
)
def test_iso_text_is_what_the_api_writes_for_the_datetime(moment: datetime) -> None:
    text = _stored(moment)
    assert sqlite_utc(text) == moment
    assert dumps(sqlite_iso(text)) == dumps(sqlite_utc(text)) == dumps(moment)


def test_whole_seconds_leave_out_the_fraction_as_orjson_does() -> None:
    text = _stored(datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert text == "2025-01-02 03:04:05.000000"
    assert sqlite_iso(text) == "2025-01-02T03:04:05Z"
    assert sqlite_iso(_stored(datetime(2025, 1, 2, 3, 4, 5, 10, tzinfo=timezone.utc))) == (
        "2025-01-02T03:04:05.000010Z"
    )


def test_text_another_tool_wrote_is_parsed_and_read_as_utc() -> None:
    for text, moment in [
        ("2025-01-02 03:04:05", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        ("2025-01-02T03:04:05.5", datetime(2025, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)),
        ("2025-01-02 05:04:05+02:00", datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ]:
        assert sqlite_iso(text) == moment
        assert dumps(sqlite_iso(text)) == dumps(moment)


def test_null_stays_null() -> None:
    assert sqlite_iso(None) is None


_OFFSETS = st.sampled_from(["", "Z", "+00:00", "-05:00", "+0530", "-0500", "+05", "+14:00"])


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from([" ", "T"]),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    st.integers(min_value=0, max_value=6),
    _OFFSETS,
)
def test_any_text_sqlite_utc_reads_lists_as_it_reads(
    moment: datetime, sep: str, timespec: str, digits: int, offset: str
) -> None:
    """Text another tool wrote, in any ISO form sqlite_utc reads (a separator, 0 to 6
    fraction digits, a zone in any spelling), lists as the datetime sqlite_utc reads
    from it (what a GET answers): including text of the stored form's length, such as
    ``2025-01-01 00:00:00.12345Z`` or ``2025-01-01 00:00:00.1-0500``."""
    text = moment.isoformat(sep=sep, timespec=timespec)
    if digits and "." not in text:
        text += "." + f"{moment.microsecond:06d}"[:digits]
    text += offset
    assert dumps(sqlite_iso(text)) == dumps(sqlite_utc(text)), text


def test_text_of_the_stored_length_with_a_zone_is_read_with_its_zone() -> None:
    assert sqlite_iso("2025-01-02 03:04:05.12345Z") == datetime(
        2025, 1, 2, 3, 4, 5, 123450, tzinfo=timezone.utc
    )
    assert sqlite_iso("2025-01-02 03:04:05.1-0500") == datetime(
        2025, 1, 2, 8, 4, 5, 100000, tzinfo=timezone.utc
    )
