"""The typed timeline: every record reads back as the same record; rows of the earlier layout read
by their shape; and the SLA history built from it is not fooled by a linked object's events."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from connector.demo import payloads as p
from connector.model import EventKind, LinkRole
from connector.tickets import timeline
from connector.tickets.timeline import (
    CommentPosted,
    FieldsChanged,
    Kind,
    Linked,
    ObjectEvent,
    SlaRecorded,
    TicketCreated,
)
from tests.conftest import ADMIN, drain
from tests.helpers import T0, post, zd_event

RECORDS = [
    TicketCreated(
        fields={
            "status": "new",
            "severity": "P1",
            "customer_tier": "enterprise",
            "category": None,
            "channel": "email",
            "support_level": None,
        },
        url="https://acme.zendesk.com/tickets/1",
    ),
    FieldsChanged(changes={"severity": ("P2", "P0"), "tags": ([], ["vip"])}, event=EventKind.PRIORITY_CHANGED),
    Linked(role=LinkRole.ENGINEERING, url="https://acme.atlassian.net/browse/SUP-1"),
    CommentPosted(
        change=Kind.COMMENTED,
        comment_id="c1",
        public=True,
        body="On it",
        author_is_agent=True,
        link_role=LinkRole.ORIGIN,
    ),
    CommentPosted(
        change=Kind.COMMENT_DELETED,
        comment_id="c2",
        public=False,
        body="",
        author_is_agent=None,
        link_role=LinkRole.ENGINEERING,
    ),
    ObjectEvent(
        event=EventKind.UPDATED,
        object_type="issue",
        role=LinkRole.ENGINEERING,
        fields={"title": "x"},
        detail={"changes": [{"field": "summary", "from": "a", "to": "b"}]},
    ),
    ObjectEvent(event=EventKind.INCIDENT_TRIGGERED, object_type="incident", role=LinkRole.INCIDENT),
    ObjectEvent(
        event=EventKind.STATUS_CHANGED,
        object_type="ticket",
        role=LinkRole.ORIGIN,
        detail={"field": "status", "from": "open", "to": "pending"},
        stale_fields=("status",),
    ),
    SlaRecorded(kind=Kind.SLA_BREACH, metric="first_response", cycle=1, label="breach"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: timeline.kind_of(r))
def test_a_record_reads_back_as_itself(record: timeline.Record) -> None:
    data = json.loads(json.dumps(timeline.encode(record)))  # as the JSON column returns it
    assert timeline.decode(timeline.kind_of(record), data) == record


def test_object_event_kinds_never_collide_with_the_tickets_own_kinds() -> None:
    own = {k.value for k in Kind}
    for event in EventKind:
        for object_type in ("ticket", "issue", "incident"):
            assert timeline.object_kind(object_type, event) not in own
    assert timeline.object_kind("incident", EventKind.INCIDENT_TRIGGERED) == "incident_triggered"
    assert timeline.object_kind("issue", EventKind.UPDATED) == "issue_updated"


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        # a linked Jira issue's events were stored under the plain event kind, facts at the top level
        (
            "created",
            {"fields": {"title": "Bug"}},
            ObjectEvent(event=EventKind.CREATED, object_type="", role=LinkRole.RELATED, fields={"title": "Bug"}),
        ),
        (
            "updated",
            {"fields": {}, "changes": [{"field": "summary"}]},
            ObjectEvent(
                event=EventKind.UPDATED,
                object_type="",
                role=LinkRole.RELATED,
                detail={"changes": [{"field": "summary"}]},
            ),
        ),
        (
            "incident_acknowledged",
            {"field": "status", "to": "acknowledged", "fields": {}},
            ObjectEvent(
                event=EventKind.INCIDENT_ACKNOWLEDGED,
                object_type="",
                role=LinkRole.RELATED,
                detail={"field": "status", "to": "acknowledged"},
            ),
        ),
        ("created", {"url": None, "fields": {"status": "new"}}, TicketCreated(fields={"status": "new"})),
    ],
    ids=["linked-created", "linked-updated", "incident-event", "ticket-created"],
)
def test_rows_of_the_earlier_layout_read_by_their_shape(kind: str, data: dict, expected: timeline.Record) -> None:
    assert timeline.decode(kind, data) == expected


def test_a_linked_jira_issues_events_do_not_disturb_the_sla_history(client, rt):  # type: ignore[no-untyped-def]
    """Regression: a linked issue's `created` reset the SLA start values, and its `updated` (whose
    changes are a list) crashed every SLA refresh of the ticket, dead-lettering its deliveries."""
    post(client, "zendesk", zd_event("created", priority="URGENT"))
    drain(rt)
    issue = p.jira_issue(
        issue_id="10457",
        key="PLAT-311",
        summary="Render pool",
        description="Autoscaler",
        status="To Do",
        category="new",
        priority="Low",
        labels=["hdc-ticket-1"],
        reporter=("acc-1", "Priya Raman"),
        created="2026-03-06T15:01:00.000+0000",
    )
    post(client, "jira", p.jira_event("jira:issue_created", issue, T0 + timedelta(minutes=1), changelog=[]))
    renamed = json.loads(json.dumps(issue))
    renamed["fields"]["summary"] = "Render pool scales to zero"
    post(
        client,
        "jira",
        p.jira_event(
            "jira:issue_updated",
            renamed,
            T0 + timedelta(minutes=5),
            changelog=[
                {
                    "field": "summary",
                    "fieldtype": "jira",
                    "fieldId": "summary",
                    "from": None,
                    "fromString": "Render pool",
                    "to": None,
                    "toString": "Render pool scales to zero",
                }
            ],
        ),
    )
    drain(rt)
    deliveries = client.get("/api/deliveries", headers=ADMIN).get_json()["deliveries"]
    assert {(d["event_type"], d["status"]) for d in deliveries} == {
        ("zen:event-type:ticket.created", "processed"),
        ("jira:issue_created", "processed"),
        ("jira:issue_updated", "processed"),
    }
    ticket = client.get("/api/tickets/1", headers=ADMIN).get_json()
    # the ticket's own story (the escalation engine's decisions and their outbound results interleave)
    kinds = [e["kind"] for e in ticket["timeline"] if e["kind"] not in ("escalation", "outbound")]
    assert kinds[:2] == ["created", "linked"] and "issue_created" in kinds and "issue_updated" in kinds
    assert ticket["severity"] == "P0"  # the Jira issue's Low priority is not the ticket's
    # the clocks still follow the ticket's own severity: P0's first response under signx is 1 h
    first = next(c for c in ticket["sla_clocks"] if c["metric"] == "first_response")
    assert first["target"] == "1h"
