"""Through the HTTP app and a real RQ worker, for each vendor: delivery in, canonical ticket out."""

from __future__ import annotations

import json
from datetime import timedelta

from connector.demo import payloads as p
from tests.conftest import ADMIN, drain
from tests.helpers import T0, post, zd_event


def _ticket(client, ticket_id):  # type: ignore[no-untyped-def]
    r = client.get(f"/api/tickets/{ticket_id}", headers=ADMIN)
    assert r.status_code == 200
    return r.get_json()


def _only_ticket(client):  # type: ignore[no-untyped-def]
    listing = client.get("/api/tickets", headers=ADMIN).get_json()
    assert listing["total"] == 1
    return _ticket(client, listing["tickets"][0]["id"])


def test_zendesk_ticket_lifecycle(client, rt):
    assert post(client, "zendesk", zd_event("created", priority="URGENT")).status_code == 202
    reply = {
        "comment": {
            "id": "7001",
            "body": "Looking into it now.",
            "is_public": True,
            "author": {"id": "42", "is_staff": True, "name": "Maya Chen"},
        }
    }
    post(client, "zendesk", zd_event("comment_added", minutes=10, event=reply, status="OPEN", priority="URGENT"))
    post(
        client,
        "zendesk",
        zd_event(
            "status_changed",
            minutes=30,
            status="SOLVED",
            priority="URGENT",
            event={"current": "SOLVED", "previous": "OPEN"},
        ),
    )
    assert drain(rt) == 3
    t = _only_ticket(client)
    assert t["title"] == "Cannot export invoices"
    assert t["severity"] == "P0"
    assert t["status"] == "resolved"
    assert t["channel"] == "email"
    assert t["first_response_at"].startswith((T0 + timedelta(minutes=10)).isoformat()[:19])
    assert t["resolved_at"] is not None
    assert [ln["role"] for ln in t["links"]] == ["origin"]
    assert t["links"][0]["external_id"] == "501"
    kinds = [e["kind"] for e in t["timeline"]]
    assert kinds[0] == "created"
    assert "commented" in kinds and "updated" in kinds


def test_internal_note_is_not_a_first_response(client, rt):
    post(client, "zendesk", zd_event("created"))
    note = {
        "comment": {
            "id": "7002",
            "body": "internal",
            "is_public": False,
            "author": {"id": "42", "is_staff": True, "name": "Maya Chen"},
        }
    }
    post(client, "zendesk", zd_event("comment_added", minutes=5, event=note))
    drain(rt)
    t = _only_ticket(client)
    assert t["first_response_at"] is None
    assert any(e["kind"] == "commented" and e["data"]["public"] is False for e in t["timeline"])


def test_out_of_order_deliveries_do_not_roll_fields_back(client, rt):
    post(client, "zendesk", zd_event("created", priority="NORMAL"))
    newer = zd_event("priority_changed", minutes=20, priority="URGENT", event={"current": "URGENT", "previous": "HIGH"})
    older = zd_event("priority_changed", minutes=10, priority="HIGH", event={"current": "HIGH", "previous": "NORMAL"})
    post(client, "zendesk", newer)
    post(client, "zendesk", older)  # arrives last, happened earlier
    drain(rt)
    t = _only_ticket(client)
    assert t["severity"] == "P0"
    changes = [e["data"]["changes"] for e in t["timeline"] if e["kind"] == "updated"]
    assert changes == [{"severity": ["P2", "P0"]}]


def test_jira_issue_becomes_its_own_ticket_and_updates_it(client, rt):
    issue = p.jira_issue(
        issue_id="10457",
        key="PLAT-311",
        summary="Render pool scales to zero",
        description="Autoscaler bug",
        status="To Do",
        category="new",
        priority="Highest",
        labels=["render"],
        reporter=("acc-1", "Priya Raman"),
        created="2026-03-06T15:00:00.000+0000",
    )
    assert post(client, "jira", p.jira_event("jira:issue_created", issue, T0, changelog=[])).status_code == 202
    moved = json.loads(json.dumps(issue))
    moved["fields"]["status"] = {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    }
    post(
        client,
        "jira",
        p.jira_event(
            "jira:issue_updated",
            moved,
            T0 + timedelta(minutes=5),
            changelog=[
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "from": "10000",
                    "fromString": "To Do",
                    "to": "3",
                    "toString": "In Progress",
                }
            ],
        ),
    )
    post(
        client,
        "jira",
        p.jira_comment(moved, comment_id="55", body="Fix in review", public=False, at=T0 + timedelta(minutes=9)),
    )
    drain(rt)
    t = _only_ticket(client)
    assert t["channel"] == "jira"
    assert t["status"] == "in_progress"
    assert t["links"][0]["key"] == "PLAT-311"
    assert t["links"][0]["url"] == "https://northwind.atlassian.net/browse/PLAT-311"
    assert any(e["kind"] == "commented" and e["data"]["public"] is False for e in t["timeline"])


def test_pagerduty_incident_becomes_an_alert_ticket(client, rt):
    inc = dict(
        incident_id="PQ7",
        number=77,
        title="Checkout 5xx",
        incident_key="x-1",
        priority="P1",
        urgency="high",
        created=T0,
    )
    post(
        client, "pagerduty", p.pd_event("incident.triggered", p.pd_incident(**inc, status="triggered"), T0, agent=None)
    )
    post(
        client,
        "pagerduty",
        p.pd_event("incident.acknowledged", p.pd_incident(**inc, status="acknowledged"), T0 + timedelta(minutes=3)),
    )
    post(
        client,
        "pagerduty",
        p.pd_event("incident.resolved", p.pd_incident(**inc, status="resolved"), T0 + timedelta(minutes=40)),
    )
    drain(rt)
    t = _only_ticket(client)
    assert t["channel"] == "alert"
    assert t["severity"] == "P0"
    assert t["status"] == "resolved"
    assert t["links"][0]["url"] == "https://northwind.pagerduty.com/incidents/PQ7"


def test_pagerduty_page_links_to_its_ticket(client, rt):
    post(client, "zendesk", zd_event("created"))
    drain(rt)
    ticket_id = client.get("/api/tickets", headers=ADMIN).get_json()["tickets"][0]["id"]
    inc = dict(
        incident_id="PQ8",
        number=78,
        title="Paged for ticket",
        incident_key=f"hdc-ticket-{ticket_id}",
        priority="P1",
        urgency="high",
        created=T0,
    )
    post(
        client, "pagerduty", p.pd_event("incident.triggered", p.pd_incident(**inc, status="triggered"), T0, agent=None)
    )
    post(
        client,
        "pagerduty",
        p.pd_event("incident.acknowledged", p.pd_incident(**inc, status="acknowledged"), T0 + timedelta(minutes=2)),
    )
    drain(rt)
    listing = client.get("/api/tickets", headers=ADMIN).get_json()
    assert listing["total"] == 1  # no second ticket
    t = _ticket(client, ticket_id)
    assert sorted(ln["role"] for ln in t["links"]) == ["incident", "origin"]
    assert t["status"] == "new"  # the incident's status is recorded, not written over the customer's ticket
    assert "incident_acknowledged" in [e["kind"] for e in t["timeline"]]


def test_processing_twice_changes_nothing(client, rt):
    from connector.inbox.jobs import process_delivery

    r = post(client, "zendesk", zd_event("created"))
    drain(rt)
    before = _only_ticket(client)["timeline"]
    assert "already processed" in process_delivery(r.get_json()["delivery_id"])
    after = _only_ticket(client)["timeline"]
    assert after == before
    assert [e["kind"] for e in after].count("created") == 1


def test_failed_processing_retries_then_dead_letters(client, rt, monkeypatch):
    """A transient failure (the database went away) is retried with backoff, then dead-lettered."""
    import pytest
    from sqlalchemy.exc import OperationalError

    from connector.inbox import processing as jobs
    from connector.inbox.reconciler import reconcile
    from connector.store.tables import Delivery

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise OperationalError("UPDATE tickets ...", {}, ConnectionError("database said no"))

    monkeypatch.setattr(jobs, "apply_event", boom)
    r = post(client, "zendesk", zd_event("created"))
    delivery_id = r.get_json()["delivery_id"]
    for attempt in range(1, rt.settings.job_max_attempts + 1):
        with pytest.raises(OperationalError):
            jobs.process(rt, delivery_id)
        with rt.db.session() as s:
            d = s.get(Delivery, delivery_id)
            assert d.attempts == attempt
            assert "database said no" in d.error
    assert d.status == "dead"
    assert reconcile(rt, stale_after=0) == 0  # dead letters wait for a human
    listing = client.get("/api/deliveries?status=dead", headers=ADMIN).get_json()["deliveries"]
    assert [x["id"] for x in listing] == [delivery_id]
    monkeypatch.undo()
    assert client.post(f"/api/deliveries/{delivery_id}/replay", headers=ADMIN).status_code == 202
    drain(rt)
    with rt.db.session() as s:
        assert s.get(Delivery, delivery_id).status == "processed"


def test_concurrent_jobs_about_one_new_object_make_one_ticket(client, rt):
    """Two workers process two deliveries about the same, not yet known, Zendesk ticket at once."""
    import threading

    from connector.inbox.jobs import process_delivery

    ids = [
        post(client, "zendesk", zd_event("created", ticket_id=777)).get_json()["delivery_id"],
        post(
            client,
            "zendesk",
            zd_event(
                "priority_changed",
                ticket_id=777,
                minutes=1,
                priority="HIGH",
                event={"current": "HIGH", "previous": "NORMAL"},
            ),
        ).get_json()["delivery_id"],
    ]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(delivery_id: int) -> None:
        start.wait()
        try:
            process_delivery(delivery_id)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    t = _only_ticket(client)
    assert t["severity"] == "P1"
    assert [ln["external_id"] for ln in t["links"]] == ["777"]


def test_a_failure_no_retry_can_fix_is_rejected_at_once(client, rt, monkeypatch):
    """A value no write can take, a bug on one shape: rejected now with the reason, not retried five
    times; a replay after the fix processes it."""
    from connector.inbox import processing as jobs
    from connector.inbox.reconciler import reconcile
    from connector.store.tables import Delivery

    def poison(*a, **k):  # type: ignore[no-untyped-def]
        raise ValueError("cannot use this value")

    monkeypatch.setattr(jobs, "apply_event", poison)
    delivery_id = post(client, "zendesk", zd_event("created")).get_json()["delivery_id"]
    assert "rejected" in jobs.process(rt, delivery_id)  # no exception: nothing for RQ to retry
    with rt.db.session() as s:
        d = s.get(Delivery, delivery_id)
        assert (d.status, d.attempts, d.next_attempt_at) == ("rejected", 1, None)
        assert "ValueError: cannot use this value" in d.outcome
    assert reconcile(rt, stale_after=0) == 0
    monkeypatch.undo()
    assert client.post(f"/api/deliveries/{delivery_id}/replay", headers=ADMIN).status_code == 202
    drain(rt)
    assert _only_ticket(client)["title"] == "Cannot export invoices"
