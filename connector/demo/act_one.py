"""Act one of `connector demo`: the webhooks the three vendors send about an urgent Zendesk ticket —
the page linked to it by its dedup key, the first public reply, an internal note, a Jira bug moving
to In Progress, a late out-of-order priority change that must not roll anything back, and a re-sent
duplicate — as (vendor, what happens, payload), the times relative to `now`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from connector.demo import payloads as p


def act_one(now: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(vendor, what it shows, payload) in the order the tools would send them."""
    t0 = now - timedelta(hours=3)
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    zd: dict[str, Any] = dict(
        ticket_id=48213,
        subject="Video exports fail for every project — production down",
        description="Since 09:10 every export ends in 'render worker unavailable'. We are losing money: "
        "a customer premiere is tonight.",
        requester_id="20077881",
        organization_id="360099001122",
        tags=["exports", "tier_enterprise"],  # the tag a "Customer tier" drop-down field adds
        created=at(0),
        channel="email",
    )
    created = p.zendesk_event(
        "created",
        p.zendesk_ticket(**zd, status="NEW", priority="URGENT", updated=at(0)),
        {"meta": {"sequence": {"id": "c1", "position": 1, "total": 1}}},
        at(0),
    )
    reply = p.zendesk_event(
        "comment_added",
        p.zendesk_ticket(**zd, status="OPEN", priority="URGENT", updated=at(12), assignee_id="381726354"),
        {
            "comment": {
                "id": "48213001",
                "body": "We see it too and have paged on-call. Next update within 30 minutes.",
                "is_public": True,
                "author": {"id": "381726354", "is_staff": True, "name": "Maya Chen"},
            }
        },
        at(12),
    )
    internal = p.zendesk_event(
        "comment_added",
        p.zendesk_ticket(**zd, status="OPEN", priority="URGENT", updated=at(14), assignee_id="381726354"),
        {
            "comment": {
                "id": "48213002",
                "body": "Escalating to L3, render fleet is empty.",
                "is_public": False,
                "author": {"id": "381726354", "is_staff": True, "name": "Maya Chen"},
            }
        },
        at(14),
    )
    pending = p.zendesk_event(
        "status_changed",
        p.zendesk_ticket(**zd, status="PENDING", priority="URGENT", updated=at(95), assignee_id="381726354"),
        {"current": "PENDING", "previous": "OPEN"},
        at(95),
    )
    # Sent late by a retry: it is older than what the ticket reflects and must not roll priority back.
    stale = p.zendesk_event(
        "priority_changed",
        p.zendesk_ticket(**zd, status="NEW", priority="HIGH", updated=at(-1)),
        {"current": "HIGH", "previous": "NORMAL"},
        at(-1),
    )

    issue = p.jira_issue(
        issue_id="10457",
        key="PLAT-311",
        summary="Render worker pool scales to zero under load",
        description="Autoscaler drops the render pool to 0 when the queue depth metric is stale.",
        status="To Do",
        category="new",
        priority="Highest",
        labels=["render", "autoscaling"],
        reporter=("5b10ac8d82e05b22cc7d4ef5", "Priya Raman"),
        created=at(20).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    issue_created = p.jira_event("jira:issue_created", issue, at(20), changelog=[])
    progressing = json.loads(json.dumps(issue))
    progressing["fields"]["status"] = {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    }
    issue_updated = p.jira_event(
        "jira:issue_updated",
        progressing,
        at(31),
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
    )
    comment = p.jira_comment(
        progressing, comment_id="100231", body="Pinned min replicas to 4; exports recovering.", public=False, at=at(58)
    )

    pd: dict[str, Any] = dict(
        incident_id="Q3KX8Z1VN5RT2B",
        number=1207,
        title="Render queue depth > 500 for 10 minutes",
        incident_key="hdc-ticket-1/oncall_primary",  # the connector's page for ticket 1 (dedup key)
        priority="P1",
        urgency="high",
        created=at(5),
    )
    triggered = p.pd_event("incident.triggered", p.pd_incident(**pd, status="triggered"), at(5), agent=None)
    acked = p.pd_event("incident.acknowledged", p.pd_incident(**pd, status="acknowledged"), at(9))
    note = p.pd_event(
        "incident.annotated",
        {
            "incident": {
                "id": pd["incident_id"],
                "type": "incident_reference",
                "html_url": f"{p.PD_SITE}/incidents/{pd['incident_id']}",
                "self": f"https://api.pagerduty.com/incidents/{pd['incident_id']}",
            },
            "id": "PNOTE7Q",
            "type": "incident_note",
            "trimmed": False,
            "content": "Autoscaler misread a stale metric; min replicas pinned.",
        },
        at(60),
        resource_type="incident",
    )
    resolved = p.pd_event("incident.resolved", p.pd_incident(**pd, status="resolved"), at(64))
    return [
        ("zendesk", "customer opens an urgent ticket by email", created),
        ("pagerduty", "PagerDuty opens an incident for our page (dedup key links it)", triggered),
        ("pagerduty", "on-call acknowledges", acked),
        ("zendesk", "agent's first public reply", reply),
        ("zendesk", "internal note (not a first response)", internal),
        ("jira", "engineering files a bug in Jira", issue_created),
        ("jira", "the bug moves to In Progress", issue_updated),
        ("jira", "internal engineering comment", comment),
        ("pagerduty", "on-call annotates the incident", note),
        ("pagerduty", "incident resolved", resolved),
        ("zendesk", "waiting on the customer to confirm", pending),
        ("zendesk", "a late, older priority change arrives (must not roll back)", stale),
        ("zendesk", "Zendesk re-sends the first delivery", created),
    ]
