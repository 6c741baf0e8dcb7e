"""Sync back, end to end: webhooks into the app, the outbox delivering through the real zenpy and
jira clients to Zendesk and Jira at the HTTP edge. An Enterprise P0 in Zendesk escalates to L3 and
gets one Jira issue, linked both ways; comments cross as they should (internal stays internal);
Jira done reaches Zendesk; a solved ticket moves its issue; the connector's own writes, reported back
by the tools' webhooks, go nowhere; every webhook re-sent changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.demo import payloads as p
from connector.runtime import Runtime
from connector.sla.report import build_report, render_text, report_csv
from connector.store import Database
from connector.store.tables import Link, OutboxItem, OutboxStatus
from tests.conftest import drain, installed_runtime
from tests.helpers import T0, post, zd_event
from tests.vendor_fakes import JIRA, SITES_ENV, ZENDESK_BOT, FakeJira, FakeZendesk

ENGINEER = ("5b10ac8d82e05b22cc7d4ef5", "Priya Raman")


@pytest.fixture
def rt(database: Database, vendors: Any) -> Iterator[Runtime]:
    with installed_runtime(
        database,
        CONNECTOR_POLICY="signx",  # P0/P1 → L3, page on-call, create a linked Bug
        **SITES_ENV,
    ) as runtime:
        yield runtime


@pytest.fixture
def client(rt: Runtime) -> FlaskClient:
    from webhooks.app import create_app

    return create_app(rt, start_worker=False).test_client()


class Run:
    """One scenario: posts webhooks (keeping each, to send them all again), drains the queue."""

    def __init__(self, rt: Runtime, client: FlaskClient, zd: FakeZendesk, jira: FakeJira):
        self.rt, self.client, self.zd, self.jira = rt, client, zd, jira
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def post(self, vendor: str, body: dict[str, Any]) -> None:
        assert post(self.client, vendor, body).status_code in (200, 202)
        self.sent.append((vendor, body))
        drain(self.rt)
        drain(self.rt)  # what the first round's sends caused (the Jira key to Zendesk)

    def calls(self) -> int:
        return len(self.zd.calls) + len(self.jira.calls)

    def resend_everything(self) -> None:
        """Every webhook again, as a new delivery (a new id; the same events)."""
        for vendor, body in self.sent:
            again = json.loads(json.dumps(body))
            if vendor == "zendesk":
                again["id"] = again["id"][:-4] + "beef"
            headers = {"X-Atlassian-Webhook-Identifier": f"again-{id(again)}"} if vendor == "jira" else None
            assert post(self.client, vendor, again, headers=headers).status_code in (200, 202)
            drain(self.rt)
            drain(self.rt)


@pytest.fixture
def run(rt: Runtime, client: FlaskClient, vendors: tuple[FakeZendesk, FakeJira]) -> Run:
    return Run(rt, client, *vendors)


def issue(status: str = "In Progress", category: str = "indeterminate") -> dict[str, Any]:
    return p.jira_issue(
        issue_id="10042",
        key="ENG-42",
        summary="Cannot export invoices",
        description="Escalated from support",
        status=status,
        category=category,
        priority="High",
        labels=["hdc-ticket-1"],
        reporter=("712020:5f0c-support-bot", "Support Bot"),
        created="2026-03-06T15:00:05.000+0000",
    )


def jira_comment(comment_id: str, body: str, *, minutes: float, public: bool = False, author: Any = ENGINEER) -> Any:
    return p.jira_comment(
        issue(), comment_id=comment_id, body=body, public=public, at=T0 + timedelta(minutes=minutes), author=author
    )


def zd_comment(comment_id: str, body: str, *, minutes: float, public: bool, staff: bool, author: str) -> Any:
    comment = {
        "comment": {
            "id": comment_id,
            "body": body,
            "is_public": public,
            "author": {"id": author, "is_staff": staff, "name": "Support Bot" if staff else "Dana Ortiz"},
        }
    }
    return zd_event("comment_added", minutes=minutes, priority="URGENT", status="OPEN", event=comment)


def jira_done(minutes: float) -> Any:
    done = issue("Done", "done")
    done["fields"]["status"]["statusCategory"] = {"id": 3, "key": "done", "name": "Done"}
    change = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "3", "fromString": "In Progress"}]
    change[0].update({"to": "10001", "toString": "Done"})
    return p.jira_event("jira:issue_updated", done, T0 + timedelta(minutes=minutes), changelog=change, user=ENGINEER)


def test_zendesk_to_jira_to_zendesk_settles_and_nothing_happens_twice(run: Run) -> None:
    zd, jira = run.zd, run.jira
    # An urgent Zendesk ticket: signx escalates P0 to L3 and opens one linked Bug in Jira.
    run.post("zendesk", zd_event("created", priority="URGENT"))
    assert list(jira.issues) == ["ENG-42"]
    assert jira.issues["ENG-42"]["fields"]["labels"] == ["hdc-ticket-1"]
    [link] = jira.links["ENG-42"]
    assert link["object"]["url"].endswith("/agent/tickets/501")
    # linked at once (before any Jira webhook), and the key written to the Zendesk ticket with a note
    with run.rt.db.session() as s:
        [eng] = s.scalars(select(Link).where(Link.vendor == "jira")).all()
        assert (eng.ticket_id, eng.key, eng.role, eng.external_id) == (1, "ENG-42", "engineering", "10042")
    [keyed] = zd.updates(501)
    assert keyed["additional_tags"] == ["jira_eng-42"]
    assert keyed["comment"]["public"] is False and "ENG-42" in keyed["comment"]["body"]
    assert "[hdc:" in keyed["comment"]["body"]
    assert zd.auth[-1] is not None and zd.auth[-1].startswith("Basic ")

    # Zendesk reports the connector's own note back: nothing goes to Jira.
    before = len(jira.calls)
    note_back = zd.tickets[501]["comments"][0]
    run.post(
        "zendesk",
        zd_comment(
            str(note_back["id"]), note_back["body"], minutes=1, public=False, staff=True, author=str(ZENDESK_BOT)
        ),
    )
    assert len(jira.calls) == before

    # The engineer comments in Jira → an internal note on the Zendesk ticket.
    run.post(
        "jira", jira_comment("30001", "Reproduced: the export worker times out on invoices > 10k rows.", minutes=5)
    )
    note = zd.updates(501)[-1]
    assert note["comment"]["public"] is False
    assert note["comment"]["body"].startswith("Priya Raman commented on ENG-42 (Jira):")
    assert "export worker times out" in note["comment"]["body"]

    # An internal Zendesk note stays in Zendesk; a public customer reply goes to Jira (internal there).
    run.post("zendesk", zd_comment("8101", "Checking the logs now.", minutes=6, public=False, staff=True, author="42"))
    assert jira.made("POST", "/rest/api/2/issue/ENG-42/comment") == []
    run.post(
        "zendesk",
        zd_comment("8102", "It fails for our March invoices too.", minutes=7, public=True, staff=False, author="9001"),
    )
    [copied] = jira.made("POST", "/rest/api/2/issue/ENG-42/comment")
    assert copied["body"].startswith("Dana Ortiz (customer) replied on Zendesk ticket #501:")
    assert copied["properties"] == [{"key": "sd.public.comment", "value": {"internal": True}}]

    # Jira reports the connector's comment back: nothing goes to Zendesk.
    zd_before = len(zd.updates())
    mine = jira.comments["ENG-42"][-1]
    run.post("jira", jira_comment(mine["id"], mine["body"], minutes=8, author=("712020:5f0c-support-bot", "Bot")))
    assert len(zd.updates()) == zd_before

    # The agent puts the ticket on hold for engineering; engineering finishes: Jira done → the Zendesk
    # ticket open again for the agent, with a note.
    on_hold = {"current": "HOLD", "previous": "OPEN"}
    run.post("zendesk", zd_event("status_changed", minutes=9, priority="URGENT", status="HOLD", event=on_hold))
    run.post("jira", jira_done(minutes=30))
    done = zd.updates(501)[-1]
    assert done["status"] == "open" and done["comment"]["public"] is False
    assert "ENG-42 is Done" in done["comment"]["body"]

    # Every webhook again, as new deliveries: not one more call to either tool.
    settled = run.calls()
    run.resend_everything()
    assert run.calls() == settled
    with run.rt.db.session() as s:
        rows = s.scalars(select(OutboxItem).where(OutboxItem.channel.in_(("zendesk", "jira")))).all()
        assert sorted(i.intent for i in rows) == [
            "create_linked_issue",
            "jira_comment",
            "zendesk_update",
            "zendesk_update",
            "zendesk_update",
        ]
        assert {i.status for i in rows} == {OutboxStatus.SENT.value}


def test_a_solved_ticket_moves_its_issue_and_the_echo_comes_back_to_nothing(run: Run) -> None:
    zd, jira = run.zd, run.jira
    with run.rt.db.session() as s:
        doc = run.rt.mappings.engine.default("jira").dump()
        doc["sync"] = {"transition_when_solved": "Done"}
        run.rt.mappings.save(
            s, vendor="jira", instance="default", document=doc, created_by="test", comment="close issues with tickets"
        )
    run.post("zendesk", zd_event("created", priority="URGENT"))
    assert list(jira.issues) == ["ENG-42"]
    solved = zd_event(
        "status_changed",
        minutes=20,
        priority="URGENT",
        status="SOLVED",
        event={"current": "SOLVED", "previous": "OPEN"},
    )
    run.post("zendesk", solved)
    [moved] = jira.made("POST", "/rest/api/2/issue/ENG-42/transitions")
    assert moved == {"transition": {"id": 31}, "fields": {}}  # the jira client sends the id as a number
    assert jira.issues["ENG-42"]["fields"]["status"]["name"] == "Done"
    # Jira's webhook reports the transition the connector made: recorded as its echo, nothing sent.
    updates = len(zd.updates())
    run.post("jira", jira_done(minutes=21))
    assert len(zd.updates()) == updates
    with run.rt.db.session() as s:
        [transition] = s.scalars(select(OutboxItem).where(OutboxItem.intent == "jira_transition")).all()
        [echo] = s.scalars(select(OutboxItem).where(OutboxItem.echo_of.is_not(None))).all()
        assert echo.echo_of == transition.id and echo.status == OutboxStatus.NOT_SENT.value
        assert "because the connector asked for it" in (echo.reason or "")
    settled = run.calls()
    run.resend_everything()
    assert run.calls() == settled


def test_pagerduty_notes_and_resolve_reach_the_zendesk_ticket(run: Run) -> None:
    zd = run.zd
    run.post("zendesk", zd_event("created", priority="URGENT"))
    incident = p.pd_incident(
        incident_id="Q2QW9ZK3E1T8LV",
        number=4412,
        title="[P0] Cannot export invoices",
        status="triggered",
        incident_key="hdc-ticket-1/oncall_primary",
        priority="P1",
        urgency="high",
        created=T0 + timedelta(minutes=1),
    )
    run.post("pagerduty", p.pd_event("incident.triggered", incident, T0 + timedelta(minutes=1)))
    note = {
        "id": "PNOTE7X",
        "content": "Rolled back export-worker to v4.1; invoices exporting again.",
        "trimmed": False,
        "incident": {"id": incident["id"], "type": "incident_reference", "summary": incident["title"]},
    }
    run.post("pagerduty", p.pd_event("incident.annotated", note, T0 + timedelta(minutes=9), resource_type="incident"))
    last = zd.updates(501)[-1]
    assert last["comment"]["public"] is False
    assert "PagerDuty incident #4412" in last["comment"]["body"] and "Rolled back" in last["comment"]["body"]
    resolved = {**incident, "status": "resolved"}
    run.post("pagerduty", p.pd_event("incident.resolved", resolved, T0 + timedelta(minutes=12)))
    last = zd.updates(501)[-1]
    assert "status" not in last  # the shipped mapping: a note, the status left to the agent
    assert "PagerDuty incident #4412 was resolved" in last["comment"]["body"]
    settled = run.calls()
    run.resend_everything()
    assert run.calls() == settled


def test_without_zendesk_credentials_the_key_update_is_recorded_as_not_sent(database: Database, vendors: Any) -> None:
    zd, jira = vendors
    with installed_runtime(
        database,
        CONNECTOR_POLICY="signx",
        JIRA_URL=JIRA,
        JIRA_PAT="server-pat",
        JIRA_PROJECT="ENG",
    ) as rt:
        from webhooks.app import create_app

        client = create_app(rt, start_worker=False).test_client()
        assert post(client, "zendesk", zd_event("created", priority="URGENT")).status_code == 202
        drain(rt)
        drain(rt)
        assert list(jira.issues) == ["ENG-42"] and zd.calls == []
        with rt.db.session() as s:
            [item] = s.scalars(select(OutboxItem).where(OutboxItem.intent == "zendesk_update")).all()
            assert item.status == OutboxStatus.NOT_SENT.value
            assert item.reason == "zendesk is not configured: set ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN"


def test_the_jira_mapping_fills_fields_of_the_linked_issue(run: Run) -> None:
    with run.rt.db.session() as s:
        doc = run.rt.mappings.engine.default("jira").dump()
        doc["sync"] = {
            "issue_fields": {
                "priority": {"from": "severity", "map": {"P0": {"name": "Highest"}, "*": {"name": "Medium"}}},
                "customfield_10072": {"from": "customer_tier"},
                "components": {"value": [{"name": "Support escalations"}]},
            }
        }
        run.rt.mappings.save(s, vendor="jira", instance="default", document=doc, created_by="test", comment="fields")
    run.post("zendesk", zd_event("created", priority="URGENT"))
    [created] = run.jira.made("POST", "/rest/api/2/issue")
    fields = created["fields"]
    assert fields["priority"] == {"name": "Highest"}
    assert fields["components"] == [{"name": "Support escalations"}]
    assert "customfield_10072" not in fields  # the ticket has no tier: an empty value is left out
    assert fields["labels"] == ["hdc-ticket-1"] and fields["project"] == {"key": "ENG"}


def test_a_sync_key_of_another_vendor_is_refused_naming_whose_it_is(rt: Runtime) -> None:
    from connector.errors import MappingError

    doc = rt.mappings.engine.default("zendesk").dump()
    doc["sync"] = {"transition_when_solved": "Done"}
    with pytest.raises(MappingError) as caught:
        rt.mappings.engine.load(doc, source="zendesk/default")
    assert "transition_when_solved (the jira mapping's) does not belong in a zendesk mapping" in str(caught.value)
    doc["sync"] = {"when_issue_done": {"status": "closed"}}
    with pytest.raises(MappingError) as caught:
        rt.mappings.engine.load(doc, source="zendesk/default")
    assert "sync.when_issue_done.status" in str(caught.value)


@pytest.fixture
def tai(database: Database, vendors: Any) -> Iterator[Run]:
    """tai: a CRITICAL pages VP Product and on-call and owes a post-mortem within 24 h of resolving."""
    with installed_runtime(
        database,
        CONNECTOR_POLICY="tai",
        **SITES_ENV,
    ) as runtime:
        from webhooks.app import create_app

        yield Run(runtime, create_app(runtime, start_worker=False).test_client(), *vendors)


def test_a_resolved_critical_gets_its_postmortem_task_tracked_until_done(tai: Run) -> None:
    run, jira = tai, tai.jira
    subject = "Checkout fails for every customer"
    run.post("zendesk", zd_event("created", priority="URGENT", subject=subject))
    assert jira.issues == {}  # owed from now, due 24 h after it resolves: no task yet
    change = {"current": "SOLVED", "previous": "OPEN"}
    solved = zd_event("status_changed", minutes=95, priority="URGENT", status="SOLVED", subject=subject, event=change)
    run.post("zendesk", solved)
    [key] = list(jira.issues)
    [created] = jira.made("POST", "/rest/api/2/issue")
    assert created["fields"]["issuetype"] == {"name": "Task"}
    assert created["fields"]["labels"] == ["hdc-ticket-1", "hdc-postmortem-1", "postmortem"]
    assert created["fields"]["duedate"] == f"{T0 + timedelta(minutes=95, hours=24):%Y-%m-%d}"
    assert created["fields"]["summary"].startswith("Post-mortem: [CRITICAL] Checkout fails for every customer")
    text = created["fields"]["description"]
    for section in ("INCIDENT POST-MORTEM", "ROOT CAUSE:", "TIMELINE", "IMPACT:", "ACTION ITEMS", "OWNER:"):
        assert section in text
    assert "Duration: 95 minutes" in text and "page vp_product" in text
    # linked to the ticket as its post-mortem, and the post-mortem owed points at it
    with run.rt.db.session() as s:
        [link] = s.scalars(select(Link).where(Link.vendor == "jira")).all()
        assert (link.role, link.key) == ("postmortem", key)
    owed = run.client.get("/api/followups?kind=postmortem", headers={"Authorization": "Bearer test-admin-token"})
    [f] = owed.get_json()["followups"]
    assert f["url"] == f"{JIRA}/browse/{key}" and f["done_at"] is None
    # a day and a half later, still not done: the SLA report lists it as overdue, with its task
    late = T0 + timedelta(hours=36)
    with run.rt.db.session() as s:
        report = build_report(s, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), now=late)
    pm = report["postmortems"]
    assert (pm["owed"], pm["overdue"], pm["done"]) == (1, 1, 0)
    [item] = pm["overdue_items"]
    assert item["ticket_id"] == 1 and item["url"] == f"{JIRA}/browse/{key}" and item["late"] == "10 h 25 min"
    assert f"{JIRA}/browse/{key}" in render_text(report) and "postmortem_overdue" in report_csv(report)
    # Jira's webhooks about the task: created (it joins as the post-mortem, no second link), then done
    task = p.jira_issue(
        issue_id=jira.issues[key]["id"],
        key=key,
        summary=created["fields"]["summary"],
        description=text,
        status="To Do",
        category="new",
        priority="Medium",
        labels=created["fields"]["labels"],
        reporter=("712020:5f0c-support-bot", "Support Bot"),
        created="2026-03-06T16:36:00.000+0000",
    )
    run.post("jira", p.jira_event("jira:issue_created", task, T0 + timedelta(minutes=96)))
    done = json.loads(json.dumps(task))
    done["fields"]["status"] = {
        "id": "10001",
        "name": "Done",
        "statusCategory": {"id": 3, "key": "done", "name": "Done"},
    }
    change = [{"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": "To Do", "toString": "Done"}]
    run.post("jira", p.jira_event("jira:issue_updated", done, T0 + timedelta(days=1), changelog=change, user=ENGINEER))
    owed = run.client.get("/api/followups?kind=postmortem", headers={"Authorization": "Bearer test-admin-token"})
    [f] = owed.get_json()["followups"]
    assert f["done_at"] is not None and f["done_by"] == "jira" and f["url"] == f"{JIRA}/browse/{key}"
    with run.rt.db.session() as s:
        report = build_report(s, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), now=late)
    assert (report["postmortems"]["done"], report["postmortems"]["overdue"]) == (1, 0)
    with run.rt.db.session() as s:
        assert [x.role for x in s.scalars(select(Link).where(Link.vendor == "jira"))] == ["postmortem"]
    # the task's comments and status are not the ticket's conversation: nothing went to Zendesk for them
    assert all("Post-mortem" not in (u.get("comment") or {}).get("body", "") for u in run.zd.updates())
    settled = run.calls()
    run.resend_everything()
    assert run.calls() == settled


def test_the_reconcile_sweep_repairs_what_missed_webhooks_left_stale(run: Run) -> None:
    from connector.inbox.resync import reconcile_links

    zd, jira = run.zd, run.jira
    run.post("zendesk", zd_event("created", priority="URGENT"))
    on_hold = {"current": "HOLD", "previous": "OPEN"}
    run.post("zendesk", zd_event("status_changed", minutes=9, priority="URGENT", status="HOLD", event=on_hold))
    # Engineering comments and finishes in Jira; neither webhook ever reaches the connector.
    jira.comments["ENG-42"] = [
        {
            "id": "30077",
            "self": f"{JIRA}/rest/api/2/issue/10042/comment/30077",
            "body": "Fixed by the export-worker patch; deployed 16:20 UTC.",
            "author": {"accountId": ENGINEER[0], "displayName": ENGINEER[1]},
            "created": "2026-03-06T16:21:00.000+0000",
        }
    ]
    jira.set_status("ENG-42", "Done")
    jira.issues["ENG-42"]["fields"]["updated"] = "2026-03-06T16:22:00.000+0000"
    before = len(zd.updates(501))
    # not stale yet: nothing fetched
    assert reconcile_links(run.rt, stale_after=timedelta(hours=1)).checked == 0
    later = datetime.now(UTC) + timedelta(hours=2)
    done = reconcile_links(run.rt, stale_after=timedelta(hours=1), now=later)
    assert (done.checked, done.repaired, done.failed) == (1, 2, 0), done.lines
    drain(run.rt)
    drain(run.rt)
    notes = zd.updates(501)[before:]
    bodies = [u["comment"]["body"] for u in notes]
    assert any(b.startswith("The linked engineering issue ENG-42 is Done") for b in bodies)
    assert any("Priya Raman commented on ENG-42 (Jira):" in b and "export-worker patch" in b for b in bodies)
    assert [u["status"] for u in notes if "status" in u] == ["open"]
    # again: the issue is known done and the comment is on the timeline — nothing fetched, nothing added
    calls = run.calls()
    again = reconcile_links(run.rt, stale_after=timedelta(hours=1), now=later + timedelta(hours=2))
    assert (again.checked, again.repaired) == (0, 0)
    drain(run.rt)
    assert run.calls() == calls


def test_the_reconcile_sweep_says_when_jira_cannot_answer(run: Run) -> None:
    from connector.inbox.resync import reconcile_links

    run.post("zendesk", zd_event("created", priority="URGENT"))
    run.jira.fail.append((503, {"Retry-After": "30"}, {"errorMessages": ["Service Unavailable"]}))
    done = reconcile_links(run.rt, stale_after=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=5))
    assert (done.checked, done.failed) == (0, 1) and "Jira did not answer" in done.lines[0]
    retried = reconcile_links(run.rt, stale_after=timedelta(0), now=datetime.now(UTC) + timedelta(seconds=6))
    assert (retried.checked, retried.failed) == (1, 0)  # not marked checked after the failure: fetched again


def save_sync(rt: Runtime, vendor: str, **sync: Any) -> None:
    with rt.db.session() as s:
        doc = rt.mappings.engine.default(vendor).dump()
        doc["sync"] = sync
        rt.mappings.save(s, vendor=vendor, instance="default", document=doc, created_by="test", comment="sync rules")


def held(rt: Runtime) -> list[dict[str, Any]]:
    from connector.tickets import get_ticket

    with rt.db.session() as s:
        story = get_ticket(s, 1)
    return [e for e in story["timeline"] if e["kind"] == "sync_held"]


@pytest.mark.parametrize(
    ("owner", "jira_done_at", "synced"),
    [
        ("last_writer", 30, True),  # Jira's done is the latest word on the status
        ("last_writer", 5, False),  # put on hold at minute 9, after Jira's (late) done of minute 5
        ("zendesk", 30, False),  # Zendesk owns its status: Jira's done is noted, not written
        ("jira", 30, True),
    ],
)
def test_who_owns_the_status_decides_whether_jira_done_moves_the_ticket(
    run: Run, owner: str, jira_done_at: int, synced: bool
) -> None:
    save_sync(run.rt, "zendesk", status_owner=owner)
    run.post("zendesk", zd_event("created", priority="URGENT"))
    on_hold = {"current": "HOLD", "previous": "OPEN"}
    run.post("zendesk", zd_event("status_changed", minutes=9, priority="URGENT", status="HOLD", event=on_hold))
    run.post("jira", jira_done(minutes=jira_done_at))
    last = run.zd.updates(501)[-1]
    assert "ENG-42 is Done" in last["comment"]["body"]  # the note goes either way
    assert ("status" in last) is synced
    records = held(run.rt)
    assert len(records) == (0 if synced else 1)
    if records:
        assert "status not synced" in records[0]["summary"]


def test_when_jira_owns_the_status_a_solved_ticket_does_not_move_its_issue(run: Run) -> None:
    save_sync(run.rt, "zendesk", status_owner="jira")
    save_sync(run.rt, "jira", transition_when_solved="Done")
    run.post("zendesk", zd_event("created", priority="URGENT"))
    change = {"current": "SOLVED", "previous": "OPEN"}
    run.post("zendesk", zd_event("status_changed", minutes=20, priority="URGENT", status="SOLVED", event=change))
    assert run.jira.made("POST", "/rest/api/2/issue/ENG-42/transitions") == []
    [record] = held(run.rt)
    assert "Jira owns ENG-42's status" in record["summary"]
    settled = run.calls()
    run.resend_everything()
    assert run.calls() == settled and len(held(run.rt)) == 1


@pytest.mark.parametrize(
    ("setting", "shared", "expected"),
    [
        ("internal", True, "internal"),  # the default: every Jira comment is an internal note
        ("public_when_shared", True, "public"),  # a JSM comment the customer sees stays public
        ("public_when_shared", None, "internal"),  # a Jira Software comment says nothing: internal
        ("public_when_shared", False, "internal"),  # an internal JSM comment
        ("off", True, None),
    ],
)
def test_how_jira_comments_reach_zendesk(run: Run, setting: str, shared: bool | None, expected: str | None) -> None:
    save_sync(run.rt, "zendesk", jira_comments=setting)
    run.post("zendesk", zd_event("created", priority="URGENT"))
    before = len(run.zd.updates(501))
    body = jira_comment("30009", "We are rolling out the fix now.", minutes=5, public=bool(shared))
    if shared is None:
        del body["comment"]["jsdPublic"]  # a Jira Software issue's comment: no JSM visibility at all
    run.post("jira", body)
    notes = run.zd.updates(501)[before:]
    if expected is None:
        assert notes == []
    else:
        [note] = notes
        assert note["comment"]["public"] is (expected == "public")
