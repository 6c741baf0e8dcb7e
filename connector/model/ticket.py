"""The canonical ticket: its statuses, channels, link roles and the fields a mapping may write."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


#: Statuses in which a ticket is done (resolved or closed).
TERMINAL = frozenset({Status.RESOLVED, Status.CLOSED})


class Channel(StrEnum):
    EMAIL = "email"
    WEB = "web"
    CHAT = "chat"
    PHONE = "phone"
    API = "api"
    JIRA = "jira"
    ALERT = "alert"
    OTHER = "other"


class LinkRole(StrEnum):
    """What a vendor object is to the ticket it is linked to."""

    ORIGIN = "origin"  # the object the ticket was opened from; its fields are the ticket's
    ENGINEERING = "engineering"  # a Jira issue escalated from the ticket
    INCIDENT = "incident"  # a PagerDuty incident paging for the ticket
    POSTMORTEM = "postmortem"  # a Jira task holding the ticket's post-mortem
    RELATED = "related"


#: The role a vendor object of each type takes when it joins an existing ticket.
JOIN_ROLE = {"issue": LinkRole.ENGINEERING, "incident": LinkRole.INCIDENT, "ticket": LinkRole.ORIGIN}

# Canonical ticket fields a mapping may write, with their value type.
TICKET_FIELDS: dict[str, type] = {
    "title": str,
    "description": str,
    "status": Status,
    "severity": str,
    "category": str,
    "customer_id": str,
    "customer_name": str,
    "customer_tier": str,
    "requester_id": str,
    "requester_name": str,
    "requester_email": str,
    "support_level": str,
    "assignee": str,
    "group_name": str,
    "channel": Channel,
    "tags": list,
    "impact_users": int,
    # the id, in the same tool and instance, of the problem this ticket is an incident of (Zendesk's
    # problem/incident link): the problem's users affected count every linked incident's requester
    "problem_ref": str,
    "csat": float,
    "root_cause": str,
    "resolution_summary": str,
}

#: The fields that select SLA targets; a ticket's values at creation are the SLA engine's start.
SLA_FIELDS = ("status", "severity", "customer_tier", "category", "channel", "support_level")
