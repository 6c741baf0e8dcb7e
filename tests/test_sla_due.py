"""The sweeper's batched refresh (`connector.sla.due.refresh_due`) writes exactly what `live.refresh`
writes ticket by ticket: the same fires, timeline entries, clocks and timers, from the same stored
tickets, at every moment of their lives. Both run on the same database state in transactions that
are rolled back, and their rows are compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.demo import payloads as p
from connector.policy import load_policy
from connector.sla import due, live
from connector.store.tables import Escalation, OutboxItem, SlaClock, SlaFire, SlaTimer, Ticket, TimelineEntry
from tests.conftest import drain, make_queue, make_settings
from tests.helpers import post

T0 = datetime(2026, 11, 30, 7, 50, tzinfo=UTC)  # a Monday, before the opening of most calendars


def _ticket(ticket_id: int, at: datetime, priority: str, status: str = "NEW") -> dict[str, Any]:
    return p.zendesk_ticket(
        ticket_id=ticket_id,
        subject="Exports fail for every workspace",
        description="The CSV export spins forever",
        status=status,
        priority=priority,
        requester_id="9001",
        organization_id="77",
        tags=[],
        created=at,
        updated=at,
    )


def _reply(ticket_id: int, at: datetime, priority: str, *, public: bool = True) -> dict[str, Any]:
    comment = {
        "id": str(ticket_id * 10 + int(at.timestamp()) % 10),
        "body": "We are on it.",
        "is_public": public,
        "author": {"id": "42", "is_staff": True, "name": "Maya Chen"},
    }
    return p.zendesk_event("comment_added", _ticket(ticket_id, at, priority, "OPEN"), {"comment": comment}, at)


def _status(ticket_id: int, at: datetime, priority: str, new: str, old: str) -> dict[str, Any]:
    return p.zendesk_event(
        "status_changed", _ticket(ticket_id, at, priority, new), {"current": new, "previous": old}, at
    )


def _priority(ticket_id: int, at: datetime, new: str, old: str) -> dict[str, Any]:
    return p.zendesk_event(
        "priority_changed", _ticket(ticket_id, at, new, "OPEN"), {"current": new, "previous": old}, at
    )


def _stories() -> list[dict[str, Any]]:
    """Tickets of every kind the clocks know: untouched, answered, paused and resumed, re-prioritised,
    solved, in each priority; told in time order."""
    out: list[dict[str, Any]] = []
    for i, priority in enumerate(("URGENT", "HIGH", "NORMAL", "LOW")):
        base = 7000 + 10 * i
        at = T0 + timedelta(minutes=i)
        out.append(p.zendesk_event("created", _ticket(base + 1, at, priority), {}, at))  # untouched
        out.append(p.zendesk_event("created", _ticket(base + 2, at, priority), {}, at))
        out.append(_reply(base + 2, at + timedelta(minutes=20), priority))  # answered in time
        out.append(p.zendesk_event("created", _ticket(base + 3, at, priority), {}, at))
        out.append(_status(base + 3, at + timedelta(minutes=5), priority, "PENDING", "NEW"))  # waits on the customer
        out.append(_status(base + 3, at + timedelta(hours=3), priority, "OPEN", "PENDING"))
        out.append(p.zendesk_event("created", _ticket(base + 4, at, priority), {}, at))
        out.append(
            _priority(base + 4, at + timedelta(minutes=10), "URGENT" if priority != "URGENT" else "LOW", priority)
        )
        out.append(p.zendesk_event("created", _ticket(base + 5, at, priority), {}, at))
        out.append(_reply(base + 5, at + timedelta(minutes=2), priority, public=False))  # internal: not a reply
        out.append(_status(base + 5, at + timedelta(hours=1), priority, "SOLVED", "NEW"))
    return out


def _told(database: Any, preset: str) -> Any:
    """A runtime under `preset` on an emptied database, every story delivered and processed."""
    from connector.runtime import install
    from connector.wiring import build_runtime
    from tests.conftest import _clean
    from webhooks.app import create_app

    settings = make_settings(database, CONNECTOR_POLICY=preset)
    rt = build_runtime(settings, db=database, queue=make_queue(settings))
    install(rt)
    _clean(database)
    client = create_app(rt, start_worker=False).test_client()
    for payload in _stories():
        assert post(client, "zendesk", payload).status_code == 202
    drain(rt)
    return rt


def _snapshot(s: Any, ticket_ids: list[int]) -> dict[str, Any]:
    """What a refresh leaves, without the instants that depend on when it ran (recorded_at, updated_at)."""
    s.flush()
    fires = s.execute(
        select(SlaFire.ticket_id, SlaFire.metric, SlaFire.cycle, SlaFire.label, SlaFire.kind, SlaFire.at)
        .add_columns(SlaFire.detail, SlaFire.data)
        .where(SlaFire.ticket_id.in_(ticket_ids))
        .order_by(SlaFire.ticket_id, SlaFire.metric, SlaFire.cycle, SlaFire.label)
    ).all()
    entries = s.execute(
        select(TimelineEntry.ticket_id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.summary)
        .add_columns(TimelineEntry.data, TimelineEntry.source)
        .where(TimelineEntry.ticket_id.in_(ticket_ids), TimelineEntry.source == "connector/sla")
        .order_by(TimelineEntry.ticket_id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.summary)
    ).all()
    clocks = s.execute(
        select(SlaClock.ticket_id, SlaClock.metric, SlaClock.cycle, SlaClock.state, SlaClock.target_seconds)
        .add_columns(SlaClock.started_at, SlaClock.due_at, SlaClock.met_at, SlaClock.breached_at)
        .add_columns(SlaClock.paused_seconds, SlaClock.data)
        .where(SlaClock.ticket_id.in_(ticket_ids))
        .order_by(SlaClock.ticket_id, SlaClock.metric, SlaClock.cycle)
    ).all()
    timers = s.execute(
        select(SlaTimer.ticket_id, SlaTimer.fire_at)
        .where(SlaTimer.ticket_id.in_(ticket_ids))
        .order_by(SlaTimer.ticket_id)
    ).all()
    return {
        "fires": [tuple(r) for r in fires],
        "timeline": [tuple(r) for r in entries],
        "clocks": [tuple(r) for r in clocks],
        "timers": [tuple(r) for r in timers],
    }


@pytest.mark.parametrize("preset", ["signx", "localizevideos", "tai"])
def test_the_batched_refresh_writes_what_refresh_writes_ticket_by_ticket(database, preset):
    rt = _told(database, preset)
    policy = load_policy(preset)
    with rt.db.session() as s:
        ids = sorted(s.scalars(select(Ticket.id)))
    assert len(ids) == 20

    compared = 0
    for later in (timedelta(minutes=30), timedelta(hours=2), timedelta(hours=9), timedelta(days=3)):
        now = T0 + later
        one, batch = {}, {}
        with rt.db.engine.connect() as conn:
            with conn.begin() as tx:
                from sqlalchemy.orm import Session

                s = Session(bind=conn)
                for ticket_id in ids:
                    live.refresh(s, policy, ticket_id, now)
                one = _snapshot(s, ids)
                s.close()
                tx.rollback()
            with conn.begin() as tx:
                s = Session(bind=conn)
                fired = due.refresh_due(s, policy, ids, now)
                batch = _snapshot(s, ids)
                s.close()
                tx.rollback()
        assert batch == one, f"{preset} at +{later}"
        assert sum(len(f) for f in fired.values()) == len(one["fires"]) - _stored_fires(rt, ids)
        compared += len(one["fires"])
    assert compared > 0  # the stories did fire: the comparison compared something
    rt.close()


def _stored_fires(rt: Any, ids: list[int]) -> int:
    with rt.db.session() as s:
        return len(s.scalars(select(SlaFire.id).where(SlaFire.ticket_id.in_(ids))).all())


def test_a_batch_that_fails_is_done_ticket_by_ticket(rt, database, monkeypatch):
    from connector.runtime import install
    from connector.wiring import build_runtime
    from webhooks.app import create_app

    settings = make_settings(database, CONNECTOR_POLICY="localizevideos")
    rt = build_runtime(settings, db=database, queue=make_queue(settings))
    install(rt)
    client = create_app(rt, start_worker=False).test_client()
    now = datetime.now(UTC)
    for n in range(3):
        post(
            client,
            "zendesk",
            p.zendesk_event(
                "created", _ticket(8000 + n, now - timedelta(minutes=50), "URGENT"), {}, now - timedelta(minutes=50)
            ),
        )
    drain(rt)

    def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("a batch the engine cannot do")

    monkeypatch.setattr(due, "refresh_due", broken)
    later = now + live.SETTLE + timedelta(seconds=1)
    assert due.sweep(rt.db, rt.policies, now=later) == 3
    with rt.db.session() as s:
        fired = sorted((r.ticket_id, r.kind) for r in s.execute(select(SlaFire.ticket_id, SlaFire.kind)))
    assert [k for _, k in fired] == ["warning"] * 3  # every ticket's warning, recorded one by one
    rt.close()


def _escalated(rt: Any) -> dict[str, Any]:
    """What the sweeps and the escalation engine left, keyed by ticket in creation order (not by id)."""
    with rt.db.session() as s:
        ids = sorted(s.scalars(select(Ticket.id)))
        pos = {ticket_id: i for i, ticket_id in enumerate(ids)}
        state = _snapshot(s, ids)
        escalations = s.execute(
            select(
                Escalation.ticket_id, Escalation.trigger_id, Escalation.occurrence, Escalation.action_index
            ).add_columns(Escalation.action, Escalation.target, Escalation.outcome, Escalation.at)
        ).all()
        intents = s.execute(select(OutboxItem.ticket_id, OutboxItem.intent, OutboxItem.target)).all()
        tickets = s.execute(select(Ticket.id, Ticket.support_level, Ticket.owner, Ticket.severity)).all()
    return {
        **{name: sorted((pos[r[0]], *r[1:]) for r in rows) for name, rows in state.items()},
        "escalations": sorted((pos[r[0]], *r[1:]) for r in escalations),
        "intents": sorted((pos[r[0]], *r[1:]) for r in intents),
        "tickets": sorted((pos[r[0]], *r[1:]) for r in tickets),
    }


@pytest.mark.parametrize("preset", ["skillancer", "signx"])
def test_the_escalation_engine_decides_the_same_on_a_chunk_as_ticket_by_ticket(database, preset, monkeypatch):
    """The sweeper hands a chunk's fires to the engine at once (`settle_many`: one refresh of every
    retargeted ticket per round); the same stories swept ticket by ticket (`settle` with `live.refresh`,
    the path a failed chunk takes) end with the same decisions, intents, levels, fires and clocks."""
    from connector.wiring import escalate_fires

    # Processing arms the timers of clocks already due at its own (real) time plus `SETTLE`: the first
    # sweep, after that, finds every story's fires due at once (several rounds of decisions and
    # retargets); the later ones see the clocks the decisions started (an escalation's acknowledgement).
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    moments = [base + d for d in (timedelta(0), timedelta(minutes=20), timedelta(minutes=45), timedelta(hours=3))]
    moments.append(base + timedelta(days=2))
    results = []
    for batched in (True, False):
        rt = _told(database, preset)
        with monkeypatch.context() as m:
            if not batched:
                m.setattr(due, "refresh_due", _never)  # every chunk goes ticket by ticket
            for now in moments:
                due.sweep(rt.db, rt.policies, now=now, on_fires=escalate_fires(rt))
        results.append(_escalated(rt))
        rt.close()
    batch, one = results
    assert batch == one
    actions = {e[4] for e in batch["escalations"]}
    assert "raise_level" in actions and "page" in actions, actions  # decisions that retarget clocks and page


def _never(*_: Any, **__: Any) -> Any:
    raise ValueError("the batched refresh is not used here")
