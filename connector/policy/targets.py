"""SLA metrics, targets, what counts as a response, and which target applies to a ticket.

A target names a metric and any of six *selectors*: severity, tier, category, channel, received
(`business_hours` | `after_hours` | `weekend`, when the ticket arrived relative to the calendar) and
level (the ticket's current support level). A selector left out is a wildcard; a list means any of.
A selector that is set matches only a ticket whose value is known and listed.

Precedence — of the targets of one metric that match a ticket, the winner is the most specific:
  1. the one with the most selectors set;
  2. on a tie, compare which selectors are set, in this order of weight:
     category > severity > tier > channel > received > level
     (a category- or severity-specific target beats a tier-wide one).
Two targets of one metric with the same selectors set and overlapping values are refused at load
time, so the winner never depends on document order. A winner whose `target` is null means "no clock"
(e.g. "P2 enters normal backlog", "update cadence: as needed").

A clock breaches at `target` — that is the SLA. `maximum`, when given, is a second, harder level:
reaching it fires `maximum_breach`. Warnings fire `warn_before` ahead of the target and at each
`warn_at_percent` of it elapsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.model import Channel, Comment, Status
from connector.policy.calendars import Arrival
from connector.policy.durations import Duration

SELECTORS: tuple[str, ...] = ("category", "severity", "tier", "channel", "received", "level")
Time = Literal["business", "calendar"]
#: is an answer exactly at the due instant in time? "within 1 hour" / "≤ 1 h": on_time; "< 1 hour": late
AtDue = Literal["on_time", "late"]

#: Built-in metrics: when the clock starts, what meets it, whether it restarts after being met.
BUILTIN_METRICS: dict[str, dict[str, Any]] = {
    "first_response": {"start": "created", "met_by": ["first_response"], "recurring": False},
    "next_update": {"start": "first_response", "met_by": ["update"], "recurring": True},
    "resolution": {"start": "created", "met_by": ["resolved"], "recurring": False},
}
#: What may start a clock; also `level:<id>` (the ticket reaches that support level).
START_EVENTS = frozenset({"created", "first_response", "escalated", "paged"})
#: What may meet a clock; also `level:<id>` and `status:<status>`.
MET_EVENTS = frozenset({"first_response", "update", "resolved", "escalated", "acknowledged", "assigned"})


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    start: str = "created"
    met_by: list[str] = Field(min_length=1)
    recurring: bool = Field(default=False, description="Restart after each time it is met (update cadence).")

    @model_validator(mode="before")
    @classmethod
    def _builtin(cls, data: Any) -> Any:
        """A built-in metric may be named alone (`- resolution`); its definition fills what is left out."""
        if isinstance(data, str):
            if data in BUILTIN_METRICS:
                return {"id": data, **BUILTIN_METRICS[data]}
            raise ValueError(
                f"{data!r} is not a built-in metric ({', '.join(BUILTIN_METRICS)}); declare it as {{id, start, met_by}}"
            )
        if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"] in BUILTIN_METRICS:
            return {**BUILTIN_METRICS[data["id"]], **data}
        return data


class ResponseRule(BaseModel):
    """What counts as a first response (or as an update): by default a public reply by an agent,
    not an internal note, and not an automated acknowledgement (excluded by author or tag)."""

    model_config = ConfigDict(extra="forbid")

    public_only: bool = True
    agent_only: bool = True
    exclude_authors: list[str] = Field(default_factory=list, description="Automation author ids or names.")
    exclude_tags: list[str] = Field(default_factory=list, description="Tags that mark automated messages.")
    unknown_author_is_agent: bool = Field(
        default=False, description="Count a reply whose payload does not say whether its author is an agent."
    )

    def accepts(
        self, *, public: bool, author_is_agent: bool | None, author: Iterable[str | None] = (), tags: Iterable[str] = ()
    ) -> bool:
        if self.public_only and not public:
            return False
        is_agent = self.unknown_author_is_agent if author_is_agent is None else author_is_agent
        if self.agent_only and not is_agent:
            return False
        excluded = {a.lower() for a in self.exclude_authors}
        if any(a and a.lower() in excluded for a in author):
            return False
        return not ({t.lower() for t in tags} & {t.lower() for t in self.exclude_tags})

    def accepts_comment(self, comment: Comment, *, tags: Iterable[str] = ()) -> bool:
        return self.accepts(
            public=comment.public,
            author_is_agent=comment.author_is_agent,
            author=(comment.author_id, comment.author_name),
            tags=tags,
        )


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str
    severity: list[str] | None = None
    tier: list[str] | None = None
    category: list[str] | None = None
    channel: list[Channel] | None = None
    received: list[Arrival] | None = None
    level: list[str] | None = None
    target: Duration | None = Field(description="Due after this much counted time; null: no clock.")
    maximum: Duration | None = None
    time: Time | None = Field(default=None, description="business (over a calendar) or calendar (24x7).")
    calendar: str | None = None
    at_due: AtDue | None = Field(
        default=None,
        description='on_time: an answer at the due instant is in time ("within 1 hour"); late: it is not '
        '("less than 1 hour"). Default: sla.defaults.at_due.',
    )
    warn_before: list[Duration] | None = None
    warn_at_percent: list[float] | None = None
    note: str = ""

    @field_validator(*SELECTORS, mode="before")
    @classmethod
    def _one_is_a_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator(*SELECTORS)
    @classmethod
    def _not_empty(cls, v: list[Any] | None) -> list[Any] | None:
        if v is not None and not v:
            raise ValueError("an empty list matches nothing; leave the selector out to match everything")
        return v

    @field_validator("warn_at_percent")
    @classmethod
    def _percent(cls, v: list[float] | None) -> list[float] | None:
        for p in v or []:
            if not 0 < p < 100:
                raise ValueError(f"a warning percentage is between 0 and 100 (exclusive), got {p:g}")
        return v

    @model_validator(mode="after")
    def _amounts(self) -> Target:
        if self.target is not None and self.target.total_seconds() <= 0:
            raise ValueError("target must be longer than zero (null means no clock)")
        if self.maximum is not None and (self.target is None or self.maximum <= self.target):
            raise ValueError("maximum must be longer than target")
        return self

    def selectors(self) -> dict[str, list[str]]:
        return {s: [str(x) for x in getattr(self, s)] for s in SELECTORS if getattr(self, s) is not None}

    def specificity(self) -> tuple[int, ...]:
        set_ = [getattr(self, s) is not None for s in SELECTORS]
        return (sum(set_), *map(int, set_))

    def matches(self, facts: TicketFacts) -> bool:
        for name, allowed in self.selectors().items():
            value = getattr(facts, name)
            if value is None or str(value) not in allowed:
                return False
        return True

    def describe(self) -> str:
        sel = ", ".join(f"{k} {'/'.join(v)}" for k, v in self.selectors().items()) or "any ticket"
        return f"{self.metric} for {sel}"


@dataclass(frozen=True)
class TicketFacts:
    """The selector values of one ticket, already resolved to ids."""

    severity: str | None = None
    tier: str | None = None
    category: str | None = None
    channel: str | None = None
    received: str | None = None
    level: str | None = None


def best_target(targets: Iterable[Target], metric: str, facts: TicketFacts) -> Target | None:
    """The most specific target of `metric` matching `facts` (see the module docstring)."""
    matching = [t for t in targets if t.metric == metric and t.matches(facts)]
    return max(matching, key=Target.specificity, default=None)


def overlaps(a: Target, b: Target) -> bool:
    """Same metric, same selectors set, and some ticket would match both."""
    if a.metric != b.metric:
        return False
    sa, sb = a.selectors(), b.selectors()
    return sa.keys() == sb.keys() and all(set(sa[k]) & set(sb[k]) for k in sa)


class SlaDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: Time = "business"
    calendar: str | None = None
    at_due: AtDue = "on_time"
    warn_before: list[Duration] = Field(default_factory=list)
    warn_at_percent: list[float] = Field(default_factory=list)


def _default_pause() -> dict[str, list[Status]]:
    return {"*": [Status.WAITING_ON_CUSTOMER, Status.ON_HOLD]}


class SlaSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: SlaDefaults = Field(default_factory=SlaDefaults)
    category_metric: str = Field(
        default="resolution", description="The metric a category's routing-table `sla` is a target of."
    )
    targets: list[Target] = Field(default_factory=list)
    pause: dict[str, list[Status]] = Field(
        default_factory=_default_pause,
        description="Metric (or '*' for the rest) → statuses during which its clock is paused.",
    )
