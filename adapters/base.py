"""The adapter contract and the small helpers every adapter shares.

An adapter is pure: it turns (headers, body) into canonical events and does no I/O. The receiver
calls `verify`, then `delivery_key` and `parse`, all before it answers; everything else happens in
the queued job.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from connector.errors import PayloadError
from connector.model import InboundEvent, Parsed

Headers = Mapping[str, str]
Handler = Callable[[Any, Headers], tuple[InboundEvent, ...]]


@runtime_checkable
class Adapter(Protocol):
    vendor: ClassVar[str]
    #: vendor event type → handler; the set of supported events is derived from this table.
    handlers: ClassVar[Mapping[str, Handler]]

    def verify(self, *, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
        """Raise SignatureError unless the delivery is signed with one of `secrets`."""

    def delivery_key(self, *, headers: Headers, payload: Any) -> str | None:
        """The vendor's delivery/event id (the dedupe key), or None to fall back to a body hash."""

    def event_type(self, *, headers: Headers, payload: Any) -> str:
        """The vendor event type named by the payload; raises PayloadError if it names none."""

    def parse(self, *, headers: Headers, payload: Any) -> Parsed:
        """Turn a payload into canonical events; PayloadError on a shape we do not understand."""


def header(headers: Headers, name: str) -> str | None:
    """Case-insensitive header lookup (Flask's headers are, a plain dict is not)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def any_digest_matches(candidates: Sequence[bytes], expected: Sequence[bytes]) -> bool:
    """Constant-time comparison of every candidate against every expected digest.

    Every pair is compared (no early exit), so timing reveals neither which secret nor which
    signature matched.
    """
    matched = False
    for cand in candidates:
        for exp in expected:
            matched |= hmac.compare_digest(cand, exp)
    return matched


M = TypeVar("M", bound=BaseModel)


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


def dispatch(adapter: Adapter, *, headers: Headers, payload: Any) -> Parsed:
    """The shared `parse`: look the event type up in the adapter's handler table; unknown → ignored."""
    event_type = adapter.event_type(headers=headers, payload=payload)
    handler = adapter.handlers.get(event_type)
    if handler is None:
        return ignored(event_type)
    return Parsed(event_type=event_type, events=handler(payload, headers))


def ignored(event_type: str, reason: str | None = None) -> Parsed:
    return Parsed(event_type=event_type, ignored_reason=reason or f"event type {event_type!r} is not handled")
