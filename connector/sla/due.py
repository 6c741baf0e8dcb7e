"""The sweeper: every ticket whose SLA timer is due, refreshed in batches.

Business calendars make clocks fall due together — at Monday's opening thousands of first-response
and resolution clocks warn and breach in the same minute — so the sweeper refreshes a chunk of due
tickets in a few statements rather than a few per ticket: the chunk's tickets, timelines, fires and
clocks are read with one statement each, every ticket is replayed through the engine
(`connector.sla.engine.evaluate`, the same as `live.refresh`), and the new fires, timeline
entries, changed clocks and timers are written in bulk. What it writes is what `live.refresh`
would write for each ticket; a chunk the batch cannot do (a database error, a ticket the engine
fails on) is rolled back and done ticket by ticket with `live.refresh`, each in a savepoint, so one
bad ticket never holds up the others.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.logs import where
from connector.policy import Policy
from connector.sla.clock import ClockState
from connector.sla.engine import evaluate
from connector.sla.live import (
    _ARM,
    _DUE,
    _HISTORY_KINDS,
    BACKLOG_RECHECK,
    RETRY_AFTER,
    OnFires,
    _arm,
    _waiting_for_backlog,
    events_of,
    refresh,
    timeline_record,
    unrecorded,
)
from connector.sla.serialize import clock_json
from connector.store import Database, PolicyVersions
from connector.store.tables import SlaClock, SlaFire, SlaTimer, Ticket, TimelineEntry
from connector.tickets import timeline

log = logging.getLogger(__name__)

_CLOCKS = SlaClock.__table__
assert isinstance(_CLOCKS, Table)
_TICKET_COLUMNS = (Ticket.id, Ticket.severity, Ticket.customer_tier, Ticket.category, Ticket.channel, Ticket.status)
_CLOCK_FIELDS = ("state", "target_seconds", "started_at", "due_at", "met_at", "breached_at", "paused_seconds", "data")
_UPDATE_CLOCK = (
    update(_CLOCKS)
    .where(_CLOCKS.c.id == bindparam("clock_id"))
    .values({name: bindparam(f"new_{name}") for name in (*_CLOCK_FIELDS, "updated_at")})
)


def sweep(
    db: Database,
    policies: PolicyVersions,
    *,
    now: datetime | None = None,
    limit: int = 2000,
    chunk: int = 250,
    on_fires: OnFires | None = None,
) -> int:
    """Refresh every ticket whose timer is due (up to `limit` per call); returns how many were refreshed.

    Works in transactions of `chunk` tickets (on SQLite the write lock is shared with webhook ingest).
    Several sweepers may run at once: on PostgreSQL each takes the due rows (and tickets) the others
    have not locked. `on_fires` (the escalation engine) gets the chunk's new fires in the same
    transaction.

    No false alarms from a backlog: a ticket with a delivery about one of its objects that is stored
    but not yet processed, and whose events are not later than now, is left for that delivery's
    processing (which refreshes the ticket up to the delivery's own time); its timer is looked at
    again `BACKLOG_RECHECK` later. A delivery that failed and waits for a retry does not hold alarms."""
    now = now or datetime.now(UTC)
    started = time.monotonic()
    done = 0
    while done < limit:
        with db.session() as s:
            q = (
                select(SlaTimer.ticket_id)
                .where(SlaTimer.fire_at <= now)
                .order_by(SlaTimer.fire_at)
                .limit(min(chunk, limit - done))
            )
            if not db.is_sqlite:
                q = q.with_for_update(skip_locked=True)
            due = list(s.scalars(q))
            if not due:
                break
            policy = policies.active(s).policy
            waiting = _waiting_for_backlog(s, due, now)
            for ticket_id in waiting:
                _arm(s, ticket_id, now + BACKLOG_RECHECK)
            todo = [t for t in due if t not in waiting]
            again = partial(refresh_due, started=started, skip_locked=not db.is_sqlite)
            try:
                with s.begin_nested():
                    fired = again(s, policy, todo, now)
                    if on_fires is not None and any(fired.values()):
                        on_fires(s, policy, {t: f for t, f in fired.items() if f}, now, again)
            except (SQLAlchemyError, ValueError, LookupError) as exc:
                log.warning(
                    "batched sla refresh failed; refreshing its tickets one by one",
                    extra={"tickets": len(todo), "error": type(exc).__name__, "where": where(exc)},
                )
                _one_by_one(s, policy, todo, now, started, on_fires)
        done += len(due)
        if len(due) < chunk:
            break
    return done


def _one_by_one(
    s: Session, policy: Policy, ticket_ids: list[int], now: datetime, started: float, on_fires: OnFires | None
) -> None:
    def again(s: Session, policy: Policy, ids: Sequence[int], now: datetime) -> dict[int, list[SlaFire]]:
        return {i: refresh(s, policy, i, now, started=started) for i in ids}

    for ticket_id in ticket_ids:
        try:
            with s.begin_nested():
                fired = refresh(s, policy, ticket_id, now, started=started)
                if fired and on_fires is not None:
                    on_fires(s, policy, {ticket_id: fired}, now, again)
        except (SQLAlchemyError, ValueError, LookupError) as exc:
            log.error(
                "sla refresh failed; retrying later",
                extra={"ticket_id": ticket_id, "error": type(exc).__name__, "where": where(exc)},
            )
            _arm(s, ticket_id, now + RETRY_AFTER)


def refresh_due(
    s: Session,
    policy: Policy,
    ticket_ids: Sequence[int],
    now: datetime,
    *,
    started: float | None = None,
    skip_locked: bool = False,
) -> dict[int, list[SlaFire]]:
    """`live.refresh` up to `now` for each of `ticket_ids`, in a few statements for all: returns each
    refreshed ticket's new fires. A ticket that no longer exists loses its timer; one another
    transaction holds locked (`skip_locked`, PostgreSQL) is left due for the next tick."""
    started = time.monotonic() if started is None else started
    if not ticket_ids:
        return {}
    ids = sorted(set(ticket_ids))
    # The attributes the history falls back on, as plain rows (loading ORM objects costs more than
    # the replay); the rows are locked as `locks.lock` would lock each.
    q = select(*_TICKET_COLUMNS).where(Ticket.id.in_(ids)).order_by(Ticket.id)
    q = q.with_for_update(skip_locked=True) if skip_locked else q.with_for_update()
    tickets = {t.id: t for t in s.execute(q)}
    gone = [t for t in ids if t not in tickets]
    if gone and skip_locked:  # missing here: locked elsewhere (left due for the next tick) or gone
        present = set(s.scalars(select(Ticket.id).where(Ticket.id.in_(gone))))
        gone = [t for t in gone if t not in present]
    if gone:
        s.execute(delete(SlaTimer).where(SlaTimer.ticket_id.in_(gone)))
    if not tickets:
        return {}
    live_ids = list(tickets)

    entries: dict[int, list[Any]] = defaultdict(list)
    for row in s.execute(
        select(TimelineEntry.ticket_id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.data, TimelineEntry.actor)
        .where(TimelineEntry.ticket_id.in_(live_ids), TimelineEntry.kind.in_(_HISTORY_KINDS))
        .order_by(TimelineEntry.ticket_id, TimelineEntry.at, TimelineEntry.id)
    ):
        entries[row[0]].append(row[1:])
    seen: dict[int, set[tuple[str, int, str]]] = defaultdict(set)
    for ticket_id, metric, cycle, label in s.execute(
        select(SlaFire.ticket_id, SlaFire.metric, SlaFire.cycle, SlaFire.label).where(SlaFire.ticket_id.in_(live_ids))
    ):
        seen[ticket_id].add((metric, cycle, label))
    stored: dict[int, dict[tuple[str, int], tuple[int, Any]]] = defaultdict(dict)
    for clock_id, ticket_id, metric, cycle, data in s.execute(
        select(SlaClock.id, SlaClock.ticket_id, SlaClock.metric, SlaClock.cycle, SlaClock.data).where(
            SlaClock.ticket_id.in_(live_ids)
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
        horizon = min(max([now, *(e.at for e in events)]), now)
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
        if fire_at is None:
            disarm.append(ticket_id)
        else:
            arm.append({"ticket_id": ticket_id, "fire_at": fire_at})

    if fire_rows:  # a concurrent refresh of the same ticket fails here (unique key): the chunk goes one by one
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
    return fires
