"""Durations as people write them in a policy: `90s`, `15m`, `4h`, `1h30m`, `2d`, `1w`, `24 hours`.

Days and weeks are 24 h and 7 d of *counted* time: in business time `1d` is 24 business hours, not
"one business day" (write a business day as the calendar's day length, e.g. `8h` for 09:00–17:00).
A bare number is refused: `60` could be seconds or minutes, and a policy must not leave that open.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
#: the longest duration a policy may give (a target, a warning, a trigger's window): a year, leap or not.
#: Clocks count over real calendars; a target of centuries would take the engine minutes, then overflow.
MAX_DURATION = timedelta(days=366)


def parse_duration(value: Any) -> timedelta:
    """`"1h30m"` → 1:30:00. Accepts a timedelta as is; refuses bare numbers, negative values and more
    than MAX_DURATION."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"a duration cannot be negative, got {value}")
        if value > MAX_DURATION:
            raise ValueError(f"a duration is at most {MAX_DURATION.days}d, got {format_duration(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        # ValueError, not TypeError: pydantic reports only ValueError/AssertionError as validation errors.
        raise ValueError(  # noqa: TRY004
            f"a duration is text with a unit such as '15m', '4h' or '2d', got {value!r}"
        )
    text = value.strip().lower()
    seconds = 0.0
    pos = 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m or m.group(2) not in _UNITS:
            raise ValueError(f"not a duration: {value!r} (write e.g. '90s', '15m', '4h', '1h30m', '2d', '1w')")
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise ValueError(f"not a duration: {value!r} (write e.g. '90s', '15m', '4h', '1h30m', '2d', '1w')")
    if seconds > MAX_DURATION.total_seconds():
        shown = value if len(value) <= 40 else f"{value[:40]}…"
        raise ValueError(f"a duration is at most {MAX_DURATION.days}d, got {shown!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling: 1:30:00 → `1h30m`, 7 days → `1w`, 0 → `0s`."""
    total = value.total_seconds()
    if total == 0:
        return "0s"
    parts: list[str] = []
    rest = total
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{int(n)}{unit}")
    if rest:
        parts.append(f"{rest:g}s")
    return "".join(parts)


#: A policy duration field: parsed from text, shown back as text (`policy show`).
Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
