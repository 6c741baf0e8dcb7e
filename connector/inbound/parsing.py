"""Checked reading of vendor payloads: headers, typed models, times. Every failure names its path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from connector.errors import PayloadError, json_kind

M = TypeVar("M", bound=BaseModel)
_DIGITS = re.compile(r"[0-9]+")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (Flask's headers are, a plain dict is not)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def checked(model: type[M], data: Any, *, vendor: str, event_type: str | None = None) -> M:
    """Validate `data` against `model`; a failure becomes a PayloadError naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        path = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].lower()
        raise PayloadError(msg, path=path, vendor=vendor, event_type=event_type) from exc


def parse_time(value: str | int | float | datetime, *, vendor: str, path: str) -> datetime:
    """ISO 8601 (with Z or an offset, any fraction length) or epoch milliseconds → aware UTC.

    Anything else — another type, or a time no datetime can hold — is a PayloadError naming `path`."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(
            f"a time is ISO 8601 text or epoch milliseconds, got {json_kind(value)}", path=path, vendor=vendor
        )
    elif isinstance(value, int | float):
        try:
            dt = datetime.fromtimestamp(value / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:  # beyond year 1..9999, or NaN
            raise PayloadError(f"epoch milliseconds out of range: {_quote(value)}", path=path, vendor=vendor) from exc
    else:
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        # Python accepts at most 6 fractional digits; Zendesk sends nanoseconds.
        if "." in text:
            head, _, rest = text.partition(".")
            digits = _DIGITS.match(rest)
            fraction = digits.group() if digits else ""
            text = f"{head}.{fraction[:6].ljust(6, '0')}{rest[len(fraction) :]}"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise PayloadError(f"not an ISO 8601 time: {_quote(value)}", path=path, vendor=vendor) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is before the first instant a datetime holds
        raise PayloadError(f"out of range: {_quote(value)}", path=path, vendor=vendor) from exc


def _quote(value: Any, limit: int = 64) -> str:
    """`value` for a message: repr, cut to `limit` characters (a payload may hold a megabyte)."""
    text = repr(value[: limit + 1] if isinstance(value, str) else value)
    return text if len(text) <= limit else f"{text[:limit]}…"
