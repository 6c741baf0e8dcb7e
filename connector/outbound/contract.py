"""What an outbound adapter is: a `Sender` for one channel (pagerduty, notify, jira, zendesk).

A sender carries one intent per call and says how it went by returning `Sent` or raising:
- `connector.errors.NotSent` — it may not send this (no credentials, no route for the target):
  recorded as not sent with the reason, never retried;
- `connector.errors.OutboundError(retryable=False)` — the vendor refused it (400, 401, 403, 404):
  dead-lettered at once with the vendor's message;
- `OutboundError(retryable=True, retry_after=…)` — a timeout, a 429, a 5xx: retried with backoff,
  honouring `retry_after`.
Its client library's own retries are capped, so a call returns within seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from connector.outbound.intents import OutboundRequest


@dataclass(frozen=True)
class Sent:
    """The vendor took it: `reference` is what it calls the result (a dedup key, an issue key)."""

    reference: str | None = None
    response: Mapping[str, Any] = field(default_factory=dict)  # what the vendor answered (no secrets)


@dataclass(frozen=True)
class RateLimit:
    """At most `events` sends per `seconds` per rate key (PagerDuty: about 120 events a minute per routing key)."""

    events: int
    seconds: float


@runtime_checkable
class Sender(Protocol):
    channel: ClassVar[str]
    #: at most this many sends per rate key (None: no limit of ours; the vendor's 429s still count)
    rate_limit: RateLimit | None
    #: at most this many sends for one ticket (None: no share of its own), so that one busy ticket
    #: cannot take the whole of `rate_limit` and starve the rest
    ticket_rate_limit: RateLimit | None

    def rate_key(self, request: OutboundRequest) -> str | None:
        """What the vendor's rate limit counts this request against (a digest, never a secret), or None."""
        ...

    def send(self, request: OutboundRequest) -> Sent:
        """Carry out one intent (see the module docstring for how failures are told)."""
        ...


@runtime_checkable
class Fetcher(Protocol):
    """A sender that can also read an object back from its tool, for the reconciliation sweep."""

    channel: ClassVar[str]

    def fetch(self, instance: str, object_type: str, key: str) -> Mapping[str, Any] | None:
        """The object as the tool's REST API shows it (None: it is gone). Raises OutboundError when
        the tool cannot answer now."""
        ...
