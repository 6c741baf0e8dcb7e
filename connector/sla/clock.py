"""One SLA clock: the time it has counted, the instants it crosses, its state.

A clock counts *active* time over its calendar (business hours, or 24x7 for calendar time) in
segments of wall-clock time: it runs from its start, stops counting while the ticket is in one of
the metric's pause statuses, and resumes after. Its due time is the instant the counted time
reaches the target, read from the segments — so when the target changes, or first appears, the
due time is simply read again.

A clock exists from its metric's start event whatever target applies; while none does it counts
quietly (`target` None) and fires nothing, and it is shown once a target has applied to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from connector.calendar import BusinessCalendar
from connector.policy import Target, format_duration
from connector.policy.targets import AtDue, SlaDefaults
from connector.sla.events import FireKind


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # past its target and still counting (or met late)
    STOPPED = "stopped"  # the ticket resolved before the clock was met
    CANCELLED = "cancelled"  # no target applies (for now): counting, firing nothing


OPEN_STATES = frozenset({ClockState.RUNNING, ClockState.PAUSED, ClockState.BREACHED})
ENDED_STATES = frozenset({ClockState.MET, ClockState.STOPPED})


@dataclass
class Clock:
    metric: str
    cycle: int
    target: Target | None
    calendar: BusinessCalendar
    started_at: datetime  # the start event
    segments: list[tuple[datetime, datetime]] = field(default_factory=list)
    running_since: datetime | None = None
    paused_since: datetime | None = None
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)  # wall-clock pause intervals
    state: ClockState = ClockState.RUNNING
    shown: bool = False  # a target has applied to it at some point
    last_target: Target | None = None  # the latest target that applied (kept while cancelled)
    met_at: datetime | None = None
    breached_at: datetime | None = None
    maximum_breached_at: datetime | None = None
    stopped_at: datetime | None = None
    reopens: int = 0  # how often a reopened ticket made it count again
    fired: dict[str, datetime] = field(default_factory=dict)  # label → when it fired
    skipped: set[str] = field(default_factory=set)  # warnings whose instant a retarget put in the past
    #: how long after the breach the policy wants to hear again that the clock is still not met
    overdue: tuple[timedelta, ...] = ()

    # ---- counting ---------------------------------------------------------------------------

    def counted(self, at: datetime) -> float:
        total = sum(self.calendar.elapsed(s, e) for s, e in self.segments)
        if self.running_since is not None and at > self.running_since:
            total += self.calendar.elapsed(self.running_since, at)
        return total

    def crossing(self, amount: float, *, assume_running: bool = False) -> datetime | None:
        """The instant counted time reaches `amount` seconds; None while paused short of it
        (with `assume_running`, an ended clock is read as if it had kept running)."""
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

    def counting_since(self) -> datetime:
        """The first instant the clock counted (the next opening, for a start outside hours)."""
        first = self.segments[0][0] if self.segments else (self.running_since or self.started_at)
        return self.calendar.next_open(first)

    def paused_seconds(self, at: datetime) -> float:
        """Wall-clock seconds spent paused up to `at`."""
        total = sum((e - s).total_seconds() for s, e in self.pauses)
        if self.paused_since is not None and self.counting and at > self.paused_since:
            total += (at - self.paused_since).total_seconds()
        return total

    def paused_counted_seconds(self, at: datetime) -> float:
        """The part of the paused time the clock's calendar would have counted (business time saved)."""
        total = sum(self.calendar.elapsed(s, e) for s, e in self.pauses)
        if self.paused_since is not None and self.counting and at > self.paused_since:
            total += self.calendar.elapsed(self.paused_since, at)
        return total

    @property
    def counting(self) -> bool:
        """Not ended: running, paused, breached and not met, or waiting for a target."""
        return self.met_at is None and self.state not in ENDED_STATES

    @property
    def open(self) -> bool:
        """Counting towards a target: the clock can still warn, breach or be met in time."""
        return self.target is not None and self.state in OPEN_STATES and self.met_at is None

    @property
    def target_delta(self) -> timedelta:
        return _delta(self.target)

    @property
    def target_seconds(self) -> float:
        return self.target_delta.total_seconds()

    def at_due(self, defaults: SlaDefaults) -> AtDue:
        """Is an answer exactly at the due instant on time (within the target) or late (before it)?"""
        chosen = self.target.at_due if self.target is not None else None
        return chosen or defaults.at_due

    def due_at(self) -> datetime | None:
        """When the target is (or was, for a met or stopped clock) reached; None while paused."""
        if self.target is None or not self.target.target:
            return None
        return self.crossing(self.target_seconds, assume_running=not self.open)

    def points(self, defaults: SlaDefaults) -> list[tuple[str, FireKind, float]]:
        """(label, kind, counted seconds) of every warning, the breach, each overdue point and the maximum breach."""
        if self.target is None:
            return []
        target = self.target_seconds
        out: list[tuple[str, FireKind, float]] = []
        before = self.target.warn_before if self.target.warn_before is not None else defaults.warn_before
        percents = self.target.warn_at_percent if self.target.warn_at_percent is not None else defaults.warn_at_percent
        for lead in before:
            if 0 < lead.total_seconds() < target:
                out.append((f"{format_duration(lead)} before due", FireKind.WARNING, target - lead.total_seconds()))
        for pct in percents:
            out.append((f"{pct:g}% elapsed", FireKind.WARNING, target * pct / 100.0))
        out.append(("breach", FireKind.BREACH, target))
        for lead in self.overdue:  # counted like the target: "2 h past due" on the clock's own calendar
            out.append((f"breach + {format_duration(lead)}", FireKind.OVERDUE, target + lead.total_seconds()))
        if self.target.maximum is not None:
            out.append(("maximum breach", FireKind.MAXIMUM_BREACH, self.target.maximum.total_seconds()))
        return out

    def label(self, base: str) -> str:
        """A fire label unique within the clock: after a reopen, a new met is a new fire."""
        return base if self.reopens == 0 else f"{base} (reopen {self.reopens})"

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
        if self.running_since is None and self.counting:
            if self.paused_since is not None and at > self.paused_since:
                self.pauses.append((self.paused_since, at))
            self.paused_since = None
            self.running_since = at
            if self.state is ClockState.PAUSED:
                self.state = ClockState.RUNNING

    def stop(self, at: datetime, state: ClockState) -> None:
        """End the clock: met, or stopped by the ticket's resolution."""
        self.pause(at)
        self.paused_since = None
        self.stopped_at = at
        if state is ClockState.MET:
            self.met_at = at
        self.state = ClockState.BREACHED if state is ClockState.MET and self.breached_at else state

    def reopen(self, at: datetime) -> None:
        """The ticket reopened: the clock counts again from `at` (paused until told otherwise)."""
        self.met_at = None
        self.stopped_at = None
        self.paused_since = at
        self.reopens += 1
        self.state = self._counting_state()

    def set_target(self, target: Target | None, calendar: BusinessCalendar) -> None:
        self.target = target
        if target is None:
            if self.counting:
                self.state = ClockState.CANCELLED
            return
        self.calendar = calendar
        self.shown = True
        self.last_target = target
        if self.counting:
            self.state = self._counting_state()

    def _counting_state(self) -> ClockState:
        if self.target is None:
            return ClockState.CANCELLED
        if self.breached_at is not None:
            return ClockState.BREACHED
        return ClockState.RUNNING if self.running_since is not None else ClockState.PAUSED


def _delta(target: Target | None) -> timedelta:
    """A target's duration (a clock with no target has none)."""
    if target is None or target.target is None:
        raise ValueError("this clock has no target")
    return target.target
