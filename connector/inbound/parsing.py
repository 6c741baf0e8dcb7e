"""Checked reading of vendor payloads: headers, typed models, times. Every failure names its path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from connector.errors import PayloadError

M = TypeVar("M", bound=BaseModel)


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
    """ISO 8601 (with Z or an offset, any fraction length) or epoch milliseconds → aware UTC."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float):
        dt = datetime.fromtimestamp(value / 1000.0, tz=UTC)
    else:
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        # Python accepts at most 6 fractional digits; Zendesk sends nanoseconds.
        if "." in text:
            head, _, rest = text.partition(".")
            digits = ""
            while rest and rest[0].isdigit():
                digits, rest = digits + rest[0], rest[1:]
            text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise PayloadError(f"not an ISO 8601 time: {value!r}", path=path, vendor=vendor) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
