"""Durations written the way people write them: ``30d``, ``12h``, ``90m``, ``2w``.

Used by ``xcomkit db clean --older-than``, the manifest's ``xcom_retention`` and
``serve --retention-interval``. Parsing is pytimeparse's (units s, m, h, d, w, spelled
short or long, combinable: ``1d12h``, ``1.5h``, ``30 days``); a bare number is refused,
so that ``30`` is never silently read as seconds where days were meant.
"""

from __future__ import annotations

from pytimeparse.timeparse import timeparse as _parse

#: What an error message shows as accepted.
EXAMPLES = "e.g. 30d, 12h, 90m, 2w; units s, m, h, d, w"


#: The longest duration accepted: 1,000 years (a cutoff that far back is still a date).
MAX_SECONDS = 1000 * 365 * 86400


def parse_duration(text: str, *, allow_zero: bool = False) -> int:
    """Whole seconds in ``text``.

    Args:
        text: a duration such as ``"30d"``; fractions round down to the second.
        allow_zero: accept ``0`` / ``0s`` / ``off`` (for settings where 0 means "off").

    Raises:
        ValueError: not a duration, negative, longer than :data:`MAX_SECONDS`, or zero
            when ``allow_zero`` is False; the message quotes ``text`` and shows the
            accepted forms.
    """
    cleaned = text.strip()
    if allow_zero and cleaned.lower() in ("0", "off"):
        return 0
    seconds = _parse(cleaned)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration ({EXAMPLES})")
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is too long; give at most {MAX_SECONDS // 86400 // 365} years")
    whole = int(seconds)
    if whole < 0:
        raise ValueError(f"{text!r} is negative; give a duration such as 30d")
    if whole == 0 and not allow_zero:
        raise ValueError(f"{text!r} is zero; give a duration of at least 1s ({EXAMPLES})")
    return whole


def format_duration(seconds: int) -> str:
    """``seconds`` in the largest unit that divides it: ``2592000`` -> ``30d``."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
