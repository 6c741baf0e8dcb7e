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
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.logs import where
from connector.policy import Policy
from connector.sla.live import (
    BACKLOG_RECHECK,
    RETRY_AFTER,
    OnFires,
    _arm,
    _waiting_for_backlog,
    refresh,
)
from connector.sla.many import refresh_many
from connector.store import Database, PolicyVersions
from connector.store.tables import SlaFire, SlaTimer, Ticket

log = logging.getLogger(__name__)

_TICKET_COLUMNS = (Ticket.id, Ticket.severity, Ticket.customer_tier, Ticket.category, Ticket.channel, Ticket.status)


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
    return refresh_many(s, policy, tickets, now, started=started)
