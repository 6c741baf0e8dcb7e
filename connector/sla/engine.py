"""SLA clocks, computed by replaying a ticket's history against a policy. Pure: no I/O.

The same function answers `connector simulate`, `POST /api/simulate` and the live timers: the
database keeps a ticket's history and the fired warnings and breaches; this module says what the
clocks are and when they fire next.

The rules (README "SLA clocks" documents them with examples):

- **One creation.** The earliest `created` opens the ticket; a later one changes nothing, and an
  event stamped before the creation (clock skew between tools) counts as happening at it.
- **Events at one instant are ordered by meaning** (`events.rank`): creation, triage, replies,
  milestones, then status changes that stop or pause the clocks.
- **A metric counts from its start event whatever target applies.** When a target appears or
  changes (triage sets severity, category or tier later), the due time is read again from the
  ticket's history; a clock already past the new target breaches at the instant it crossed it,
  and warnings whose instant is already past are skipped. A clock whose target goes away is
  cancelled but goes on counting, and counts again when a target returns. A metric met before
  any target applied to it shows no clock.
- **Reopening resumes every clock the resolution ended** (resolution, the update cadence, an
  unanswered first response); a met after a reopen is a fire of its own.
- **At the due instant**: `at_due: on_time` (the default; "within 1 hour", "≤ 1 h") counts an
  answer exactly at the due instant as in time and breaches only after it; `at_due: late`
  ("< 1 hour") breaches at the due instant, before an answer at that instant.

Warnings fire at `warn_before` ahead of the target and at each `warn_at_percent`, each at most once
per clock; a breach fires once; meeting a clock after its breach records both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.model import TERMINAL, Status
from connector.policy import SELECTORS, Policy, Target, format_duration
from connector.sla.clock import ENDED_STATES, OPEN_STATES, Clock, ClockState
from connector.sla.events import (
    MILESTONES,
    REPLIES,
    SELECTOR_EVENTS,
    Fire,
    FireKind,
    Retarget,
    SlaEvent,
    SlaEventType,
    rank,
)

RESOLVED = frozenset(s.value for s in TERMINAL)

__all__ = [
    "ENDED_STATES",
    "OPEN_STATES",
    "Clock",
    "ClockState",
    "Evaluation",
    "Fire",
    "FireKind",
    "Retarget",
    "SlaEvent",
    "SlaEventType",
    "evaluate",
    "iso_utc",
]


@dataclass
class Evaluation:
    clocks: list[Clock]  # the clocks a target has applied to, in order of start
    fires: list[Fire]
    pending: list[Clock]  # clocks counting with no target yet: the live timer ignores them

    def next_fire_at(self, policy: Policy) -> datetime | None:
        """The earliest instant at which a running clock crosses a point that has not fired yet."""
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
        self.ended_by_resolution: list[Clock] = []

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

    def _calendar_for(self, target: Target | None) -> Any:
        return self.policy.clock_calendar(target) if target is not None else self.policy.calendar()

    def start(self, metric: str, at: datetime) -> None:
        target = self.target(metric)
        cycle = 1 + sum(1 for c in self.clocks if c.metric == metric)
        clock = Clock(
            metric=metric,
            cycle=cycle,
            target=None,
            calendar=self._calendar_for(None),
            started_at=at,
            overdue=self.policy.breach_followups(metric),
        )
        clock.running_since = at
        clock.set_target(target, self._calendar_for(target))
        if self.status in self.policy.paused_statuses(metric):
            clock.pause(at)
        self.clocks.append(clock)
        if target is not None:
            due = clock.due_at()
            self._emit(
                at,
                FireKind.STARTED,
                clock,
                "started",
                f"{target.describe()}: {format_duration(clock.target_delta)} {_basis(target)} time"
                + (f", due {iso_utc(due)}" if due else ""),
            )

    # ---- timers -----------------------------------------------------------------------------

    def advance(self, until: datetime) -> None:
        """Fire every warning, breach and maximum breach whose instant has come by `until`.

        A warning fires at its instant. A breach at `until` itself fires only if the target says an
        answer at the due instant is late (`at_due: late`), and then before an event of that instant
        is applied; under `at_due: on_time` the due instant is still in time."""
        defaults = self.policy.sla.defaults
        for clock in self.clocks:
            if not clock.open:
                continue
            late_at_due = clock.at_due(defaults) == "late"
            for label, kind, amount in sorted(clock.points(defaults), key=lambda p: p[2]):
                if label in clock.fired or label in clock.skipped:
                    continue
                at = clock.crossing(amount)
                if at is None or at > until:
                    continue
                if at == until and kind in (FireKind.BREACH, FireKind.MAXIMUM_BREACH) and not late_at_due:
                    continue  # "within": the due instant itself is still in time
                self._fire(clock, label, kind, at)

    def _fire(self, clock: Clock, label: str, kind: FireKind, at: datetime) -> None:
        clock.fired[label] = at
        due = clock.due_at()
        if kind is FireKind.BREACH:
            clock.breached_at = at
            clock.state = ClockState.BREACHED
            detail = f"{clock.metric} breached its {format_duration(clock.target_delta)} target"
        elif kind is FireKind.MAXIMUM_BREACH and clock.target is not None and clock.target.maximum is not None:
            clock.maximum_breached_at = at
            detail = f"{clock.metric} passed its {format_duration(clock.target.maximum)} maximum"
        elif kind is FireKind.OVERDUE:
            detail = f"{clock.metric} still not met, {label.removeprefix('breach + ')} past due"
        else:
            detail = f"{clock.metric} {label}" + (f" (due {iso_utc(due)})" if due else "")
        self._emit(at, kind, clock, label, detail)

    def _emit(self, at: datetime, kind: FireKind, clock: Clock, label: str, detail: str, **facts: Any) -> None:
        self.fires.append(Fire(at, kind, clock.metric, clock.cycle, label, detail, **facts))

    # ---- events -----------------------------------------------------------------------------

    def apply(self, ev: SlaEvent) -> None:
        t = ev.type
        if t is SlaEventType.CREATED:
            if self.created_at is not None:
                return  # one creation per ticket: a late second `created` changes nothing
            self.created_at = ev.at
            if ev.value:
                self._set_status(ev.value, ev.at)
            self.received = self.policy.arrival(ev.at, tier=self.attrs["tier"])
            for metric in self.policy.metrics:
                if metric.start == "created":
                    self.start(metric.id, ev.at)
            return
        if t in REPLIES:
            public = ev.public if ev.public is not None else t is not SlaEventType.INTERNAL_NOTE
            is_agent = ev.author_is_agent
            if is_agent is None and ev.author in ("agent", "customer"):
                is_agent = ev.author == "agent"
            authors = (ev.author,)
            # The update first: the first response starts the update cadence, and must not meet it too.
            if self.policy.updates.accepts(public=public, author_is_agent=is_agent, author=authors, tags=ev.tags):
                self._met("update", ev.at)
            accepted = self.policy.first_response.accepts(
                public=public, author_is_agent=is_agent, author=authors, tags=ev.tags
            )
            if accepted and not self.first_response_seen:
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
        if t in MILESTONES:
            self._met(t.value, ev.at)
            self._start_on(t.value, ev.at)
            return
        raise ValueError(f"unknown event type {t!r}")

    def _start_on(self, trigger: str, at: datetime) -> None:
        for metric in self.policy.metrics:
            if metric.start == trigger and not any(c.metric == metric.id and c.counting for c in self.clocks):
                self.start(metric.id, at)

    def _met(self, what: str, at: datetime) -> None:
        restart: list[str] = []
        for clock in self.clocks:
            metric = self.policy.metric(clock.metric)
            if not clock.counting or what not in metric.met_by:
                continue
            clock.stop(at, ClockState.MET)
            if clock.shown and clock.target is not None:
                late = (
                    f", {format_duration_seconds((at - clock.breached_at).total_seconds())} after its breach"
                    if clock.breached_at
                    else ""
                )
                self._emit(at, FireKind.MET, clock, clock.label("met"), f"{clock.metric} met{late}")
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
            ended = [c for c in self.clocks if c.counting]
            self._met("resolved", at)
            self.ended_by_resolution = ended
            for clock in ended:
                if clock.counting:
                    clock.stop(at, ClockState.STOPPED)
                    if clock.shown:
                        self._emit(
                            at,
                            FireKind.STOPPED,
                            clock,
                            clock.label("stopped"),
                            f"{clock.metric} stopped: ticket {status}",
                        )
            return
        if before in RESOLVED and status not in RESOLVED:
            # Reopened: every clock the resolution ended counts again (resolution, the update
            # cadence, an unanswered first response), from now.
            for clock in self.ended_by_resolution:
                clock.reopen(at)
                if clock.shown:
                    self._emit(
                        at,
                        FireKind.REOPENED,
                        clock,
                        clock.label("reopened"),
                        f"{clock.metric} counts again: ticket reopened",
                    )
            self.ended_by_resolution = []
        for clock in self.clocks:
            if not clock.counting:
                continue
            if status in self.policy.paused_statuses(clock.metric):
                clock.pause(at)
            else:
                clock.resume(at)

    def _retarget(self, at: datetime, cause: str, value: str | None) -> None:
        why = f"{cause} → {value}"
        for clock in self.clocks:
            if not clock.counting:
                continue
            new = self.target(clock.metric)
            old = clock.target
            if new is not None and old is not None and _same_promise(new, old):
                clock.target = new  # another target making the same promise: nothing changes
                continue
            if new is None and old is None:
                continue
            clock.set_target(new, self._calendar_for(new))
            if new is None:
                self._emit(
                    at, FireKind.CANCELLED, clock, "cancelled", f"{clock.metric}: no target after {why}", cause=cause
                )
                continue
            # Warnings whose instant under the new target has already passed never happened: skip them.
            for label, kind, amount in clock.points(self.policy.sla.defaults):
                crossed = clock.crossing(amount)
                if kind is FireKind.WARNING and label not in clock.fired and crossed is not None and crossed <= at:
                    clock.skipped.add(label)
            due = clock.due_at()
            change = Retarget(cause=cause, value=value, old_seconds=_seconds(old), new_seconds=clock.target_seconds)
            before = format_duration(old.target) if old is not None and old.target else "no target"
            self._emit(
                at,
                FireKind.RETARGETED,
                clock,
                "retargeted",
                f"{clock.metric}: {before} → {format_duration(clock.target_delta)} after {why}"
                + (f", counted from {iso_utc(clock.started_at)}" if old is None else "")
                + (f", due {iso_utc(due)}" if due else ""),
                retarget=change,
            )


def format_duration_seconds(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))


def _seconds(target: Target | None) -> float | None:
    return target.target.total_seconds() if target is not None and target.target is not None else None


def _same_promise(a: Target, b: Target) -> bool:
    """Two targets that differ only in which tickets they select (or in their note)."""
    ignore = {*SELECTORS, "note"}
    return a.model_dump(exclude=ignore) == b.model_dump(exclude=ignore)


def _basis(target: Target) -> str:
    return "business" if target.time == "business" else "calendar"


def evaluate(policy: Policy, *, ticket: dict[str, Any], events: Sequence[SlaEvent], until: datetime) -> Evaluation:
    """Replay `events` (any order) and fire every timer up to `until` (see the module's rules)."""
    replay = _Replay(policy, ticket)
    ordered = _order(policy, events, until)
    for ev in ordered:
        if ev.at > until:
            break
        replay.advance(ev.at)
        replay.apply(ev)
    replay.advance(until)
    replay.fires.sort(key=lambda f: f.at)
    shown = [c for c in replay.clocks if c.shown]
    pending = [c for c in replay.clocks if not c.shown and c.counting]
    return Evaluation(shown, replay.fires, pending)


def _order(policy: Policy, events: Sequence[SlaEvent], until: datetime) -> list[SlaEvent]:
    """One creation first (the earliest; none given: at the first event); nothing before it; events
    of one instant by meaning."""
    created = min((e.at for e in events if e.type is SlaEventType.CREATED), default=None)
    if created is None:
        created = min((e.at for e in events), default=until)
        events = [SlaEvent(at=created, type=SlaEventType.CREATED), *events]
    clamped = [e if e.at >= created else _at(e, created) for e in events]
    ending = RESOLVED | {s for m in policy.metrics for s in policy.paused_statuses(m.id)}
    return sorted(clamped, key=lambda e: (e.at, rank(e, ending=ending)))


def _at(event: SlaEvent, at: datetime) -> SlaEvent:
    return SlaEvent(
        at=at,
        type=event.type,
        author=event.author,
        author_is_agent=event.author_is_agent,
        public=event.public,
        value=event.value,
        tags=event.tags,
    )


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
