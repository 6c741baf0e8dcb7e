"""Canonical inbound events: what an adapter makes of one delivery. Pure data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from connector.model.ticket import Channel, LinkRole


class EventKind(StrEnum):
    """What happened to a vendor object, in our words."""

    CREATED = "created"
    UPDATED = "updated"
    COMMENTED = "commented"
    COMMENT_UPDATED = "comment_updated"
    COMMENT_DELETED = "comment_deleted"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    ASSIGNMENT_CHANGED = "assignment_changed"
    DELETED = "deleted"
    MERGED = "merged"
    INCIDENT_TRIGGERED = "incident_triggered"
    INCIDENT_ACKNOWLEDGED = "incident_acknowledged"
    INCIDENT_UNACKNOWLEDGED = "incident_unacknowledged"
    INCIDENT_RESOLVED = "incident_resolved"
    INCIDENT_REOPENED = "incident_reopened"
    INCIDENT_ESCALATED = "incident_escalated"
    INCIDENT_REASSIGNED = "incident_reassigned"
    INCIDENT_PRIORITY_CHANGED = "incident_priority_changed"
    INCIDENT_ANNOTATED = "incident_annotated"
    INCIDENT_RESPONDER_ADDED = "incident_responder_added"
    INCIDENT_STATUS_UPDATE = "incident_status_update"


@dataclass(frozen=True)
class ExternalRef:
    """One object in a vendor tool: a Zendesk ticket, a Jira issue, a PagerDuty incident."""

    vendor: str
    object_type: str  # "ticket" | "issue" | "incident"
    external_id: str
    key: str | None = None  # human key: Jira "SUP-12", PagerDuty incident number
    url: str | None = None


@dataclass(frozen=True)
class Comment:
    external_id: str
    body: str
    public: bool
    author_id: str | None = None
    author_name: str | None = None
    author_is_agent: bool | None = None  # None: the payload does not say
    #: does the tool show it to the customer (Zendesk public, JSM `jsdPublic: true`); None: it does not say
    customer_visible: bool | None = None


@dataclass(frozen=True)
class InboundEvent:
    """One canonical event parsed from one delivery. Pure data; no I/O produced it.

    `document` is what the field mapping reads (the vendor payload, parsed, never mutated);
    `shape` names the section of the vendor's mapping that applies to it.
    """

    vendor: str
    event_type: str  # the vendor's own name, e.g. "zen:event-type:ticket.status_changed"
    kind: EventKind
    shape: str
    object: ExternalRef
    occurred_at: datetime  # timezone-aware; orders field writes
    document: Mapping[str, Any]
    comment: Comment | None = None
    actor: str | None = None
    creates_ticket: bool = True  # may this event open a ticket when its object is not linked yet
    channel: Channel | None = None  # channel of a ticket this event creates, when the adapter knows it
    # A connector ticket id this object says it belongs to (e.g. a PagerDuty incident_key / dedup
    # key the connector chose when it paged, or a Jira issue created by sync).
    ticket_hint: str | None = None
    #: the role the object takes when it joins the ticket of `ticket_hint` (None: its type's usual one)
    join_role: LinkRole | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)  # extra facts for the timeline (old → new)


@dataclass(frozen=True)
class Parsed:
    """The result of parsing one delivery: events, or the reason it is ignored."""

    event_type: str
    events: tuple[InboundEvent, ...] = ()
    ignored_reason: str | None = None

    @property
    def ignored(self) -> bool:
        return self.ignored_reason is not None
