"""What the escalation engine reads (signals) and writes (decisions). Pure data, one type on both sides.

Signals come from ticket processing (opened, fields changed, text added), from the SLA engine's fires,
from the repeat-issue check across a customer's tickets, and from overdue follow-ups. A `Decision` is
stored as an `escalations` row (`facts()` is its `data`) and read back with `Decision.from_row`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from connector.policy import TextSource
from connector.sla.events import FireKind

#: what makes a decision at most once: (trigger id, occurrence, action index)
Key = tuple[str, str, int]


class ActionKind(StrEnum):
    RAISE_LEVEL = "raise_level"
    REASSIGN = "reassign"
    PAGE = "page"
    NOTIFY = "notify"
    CREATE_LINKED_ISSUE = "create_linked_issue"
    REQUIRE_POSTMORTEM = "require_postmortem"
    CATEGORIZE = "categorize"  # intake: a category from the ticket's text
    ROUTE = "route"  # intake: the category's initial owner
    PAGE_ACKNOWLEDGE = "page_acknowledge"  # the page lifecycle
    PAGE_RESOLVE = "page_resolve"


class Outcome(StrEnum):
    APPLIED = "applied"  # the ticket changed (level, owner, category)
    QUEUED = "queued"  # an outbound intent is in the outbox (page, notification, linked issue)
    OWED = "owed"  # a post-mortem is owed
    SKIPPED = "skipped"  # nothing to do; the reason says why


@dataclass(frozen=True)
class Opened:
    """The ticket was created (its fields as the state holds them)."""

    at: datetime


@dataclass(frozen=True)
class Changed:
    """Fields of the ticket changed (canonical names: severity, customer_tier, status, csat, ...)."""

    at: datetime
    fields: frozenset[str]


@dataclass(frozen=True)
class TextAdded:
    """Text joined the ticket: its subject or description, a comment (by whom, public or not)."""

    at: datetime
    source: TextSource
    text: str


@dataclass(frozen=True)
class SlaFired:
    at: datetime
    kind: FireKind
    metric: str
    cycle: int
    label: str


@dataclass(frozen=True)
class RepeatSeen:
    """The ticket completed a cluster: the customer's `tickets` tickets of one category within `window`."""

    at: datetime
    trigger_id: str
    cluster: str  # "<customer>/<category>#<n>": one escalation per cluster
    customer: str
    category: str
    tickets: int
    window: timedelta


@dataclass(frozen=True)
class FollowupMissed:
    at: datetime
    key: str  # the follow-up's id
    kind: str  # "notify" | "postmortem"
    target: str | None
    due_at: datetime


Signal = Opened | Changed | TextAdded | SlaFired | RepeatSeen | FollowupMissed


@dataclass(frozen=True)
class Decision:
    """One action of one trigger (or intake or lifecycle rule) for one occurrence on one ticket."""

    at: datetime
    trigger_id: str
    event: str  # the trigger's event kind ("ticket", "breach", ...), "intake" or "lifecycle"
    occurrence: str
    action_index: int
    action: ActionKind
    target: str | None
    outcome: Outcome
    reason: str
    changes: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    within: timedelta | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.trigger_id, self.occurrence, self.action_index)

    @property
    def due_at(self) -> datetime | None:
        """When a notification's follow-up is due (`within` after it); a post-mortem's is set at resolution."""
        if self.within is None or self.action is not ActionKind.NOTIFY:
            return None
        return self.at + self.within

    def describe(self) -> str:
        """One line for people: the timeline's summary."""
        what = self.action.value.replace("_", " ")
        to = f" {self.target}" if self.target else ""
        moved = "; ".join(f"{k}: {a or '∅'} → {b}" for k, (a, b) in self.changes.items())
        text = f"{what}{to} ({self.trigger_id}): {self.reason}"
        if moved:
            text += f" [{moved}]"
        if self.within is not None:
            from connector.policy import format_duration

            text += f"; within {format_duration(self.within)}"
        return text

    def facts(self) -> dict[str, Any]:
        """The `escalations.data` column."""
        return {
            "event": self.event,
            "changes": {k: [a, b] for k, (a, b) in self.changes.items()},
            "within_seconds": None if self.within is None else self.within.total_seconds(),
            "params": dict(self.params),
        }

    @classmethod
    def from_row(
        cls,
        *,
        at: datetime,
        trigger_id: str,
        occurrence: str,
        action_index: int,
        action: str,
        target: str | None,
        outcome: str,
        reason: str,
        data: Mapping[str, Any] | None,
    ) -> Decision:
        data = data or {}
        within = data.get("within_seconds")
        return cls(
            at=at,
            trigger_id=trigger_id,
            event=str(data.get("event") or ""),
            occurrence=occurrence,
            action_index=action_index,
            action=ActionKind(action),
            target=target,
            outcome=Outcome(outcome),
            reason=reason,
            changes={k: (v[0], v[1]) for k, v in (data.get("changes") or {}).items()},
            within=None if within is None else timedelta(seconds=float(within)),
            params=dict(data.get("params") or {}),
        )
