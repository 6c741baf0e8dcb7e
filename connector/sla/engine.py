"""SLA clocks, computed by replaying a ticket's history against a policy. Pure: no I/O.

The same function answers `connector simulate`, `POST /api/simulate` and the live timers: the
database keeps a ticket's history and the fired warnings and breaches; this module says what the
clocks are and when they fire next.

A clock counts *active* time over its calendar (business hours, or 24x7 for calendar time) in
segments: it runs from its start, stops counting while the ticket is in one of the metric's pause
statuses, and resumes after. Its due time is the instant the counted time reaches the target —
recomputed from the segments whenever the target changes (severity raised mid-flight), as Zendesk
and JSM do; a target lowered below the time already counted breaches at the instant it was
crossed. Warnings fire at `warn_before` ahead of the target and at each `warn_at_percent`, each at
most once per clock; a breach fires once; meeting a clock after its breach records both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from connector.calendar import BusinessCalendar
from connector.model import TERMINAL, Status
from connector.policy import Policy, Target, format_duration
from connector.policy.targets import SlaDefaults

RESOLVED = frozenset(s.value for s in TERMINAL)


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
_REPLIES = frozenset({SlaEventType.REPLY, SlaEventType.PUBLIC_REPLY, SlaEventType.INTERNAL_NOTE})
_MILESTONES = frozenset({SlaEventType.ESCALATED, SlaEventType.PAGED, SlaEventType.ACKNOWLEDGED, SlaEventType.ASSIGNED})


class FireKind(StrEnum):
    STARTED = "started"
    WARNING = "warning"
    BREACH = "breach"
    MAXIMUM_BREACH = "maximum_breach"
    MET = "met"
    STOPPED = "stopped"  # the ticket resolved before the clock was met (e.g. an update cadence)
    CANCELLED = "cancelled"  # no target applies any more
    RETARGETED = "retargeted"
    REOPENED = "reopened"  # a met resolution clock counts again


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({ClockState.RUNNING, ClockState.PAUSED, ClockState.BREACHED})


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


@dataclass(frozen=True)
class Retarget:
    """Why and how a clock's target changed: `cause` (a selector: severity, tier, ...) became `value`."""

    cause: str
    value: str | None
    old_seconds: float
    new_seconds: float

    @property
    def lowered(self) -> bool:
        return self.new_seconds < self.old_seconds

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Retarget:
        return cls(
            cause=str(data["cause"]),
            value=data.get("value"),
            old_seconds=float(data["old_seconds"]),
            new_seconds=float(data["new_seconds"]),
        )


@dataclass
class Fire:
    at: datetime
    kind: FireKind
    metric: str
    cycle: int
    label: str
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


@dataclass
class Clock:
    metric: str
    cycle: int
    target: Target
    calendar: BusinessCalendar
    started_at: datetime
    segments: list[tuple[datetime, datetime]] = field(default_factory=list)
    running_since: datetime | None = None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    state: ClockState = ClockState.RUNNING
    met_at: datetime | None = None
    breached_at: datetime | None = None
    maximum_breached_at: datetime | None = None
    stopped_at: datetime | None = None
    fired: dict[str, datetime] = field(default_factory=dict)  # label → when it fired
    skipped: set[str] = field(default_factory=set)  # warnings whose instant a retarget put in the past

    # ---- counting ---------------------------------------------------------------------------

    def counted(self, at: datetime) -> float:
        total = sum(self.calendar.elapsed(s, e) for s, e in self.segments)
        if self.running_since is not None and at > self.running_since:
            total += self.calendar.elapsed(self.running_since, at)
        return total

    def crossing(self, amount: float, *, assume_running: bool = False) -> datetime | None:
        """The instant counted time reaches `amount` seconds; None while paused short of it
        (with `assume_running`, a stopped clock is read as if it had kept running)."""
        left = amount
        for s, e in self.segments:
            span = self.calendar.elapsed(s, e)
            if span >= left:
                return self.calendar.add(s, left)
            left -= span
        resumed = self.running_since
        if resumed is None and assume_running and self.stopped_at is not None:
            resumed = self.stopped_at
        if resumed is None:
            return None
        return self.calendar.add(resumed, left)

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES and self.met_at is None

    @property
    def target_delta(self) -> timedelta:
        return _delta(self.target)

    @property
    def target_seconds(self) -> float:
        return _seconds(self.target)

    def due_at(self) -> datetime | None:
        """When the target is (or was, for a met or stopped clock) reached; None while paused."""
        if not self.target.target:
            return None
        return self.crossing(self.target_seconds, assume_running=not self.open)

    def points(self, policy_defaults: SlaDefaults) -> list[tuple[str, FireKind, float]]:
        """(label, kind, counted seconds) of every warning, the breach and the maximum breach."""
        target = self.target_seconds
        out: list[tuple[str, FireKind, float]] = []
        before = self.target.warn_before if self.target.warn_before is not None else policy_defaults.warn_before
        percents = (
            self.target.warn_at_percent if self.target.warn_at_percent is not None else policy_defaults.warn_at_percent
        )
        for lead in before:
            if 0 < lead.total_seconds() < target:
                out.append((f"{format_duration(lead)} before due", FireKind.WARNING, target - lead.total_seconds()))
        for pct in percents:
            out.append((f"{pct:g}% elapsed", FireKind.WARNING, target * pct / 100.0))
        out.append(("breach", FireKind.BREACH, target))
        if self.target.maximum is not None:
            out.append(("maximum breach", FireKind.MAXIMUM_BREACH, self.target.maximum.total_seconds()))
        return out

    # ---- transitions ------------------------------------------------------------------------

    def pause(self, at: datetime) -> None:
        if self.running_since is not None:
            if at > self.running_since:
                self.segments.append((self.running_since, at))
            self.running_since = None
            self.paused_since = at
            if self.state is ClockState.RUNNING:
                self.state = ClockState.PAUSED

    def resume(self, at: datetime) -> None:
        if self.running_since is None and self.open:
            if self.paused_since is not None:
                self.paused_seconds += max(0.0, (at - self.paused_since).total_seconds())
            self.paused_since = None
            self.running_since = at
            if self.state is ClockState.PAUSED:
                self.state = ClockState.RUNNING

    def stop(self, at: datetime, state: ClockState) -> None:
        self.pause(at)
        self.paused_since = None
        self.stopped_at = at
        if state is ClockState.MET:
            self.met_at = at
        self.state = ClockState.BREACHED if state is ClockState.MET and self.breached_at else state


@dataclass
class Evaluation:
    clocks: list[Clock]
    fires: list[Fire]

    def next_fire_at(self, policy: Policy) -> datetime | None:
        """The earliest future instant at which a clock crosses a point that has not fired yet."""
        soonest: datetime | None = None
        for clock in self.clocks:
            if clock.running_since is None or not clock.open:
                continue
            for label, _kind, amount in clock.points(policy.sla.defaults):
                if label in clock.fired or label in clock.skipped:
                    continue
                at = clock.crossing(amount)
                if at is not None and (soonest is None or at < soonest):
                    soonest = at
        return soonest


class _Replay:
    def __init__(self, policy: Policy, ticket: dict[str, Any]):
        self.policy = policy
        self.attrs = {
            "severity": ticket.get("severity"),
            "tier": ticket.get("customer_tier") or ticket.get("tier"),
            "category": ticket.get("category"),
            "channel": ticket.get("channel"),
            "level": ticket.get("level") or ticket.get("support_level"),
        }
        self.status: str = ticket.get("status") or Status.NEW.value
        self.received: str | None = None
        self.created_at: datetime | None = None
        self.clocks: list[Clock] = []
        self.fires: list[Fire] = []
        self.first_response_seen = False

    # ---- targets ----------------------------------------------------------------------------

    def target(self, metric: str) -> Target | None:
        found = self.policy.targets_for(
            metric,
            severity=self.attrs["severity"],
            tier=self.attrs["tier"],
            category=self.attrs["category"],
            channel=self.attrs["channel"],
            received=self.received,
            level=self.attrs["level"],
        )
        return found[0] if found else None

    def start(self, metric: str, at: datetime) -> None:
        target = self.target(metric)
        if target is None:
            return
        cycle = 1 + sum(1 for c in self.clocks if c.metric == metric)
        clock = Clock(
            metric=metric, cycle=cycle, target=target, calendar=self.policy.clock_calendar(target), started_at=at
        )
        clock.running_since = at
        if self.status in self.policy.paused_statuses(metric):
            clock.pause(at)
        self.clocks.append(clock)
        due = clock.due_at()
        self.fires.append(
            Fire(
                at,
                FireKind.STARTED,
                metric,
                cycle,
                "started",
                f"{target.describe()}: {format_duration(clock.target_delta)} "
                f"{'business' if target.time == 'business' else 'calendar'} time"
                + (f", due {iso_utc(due)}" if due else ""),
            )
        )

    # ---- timers -----------------------------------------------------------------------------

    def advance(self, until: datetime) -> None:
        """Fire every warning, breach and maximum breach whose instant is at or before `until`."""
        for clock in self.clocks:
            if not clock.open:
                continue
            for label, kind, amount in sorted(clock.points(self.policy.sla.defaults), key=lambda p: p[2]):
                if label in clock.fired or label in clock.skipped:
                    continue
                at = clock.crossing(amount)
                if at is None or at > until:
                    continue
                self._fire(clock, label, kind, at)

    def _fire(self, clock: Clock, label: str, kind: FireKind, at: datetime) -> None:
        clock.fired[label] = at
        due = clock.due_at()
        if kind is FireKind.BREACH:
            clock.breached_at = at
            clock.state = ClockState.BREACHED
            detail = f"{clock.metric} breached its {format_duration(clock.target_delta)} target"
        elif kind is FireKind.MAXIMUM_BREACH and clock.target.maximum is not None:
            clock.maximum_breached_at = at
            detail = f"{clock.metric} passed its {format_duration(clock.target.maximum)} maximum"
        else:
            detail = f"{clock.metric} {label}" + (f" (due {iso_utc(due)})" if due else "")
        self.fires.append(Fire(at, kind, clock.metric, clock.cycle, label, detail))

    # ---- events -----------------------------------------------------------------------------

    def apply(self, ev: SlaEvent) -> None:
        t = ev.type
        if t is SlaEventType.CREATED:
            self.created_at = self.created_at or ev.at
            if ev.value:
                self._set_status(ev.value, ev.at)
            self.received = self.policy.arrival(ev.at, tier=self.attrs["tier"])
            for metric in self.policy.metrics:
                if metric.start == "created":
                    self.start(metric.id, ev.at)
            return
        if t in _REPLIES:
            public = ev.public if ev.public is not None else t is not SlaEventType.INTERNAL_NOTE
            is_agent = ev.author_is_agent
            if is_agent is None and ev.author in ("agent", "customer"):
                is_agent = ev.author == "agent"
            authors = (ev.author,)
            # The update first: the first response starts the update cadence, and must not meet it too.
            if self.policy.updates.accepts(public=public, author_is_agent=is_agent, author=authors, tags=ev.tags):
                self._met("update", ev.at)
            if (
                self.policy.first_response.accepts(
                    public=public, author_is_agent=is_agent, author=authors, tags=ev.tags
                )
                and not self.first_response_seen
            ):
                self.first_response_seen = True
                self._met("first_response", ev.at)
            return
        if t is SlaEventType.STATUS:
            if ev.value:
                self._set_status(ev.value, ev.at)
            return
        if t in (SlaEventType.RESOLVED, SlaEventType.REOPENED):
            self._set_status(Status.RESOLVED.value if t is SlaEventType.RESOLVED else Status.OPEN.value, ev.at)
            return
        if t in SELECTOR_EVENTS:
            selector = SELECTOR_EVENTS[t]
            self.attrs[selector] = ev.value
            self._retarget(ev.at, selector, ev.value)
            if t is SlaEventType.LEVEL and ev.value:
                self._met(f"level:{ev.value}", ev.at)
                self._start_on(f"level:{ev.value}", ev.at)
            return
        if t in _MILESTONES:
            self._met(t.value, ev.at)
            self._start_on(t.value, ev.at)
            return
        raise ValueError(f"unknown event type {t!r}")

    def _start_on(self, trigger: str, at: datetime) -> None:
        for metric in self.policy.metrics:
            if metric.start == trigger and not any(c.metric == metric.id and c.open for c in self.clocks):
                self.start(metric.id, at)

    def _met(self, what: str, at: datetime) -> None:
        restart: list[str] = []
        for clock in self.clocks:
            metric = self.policy.metric(clock.metric)
            if clock.open and what in metric.met_by:
                clock.stop(at, ClockState.MET)
                late = (
                    f", {format_duration_seconds((at - clock.breached_at).total_seconds())} after its breach"
                    if clock.breached_at
                    else ""
                )
                self.fires.append(Fire(at, FireKind.MET, clock.metric, clock.cycle, "met", f"{clock.metric} met{late}"))
                if metric.recurring and self.status not in RESOLVED:
                    restart.append(metric.id)
        for metric_id in restart:
            self.start(metric_id, at)
        self._start_on(what, at)

    def _set_status(self, status: str, at: datetime) -> None:
        before, self.status = self.status, status
        if status == before:
            return
        self._met(f"status:{status}", at)
        if status in RESOLVED and before not in RESOLVED:
            self._met("resolved", at)
            for clock in self.clocks:
                if clock.open:
                    clock.stop(at, ClockState.STOPPED)
                    self.fires.append(
                        Fire(
                            at,
                            FireKind.STOPPED,
                            clock.metric,
                            clock.cycle,
                            "stopped",
                            f"{clock.metric} stopped: ticket {status}",
                        )
                    )
            return
        if before in RESOLVED and status not in RESOLVED:  # reopened: resolution counts again
            for clock in self.clocks:
                if clock.metric == "resolution" and clock.met_at is not None and clock is self._last("resolution"):
                    clock.met_at = None
                    clock.state = ClockState.BREACHED if clock.breached_at else ClockState.PAUSED
                    clock.paused_since = at
                    self.fires.append(
                        Fire(
                            at,
                            FireKind.REOPENED,
                            clock.metric,
                            clock.cycle,
                            "reopened",
                            "resolution clock resumed: ticket reopened",
                        )
                    )
        for clock in self.clocks:
            if not clock.open:
                continue
            if status in self.policy.paused_statuses(clock.metric):
                clock.pause(at)
            else:
                clock.resume(at)

    def _last(self, metric: str) -> Clock | None:
        return next((c for c in reversed(self.clocks) if c.metric == metric), None)

    def _retarget(self, at: datetime, cause: str, value: str | None) -> None:
        why = f"{cause} → {value}"
        for clock in self.clocks:
            if not clock.open:
                continue
            new = self.target(clock.metric)
            if new is None:
                clock.stop(at, ClockState.CANCELLED)
                self.fires.append(
                    Fire(
                        at,
                        FireKind.CANCELLED,
                        clock.metric,
                        clock.cycle,
                        "cancelled",
                        f"{clock.metric}: no target after {why}",
                        cause=cause,
                    )
                )
                continue
            if new == clock.target:
                continue
            old = clock.target
            clock.target = new
            clock.calendar = self.policy.clock_calendar(new)
            # Warnings whose instant under the new target has already passed never happened: skip them.
            for label, kind, amount in clock.points(self.policy.sla.defaults):
                crossed = clock.crossing(amount)
                if kind is FireKind.WARNING and label not in clock.fired and crossed is not None and crossed <= at:
                    clock.skipped.add(label)
            due = clock.due_at()
            change = Retarget(cause=cause, value=value, old_seconds=_seconds(old), new_seconds=_seconds(new))
            self.fires.append(
                Fire(
                    at,
                    FireKind.RETARGETED,
                    clock.metric,
                    clock.cycle,
                    "retargeted",
                    f"{clock.metric}: {format_duration(_delta(old))} → {format_duration(_delta(new))} "
                    f"after {why}" + (f", due {iso_utc(due)}" if due else ""),
                    retarget=change,
                )
            )


def format_duration_seconds(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))


def _delta(target: Target) -> timedelta:
    """A clock's target duration (clocks exist only for targets that have one)."""
    if target.target is None:
        raise ValueError(f"{target.describe()} has no target: it starts no clock")
    return target.target


def _seconds(target: Target) -> float:
    return _delta(target).total_seconds()


def evaluate(policy: Policy, *, ticket: dict[str, Any], events: Sequence[SlaEvent], until: datetime) -> Evaluation:
    """Replay `events` (any order; sorted stably by time) and fire every timer up to `until`."""
    replay = _Replay(policy, ticket)
    ordered = sorted(events, key=lambda e: e.at)
    if not ordered or ordered[0].type is not SlaEventType.CREATED:
        first = ordered[0].at if ordered else until
        ordered.insert(0, SlaEvent(at=first, type=SlaEventType.CREATED))
    for ev in ordered:
        if ev.at > until:
            break
        replay.advance(ev.at)
        replay.apply(ev)
    replay.advance(until)
    replay.fires.sort(key=lambda f: f.at)
    return Evaluation(replay.clocks, replay.fires)


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
