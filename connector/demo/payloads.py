"""Vendor payloads for the demo, shaped as each vendor documents them (ids are strings in Zendesk
events, Jira timestamps are epoch milliseconds, PagerDuty wraps everything in `event`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

ZENDESK_ACCOUNT = 9182736
JIRA_SITE = "https://northwind.atlassian.net"
PD_SITE = "https://northwind.pagerduty.com"


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # Zendesk sends nanoseconds


def zendesk_ticket(
    *,
    ticket_id: int,
    subject: str,
    description: str,
    status: str,
    priority: str,
    requester_id: str,
    organization_id: str,
    tags: list[str],
    created: datetime,
    updated: datetime,
    channel: str = "email",
    assignee_id: str | None = None,
    group_id: str | None = "360004471234",
    ticket_type: str = "INCIDENT",
) -> dict[str, Any]:
    return {
        "actor_id": "381726354",
        "assignee_id": assignee_id,
        "brand_id": "360001122334",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "custom_status": "1900001234567",
        "description": description,
        "external_id": None,
        "form_id": "360000112233",
        "group_id": group_id,
        "id": str(ticket_id),
        "is_public": True,
        "organization_id": organization_id,
        "priority": priority,
        "requester_id": requester_id,
        "status": status,
        "subject": subject,
        "submitter_id": requester_id,
        "tags": tags,
        "type": ticket_type,
        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "via": {"channel": channel},
    }


def zendesk_event(name: str, detail: dict[str, Any], event: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "account_id": ZENDESK_ACCOUNT,
        "detail": detail,
        "event": event,
        "id": str(uuid.uuid4()),
        "subject": f"zen:ticket:{detail['id']}",
        "time": _z(at),
        "type": f"zen:event-type:ticket.{name}",
        "zendesk_event_version": "2022-11-06",
    }


def jira_issue(
    *,
    issue_id: str,
    key: str,
    summary: str,
    description: str,
    status: str,
    category: str,
    priority: str,
    labels: list[str],
    reporter: tuple[str, str],
    created: str,
) -> dict[str, Any]:
    cat_key = {"new": "new", "indeterminate": "indeterminate", "done": "done"}[category]
    return {
        "id": issue_id,
        "self": f"{JIRA_SITE}/rest/api/2/issue/{issue_id}",
        "key": key,
        "fields": {
            "summary": summary,
            "description": description,
            "labels": labels,
            "created": created,
            "updated": created,
            "issuetype": {"id": "10004", "name": "Bug", "subtask": False},
            "project": {"id": "10000", "key": key.split("-")[0], "name": "Platform Engineering"},
            "priority": {"id": "2", "name": priority},
            "status": {
                "id": "3" if cat_key == "indeterminate" else "10000",
                "name": status,
                "statusCategory": {
                    "id": 4 if cat_key == "indeterminate" else 2,
                    "key": cat_key,
                    "name": "In Progress" if cat_key == "indeterminate" else "To Do",
                },
            },
            "reporter": {
                "accountId": reporter[0],
                "displayName": reporter[1],
                "emailAddress": f"{reporter[1].split()[0].lower()}@northwind.example",
            },
            "assignee": None,
            "customfield_10071": {"id": "10201", "value": "Sev-2"},
        },
    }


def jira_event(
    event: str,
    issue: dict[str, Any],
    at: datetime,
    *,
    changelog: list[dict[str, Any]] | None = None,
    user: tuple[str, str] = ("5b10ac8d82e05b22cc7d4ef5", "Priya Raman"),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": event,
        "issue_event_type_name": {"jira:issue_created": "issue_created"}.get(event, "issue_generic"),
        "user": {"accountId": user[0], "displayName": user[1], "active": True, "accountType": "atlassian"},
        "issue": issue,
    }
    if changelog is not None:
        body["changelog"] = {"id": str(40000 + len(changelog)), "items": changelog}
    return body


def jira_comment(
    issue: dict[str, Any],
    *,
    comment_id: str,
    body: str,
    public: bool,
    at: datetime,
    author: tuple[str, str] = ("5b10ac8d82e05b22cc7d4ef5", "Priya Raman"),
) -> dict[str, Any]:
    fields = issue["fields"]
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    person = {"accountId": author[0], "displayName": author[1], "active": True}
    return {
        "timestamp": int(at.timestamp() * 1000),
        "webhookEvent": "comment_created",
        "comment": {
            "self": f"{issue['self']}/comment/{comment_id}",
            "id": comment_id,
            "author": person,
            "body": body,
            "updateAuthor": person,
            "created": stamp,
            "updated": stamp,
            "jsdPublic": public,
        },
        "issue": {
            "id": issue["id"],
            "self": issue["self"],
            "key": issue["key"],
            "fields": {k: fields[k] for k in ("summary", "issuetype", "project", "assignee", "priority", "status")},
        },
    }


def pd_incident(
    *,
    incident_id: str,
    number: int,
    title: str,
    status: str,
    incident_key: str,
    priority: str | None,
    urgency: str,
    created: datetime,
) -> dict[str, Any]:
    ref = lambda kind, id_, summary: {  # noqa: E731
        "html_url": f"{PD_SITE}/{kind}/{id_}",
        "id": id_,
        "self": f"https://api.pagerduty.com/{kind}/{id_}",
        "summary": summary,
        "type": f"{kind.rstrip('s')}_reference",
    }
    return {
        "id": incident_id,
        "type": "incident",
        "self": f"https://api.pagerduty.com/incidents/{incident_id}",
        "html_url": f"{PD_SITE}/incidents/{incident_id}",
        "number": number,
        "status": status,
        "incident_key": incident_key,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": title,
        "service": ref("services", "PSV4X2A", "Video Export Pipeline"),
        "assignees": [ref("users", "PU8D2KQ", "Dana Whitfield")],
        "escalation_policy": ref("escalation_policies", "PEP7Y1C", "Platform On-Call"),
        "teams": [ref("teams", "PTM3H6B", "Platform")],
        "priority": None if priority is None else {"id": "PPR1", "summary": priority, "type": "priority_reference"},
        "urgency": urgency,
        "conference_bridge": None,
        "resolve_reason": None,
    }


def pd_event(
    event_type: str,
    data: dict[str, Any],
    at: datetime,
    *,
    agent: str | None = "Dana Whitfield",
    resource_type: str = "incident",
) -> dict[str, Any]:
    return {
        "event": {
            "id": uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": resource_type,
            "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "agent": None
            if agent is None
            else {
                "id": "PU8D2KQ",
                "summary": agent,
                "type": "user_reference",
                "html_url": f"{PD_SITE}/users/PU8D2KQ",
                "self": "https://api.pagerduty.com/users/PU8D2KQ",
            },
            "client": None,
            "data": data,
        }
    }
