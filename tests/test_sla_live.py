"""Live SLA clocks on stored tickets: durable timers, the sweeper, fire-once, Redis loss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from connector.demo import payloads as p
from connector.queue import JobQueue
from connector.sla import live
from connector.sla.due import sweep
from connector.store.tables import SlaFire, SlaTimer, TimelineEntry
from tests.conftest import ADMIN, drain, make_queue, make_settings
from tests.helpers import post

# localizevideos: Sev1 (Zendesk "urgent" → P0 → alias of Sev1) first response 1h calendar time, warn at 75%.
POLICY = {"CONNECTOR_POLICY": "localizevideos"}


def _runtime(database, **env: str):  # type: ignore[no-untyped-def]
    from connector.runtime import install
    from connector.wiring import build_runtime

    settings = make_settings(database, **{**POLICY, **env})
    rt = build_runtime(settings, db=database, queue=make_queue(settings))
    install(rt)
    return rt


def _created(ticket_id: int, at: datetime, priority: str = "URGENT") -> dict:
    detail = p.zendesk_ticket(
        ticket_id=ticket_id,
        subject="Platform down",
        description="Nothing loads",
        status="NEW",
        priority=priority,
        requester_id="9",
        organization_id="7",
        tags=[],
        created=at,
        updated=at,
    )
    return p.zendesk_event("created", detail, {}, at)


def _fires(rt, **where):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        q = select(SlaFire.kind, SlaFire.metric).order_by(SlaFire.id)
        for k, v in where.items():
            q = q.where(getattr(SlaFire, k) == v)
        return [tuple(r) for r in s.execute(q)]


def _client(rt):  # type: ignore[no-untyped-def]
    from webhooks.app import create_app

    return create_app(rt, start_worker=False).test_client()


def test_clock_starts_with_the_ticket_and_fires_warning_then_breach_once(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(minutes=5)
    post(client, "zendesk", _created(1001, created))
    drain(rt)
    ticket = client.get("/api/tickets", headers=ADMIN).get_json()["tickets"][0]
    full = client.get(f"/api/tickets/{ticket['id']}", headers=ADMIN).get_json()
    fr = next(c for c in full["sla_clocks"] if c["metric"] == "first_response")
    assert fr["state"] == "running"
    assert fr["target"] == "1h"
    with rt.db.session() as s:
        timer = s.get(SlaTimer, ticket["id"])
        assert abs((timer.fire_at - (created + timedelta(minutes=45))).total_seconds()) < 0.01

    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=30)) == 0  # nothing due: nothing read
    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=50)) == 1
    assert _fires(rt) == [("warning", "first_response")]
    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=55)) == 0  # re-armed for the breach
    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=61)) == 1
    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=62)) == 0
    assert _fires(rt) == [("warning", "first_response"), ("breach", "first_response")]
    timeline = client.get(f"/api/tickets/{ticket['id']}", headers=ADMIN).get_json()["timeline"]
    assert [e["kind"] for e in timeline if e["kind"].startswith("sla_")] == ["sla_warning", "sla_breach"]


def test_a_reply_meets_the_clock_and_disarms_its_timer(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(minutes=10)
    post(client, "zendesk", _created(1002, created))
    detail = p.zendesk_ticket(
        ticket_id=1002,
        subject="Platform down",
        description="Nothing loads",
        status="OPEN",
        priority="URGENT",
        requester_id="9",
        organization_id="7",
        tags=[],
        created=created,
        updated=created + timedelta(minutes=8),
    )
    reply = {
        "comment": {
            "id": "1",
            "body": "On it",
            "is_public": True,
            "author": {"id": "55", "is_staff": True, "name": "Ana"},
        }
    }
    post(client, "zendesk", p.zendesk_event("comment_added", detail, reply, created + timedelta(minutes=8)))
    drain(rt)
    assert _fires(rt, metric="first_response") == [("met", "first_response")]
    with rt.db.session() as s:
        # the update cadence (next_update, Sev1 every 60 min) is now the ticket's next timer
        timer = s.scalar(select(SlaTimer))
        assert abs((timer.fire_at - (created + timedelta(minutes=8 + 30))).total_seconds()) < 0.01


def test_a_backlog_replays_without_false_alarms(rt, database):
    """A page and its acknowledgement arrive late and together: no breach for a met clock."""
    from connector.demo import payloads as p

    rt = _runtime(database, CONNECTOR_POLICY="signx")
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(hours=2)
    post(client, "zendesk", _created(3001, created))
    drain(rt)
    inc = dict(
        incident_id="PX1",
        number=5,
        title="Paged",
        incident_key="hdc-ticket-1",
        priority="P1",
        urgency="high",
        created=created,
    )
    post(
        client,
        "pagerduty",
        p.pd_event(
            "incident.triggered", p.pd_incident(**inc, status="triggered"), created + timedelta(minutes=2), agent=None
        ),
    )
    post(
        client,
        "pagerduty",
        p.pd_event(
            "incident.acknowledged", p.pd_incident(**inc, status="acknowledged"), created + timedelta(minutes=6)
        ),
    )
    drain(rt)
    assert _fires(rt, metric="engineering_ack") == [("met", "engineering_ack")]


def test_a_late_older_delivery_keeps_the_clocks(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(minutes=20)
    post(client, "zendesk", _created(4001, created))
    drain(rt)
    older = p.zendesk_event(
        "priority_changed",
        p.zendesk_ticket(
            ticket_id=4001,
            subject="Platform down",
            description="Nothing loads",
            status="NEW",
            priority="HIGH",
            requester_id="9",
            organization_id="7",
            tags=[],
            created=created,
            updated=created - timedelta(minutes=1),
        ),
        {"current": "HIGH", "previous": "NORMAL"},
        created - timedelta(minutes=1),
    )
    post(client, "zendesk", older)
    drain(rt)
    clocks = client.get("/api/tickets/1", headers=ADMIN).get_json()["sla_clocks"]
    assert [(c["metric"], c["state"]) for c in clocks] == [("first_response", "running")]


def test_redis_lost_mid_run_fires_every_warning_once(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(minutes=1)
    post(client, "zendesk", _created(1003, created))
    drain(rt)
    # Redis restarts empty and stays unreachable for a while: timers live in the database.
    rt.queue = JobQueue.from_url("redis://127.0.0.1:1/0")
    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=46)) == 1
    rt.queue = make_queue(rt.settings)  # back, and empty
    for minutes in (46, 47, 50):
        sweep(rt.db, rt.policies, now=created + timedelta(minutes=minutes))
    assert sweep(rt.db, rt.policies, now=created + timedelta(minutes=61)) == 1
    assert _fires(rt) == [("warning", "first_response"), ("breach", "first_response")]
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.kind == "sla_warning")) == 1


def test_sweep_reads_only_due_timers(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    now = datetime.now(UTC)
    post(client, "zendesk", _created(2001, now - timedelta(minutes=50)))  # warning due
    post(client, "zendesk", _created(2002, now - timedelta(minutes=5)))
    post(client, "zendesk", _created(2003, now - timedelta(minutes=1)))
    drain(rt)
    with rt.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SlaTimer)) == 3
    # processing refreshes up to the delivery's own event time; the overdue warning is the sweeper's,
    # once the settle time of a delivery that told of the past has gone by
    assert _fires(rt) == []
    assert sweep(rt.db, rt.policies, now=now) == 0
    settled = now + live.SETTLE + timedelta(seconds=1)
    assert sweep(rt.db, rt.policies, now=settled) == 1
    assert _fires(rt) == [("warning", "first_response")]
    assert sweep(rt.db, rt.policies, now=settled) == 0
    assert sweep(rt.db, rt.policies, now=now + timedelta(minutes=11)) == 1  # ticket 2001's breach only
    assert sweep(rt.db, rt.policies, now=now + timedelta(minutes=41)) == 1  # ticket 2002's warning only
    assert sweep(rt.db, rt.policies, now=now + timedelta(minutes=41)) == 0


def test_policy_change_is_versioned_and_applies(client, rt):
    from connector.policy import load_policy

    doc = load_policy("localizevideos").show()
    r = client.put("/api/policy?by=lead@example.com", json=doc, headers=ADMIN)
    assert r.status_code == 201 and r.get_json()["version"] == 1
    assert client.get("/api/policy", headers=ADMIN).get_json()["name"] == "localizevideos"
    bad = dict(doc, sla={"targets": [{"metric": "first_response", "severity": "P9", "target": "1h"}]})
    r = client.put("/api/policy", json=bad, headers=ADMIN)
    assert r.status_code == 400
    assert "sla.targets[0].severity" in r.get_json()["message"]
    # a preset name selects that preset, as a new version
    r = client.put("/api/policy", json={"document": "tai"}, headers=ADMIN)
    assert r.get_json() == {"version": 2, "name": "tai", "warnings": []}
    assert client.post("/api/policy/rollback", json={"version": 1}, headers=ADMIN).get_json()["version"] == 3
    versions = client.get("/api/policy/versions", headers=ADMIN).get_json()["versions"]
    assert [(v["version"], v["name"], v["active"]) for v in versions] == [
        (1, "localizevideos", False),
        (2, "tai", False),
        (3, "localizevideos", True),
    ]


def test_one_failing_ticket_does_not_hold_up_the_others(rt, database, monkeypatch):
    from connector.sla import live, many

    rt = _runtime(database)
    client = _client(rt)
    now = datetime.now(UTC)
    post(client, "zendesk", _created(5001, now - timedelta(minutes=50)))
    post(client, "zendesk", _created(5002, now - timedelta(minutes=50)))
    drain(rt)
    real = live.events_of

    def flaky(ticket, entries):  # type: ignore[no-untyped-def]
        if ticket.id == 1:
            raise ValueError("engine choked")
        return real(ticket, entries)

    # The batch fails on ticket 1, so the chunk is done ticket by ticket: only ticket 1 waits.
    monkeypatch.setattr(many, "events_of", flaky)
    monkeypatch.setattr(live, "events_of", flaky)
    now += live.SETTLE + timedelta(seconds=1)  # the warnings were due already when processed: they settle first
    assert sweep(rt.db, rt.policies, now=now) == 2
    with rt.db.session() as s:
        fired = [tuple(r) for r in s.execute(select(SlaFire.ticket_id, SlaFire.kind))]
        retry = s.get(SlaTimer, 1).fire_at
    assert fired == [(2, "warning")]
    assert retry == now + live.RETRY_AFTER  # tried again later, not dropped
    monkeypatch.undo()
    assert sweep(rt.db, rt.policies, now=now + live.RETRY_AFTER) == 1
    assert sorted(_fires(rt)) == [("warning", "first_response")] * 2


def test_ticker_survives_a_failing_duty(rt, caplog):
    from connector.runtime import Duty, Ticker

    calls = []

    def boom():  # type: ignore[no-untyped-def]
        calls.append(1)
        raise RuntimeError("bad day")

    ticker = Ticker([Duty("boom", 0.5, boom)])
    wait = ticker.tick(now=100.0)
    assert calls == [1] and wait == 0.5
    assert "boom failed" in caplog.text
    ticker.tick(now=100.2)
    assert calls == [1]  # not due yet
    ticker.tick(now=100.6)
    assert calls == [1, 1]
