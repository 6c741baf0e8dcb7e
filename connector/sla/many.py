"""Many tickets' SLA clocks refreshed with a few statements for all of them — what `live.refresh`
writes for each, written in bulk.

The sweeper hands in a chunk of due tickets (`connector.sla.due`), delivery processing the tickets a
batch of deliveries touched (`connector.inbox.batch`). Their timelines, fires and clocks are read
with one statement each, every ticket is replayed through the engine (`evaluate`, as `live.refresh`
does), and the new fires, timeline entries, changed clocks and timers go in with one statement per
table. A ticket this transaction created has no fires or clocks elsewhere: none are read for it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from connector.policy import Policy
from connector.sla.clock import ClockState
from connector.sla.engine import evaluate
from connector.sla.live import _ARM, _DUE, _HISTORY_KINDS, FIRES_SEEN, SETTLE, events_of, timeline_record, unrecorded
from connector.sla.serialize import clock_json
from connector.store.tables import SlaClock, SlaFire, SlaTimer, TimelineEntry
from connector.tickets import locks, timeline

_CLOCKS = SlaClock.__table__
assert isinstance(_CLOCKS, Table)
_CLOCK_FIELDS = ("state", "target_seconds", "started_at", "due_at", "met_at", "breached_at", "paused_seconds", "data")
_UPDATE_CLOCK = (
    update(_CLOCKS)
    .where(_CLOCKS.c.id == bindparam("clock_id"))
    .values({name: bindparam(f"new_{name}") for name in (*_CLOCK_FIELDS, "updated_at")})
)


def refresh_many(
    s: Session,
    policy: Policy,
    tickets: Mapping[int, Any],
    now: datetime,
    *,
    until: Mapping[int, datetime] | None = None,
    started: float | None = None,
) -> dict[int, list[SlaFire]]:
    """`live.refresh` of each of `tickets` (id → a locked `Ticket`, or a row with its id, severity,
    customer_tier, category, channel and status), each up to its own `until` (default `now`); returns
    each ticket's new fires. The rows written are exactly the ones `live.refresh` would write."""
    started = time.monotonic() if started is None else started
    until = until or {}
    if not tickets:
        return {}
    ids = list(tickets)
    new_here = {t for t in ids if locks.created_here(s, t)}
    entries: dict[int, list[Any]] = defaultdict(list)
    for row in s.execute(
        select(TimelineEntry.ticket_id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.data, TimelineEntry.actor)
        .where(TimelineEntry.ticket_id.in_(ids), TimelineEntry.kind.in_(_HISTORY_KINDS))
        .order_by(TimelineEntry.ticket_id, TimelineEntry.at, TimelineEntry.id)
    ):
        entries[row[0]].append(row[1:])
    seen = _fires_seen(s, [t for t in ids if t not in new_here])
    stored: dict[int, dict[tuple[str, int], tuple[int, Any]]] = defaultdict(dict)
    old = [t for t in ids if t not in new_here]
    if old:
        for clock_id, ticket_id, metric, cycle, data in s.execute(
            select(SlaClock.id, SlaClock.ticket_id, SlaClock.metric, SlaClock.cycle, SlaClock.data).where(
                SlaClock.ticket_id.in_(old)
            )
        ):
            stored[ticket_id][(metric, cycle)] = (clock_id, data)

    fires: dict[int, list[SlaFire]] = {}
    fire_rows: list[dict[str, Any]] = []
    new_entries: list[dict[str, Any]] = []
    clock_updates: list[dict[str, Any]] = []
    clock_inserts: list[dict[str, Any]] = []
    stale_clocks: list[int] = []
    arm: list[dict[str, Any]] = []
    disarm: list[int] = []
    earliest: dict[int, datetime | None] = s.info.setdefault(_DUE, {})
    for ticket_id, ticket in tickets.items():
        initial, events = events_of(ticket, entries.get(ticket_id, []))
        # Never replay less than the ticket's whole known history (a late, older delivery included).
        horizon = min(max([until.get(ticket_id, now), *(e.at for e in events)]), now)
        result = evaluate(policy, ticket=initial, events=events, until=horizon)

        new: list[SlaFire] = []
        for fire, values in unrecorded(ticket_id, result, seen[ticket_id], now, started):
            fire_rows.append(values)
            new.append(SlaFire(**values))  # for the escalation engine; the rows go in with one statement
            record = timeline_record(fire)
            new_entries.append(
                {
                    "ticket_id": ticket_id,
                    "at": fire.at,
                    "recorded_at": values["recorded_at"],
                    "kind": timeline.kind_of(record),
                    "source": "connector/sla",
                    "delivery_id": None,
                    "actor": None,
                    "summary": fire.detail,
                    "data": timeline.encode(record),
                    "dedupe_key": None,
                }
            )
        fires[ticket_id] = new

        dues = [c.due_at() for c in result.clocks if c.open and c.state is not ClockState.PAUSED]
        earliest[ticket_id] = min((d for d in dues if d is not None), default=None)
        rows = dict(stored.get(ticket_id, {}))
        for clock in result.clocks:
            data = clock_json(clock, policy, at=now)
            found = rows.pop((clock.metric, clock.cycle), None)
            if found is not None and found[1] == data:
                continue  # a closed clock does not change: no write
            values = {
                "state": clock.state.value,
                "target_seconds": data["target_seconds"],
                "started_at": clock.started_at,
                "due_at": clock.due_at(),
                "met_at": clock.met_at,
                "breached_at": clock.breached_at,
                "paused_seconds": data["paused_seconds"],
                "data": dict(data),
                "updated_at": now,
            }
            if found is None:
                clock_inserts.append({"ticket_id": ticket_id, "metric": clock.metric, "cycle": clock.cycle, **values})
            else:
                clock_updates.append({"clock_id": found[0], **{f"new_{k}": v for k, v in values.items()}})
        stale_clocks.extend(clock_id for clock_id, _ in rows.values())  # e.g. a clock a policy change removed

        fire_at = result.next_fire_at(policy)
        if fire_at is not None and horizon < now and fire_at <= now:
            fire_at = now + SETTLE  # told of the past: let the rest of the burst land first (as `live.refresh`)
        if fire_at is None:
            disarm.append(ticket_id)
        else:
            arm.append({"ticket_id": ticket_id, "fire_at": fire_at})

    if fire_rows:  # a concurrent refresh of the same ticket fails here (unique key)
        s.connection().execute(insert(SlaFire.__table__), fire_rows)  # type: ignore[arg-type]
    if new_entries:
        s.connection().execute(insert(TimelineEntry.__table__), new_entries)  # type: ignore[arg-type]
    if clock_inserts:
        s.connection().execute(insert(_CLOCKS), clock_inserts)  # type: ignore[arg-type]
    if clock_updates:
        s.connection().execute(_UPDATE_CLOCK, clock_updates)
    if stale_clocks:
        s.execute(delete(SlaClock).where(SlaClock.id.in_(stale_clocks)))
    if arm:
        s.execute(_ARM[s.get_bind().dialect.name], arm)
    if disarm:
        s.execute(delete(SlaTimer).where(SlaTimer.ticket_id.in_(disarm)))
    for ticket_id in ids:
        # its clocks are now rows this module wrote, not objects a `live.refresh` of the same transaction holds
        locks.forget(s, ticket_id, keep={FIRES_SEEN: seen[ticket_id]})
    return fires


def _fires_seen(s: Session, ticket_ids: list[int]) -> dict[int, set[tuple[str, int, str]]]:
    """Each ticket's recorded fires: what this transaction already knows of them (a ticket it created
    has none elsewhere), the rest read with one statement."""
    seen: dict[int, set[tuple[str, int, str]]] = defaultdict(set)
    unread: list[int] = []
    for ticket_id in ticket_ids:
        memo = locks.known(s, ticket_id)
        if memo is not None and FIRES_SEEN in memo:
            seen[ticket_id] = memo[FIRES_SEEN]
        else:
            unread.append(ticket_id)
    if unread:
        for ticket_id, metric, cycle, label in s.execute(
            select(SlaFire.ticket_id, SlaFire.metric, SlaFire.cycle, SlaFire.label).where(SlaFire.ticket_id.in_(unread))
        ):
            seen[ticket_id].add((metric, cycle, label))
    return seen
