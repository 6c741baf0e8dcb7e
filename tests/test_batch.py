"""Batched processing (`connector.inbox.batch`) leaves exactly the rows that processing the same
deliveries one at a time leaves: tickets, links, the timeline, SLA fires, clocks and timers, escalation
decisions, outbox intents, follow-ups, repeat clusters and each delivery's outcome.

The corpus runs under `nwire` (a P0 pages and owes a post-mortem, incidents linked to a problem count
users affected, three tickets of one customer are a repeat cluster): every valid vendor fixture, then
bursts that put several deliveries of one ticket, and several new tickets of one customer, in one batch.
It is processed with batches of one (the reference), of 50 and of 7 (rounds cut in odd places), on the
same database in turn; the rows are compared with ids made relative (tickets in creation order: a batch
takes its new tickets' ids ahead from the sequence, and may leave gaps)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.demo import payloads as p
from connector.inbox.batch import process_many
from connector.queue import ThreadWorker
from connector.runtime import Runtime
from connector.store import Database, DeliveryStatus
from connector.store.tables import (
    Delivery,
    Escalation,
    Followup,
    Link,
    OutboxItem,
    RepeatCluster,
    SlaClock,
    SlaFire,
    SlaTimer,
    Ticket,
    TimelineEntry,
)
from tests.conftest import FIXTURES, installed_runtime
from tests.helpers import T0, post


@pytest.fixture(autouse=True)
def _batches_beside_acknowledgements(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests post their deliveries and process them at once; on SQLite a process that has just
    acknowledged webhooks processes one at a time (`Database.acknowledging`, tested below) — here the
    batch path is under test, on both backends."""
    monkeypatch.setattr(Database, "acknowledging", lambda self, within=1.0: False)


def _zd_ticket(ticket_id: int, customer: str, **kw: Any) -> dict[str, Any]:
    at = kw.pop("at", T0)
    return p.zendesk_ticket(
        ticket_id=ticket_id,
        subject=kw.pop("subject", f"Export times out for {customer}"),
        description=kw.pop("description", "Every CSV export stops after 30 s."),
        status=kw.pop("status", "OPEN"),
        priority=kw.pop("priority", "HIGH"),
        requester_id=f"req-{customer}",
        organization_id=f"org-{customer}",
        tags=kw.pop("tags", ["exports"]),
        created=T0,
        updated=at,
        **kw,
    )


def _zd(name: str, ticket_id: int, customer: str, minutes: int, event: dict[str, Any] | None = None, **kw: Any) -> Any:
    at = T0 + timedelta(minutes=minutes)
    return p.zendesk_event(name, _zd_ticket(ticket_id, customer, at=at, **kw), event or {}, at)


def _comment(ticket_id: int, customer: str, minutes: int, body: str, *, agent: bool) -> Any:
    comment = {
        "id": f"{ticket_id}{minutes:04d}",
        "body": body,
        "is_public": True,
        "author": {"id": "42" if agent else f"req-{customer}", "is_staff": agent, "name": "Maya" if agent else "Sam"},
    }
    return _zd("comment_added", ticket_id, customer, minutes, {"comment": comment})


def corpus() -> list[tuple[str, bytes]]:
    """(vendor, body) in the order they are posted."""
    out: list[tuple[str, bytes]] = []
    for vendor in ("zendesk", "jira", "pagerduty"):
        for path in sorted((FIXTURES / vendor).glob("*.json")):
            if path.name.startswith("invalid__") or path.name.endswith(".expected.json"):
                continue
            out.append((vendor, path.read_bytes()))
    bodies: list[Any] = [
        # one ticket's life in one burst: opened, answered, made urgent (a page), a churn word, solved
        _zd("created", 61001, "acme", 0, status="NEW", priority="NORMAL"),
        _zd("status_changed", 61001, "acme", 5, {"current": "OPEN", "previous": "NEW"}, priority="NORMAL"),
        _comment(61001, "acme", 7, "We are looking at it.", agent=True),
        _zd("priority_changed", 61001, "acme", 9, {"current": "URGENT", "previous": "NORMAL"}, priority="URGENT"),
        _comment(61001, "acme", 11, "This is the third time; we are canceling.", agent=False),
        _zd("status_changed", 61001, "acme", 50, {"current": "SOLVED", "previous": "OPEN"}, status="SOLVED"),
        # a problem and incidents of three requesters linked to it, in one burst: users affected
        _zd("created", 62000, "agent", 0, ticket_type="PROBLEM", subject="Exports fail with a timeout"),
        *(_zd("created", 62000 + n, f"cust-{n}", n, ticket_type="INCIDENT") for n in (1, 2, 3)),
        *(
            _zd("problem_link_changed", 62000 + n, f"cust-{n}", 10 + n, {"current": "62000", "previous": None})
            for n in (1, 2, 3)
        ),
        # one customer's three tickets of one category: a repeat cluster, completed by the third
        *(
            _zd("created", 63000 + n, "globex", 20 + n, subject=f"Export question {n}", tags=["billing"])
            for n in range(3)
        ),
        # data that looks wrong: a raised level
        _zd("created", 64000, "initech", 30, subject="Report shows wrong data for March"),
        # an update older than the ticket's field: stale, and a deletion
        _zd("status_changed", 61001, "acme", 40, {"current": "PENDING", "previous": "OPEN"}, status="PENDING"),
        _zd("soft_deleted", 64000, "initech", 60, status="DELETED"),
    ]
    out.extend(("zendesk", json.dumps(b).encode()) for b in bodies)
    return out


def random_corpus(seed: int, count: int = 48) -> list[tuple[str, bytes]]:
    """A burst about a few tickets of a few customers, in a random order of random kinds: openings
    (some urgent: a page), status and priority changes, replies (some with a churn word), incidents
    linked to a problem, tickets moved to another category by their subject — what rounds must keep
    apart."""
    rng = random.Random(seed)
    customers = ["acme", "globex", "initech"]
    tickets = {62100 + n: rng.choice(customers) for n in range(8)}
    problem = 62100
    out: list[tuple[str, bytes]] = []
    for n in range(count):
        ticket_id = rng.choice(list(tickets))
        who = tickets[ticket_id]
        minutes = n  # deliveries in the order of their events; the ticket's fields as of each
        kind = rng.choice(["created", "status", "priority", "reply", "churn", "problem", "subject"])
        priority = rng.choice(["LOW", "NORMAL", "HIGH", "URGENT"])
        status = rng.choice(["OPEN", "PENDING", "SOLVED"])
        if kind == "created":
            body = _zd("created", ticket_id, who, minutes, priority=priority, status="NEW")
        elif kind == "status":
            body = _zd(
                "status_changed", ticket_id, who, minutes, {"current": status, "previous": "OPEN"}, status=status
            )
        elif kind == "priority":
            body = _zd(
                "priority_changed",
                ticket_id,
                who,
                minutes,
                {"current": priority, "previous": "NORMAL"},
                priority=priority,
            )
        elif kind in ("reply", "churn"):
            text = "We are canceling our plan." if kind == "churn" else "Any news on this?"
            body = _comment(ticket_id, who, minutes, text, agent=rng.random() < 0.5)
        elif kind == "problem" and ticket_id != problem:
            body = _zd("problem_link_changed", ticket_id, who, minutes, {"current": str(problem), "previous": None})
        else:
            body = _zd("subject_changed", ticket_id, who, minutes, subject="Report shows wrong data", tags=["billing"])
        out.append(("zendesk", json.dumps(body).encode()))
    return out


def _run(
    database: Database, batch: int, monkeypatch: pytest.MonkeyPatch, bodies: list[tuple[str, bytes]] | None = None
) -> dict[str, Any]:
    with installed_runtime(database, CONNECTOR_POLICY="nwire", CONNECTOR_PROCESS_BATCH_MAX=str(batch)) as rt:
        from webhooks.app import create_app

        client = create_app(rt, start_worker=False).test_client()
        for vendor, body in corpus() if bodies is None else bodies:
            assert post(client, vendor, None, body=body).status_code in (200, 202)
        started = datetime.now(UTC)
        while rt.queue.dispatch(jobs=1, batch=batch):
            ThreadWorker(rt.queue.queues, connection=rt.queue.connection).work(burst=True, logging_level="WARNING")
        return snapshot(rt, started)


def snapshot(rt: Runtime, started: datetime) -> dict[str, Any]:
    with rt.db.session() as s:
        ticket_ids = list(s.scalars(select(Ticket.id).order_by(Ticket.id)))
        rel = {t: n for n, t in enumerate(ticket_ids)}

        def tid(t: int | None) -> int | None:
            return None if t is None else rel[t]

        def text(value: Any) -> Any:  # ticket ids inside outcomes and summaries, made relative
            if isinstance(value, datetime) and value >= started - timedelta(seconds=5):
                return "now"  # the time a step ran (a fact without a time of its own, a record of not sent)
            if not isinstance(value, str):
                return value
            if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", value):
                return text(datetime.fromisoformat(value))
            value = re.sub(r"ticket:? (\d+)", lambda m: f"ticket #{rel.get(int(m.group(1)), m.group(1))}", value)
            return re.sub(r"hdc-ticket-(\d+)", lambda m: f"hdc-ticket-#{rel.get(int(m.group(1)), m.group(1))}", value)

        def data(value: Any) -> Any:
            if isinstance(value, dict):
                return {
                    k: (
                        None
                        if k in ("outbox_id", "escalation_id", "ticket_id", "followup_id")
                        else rel.get(v, v)
                        if k == "ticket" and isinstance(v, int)
                        else data(v)
                    )
                    for k, v in value.items()
                    if k not in ("counted_seconds", "paused_seconds", "remaining_seconds", "as_of")
                }
            if isinstance(value, list):
                return [data(v) for v in value]
            return text(value)

        def rows(model: Any, *columns: str) -> list[tuple[Any, ...]]:
            out = []
            for row in s.scalars(select(model)):
                values = []
                for c in columns:
                    v = getattr(row, c)
                    if c == "ticket_id":
                        v = tid(v)
                    elif c in ("data", "payload", "field_versions"):
                        v = data(v)
                    values.append(text(v))
                out.append(tuple(values))
            return sorted(out, key=repr)

        ticket_columns = [c.key for c in Ticket.__table__.columns if c.key != "id"]
        return {
            "tickets": [
                tuple(data(getattr(t, c)) for c in ticket_columns)
                for t in s.scalars(select(Ticket).order_by(Ticket.id))
            ],
            "links": rows(
                Link, "ticket_id", "vendor", "instance", "object_type", "external_id", "key", "role", "status"
            ),
            "timeline": rows(
                TimelineEntry, "ticket_id", "at", "kind", "source", "actor", "summary", "data", "dedupe_key"
            ),
            "fires": rows(SlaFire, "ticket_id", "metric", "cycle", "label", "kind", "at", "detail", "data"),
            "clocks": rows(
                SlaClock,
                "ticket_id",
                "metric",
                "cycle",
                "state",
                "target_seconds",
                "started_at",
                "due_at",
                "met_at",
                "breached_at",
            ),
            "timers": rows(SlaTimer, "ticket_id", "fire_at"),
            "escalations": rows(
                Escalation,
                "ticket_id",
                "trigger_id",
                "occurrence",
                "action_index",
                "action",
                "target",
                "at",
                "outcome",
                "reason",
                "data",
            ),
            "outbox": rows(
                OutboxItem, "ticket_id", "channel", "intent", "target", "sequence_key", "status", "reason", "payload"
            ),
            "followups": rows(
                Followup, "ticket_id", "kind", "target", "within_seconds", "due_at", "done_at", "overdue_at"
            ),
            "clusters": sorted(
                (
                    c.trigger_id,
                    c.customer,
                    c.category,
                    c.seq,
                    tid(c.ticket_id),
                    sorted(tid(t) for t in c.ticket_ids or []),
                )
                for c in s.scalars(select(RepeatCluster))
            ),
            "deliveries": rows(Delivery, "vendor", "event_type", "status", "outcome", "ticket_id", "attempts"),
        }


def test_batches_leave_the_rows_one_at_a_time_leaves(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _run(database, 1, monkeypatch)
    # the corpus does what it is for: a page, users affected, a repeat cluster, fires, rejections aside
    assert {e[1] for e in reference["escalations"]} >= {"p0-incident", "multiple-users", "repeat-confusion"}
    assert reference["fires"] and reference["clusters"] and len(reference["tickets"]) > 20
    assert all(d[2] in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED) for d in reference["deliveries"])
    for batch in (50, 7):
        together = _run(database, batch, monkeypatch)
        for table, rows in reference.items():
            assert together[table] == rows, f"{table} differ with batches of {batch}"


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_bursts_in_batches_leave_the_rows_one_at_a_time_leaves(
    database: Database, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    bodies = random_corpus(seed)
    reference = _run(database, 1, monkeypatch, bodies)
    assert reference["tickets"] and reference["escalations"]
    batch = random.Random(seed).randint(3, 24)  # rounds cut in places no one chose
    together = _run(database, batch, monkeypatch, bodies)
    for table, rows in reference.items():
        assert together[table] == rows, f"{table} differ with batches of {batch} (seed {seed})"


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    with installed_runtime(database, CONNECTOR_POLICY="nwire") as runtime:
        yield runtime


def _store(rt: Runtime, *bodies: Any) -> list[int]:
    from webhooks.app import create_app

    client = create_app(rt, start_worker=False).test_client()
    ids = []
    for body in bodies:
        r = post(client, "zendesk", body)
        assert r.status_code == 202
        ids.append(r.get_json()["delivery_id"])
    return ids


def _statuses(rt: Runtime, ids: list[int]) -> dict[int, str]:
    with rt.db.session() as s:
        return {i: st for i, st in s.execute(select(Delivery.id, Delivery.status).where(Delivery.id.in_(ids)))}


def test_a_batch_that_fails_is_processed_one_by_one(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.inbox import batch

    ids = _store(rt, *(_zd("created", 65000 + n, f"c{n}", n) for n in range(4)))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the bulk path")

    monkeypatch.setattr(batch, "refresh_many", broken)
    outcomes = process_many(rt, ids)
    assert [o.split(":")[0] for o in outcomes] == [f"delivery {i}" for i in ids]
    assert set(_statuses(rt, ids).values()) == {DeliveryStatus.PROCESSED}  # each alone, by `process`
    with rt.db.session() as s:
        assert len(list(s.scalars(select(Ticket.id)))) == 4  # the batch's work was rolled back, not kept twice


def test_a_poison_delivery_costs_the_others_nothing(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.inbox import batch

    ids = _store(rt, *(_zd("created", 66000 + n, f"c{n}", n) for n in range(3)))
    real = batch.apply_event

    def choke(s: Any, *, event: Any, **kw: Any) -> Any:
        if event.object.external_id == "66001":
            raise ValueError("a value no write can take")
        return real(s, event=event, **kw)

    monkeypatch.setattr(batch, "apply_event", choke)
    monkeypatch.setattr("connector.inbox.processing.apply_event", choke)
    process_many(rt, ids)
    assert _statuses(rt, ids) == {
        ids[0]: DeliveryStatus.PROCESSED,
        ids[1]: DeliveryStatus.REJECTED,  # rejected at once, with its reason, by the one-by-one pass
        ids[2]: DeliveryStatus.PROCESSED,
    }


def test_twice_is_once(rt: Runtime) -> None:
    ids = _store(rt, *(_zd("created", 67000 + n, "hooli", n, priority="URGENT") for n in range(3)))
    first = process_many(rt, ids)
    assert all("created" in o for o in first)
    again = process_many(rt, ids)
    assert again == [f"delivery {i} already processed" for i in ids]
    with rt.db.session() as s:
        assert len(list(s.scalars(select(Escalation.id).where(Escalation.trigger_id == "p0-incident")))) == 3 * 3


def test_statements_do_not_grow_with_the_batch(rt: Runtime) -> None:
    """A batch of status changes to different tickets costs a few statements for all of them. (SQLite
    inserts rows it needs the ids of one at a time — calls into the library, not round trips: not counted
    there.)"""
    from sqlalchemy import event

    opened = _store(rt, *(_zd("created", 68000 + n, f"c{n}", 0) for n in range(24)))
    process_many(rt, opened)
    counted: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not (rt.db.is_sqlite and statement.startswith("INSERT")):
            counted.append(1)

    changes = [
        _zd("status_changed", 68000 + n, f"c{n}", 5, {"current": "PENDING", "previous": "OPEN"}, status="PENDING")
        for n in range(24)
    ]
    ids = _store(rt, *changes)
    event.listen(rt.db.engine, "before_cursor_execute", count)
    try:
        process_many(rt, ids[:3])
        three = len(counted)
        counted.clear()
        process_many(rt, ids[3:])
        many = len(counted)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", count)
    assert many == three  # 21 deliveries, as many statements as 3
    assert set(_statuses(rt, ids).values()) == {DeliveryStatus.PROCESSED}


def test_a_delivery_held_by_another_job_is_left_to_it(rt: Runtime) -> None:
    if rt.db.is_sqlite:
        pytest.skip("PostgreSQL: SQLite has one writer, nothing is held beside it")
    ids = _store(rt, *(_zd("created", 69000 + n, f"c{n}", n) for n in range(3)))
    with rt.db.session() as other:
        other.scalar(select(Delivery).where(Delivery.id == ids[1]).with_for_update())
        outcomes = process_many(rt, ids)
        assert outcomes[1] == f"delivery {ids[1]} does not exist or is held by another job"
    assert _statuses(rt, ids)[ids[1]] == DeliveryStatus.RECEIVED  # its own job processes it
    assert _statuses(rt, ids)[ids[0]] == _statuses(rt, ids)[ids[2]] == DeliveryStatus.PROCESSED


def test_sqlite_acknowledging_webhooks_processes_one_at_a_time(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite has one writer and acknowledgements go first: a batch in a process that has just acknowledged
    webhooks would hold them back for all of its deliveries, so it goes a transaction per delivery."""
    from sqlalchemy import event

    monkeypatch.undo()  # the real `Database.acknowledging`
    ids = _store(rt, *(_zd("created", 70000 + n, f"c{n}", n) for n in range(4)))
    commits: list[int] = []

    def count(*args: Any) -> None:
        commits.append(1)

    event.listen(rt.db.engine, "commit", count)
    try:
        process_many(rt, ids)
    finally:
        event.remove(rt.db.engine, "commit", count)
    assert set(_statuses(rt, ids).values()) == {DeliveryStatus.PROCESSED}
    assert len(commits) == (4 if rt.db.is_sqlite else 1)  # PostgreSQL has no single writer: one batch


def test_the_writer_gate_knows_when_acknowledgements_came_last() -> None:
    from connector.store.database import WriterGate

    gate = WriterGate()
    assert not gate.urgent_within(1.0)
    with gate.hold(urgent=False):
        pass
    assert not gate.urgent_within(1.0)  # background work is not an acknowledgement
    with gate.hold(urgent=True):
        pass
    assert gate.urgent_within(1.0) and not gate.urgent_within(0.0)
    gate.expect(1)  # one on its way: waiting counts too
    assert gate.urgent_within(0.0)


def test_new_tickets_are_stored_before_the_deliveries_that_name_them(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's new tickets take their ids ahead and are inserted with a later flush; a delivery's row
    names its ticket only once that flush has run (nothing else in the batch need flush before it: no
    clocks, no engine, and — under signx — no users-affected count reading links)."""
    from connector import escalation
    from connector.inbox import batch

    with installed_runtime(database, CONNECTOR_POLICY="signx") as rt:
        _stored_before_named(rt, monkeypatch, batch, escalation)


def _stored_before_named(rt: Runtime, monkeypatch: pytest.MonkeyPatch, batch: Any, escalation: Any) -> None:

    monkeypatch.setattr(batch, "refresh_many", lambda *a, **k: {})
    monkeypatch.setattr(escalation, "settle_many", lambda *a, **k: {})
    fell_back: list[str] = []
    monkeypatch.setattr(batch, "_one_by_one", lambda rt, ids: fell_back.append("one by one") or [])
    ids = _store(rt, *(_zd("created", 71000 + n, f"c{n}", n) for n in range(3)))
    process_many(rt, ids)
    assert fell_back == []
    with rt.db.session() as s:
        named = list(s.scalars(select(Delivery.ticket_id).where(Delivery.id.in_(ids)).order_by(Delivery.id)))
        assert named == sorted(s.scalars(select(Ticket.id)))
