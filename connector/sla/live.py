"""Live SLA clocks: the engine over stored tickets, durable timers, and the sweeper that fires them.

After every change to a ticket (and whenever its timer comes due) `refresh` replays the ticket's
timeline through the engine up to now. New warnings, breaches and mets are inserted into
`sla_fires` — its unique key makes each fire at most once, however often or wherever this runs —
and written to the ticket's timeline in the same transaction. `sla_fires`, in id order, is the
event stream the escalation engine consumes. `sla_timers` keeps each ticket's next fire time; the
sweeper reads only the due rows, so a tick costs what is due, not what is open. Redis plays no
part: a Redis that restarts empty loses no timer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connector import defaults
from connector.model import EventKind, LinkRole
from connector.policy import Policy
from connector.sla.clock import ClockState
from connector.sla.engine import Evaluation, evaluate
from connector.sla.events import Fire, FireKind, SlaEvent, SlaEventType
from connector.sla.serialize import clock_json
from connector.store import DeliveryStatus
from connector.store.tables import Delivery, Link, SlaClock, SlaFire, SlaTimer, Ticket, TimelineEntry, object_key
from connector.tickets import locks, timeline
from connector.tickets.timeline import (
    CommentPosted,
    Escalated,
    FieldsChanged,
    Kind,
    Linked,
    ObjectEvent,
    SlaRecorded,
    TicketCreated,
)

log = logging.getLogger(__name__)

#: fires that are kept (and put on the timeline); "started"/"stopped" are implied by the clocks
RECORDED = frozenset(
    {
        FireKind.WARNING,
        FireKind.BREACH,
        FireKind.MAXIMUM_BREACH,
        FireKind.OVERDUE,
        FireKind.MET,
        FireKind.RETARGETED,
        FireKind.CANCELLED,
        FireKind.REOPENED,
    }
)
TIMELINE_KIND = {
    FireKind.WARNING: Kind.SLA_WARNING,
    FireKind.BREACH: Kind.SLA_BREACH,
    FireKind.MAXIMUM_BREACH: Kind.SLA_MAXIMUM_BREACH,
    FireKind.OVERDUE: Kind.SLA_OVERDUE,
    FireKind.MET: Kind.SLA_MET,
    FireKind.RETARGETED: Kind.SLA_RETARGETED,
    FireKind.REOPENED: Kind.SLA_REOPENED,
    FireKind.CANCELLED: Kind.SLA_CANCELLED,
}
#: pager events of a linked incident that the clocks react to
_INCIDENT_EVENTS = {
    EventKind.INCIDENT_TRIGGERED: SlaEventType.PAGED,
    EventKind.INCIDENT_ACKNOWLEDGED: SlaEventType.ACKNOWLEDGED,
}
_HISTORY_KINDS = (
    *timeline.kinds_of(TicketCreated, FieldsChanged, Linked, Escalated),
    Kind.COMMENTED,
    *(timeline.object_kind("incident", e) for e in _INCIDENT_EVENTS),
)
#: `locks.known` key: a locked ticket's recorded fires as (metric, cycle, label), once read or written
FIRES_SEEN = "sla_fires"
RETRY_AFTER = timedelta(seconds=30)  # a ticket whose refresh failed is tried again this much later
BACKLOG_RECHECK = timedelta(seconds=1)  # a ticket waiting for its backlog is looked at again this much later
SETTLE = timedelta(seconds=defaults.SLA_SETTLE_SECONDS)  # an alarm already due when told of the past waits this
#: ticket field → the history event its change is
_FIELD_EVENTS = {
    "status": SlaEventType.STATUS,
    "severity": SlaEventType.SEVERITY,
    "customer_tier": SlaEventType.TIER,
    "category": SlaEventType.CATEGORY,
    "channel": SlaEventType.CHANNEL,
    "support_level": SlaEventType.LEVEL,
}


def history(s: Session, ticket: Ticket) -> tuple[dict[str, object], list[SlaEvent]]:
    """The ticket's attributes at creation and the SLA-relevant events of its timeline."""
    entries = s.execute(
        select(TimelineEntry.at, TimelineEntry.kind, TimelineEntry.data, TimelineEntry.actor)
        .where(TimelineEntry.ticket_id == ticket.id, TimelineEntry.kind.in_(_HISTORY_KINDS))
        .order_by(TimelineEntry.at, TimelineEntry.id)
    ).all()
    return events_of(ticket, entries)


def events_of(ticket: Any, entries: Sequence[Sequence[Any]]) -> tuple[dict[str, object], list[SlaEvent]]:
    """`history` from the ticket's timeline entries of `_HISTORY_KINDS` — (at, kind, data, actor) in
    time order — however they were read. `ticket`: a `Ticket`, or a row with its severity,
    customer_tier, category, channel and status."""
    initial: dict[str, object] | None = None
    events: list[SlaEvent] = []
    for at, kind, data, actor in entries:
        match timeline.decode(kind, data):
            case TicketCreated(fields=fields) if initial is None:
                initial = dict(fields)
                status = fields.get("status")
                events.append(SlaEvent(at=at, type=SlaEventType.CREATED, value=str(status) if status else None))
            case FieldsChanged(changes=changes) | Escalated(changes=changes):
                # a vendor's change, or the escalation engine's (a raised level, a category from the text)
                for name, (_old, new) in changes.items():
                    if name in _FIELD_EVENTS:
                        events.append(SlaEvent(at=at, type=_FIELD_EVENTS[name], value=new))
            case CommentPosted(change=Kind.COMMENTED, link_role=LinkRole.ORIGIN) as c:
                events.append(
                    SlaEvent(
                        at=at, type=SlaEventType.REPLY, public=c.public, author_is_agent=c.author_is_agent, author=actor
                    )
                )
            case ObjectEvent(event=event) if event in _INCIDENT_EVENTS:
                events.append(SlaEvent(at=at, type=_INCIDENT_EVENTS[event]))
            case Linked(role=LinkRole.ENGINEERING):
                events.append(SlaEvent(at=at, type=SlaEventType.ESCALATED))
            case _:
                pass  # e.g. a comment on a linked object: not the customer's conversation
    if initial is None:  # a ticket older than this history format: take what it is now
        initial = {
            "severity": ticket.severity,
            "customer_tier": ticket.customer_tier,
            "category": ticket.category,
            "channel": ticket.channel,
            "status": ticket.status,
        }
    return initial, events


def refresh(
    s: Session,
    policy: Policy,
    ticket_id: int,
    now: datetime,
    until: datetime | None = None,
    *,
    started: float | None = None,
) -> list[SlaFire]:
    """Recompute one ticket's clocks up to `until` (default `now`); record what newly fired; re-arm
    its timer.

    Processing a delivery refreshes up to that delivery's own event time: a backlog of deliveries
    (a vendor retrying after an outage) then replays without false alarms for facts it already
    holds. What is due after that time is left to the sweeper; when it is due already (the delivery
    told of the past), the timer waits `SETTLE` first, so that the rest of a burst of such deliveries
    — the reply that met the clock, sent a moment later — lands before any alarm is raised.
    A fire's `recorded_at` is `now` plus the time spent since `started` (a `time.monotonic()` reading
    taken when `now` was; default: this call's start), so it measures real lateness."""
    started = time.monotonic() if started is None else started
    ticket = locks.lock(s, ticket_id)
    if ticket is None:
        s.execute(delete(SlaTimer).where(SlaTimer.ticket_id == ticket_id))
        return []
    initial, events = history(s, ticket)
    # Never replay less than the ticket's whole known history (a late, older delivery included).
    horizon = min(max([until or now, *(e.at for e in events)]), now)
    result = evaluate(policy, ticket=initial, events=events, until=horizon)
    new = _record_fires(s, ticket, result, now, started)
    _store_clocks(s, ticket, result, policy, now)
    fire_at = result.next_fire_at(policy)
    if fire_at is not None and horizon < now and fire_at <= now:
        fire_at = now + SETTLE  # told of the past: let the rest of the burst land first
    _arm(s, ticket.id, fire_at)
    return new


def _key(fire_label: str, kind: FireKind, at: datetime) -> str:
    """A fire's key within its clock: retargets and cancellations may happen many times."""
    return f"{fire_label}@{at.isoformat()}" if kind in (FireKind.RETARGETED, FireKind.CANCELLED) else fire_label


def _record_fires(s: Session, ticket: Ticket, result: Evaluation, now: datetime, started: float) -> list[SlaFire]:
    memo = locks.known(s, ticket.id)  # a second refresh in the same transaction (a retarget) reads nothing
    seen: set[tuple[str, int, str]] | None = None if memo is None else memo.get(FIRES_SEEN)
    if seen is None:
        seen = (
            set()  # a ticket this transaction created has no fires but the ones it records here
            if locks.created_here(s, ticket.id)
            else {
                (m, c, label)
                for m, c, label in s.execute(
                    select(SlaFire.metric, SlaFire.cycle, SlaFire.label).where(SlaFire.ticket_id == ticket.id)
                )
            }
        )
        if memo is not None:
            memo[FIRES_SEEN] = seen
    new: list[SlaFire] = []
    for fire, values in unrecorded(ticket.id, result, seen, now, started):
        row = SlaFire(**values)
        s.add(row)
        timeline.write(
            s,
            ticket_id=ticket.id,
            at=fire.at,
            recorded_at=values["recorded_at"],
            source="connector/sla",
            summary=fire.detail,
            record=timeline_record(fire),
        )
        new.append(row)
    s.flush()  # a concurrent refresh of the same ticket fails here (unique key) and its job retries
    return new


def unrecorded(
    ticket_id: int, result: Evaluation, seen: set[tuple[str, int, str]], now: datetime, started: float
) -> Iterator[tuple[Fire, dict[str, Any]]]:
    """The fires of `result` to record — kept kinds, not in `seen` (which they join) — each with its
    `sla_fires` row, logged. `recorded_at` is `now` plus the time since `started`: when it really fired."""
    for fire in result.fires:
        if fire.kind not in RECORDED:
            continue
        label = _key(fire.label, fire.kind, fire.at)[:96]
        if (fire.metric, fire.cycle, label) in seen:
            continue
        seen.add((fire.metric, fire.cycle, label))
        recorded = now + timedelta(seconds=time.monotonic() - started)
        log.info(
            "sla fire",
            extra={
                "ticket_id": ticket_id,
                "metric": fire.metric,
                "kind": fire.kind,
                "late_seconds": round((recorded - fire.at).total_seconds(), 3),
            },
        )
        yield (
            fire,
            {
                "ticket_id": ticket_id,
                "metric": fire.metric,
                "cycle": fire.cycle,
                "label": label,
                "kind": fire.kind.value,
                "at": fire.at,
                "recorded_at": recorded,
                "detail": fire.detail,
                "data": fire.facts(),
            },
        )


def timeline_record(fire: Fire) -> SlaRecorded:
    """What a recorded fire puts on its ticket's timeline."""
    return SlaRecorded(kind=TIMELINE_KIND[fire.kind], metric=fire.metric, cycle=fire.cycle, label=fire.label)


#: `Session.info` key: ticket id → the earliest due time of its open clocks, as the last refresh stored them
_DUE = "sla_earliest_due"


def earliest_due_many(s: Session, ticket_ids: Sequence[int]) -> dict[int, datetime | None]:
    """When each ticket's next open clock is due (for pages and notifications): as this transaction's
    refresh left it, else read from the stored clocks (one query for all such tickets)."""
    known: dict[int, datetime | None] = s.info.get(_DUE) or {}
    out = {t: known[t] for t in ticket_ids if t in known}
    unknown = [t for t in ticket_ids if t not in out]
    if unknown:
        out.update(dict.fromkeys(unknown))
        rows = s.execute(
            select(SlaClock.ticket_id, func.min(SlaClock.due_at))
            .where(
                SlaClock.ticket_id.in_(unknown),
                SlaClock.met_at.is_(None),
                SlaClock.state.in_((ClockState.RUNNING.value, ClockState.BREACHED.value)),
            )
            .group_by(SlaClock.ticket_id)
        )
        out.update({ticket_id: due for ticket_id, due in rows})
    return out


def _store_clocks(s: Session, ticket: Ticket, result: Evaluation, policy: Policy, now: datetime) -> None:
    dues = [c.due_at() for c in result.clocks if c.open and c.state is not ClockState.PAUSED]
    s.info.setdefault(_DUE, {})[ticket.id] = min((d for d in dues if d is not None), default=None)
    memo = locks.known(s, ticket.id)
    stored: dict[tuple[str, int], SlaClock] | None = None if memo is None else memo.get("sla_clocks")
    if stored is None:
        stored = (
            {}
            if locks.created_here(s, ticket.id)
            else {(c.metric, c.cycle): c for c in s.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id))}
        )
    rows = dict(stored)
    kept: dict[tuple[str, int], SlaClock] = {}
    for clock in result.clocks:
        data = clock_json(clock, policy, at=now)
        row = rows.pop((clock.metric, clock.cycle), None)
        if row is None:
            row = SlaClock(ticket_id=ticket.id, metric=clock.metric, cycle=clock.cycle)
            s.add(row)
        kept[(clock.metric, clock.cycle)] = row
        if row.data == data:
            continue  # a closed clock does not change: no write
        row.state = clock.state.value
        row.target_seconds = data["target_seconds"]
        row.started_at = clock.started_at
        row.due_at = clock.due_at()
        row.met_at = clock.met_at
        row.breached_at = clock.breached_at
        row.paused_seconds = data["paused_seconds"]
        row.data = dict(data)
        row.updated_at = now
    for stale in rows.values():  # e.g. a clock a policy change removed
        s.delete(stale)
    if memo is not None:
        memo["sla_clocks"] = kept  # held strongly: the identity map would let clean rows go


_TIMERS = SlaTimer.__table__
assert isinstance(_TIMERS, Table)


def _upsert_timer(insert: Callable[[Any], Any]) -> Any:
    stmt = insert(_TIMERS).values(ticket_id=bindparam("ticket_id"), fire_at=bindparam("fire_at"))
    return stmt.on_conflict_do_update(index_elements=[_TIMERS.c.ticket_id], set_={"fire_at": stmt.excluded.fire_at})


#: one statement arms a ticket's timer, whether or not it had one
_ARM = {"sqlite": _upsert_timer(sqlite_insert), "postgresql": _upsert_timer(pg_insert)}


def _arm(s: Session, ticket_id: int, fire_at: datetime | None) -> None:
    """Set (or clear) the ticket's timer: one statement, not a read then a write (timers are only ever
    written here and read by the sweeper's query, never held as objects)."""
    if fire_at is None:
        s.execute(delete(SlaTimer).where(SlaTimer.ticket_id == ticket_id))
    else:
        s.execute(_ARM[s.get_bind().dialect.name], {"ticket_id": ticket_id, "fire_at": fire_at})


def _waiting_for_backlog(s: Session, ticket_ids: list[int], now: datetime) -> set[int]:
    """The tickets among `ticket_ids` with an unprocessed delivery about one of their linked objects."""
    keys: dict[str, int] = {}
    for ticket_id, vendor, instance, object_type, external_id in s.execute(
        select(Link.ticket_id, Link.vendor, Link.instance, Link.object_type, Link.external_id).where(
            Link.ticket_id.in_(ticket_ids)
        )
    ):
        keys[object_key(vendor, instance, object_type, external_id)] = ticket_id
    if not keys:
        return set()
    pending = s.scalars(
        select(Delivery.object_key)
        .where(
            Delivery.object_key.in_(list(keys)),
            Delivery.status == DeliveryStatus.RECEIVED.value,
            or_(Delivery.event_at.is_(None), Delivery.event_at <= now),
        )
        .distinct()
    )
    return {keys[k] for k in pending if k in keys}


#: the clocks of many tickets refreshed at once, as the sweeper does it: each ticket's new fires
RefreshMany = Callable[[Session, Policy, Sequence[int], datetime], Mapping[int, list[SlaFire]]]

#: what the sweeper hands the fires it recorded to (the escalation engine, wired by the composition root):
#: (session, policy, each ticket's new fires, now, how to refresh tickets again — a decision that retargets
#: their clocks), in the chunk's savepoint
OnFires = Callable[[Session, Policy, Mapping[int, list[SlaFire]], datetime, RefreshMany], object]
