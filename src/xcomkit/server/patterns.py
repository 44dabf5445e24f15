"""The ``*_pattern`` and ``*_prefix_pattern`` list filters, as Airflow 3.3.2 reads them.

* ``*_pattern``: case-insensitive substring match (SQL ``ILIKE '%term%'``); ``%`` and
  ``_`` keep their LIKE meaning.
* ``*_prefix_pattern``: case-sensitive prefix match done as a range scan
  (``lower <= column < upper``); ``%`` and ``_`` are literal, and trailing characters
  that are not letters or digits are dropped from the term first (``test_`` matches
  values starting with ``test``).
* In both, ``|`` separates alternatives (OR) and ``~`` alone matches everything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.exceptions import RequestValidationError

_MAX_CODEPOINT = 0x10FFFF

#: Longest pattern accepted (longer than any value it could match: keys hold 512
#: characters, display names 2000). Beyond Airflow, which passes any length to the
#: database and answers 500 when SQLite finds the LIKE pattern too complex.
MAX_PATTERN_LENGTH = 4096
#: Most ``|`` alternatives in one pattern (each becomes one OR-ed SQL condition).
MAX_ALTERNATIVES = 100

#: The type of a ``*_pattern`` or ``*_prefix_pattern`` query parameter.
PatternQuery = Annotated[str | None, Query(max_length=MAX_PATTERN_LENGTH)]


def _terms(value: str, name: str, pipe_as_or: bool = True) -> list[str]:
    if pipe_as_or and "|" in value:
        terms = [t.strip() for t in value.split("|") if t.strip()]
        if len(terms) > MAX_ALTERNATIVES:
            raise RequestValidationError(
                [
                    {
                        "type": "too_many_alternatives",
                        "loc": ("query", name),
                        "msg": f"A pattern may have at most {MAX_ALTERNATIVES} alternatives "
                        f"separated by '|'; this one has {len(terms)}",
                        "input": value,
                    }
                ]
            )
        if terms:
            return terms
    return [value]


def like_patterns(value: str | None, name: str, *, pipe_as_or: bool = True) -> list[str] | None:
    """ILIKE patterns (OR-ed) for the ``*_pattern`` parameter ``name``.

    None when the filter is absent. With ``pipe_as_or=False`` a ``|`` is literal (as
    Airflow reads ``partition_key_pattern``).

    Raises:
        RequestValidationError: more than :data:`MAX_ALTERNATIVES` alternatives (422).
    """
    if value is None:
        return None
    if value == "~":
        value = "%"
    return [f"%{t}%" for t in _terms(value, name, pipe_as_or)]


def _strip_tail(term: str) -> str:
    while term and not term[-1].isalnum():
        term = term[:-1]
    return term


def prefix_upper_bound(term: str) -> str | None:
    """The exclusive upper bound of the range of strings starting with ``term``.

    The last letter or digit is raised by one code point; where that is no longer a
    letter or digit, the character is dropped and the one before it raised instead.
    None when no such bound exists (the range is then open above).
    """
    term = _strip_tail(term)
    while term:
        last = ord(term[-1])
        if last < _MAX_CODEPOINT:
            bumped = chr(last + 1)
            if bumped.isalnum():
                return term[:-1] + bumped
        term = _strip_tail(term[:-1])
    return None


def prefix_bounds(
    value: str | None, name: str, *, pipe_as_or: bool = True
) -> list[tuple[str, str | None]] | None:
    """(lower, upper) range bounds (OR-ed) for the ``*_prefix_pattern`` parameter ``name``.

    A lower bound of ``""`` stands for "any value" (``~``, or a term with no letters or
    digits). None when the filter is absent.

    Raises:
        RequestValidationError: more than :data:`MAX_ALTERNATIVES` alternatives (422).
    """
    if value is None:
        return None
    if value == "~":
        value = ""
    return [(_strip_tail(t), prefix_upper_bound(t)) for t in _terms(value, name, pipe_as_or)]
