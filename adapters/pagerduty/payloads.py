"""Typed models of the PagerDuty Webhooks v3 payloads we read.

Every payload is `{"event": {id, event_type, resource_type, occurred_at, agent, client, data}}`;
`data` is an `incident`, `incident_note`, `incident_status_update` or `incident_responder`
depending on the event type (developer.pagerduty.com, Webhooks v3 overview, "Event Data Types").
Only the fields we use are declared; the rest of the payload is kept as received in
`InboundEvent.document` for the field mapping.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Reference(_Model):
    """`*_reference` objects: services, users, teams, escalation policies, priorities, incidents."""

    id: str = Field(min_length=1)
    type: str | None = None
    summary: str | None = None
    html_url: str | None = None


class Agent(_Model):
    """Who or what initiated the event: a user, a service (integration), or absent."""

    id: str | None = None
    type: str | None = None
    summary: str | None = None


class ResolveReason(_Model):
    """Set when an incident was resolved by merging it into another (`merge_resolve_reason`)."""

    type: str
    incident: Reference | None = None


class Incident(_Model):
    type: Literal["incident"] = "incident"
    id: str = Field(min_length=1)
    number: int
    title: str
    # PagerDuty has three statuses today; a fourth must not make us drop its webhooks.
    status: str = Field(min_length=1)
    incident_key: str | None = None
    html_url: str | None = None
    service: Reference | None = None
    assignees: list[Reference] = Field(default_factory=list)
    escalation_policy: Reference | None = None
    teams: list[Reference] = Field(default_factory=list)
    priority: Reference | None = None
    urgency: str | None = None
    resolve_reason: ResolveReason | None = None


class IncidentNote(_Model):
    type: Literal["incident_note"] = "incident_note"
    id: str = Field(min_length=1)
    incident: Reference
    content: str
    trimmed: bool = False


class IncidentStatusUpdate(_Model):
    type: Literal["incident_status_update"] = "incident_status_update"
    id: str = Field(min_length=1)
    incident: Reference
    message: str
    trimmed: bool = False


class IncidentResponder(_Model):
    """A responder request: `user` or `escalation_policy` is the responder asked to help."""

    type: Literal["incident_responder"] = "incident_responder"
    incident: Reference
    user: Reference | None = None
    escalation_policy: Reference | None = None
    message: str | None = None
    state: str | None = None


D = TypeVar("D", bound=BaseModel)


class Event(_Model, Generic[D]):
    id: str | None = None  # absent only in hand-made payloads; the X-Webhook-Id header then dedupes
    event_type: str = Field(min_length=1)
    resource_type: str | None = None
    occurred_at: str
    agent: Agent | None = None
    data: D


class Envelope(_Model, Generic[D]):
    event: Event[D]


class _Named(_Model):
    event_type: str = Field(min_length=1)


class NamedEnvelope(_Model):
    """Just enough of the envelope to route a delivery by its event type."""

    event: _Named
