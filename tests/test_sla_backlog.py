"""Live clocks against what real deliveries do: a backlog waiting to be processed raises no alarm, a
comment reported twice counts once, a late older Jira update and a late second creation change nothing
they should not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from connector.demo import payloads as p
from connector.sla.due import sweep
from connector.sla.live import SETTLE
from connector.store.tables import Delivery, SlaFire, SlaTimer, TimelineEntry
from tests.conftest import ADMIN, drain, make_queue, make_settings
from tests.helpers import post

SETTLED = SETTLE + timedelta(seconds=1)


def _runtime(database, policy: str = "localizevideos"):  # type: ignore[no-untyped-def]
    from connector.runtime import install
    from connector.wiring import build_runtime

    settings = make_settings(database, CONNECTOR_POLICY=policy)
    rt = build_runtime(settings, db=database, queue=make_queue(settings))
    install(rt)
    return rt


def _client(rt):  # type: ignore[no-untyped-def]
    from webhooks.app import create_app

    return create_app(rt, start_worker=False).test_client()


def _zd(name: str, at: datetime, event: dict, **ticket):  # type: ignore[no-untyped-def]
    detail = p.zendesk_ticket(
        ticket_id=7001,
        subject="Platform down",
        description="Nothing loads",
        status="OPEN",
        priority="URGENT",
        requester_id="9",
        organization_id="7",
        tags=[],
        created=ticket.pop("created", at),
        updated=at,
        **ticket,
    )
    return p.zendesk_event(name, detail, event, at)


def _reply(at: datetime) -> dict:
    comment = {
        "comment": {
            "id": "9001",
            "body": "On it.",
            "is_public": True,
            "author": {"id": "42", "is_staff": True, "name": "Maya Chen"},
        }
    }
    return _zd("comment_added", at, comment, created=at - timedelta(minutes=50))


def _fires(rt):  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        return [tuple(r) for r in s.execute(select(SlaFire.kind, SlaFire.metric).order_by(SlaFire.id))]


def test_the_sweeper_waits_for_a_tickets_backlog(rt, database):
    """localizevideos Sev1: first response 1 h, warning at 75% (45 min). The ticket (created 2 h ago) was
    processed; the agent's reply at +50 min is stored but not yet processed when the sweeper runs at
    +2 h: nothing fires until the reply is processed, and then the first response is met in time (its
    45-minute warning did happen, before the reply) — never breached."""
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(hours=2)
    post(client, "zendesk", _zd("created", created, {}, created=created))
    drain(rt)
    assert post(client, "zendesk", _reply(created + timedelta(minutes=50))).status_code == 202
    now = datetime.now(UTC) + SETTLED  # the alarm is due: the ticket's timer has waited out its burst
    sweep(rt.db, rt.policies, now=now)
    assert _fires(rt) == []  # held: the reply is waiting in the backlog
    with rt.db.session() as s:
        assert s.scalar(select(SlaTimer.fire_at)) == now + timedelta(seconds=1)  # looked at again soon
    drain(rt)  # the reply is processed: the clock is met in time
    assert _fires(rt) == [("warning", "first_response"), ("met", "first_response")]
    sweep(rt.db, rt.policies, now=now + timedelta(seconds=2))
    # the update cadence it started (60 min from +50 min) has warned and breached by +2 h
    assert _fires(rt)[2:] == [("warning", "next_update"), ("breach", "next_update")]


def test_without_a_backlog_the_sweeper_fires(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(hours=2)
    post(client, "zendesk", _zd("created", created, {}, created=created))
    drain(rt)
    with rt.db.session() as s:  # told of the past: the alarm, due already, waits for the rest of a burst
        assert s.scalar(select(SlaTimer.fire_at)) > datetime.now(UTC)
    sweep(rt.db, rt.policies, now=datetime.now(UTC) + SETTLED)
    assert _fires(rt) == [("warning", "first_response"), ("breach", "first_response")]


def test_a_failed_delivery_waiting_for_its_retry_does_not_hold_alarms(rt, database):
    rt = _runtime(database)
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(hours=2)
    post(client, "zendesk", _zd("created", created, {}, created=created))
    drain(rt)
    r = post(client, "zendesk", _reply(created + timedelta(minutes=50)))
    with rt.db.session() as s:
        s.get(Delivery, r.get_json()["delivery_id"]).status = "failed"
    sweep(rt.db, rt.policies, now=datetime.now(UTC) + SETTLED)
    assert ("breach", "first_response") in _fires(rt)


def _jira_issue(summary: str, labels: list[str]) -> dict:
    return p.jira_issue(
        issue_id="10457",
        key="PLAT-311",
        summary=summary,
        description="Autoscaler",
        status="To Do",
        category="new",
        priority="High",
        labels=labels,
        reporter=("acc-1", "Priya Raman"),
        created="2026-03-06T15:00:00.000+0000",
    )


def _update(issue: dict, at: datetime, old: str, new: str) -> dict:
    return p.jira_event(
        "jira:issue_updated",
        issue,
        at,
        changelog=[
            {
                "field": "summary",
                "fieldtype": "jira",
                "fieldId": "summary",
                "from": None,
                "fromString": old,
                "to": None,
                "toString": new,
            }
        ],
    )


def test_an_older_jira_update_after_a_newer_one_processes_without_applying_stale_values(rt, database):
    """Jira delivers up to ~30 min late and out of order: the older update must process (it used to fail
    with an AttributeError on its way to the SLA refresh and dead-letter) and must not roll back."""
    rt = _runtime(database, "signx")
    client = _client(rt)
    t0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    post(client, "jira", p.jira_event("jira:issue_created", _jira_issue("A", []), t0, changelog=[]))
    newer, older = _jira_issue("C", []), _jira_issue("B", [])
    post(client, "jira", _update(newer, t0 + timedelta(minutes=20), "B", "C"))
    post(client, "jira", _update(older, t0 + timedelta(minutes=10), "A", "B"))  # arrives last
    drain(rt)
    deliveries = client.get("/api/deliveries", headers=ADMIN).get_json()["deliveries"]
    assert {d["status"] for d in deliveries} == {"processed"}
    ticket = client.get("/api/tickets/1", headers=ADMIN).get_json()
    assert ticket["title"] == "C"
    stale = [e for e in ticket["timeline"] if e["data"].get("stale_fields")]
    assert len(stale) == 1 and stale[0]["data"]["stale_fields"] == ["title"]


def test_a_late_second_creation_starts_no_second_set_of_clocks(rt, database):
    """Zendesk re-sends `created` under a new event id (a second delivery, not a duplicate): it is an
    update of the same ticket, and the clocks keep one cycle each."""
    rt = _runtime(database, "signx")
    client = _client(rt)
    created = datetime.now(UTC) - timedelta(minutes=30)
    post(client, "zendesk", _zd("created", created, {}, created=created))
    post(client, "zendesk", _zd("created", created + timedelta(minutes=5), {}, created=created))
    drain(rt)
    ticket = client.get("/api/tickets/1", headers=ADMIN).get_json()
    cycles = [(c["metric"], c["cycle"]) for c in ticket["sla_clocks"]]
    assert sorted(cycles) == sorted(set(cycles)) and ("first_response", 2) not in cycles
    assert [e["kind"] for e in ticket["timeline"]].count("created") == 1


def test_a_comment_reported_by_two_deliveries_is_recorded_once(rt, database):
    """A new Jira comment arrives as `comment_created` and again inside `jira:issue_updated`
    (issue_commented); a Zendesk comment re-sent under another event id: each lands once."""
    rt = _runtime(database, "signx")
    client = _client(rt)
    at = datetime.now(UTC) - timedelta(minutes=10)
    reply = _reply(at)
    post(client, "zendesk", _zd("created", at - timedelta(minutes=50), {}, created=at - timedelta(minutes=50)))
    post(client, "zendesk", reply)
    resent = json.loads(json.dumps(reply))
    resent["id"] = "another-event-id"  # not a duplicate delivery: the same comment reported again
    post(client, "zendesk", resent)
    drain(rt)
    with rt.db.session() as s:
        comments = s.scalars(select(TimelineEntry.kind).where(TimelineEntry.kind == "commented")).all()
    assert comments == ["commented"]
