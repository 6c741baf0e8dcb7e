"""What the SLA engine reads and writes: the facts of a ticket's history (`SlaEvent`), in the order
they take when they share an instant, and what the clocks fire (`Fire`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class SlaEventType(StrEnum):
    """The facts of a ticket's history the clocks react to (and the event types scenarios use)."""

    CREATED = "created"
    REPLY = "reply"  # with `public`
    PUBLIC_REPLY = "public_reply"
    INTERNAL_NOTE = "internal_note"
    STATUS = "status"
    SEVERITY = "severity"
    TIER = "tier"
    CATEGORY = "category"
    CHANNEL = "channel"
    LEVEL = "level"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    PAGED = "paged"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"


#: event types that change a target selector, and the selector each one changes
SELECTOR_EVENTS = {
    SlaEventType.SEVERITY: "severity",
    SlaEventType.TIER: "tier",
    SlaEventType.CATEGORY: "category",
    SlaEventType.CHANNEL: "channel",
    SlaEventType.LEVEL: "level",
}
REPLIES = frozenset({SlaEventType.REPLY, SlaEventType.PUBLIC_REPLY, SlaEventType.INTERNAL_NOTE})
MILESTONES = frozenset({SlaEventType.ESCALATED, SlaEventType.PAGED, SlaEventType.ACKNOWLEDGED, SlaEventType.ASSIGNED})


@dataclass(frozen=True)
class SlaEvent:
    """One fact of a ticket's history, in the shape scenarios use."""

    at: datetime
    type: SlaEventType
    author: str | None = None  # "agent" | "customer" | an author id or name
    author_is_agent: bool | None = None
    public: bool | None = None
    value: str | None = None  # the new status / severity / tier / category / channel / level
    tags: tuple[str, ...] = ()


def rank(event: SlaEvent, *, ending: Collection[str]) -> int:
    """Where an event goes among events of the same instant — by meaning, not by list order:

    0. creation;
    1. triage: severity, tier, category, channel and level changes (they choose the targets), and
       status changes that keep the ticket open and counting (a reopen, open, in progress);
    2. comments and replies (so "Submit as Solved" with a public reply is a first response);
    3. escalations, pages, acknowledgements and assignments;
    4. status changes that stop or pause the clocks (`ending`: solved, closed, and the policy's
       pause statuses such as waiting on the customer).
    Events of the same rank keep their order.
    """
    t = event.type
    if t is SlaEventType.CREATED:
        return 0
    if t in SELECTOR_EVENTS or t is SlaEventType.REOPENED:
        return 1
    if t in REPLIES:
        return 2
    if t in MILESTONES:
        return 3
    if t is SlaEventType.STATUS and event.value is not None and event.value not in ending:
        return 1
    return 4


class FireKind(StrEnum):
    STARTED = "started"
    WARNING = "warning"
    BREACH = "breach"
    MAXIMUM_BREACH = "maximum_breach"
    OVERDUE = "overdue"  # still not met some time after the breach (a breach trigger's `after`)
    MET = "met"
    STOPPED = "stopped"  # the ticket resolved before the clock was met (e.g. an update cadence)
    CANCELLED = "cancelled"  # no target applies any more (the clock goes on counting, in case one does again)
    RETARGETED = "retargeted"  # a target appeared or changed
    REOPENED = "reopened"  # a clock the resolution ended counts again


@dataclass(frozen=True)
class Retarget:
    """Why and how a clock's target changed: `cause` (a selector: severity, tier, ...) became `value`.
    `old_seconds` is None when the clock had no target before."""

    cause: str
    value: str | None
    old_seconds: float | None
    new_seconds: float

    @property
    def lowered(self) -> bool:
        return self.old_seconds is not None and self.new_seconds < self.old_seconds

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Retarget:
        old = data.get("old_seconds")
        return cls(
            cause=str(data["cause"]),
            value=data.get("value"),
            old_seconds=None if old is None else float(old),
            new_seconds=float(data["new_seconds"]),
        )


@dataclass
class Fire:
    at: datetime
    kind: FireKind
    metric: str
    cycle: int
    label: str  # unique per clock: what makes a fire "at most once"
    detail: str  # for people; code reads the typed fields
    retarget: Retarget | None = None
    cause: str | None = None  # cancelled: the selector whose change left no target

    def facts(self) -> dict[str, Any]:
        """The typed facts beside `detail`, as stored in `sla_fires.data`."""
        out: dict[str, Any] = {}
        if self.retarget is not None:
            out["retarget"] = asdict(self.retarget)
        if self.cause is not None:
            out["cause"] = self.cause
        return out
