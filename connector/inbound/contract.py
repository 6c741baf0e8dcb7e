"""What an adapter is: the `Adapter` protocol and its handler table.

An adapter is pure: it turns (headers, body) into canonical events and does no I/O. The receiver
calls `verify`, then `delivery_key` and `parse`, all before it answers; everything else happens in
the queued job. Every adapter declares its supported events the same way — a module-level
`HANDLERS` table, `event type → handler`, exposed as the class attribute `handlers` — and a handler
is called with the event type it was looked up by, so one handler can serve several types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from connector.model import InboundEvent, Parsed

Headers = Mapping[str, str]
#: (event type, parsed JSON payload, headers) → the canonical events of that delivery
Handler = Callable[[str, Any, Headers], tuple[InboundEvent, ...]]
HandlerTable = Mapping[str, Handler]


@runtime_checkable
class Adapter(Protocol):
    vendor: ClassVar[str]
    #: vendor event type → handler; the set of supported events is derived from this table.
    handlers: ClassVar[HandlerTable]

    def sign(self, *, body: bytes, secret: str, now: datetime) -> dict[str, str]:
        """The signature headers the vendor would send with `body` (for tests, simulators, the demo)."""
        ...

    def verify(self, *, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
        """Raise SignatureError unless the delivery is signed with one of `secrets`."""
        ...

    def signed_content(self, *, headers: Headers, body: bytes) -> bytes:
        """What the vendor's signature covers (the body, and for some vendors a signed timestamp):
        a delivery re-sent with the same signed content is the same delivery, whatever else differs."""
        ...

    def delivery_key(self, *, headers: Headers, payload: Any) -> str | None:
        """The vendor's delivery/event id (the dedupe key), or None to fall back to a body hash."""
        ...

    def event_type(self, *, headers: Headers, payload: Any) -> str:
        """The vendor event type named by the payload; raises PayloadError if it names none."""
        ...

    def parse(self, *, headers: Headers, payload: Any) -> Parsed:
        """Turn a payload into canonical events; PayloadError on a shape we do not understand."""
        ...


def dispatch(adapter: Adapter, *, headers: Headers, payload: Any) -> Parsed:
    """The shared `parse`: look the event type up in the adapter's handler table; unknown → ignored."""
    event_type = adapter.event_type(headers=headers, payload=payload)
    handler = adapter.handlers.get(event_type)
    if handler is None:
        return ignored(event_type)
    return Parsed(event_type=event_type, events=handler(event_type, payload, headers))


def ignored(event_type: str, reason: str | None = None) -> Parsed:
    return Parsed(event_type=event_type, ignored_reason=reason or f"event type {event_type!r} is not handled")
