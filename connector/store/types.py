"""Column types that accept whatever an authentic delivery carries and store what the database can hold.

PostgreSQL refuses text with a NUL character, JSON with a lone surrogate escape, and a string longer
than its `varchar(n)`; SQLite refuses none of these. A delivery must never fail — in the
acknowledgement or in a job, where no retry could fix it — because a vendor sent such a value, so
every text column goes through `clean_text` (NUL and lone surrogates become U+FFFD, the replacement
character) and `Str(n)` also cuts to its length. The raw body is bytes and stays exactly as received.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.types import TypeDecorator

REPLACEMENT = "\ufffd"
#: what `json.dumps` (ASCII output) writes for the characters `clean_text` replaces: NUL, and surrogates
_ESCAPED_SUSPECTS = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def clean_text(value: str) -> str:
    """`value` with NUL characters and lone surrogates replaced by U+FFFD."""
    if value.isascii():
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (from JSON escapes such as "\ud800")
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value.replace("\x00", REPLACEMENT) if "\x00" in value else value


def clean_json(value: Any) -> Any:
    """A JSON value with every string (keys included) cleaned by `clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


class Str(TypeDecorator[str]):
    """`String(length)` that cleans its text and cuts it to the length the column holds."""

    impl = String
    cache_ok = True

    def __init__(self, length: int):
        super().__init__(length)
        self.max_length = length

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None:
            return None
        text = clean_text(value)
        return text if len(text) <= self.max_length else text[: self.max_length]


class SafeText(TypeDecorator[str]):
    """`Text` that cleans its text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else clean_text(value)


class SafeJSON(TypeDecorator[Any]):
    """`JSON` whose strings are cleaned."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return clean_json(value) if _may_need_cleaning(value) else value


def _may_need_cleaning(value: Any) -> bool:
    """Could `value` hold a NUL or a surrogate? One pass of the C encoder answers for most values (which
    have neither) what walking them in Python would; a value with an emoji, or that it cannot encode as
    it stands, is cleaned."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return True
    return _ESCAPED_SUSPECTS.search(text) is not None


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
