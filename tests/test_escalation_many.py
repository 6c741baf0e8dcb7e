"""The escalation engine over a chunk of tickets at once (`react_many`, as the SLA sweeper hands it a
chunk's fires): the same decisions, intents and changes as one ticket at a time, in a number of
statements that does not grow with the chunk; and tickets whose signals read the customer's other
tickets (repeat clusters) still reacted to one after another."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from connector.escalation.live import react, react_many
from connector.escalation.signals import Opened, SlaFired
from connector.runtime import Runtime, install
from connector.sla.events import FireKind
from connector.store import Database
from connector.store.tables import Escalation, Followup, Link, OutboxItem, Ticket
from connector.tickets import locks
from connector.wiring import build_runtime
from tests.conftest import _clean, make_queue, make_settings
from tests.helpers import T0

MAXIMUM = SlaFired(T0 + timedelta(hours=8), FireKind.MAXIMUM_BREACH, "resolution", 1, "maximum breach")


@pytest.fixture
def runtime(database: Database) -> Iterator[Any]:
    made: list[Runtime] = []

    def make(preset: str) -> Runtime:
        _clean(database)
        settings = make_settings(database, CONNECTOR_POLICY=preset)
        rt = build_runtime(settings, db=database, queue=make_queue(settings))
        install(rt)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.release()


def _tickets(rt: Runtime, n: int, *, title: str | None = None, **fields: Any) -> list[int]:
    """`n` open tickets, each with the Zendesk ticket it came from (its link goes into pages)."""
    ids = []
    with rt.db.session() as s:
        for i in range(n):
            t = Ticket(
                status="open",
                title=title or f"Payouts stuck for workspace {i}",
                created_at=T0 + timedelta(minutes=i),
                updated_at=T0 + timedelta(minutes=i),
                tags=[],
                field_versions={},
                **fields,
            )
            s.add(t)
            s.flush()
            s.add(
                Link(
                    ticket_id=t.id,
                    vendor="zendesk",
                    instance="default",
                    object_type="ticket",
                    external_id=str(4100 + t.id),
                    url=f"https://acme.zendesk.com/agent/tickets/{4100 + t.id}",
                    role="origin",
                )
            )
            ids.append(t.id)
    return ids


def _outcome(rt: Runtime, ids: list[int]) -> list[Any]:
    """Each ticket's decisions, intents (payload without ids), follow-ups and level, by its position."""
    pos = {t: i for i, t in enumerate(ids)}
    with rt.db.session() as s:
        decisions = s.execute(
            select(Escalation.ticket_id, Escalation.trigger_id, Escalation.action, Escalation.target)
            .add_columns(Escalation.outcome, Escalation.reason)
            .where(Escalation.ticket_id.in_(ids))
            .order_by(Escalation.id)
        ).all()
        intents = s.execute(
            select(OutboxItem.ticket_id, OutboxItem.intent, OutboxItem.target, OutboxItem.payload)
            .where(OutboxItem.ticket_id.in_(ids))
            .order_by(OutboxItem.id)
        ).all()
        owed = s.execute(select(Followup.ticket_id, Followup.kind, Followup.target).where(Followup.ticket_id.in_(ids)))
        levels = s.execute(select(Ticket.id, Ticket.support_level, Ticket.owner).where(Ticket.id.in_(ids))).all()

        def payload(p: dict[str, Any]) -> str:
            text = str(sorted(p.items()))
            for t, i in pos.items():
                text = text.replace(f"hdc-ticket-{t}/", f"hdc-ticket-#{i}/").replace(str(4100 + t), f"zd#{i}")
            return text

        return [
            sorted((pos[d[0]], *d[1:]) for d in decisions),
            sorted((pos[i[0]], i[1], i[2], payload(i[3])) for i in intents),
            sorted((pos[f[0]], *f[1:]) for f in owed),
            sorted((pos[t[0]], *t[1:]) for t in levels),
        ]


class Statements:
    """Statements sent: reads, and all of them (SQLite writes rows one statement each: no round trips)."""

    def __init__(self, db: Database):
        self.engine, self.seen, self.reads = db.engine, 0, 0
        event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        self.seen += 1
        self.reads += statement.lstrip().upper().startswith("SELECT")

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def _react_all(rt: Runtime, ids: list[int], signals: Any, *, together: bool) -> tuple[int, int]:
    """React to `signals` for every ticket, in one call or one call per ticket: (reads, statements) sent."""
    counter = Statements(rt.db)
    try:
        with rt.db.session() as s:
            policy = rt.policies.active(s).policy
            reads, seen = counter.reads, counter.seen
            if together:
                react_many(s, policy, {t: signals for t in ids}, T0 + timedelta(hours=8))
            else:
                for t in ids:
                    react(s, policy, t, signals, T0 + timedelta(hours=8))
            s.flush()
            return counter.reads - reads, counter.seen - seen
    finally:
        counter.close()


def test_a_chunk_decides_what_its_tickets_decide_one_by_one(runtime: Any) -> None:
    """skillancer: a P1 whose resolution passes its maximum is raised a level, and that level pages and
    owes a post-mortem — the same rows whether the chunk's tickets are reacted to together or not."""
    outcomes = []
    for together in (True, False):
        rt = runtime("skillancer")
        ids = _tickets(rt, 6, severity="P1", customer_tier="enterprise", support_level="L1")
        _react_all(rt, ids, [MAXIMUM], together=together)
        outcomes.append(_outcome(rt, ids))
    batch, single = outcomes
    assert batch == single
    decisions, intents, _, levels = batch
    assert {d[2] for d in decisions} >= {"raise_level"} and intents, decisions
    assert all(level != "L1" for _, level, _ in levels)


def test_a_chunk_costs_the_same_statements_for_three_tickets_as_for_twelve(runtime: Any, database: Database) -> None:
    """Locks, earlier decisions, links and SLA due times are read with one statement each for the whole
    chunk, and on PostgreSQL its rows are written with one statement per table; ticket by ticket, every
    ticket pays its own."""
    sent = {}
    for n in (3, 12):
        rt = runtime("skillancer")
        ids = _tickets(rt, n, severity="P1", customer_tier="enterprise", support_level="L1")
        sent[n] = _react_all(rt, ids, [MAXIMUM], together=True)
    rt = runtime("skillancer")
    ids = _tickets(rt, 12, severity="P1", customer_tier="enterprise", support_level="L1")
    one_by_one = _react_all(rt, ids, [MAXIMUM], together=False)
    assert sent[3][0] == sent[12][0] and one_by_one[0] >= 12 * 3, (sent, one_by_one)
    if not database.is_sqlite:
        assert sent[3][1] == sent[12][1] and one_by_one[1] > 3 * sent[12][1], (sent, one_by_one)


def test_tickets_that_may_complete_a_repeat_cluster_are_reacted_to_one_after_another(runtime: Any) -> None:
    """tai: three tickets of one customer about one category notify the VP Product. The second ticket
    gets its category from its text when it opens (intake), and that is what makes the third one
    complete the cluster: handed to the engine in one chunk, the third must still see the second's new
    category, as it does one ticket at a time."""
    outcomes = []
    for together in (True, False):
        rt = runtime("tai")
        ids = [
            *_tickets(rt, 1, customer_id="77", category="billing"),
            *_tickets(rt, 1, customer_id="77", title="Invoice charged twice this month"),
            *_tickets(rt, 1, customer_id="77", category="billing"),
        ]
        with rt.db.session() as s:
            opened = {t.id: [Opened(t.created_at)] for t in s.scalars(select(Ticket).where(Ticket.id.in_(ids[1:])))}
        with rt.db.session() as s:
            policy = rt.policies.active(s).policy
            if together:
                react_many(s, policy, opened, T0 + timedelta(hours=1))
            else:
                for t, signals in opened.items():
                    react(s, policy, t, signals, T0 + timedelta(hours=1))
        outcomes.append(_outcome(rt, ids))
    batch, single = outcomes
    assert batch == single
    assert [d[:4] for d in batch[0] if d[2] == "categorize"] == [(1, "intake", "categorize", "billing")]
    assert [d[:4] for d in batch[0] if d[1] == "repeat-issue"] == [(2, "repeat-issue", "notify", "vp_product")]


def test_lock_many_locks_what_is_not_locked_yet_with_one_statement(database: Database) -> None:
    _clean(database)
    with database.session() as s:
        for i in range(4):
            s.add(Ticket(status="open", title=f"t{i}", created_at=T0, updated_at=T0, tags=[], field_versions={}))
    with database.session() as s:
        ids = sorted(s.scalars(select(Ticket.id)))
    counter = Statements(database)
    try:
        with database.session() as s:
            first = locks.lock(s, ids[0])
            base = counter.seen
            got = locks.lock_many(s, [*ids, 999_999])
            assert counter.seen - base == 1  # the three not locked yet; the one already locked is held
            assert sorted(got) == ids and got[ids[0]] is first
            assert locks.lock(s, ids[2]) is got[ids[2]] and counter.seen - base == 1
    finally:
        counter.close()
