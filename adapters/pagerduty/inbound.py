"""PagerDuty Webhooks v3 → canonical events. Pure: no I/O.

Only v3 (webhook subscriptions) is read. A v1/v2 webhook extension's body (`{"messages": [...]}`)
is refused with a PayloadError that says how to create a v3 subscription instead.

Shapes (what `InboundEvent.shape` names, and the sections of the PagerDuty mapping) follow
PagerDuty's own `event.data.type`: `incident`, `incident_note`, `incident_status_update`,
`incident_responder`. The mapping reads the whole payload, so its paths start at `event.`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from adapters.pagerduty import signature
from adapters.pagerduty.payloads import (
    Envelope,
    Incident,
    IncidentNote,
    IncidentResponder,
    IncidentStatusUpdate,
    NamedEnvelope,
    Reference,
)
from connector.errors import PayloadError
from connector.inbound import HandlerTable, Headers, checked, dispatch, header, parse_time
from connector.model import Channel, Comment, EventKind, ExternalRef, InboundEvent, Parsed

VENDOR = "pagerduty"
DELIVERY_ID_HEADER = "X-Webhook-Id"
#: Why a v1/v2 webhook body is refused, and what to do instead.
LEGACY_WEBHOOK = (
    "PagerDuty v1/v2 webhooks are not supported (this body is a v1/v2 'messages' array). Create a "
    "v3 webhook subscription instead: in PagerDuty, Integrations → Generic Webhooks (v3) → New "
    "Webhook, with this endpoint URL; then remove the old v1/v2 webhook extension"
)
#: The connector pages with Events API dedup keys `hdc-ticket-<ticket id>/<target>` (one alert per
#: ticket and paged target); an incident opened by such a page carries the key as its `incident_key`,
#: which leads it back to the ticket. (Keys without the target, `hdc-ticket-<id>`, are read too.)
DEDUP_KEY_PREFIX = "hdc-ticket-"
_TICKET_KEY = re.compile(re.escape(DEDUP_KEY_PREFIX) + r"([A-Za-z0-9][A-Za-z0-9_-]{0,127})(?:/[A-Za-z0-9_.-]{1,64})?")

D = TypeVar("D", bound=BaseModel)
IncidentDetail = Callable[[Incident], dict[str, Any]]


def ticket_hint_from_key(incident_key: str | None) -> str | None:
    """The connector ticket id in an incident key `hdc-ticket-<id>[/<target>]`, else None."""
    if not incident_key:
        return None
    match = _TICKET_KEY.fullmatch(incident_key)
    return match.group(1) if match else None


def _compact(**facts: Any) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if v is not None and v != []}


def _names(refs: Sequence[Reference]) -> list[str]:
    return [r.summary or r.id for r in refs]


# --- timeline details, one per incident event type -------------------------------------------


def _triggered(inc: Incident) -> dict[str, Any]:
    return _compact(service=inc.service.summary if inc.service else None, urgency=inc.urgency)


def _status(inc: Incident) -> dict[str, Any]:
    return {"field": "status", "to": inc.status}


def _resolved(inc: Incident) -> dict[str, Any]:
    reason = inc.resolve_reason
    return _compact(
        field="status",
        to=inc.status,
        resolve_reason=reason.type if reason else None,
        merged_into=reason.incident.id if reason and reason.incident else None,
    )


def _assignees(inc: Incident) -> dict[str, Any]:
    return {"field": "assignee", "to": _names(inc.assignees)}


def _escalated(inc: Incident) -> dict[str, Any]:
    return _compact(
        field="assignee",
        to=_names(inc.assignees),
        escalation_policy=inc.escalation_policy.summary if inc.escalation_policy else None,
    )


def _delegated(inc: Incident) -> dict[str, Any]:
    policy = inc.escalation_policy
    return _compact(field="escalation_policy", to=(policy.summary or policy.id) if policy else None)


def _service(inc: Incident) -> dict[str, Any]:
    """The incident moved to another service; its escalation policy and priority may change with it."""
    service, policy = inc.service, inc.escalation_policy
    return _compact(
        field="service",
        to=(service.summary or service.id) if service else None,
        service_id=service.id if service else None,
        escalation_policy=(policy.summary or policy.id) if policy else None,
        priority=inc.priority.summary if inc.priority else None,
    )


def _priority(inc: Incident) -> dict[str, Any]:
    # `to` is None when the priority was cleared: keep the key so the timeline says so.
    return {"field": "priority", "to": inc.priority.summary if inc.priority else None, "urgency": inc.urgency}


_INCIDENT_EVENTS: dict[str, tuple[EventKind, IncidentDetail]] = {
    "incident.triggered": (EventKind.INCIDENT_TRIGGERED, _triggered),
    "incident.acknowledged": (EventKind.INCIDENT_ACKNOWLEDGED, _status),
    "incident.unacknowledged": (EventKind.INCIDENT_UNACKNOWLEDGED, _status),
    "incident.resolved": (EventKind.INCIDENT_RESOLVED, _resolved),
    "incident.reopened": (EventKind.INCIDENT_REOPENED, _status),
    "incident.escalated": (EventKind.INCIDENT_ESCALATED, _escalated),
    "incident.reassigned": (EventKind.INCIDENT_REASSIGNED, _assignees),
    "incident.delegated": (EventKind.INCIDENT_REASSIGNED, _delegated),
    "incident.priority_updated": (EventKind.INCIDENT_PRIORITY_CHANGED, _priority),
    # Moved to another service: handed to another team, like a reassignment or a delegation.
    "incident.service_updated": (EventKind.INCIDENT_REASSIGNED, _service),
}


# --- handlers ----------------------------------------------------------------------------------


# Parametrised once: pydantic builds a model class per subscription.
_INCIDENT = Envelope[Incident]
_NOTE = Envelope[IncidentNote]
_STATUS_UPDATE = Envelope[IncidentStatusUpdate]
_RESPONDER = Envelope[IncidentResponder]


def _envelope(model: type[Envelope[D]], payload: Any, event_type: str) -> Envelope[D]:
    return checked(model, payload, vendor=VENDOR, event_type=event_type)


def _event(
    env: Envelope[Any],
    payload: Mapping[str, Any],
    *,
    event_type: str,
    kind: EventKind,
    obj: ExternalRef,
    creates_ticket: bool,
    **extra: Any,
) -> InboundEvent:
    agent = env.event.agent
    return InboundEvent(
        vendor=VENDOR,
        event_type=event_type,
        kind=kind,
        shape=env.event.data.type,
        object=obj,
        occurred_at=parse_time(env.event.occurred_at, vendor=VENDOR, path="event.occurred_at"),
        document=payload,
        actor=agent.summary if agent and agent.summary else None,
        creates_ticket=creates_ticket,
        channel=Channel.ALERT,
        **extra,
    )


def _referenced(ref: Reference) -> ExternalRef:
    return ExternalRef(VENDOR, "incident", ref.id, url=ref.html_url)


def _on_incident(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    kind, detail = _INCIDENT_EVENTS[event_type]
    env = _envelope(_INCIDENT, payload, event_type)
    inc = env.event.data
    obj = ExternalRef(VENDOR, "incident", inc.id, key=str(inc.number), url=inc.html_url)
    return (
        _event(
            env,
            payload,
            event_type=event_type,
            kind=kind,
            obj=obj,
            creates_ticket=True,
            ticket_hint=ticket_hint_from_key(inc.incident_key),
            detail=detail(inc),
        ),
    )


def _on_annotated(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_NOTE, payload, event_type)
    note, agent = env.event.data, env.event.agent
    comment = Comment(
        external_id=note.id,
        body=note.content,
        public=False,  # notes are visible to responders only
        author_id=agent.id if agent else None,
        author_name=agent.summary if agent else None,
        author_is_agent=True if agent and agent.type == "user_reference" else None,
    )
    return (
        _event(
            env,
            payload,
            event_type=event_type,
            kind=EventKind.INCIDENT_ANNOTATED,
            obj=_referenced(note.incident),
            creates_ticket=False,
            comment=comment,
            detail=_compact(trimmed=True if note.trimmed else None),
        ),
    )


def _on_status_update(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_STATUS_UPDATE, payload, event_type)
    update = env.event.data
    return (
        _event(
            env,
            payload,
            event_type=event_type,
            kind=EventKind.INCIDENT_STATUS_UPDATE,
            obj=_referenced(update.incident),
            creates_ticket=False,
            detail=_compact(
                status_update_id=update.id, message=update.message, trimmed=True if update.trimmed else None
            ),
        ),
    )


def _on_responder_added(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_RESPONDER, payload, event_type)
    req = env.event.data
    return (
        _event(
            env,
            payload,
            event_type=event_type,
            kind=EventKind.INCIDENT_RESPONDER_ADDED,
            obj=_referenced(req.incident),
            creates_ticket=False,
            detail=_compact(
                responder=req.user.summary if req.user else None,
                escalation_policy=req.escalation_policy.summary if req.escalation_policy else None,
                state=req.state,
                message=req.message,
            ),
        ),
    )


HANDLERS: HandlerTable = MappingProxyType(
    {
        **dict.fromkeys(_INCIDENT_EVENTS, _on_incident),
        "incident.annotated": _on_annotated,
        "incident.status_update_published": _on_status_update,
        "incident.responder.added": _on_responder_added,
    }
)


class PagerDutyAdapter:
    """PagerDuty Webhooks v3. `incident.responder.replied` and `service.*` are ignored."""

    vendor: ClassVar[str] = VENDOR
    handlers: ClassVar[HandlerTable] = HANDLERS

    def sign(self, *, body: bytes, secret: str, now: datetime) -> dict[str, str]:
        return signature.sign(body=body, secret=secret, now=now)

    def signed_content(self, *, headers: Headers, body: bytes) -> bytes:
        return body  # the signature covers the body alone

    def verify(self, *, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
        signature.verify(headers=headers, body=body, secrets=secrets, now=now)

    def delivery_key(self, *, headers: Headers, payload: Any) -> str | None:
        event = payload.get("event") if isinstance(payload, Mapping) else None
        event_id = event.get("id") if isinstance(event, Mapping) else None
        if isinstance(event_id, str) and event_id:
            return event_id
        return header(headers, DELIVERY_ID_HEADER) or None

    def event_type(self, *, headers: Headers, payload: Any) -> str:
        if not isinstance(payload, Mapping):
            raise PayloadError("a PagerDuty webhook body is a JSON object", vendor=VENDOR)
        if "event" not in payload and isinstance(payload.get("messages"), list):
            raise PayloadError(LEGACY_WEBHOOK, path="messages", vendor=VENDOR)
        return checked(NamedEnvelope, payload, vendor=VENDOR).event.event_type

    def parse(self, *, headers: Headers, payload: Any) -> Parsed:
        return dispatch(self, headers=headers, payload=payload)
