"""Zendesk inbound: deliveries → canonical events. Pure: no I/O.

Two kinds of delivery reach the Zendesk receiver:

- **Event webhooks** (a webhook subscribed to `zen:event-type:ticket.*` or
  `zen:event-type:messaging_ticket.*`): an envelope `{type, id, time, subject, detail, event}`.
  Event type = `type`; shape `event`; dedupe key = the envelope `id`; time = the envelope `time`
  (nanosecond ISO 8601). Ticket events carry the ticket in `detail`; messaging events only its
  `id` (the message, its author and the author's role are in `event`).
- **Trigger/automation webhooks**: a flat body the admin writes from placeholders (the recommended
  body is at the top of mappings/defaults/zendesk.yaml), recognised by a `ticket_id` key and no
  `zen:event-type:` type. Event type = `trigger` for every such body; the body's optional `event`
  key says what happened (see TRIGGER_EVENTS) and becomes the event kind. Shape `trigger`; dedupe
  key = the `X-Zendesk-Webhook-Invocation-Id` header (one per invocation, kept across its retry
  attempts; `X-Zendesk-Webhook-Id` names the webhook, not the delivery), else None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from adapters.zendesk import signature
from adapters.zendesk.payloads import (
    Author,
    Change,
    CommentAdded,
    CommentChanged,
    CustomFieldChanged,
    EventEnvelope,
    Merged,
    MessageAdded,
    MessagingActor,
    TagsChanged,
    TicketEnvelope,
    TriggerBody,
)
from connector.errors import PayloadError
from connector.inbound import Handler, HandlerTable, Headers, checked, dispatch, header, parse_time
from connector.model import Channel, Comment, EventKind, ExternalRef, InboundEvent, Parsed

VENDOR = "zendesk"
EVENT_PREFIX = "zen:event-type:"
TICKET = "zen:event-type:ticket."
MESSAGING = "zen:event-type:messaging_ticket."
TRIGGER = "trigger"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

#: `via.channel` of event webhooks and `{{ticket.via}}` of trigger bodies ("Web Form", "Mail"),
#: normalised to snake case → the channel of the ticket. Anything else is Channel.OTHER.
CHANNELS: Mapping[str, Channel] = MappingProxyType(
    {
        "web": Channel.WEB,
        "web_form": Channel.WEB,
        "web_widget": Channel.WEB,
        "help_center": Channel.WEB,
        "mobile": Channel.WEB,
        "mobile_sdk": Channel.WEB,
        "email": Channel.EMAIL,
        "mail": Channel.EMAIL,
        "chat": Channel.CHAT,
        "messaging": Channel.CHAT,
        "native_messaging": Channel.CHAT,
        "api": Channel.API,
        "web_service": Channel.API,
        "voice": Channel.PHONE,
        "phone": Channel.PHONE,
        "phone_call_inbound": Channel.PHONE,
        "phone_call_outbound": Channel.PHONE,
        "voicemail": Channel.PHONE,
    }
)

#: The trigger body's `event` value → event kind. An absent or empty `event` means "updated".
TRIGGER_EVENTS: Mapping[str, EventKind] = MappingProxyType(
    {
        "created": EventKind.CREATED,
        "updated": EventKind.UPDATED,
        "commented": EventKind.COMMENTED,
        "status_changed": EventKind.STATUS_CHANGED,
        "priority_changed": EventKind.PRIORITY_CHANGED,
        "assignment_changed": EventKind.ASSIGNMENT_CHANGED,
        "deleted": EventKind.DELETED,
    }
)

#: A messaging author's `actor.type` → is the author an agent. Messages of a trigger or of the
#: system (bots such as Answer Bot) are automated: not an agent's reply. Another type: unknown (None).
AGENT_BY_ACTOR_TYPE: Mapping[str, bool] = MappingProxyType(
    {"agent": True, "end_user": False, "trigger": False, "system": False}
)

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})

Env = TypeVar("Env", bound=TicketEnvelope)


def channel_of(raw: str | None) -> Channel | None:
    if raw is None or not raw.strip():
        return None
    return CHANNELS.get(raw.strip().lower().replace(" ", "_").replace("-", "_"), Channel.OTHER)


# --- event webhooks -----------------------------------------------------------------------------


# Parametrised once: pydantic builds a new model class per subscription otherwise.
_CHANGE_ENVELOPE = EventEnvelope[Change]
_COMMENTADDED_ENVELOPE = EventEnvelope[CommentAdded]
_TAGSCHANGED_ENVELOPE = EventEnvelope[TagsChanged]
_CUSTOMFIELDCHANGED_ENVELOPE = EventEnvelope[CustomFieldChanged]
_MERGED_ENVELOPE = EventEnvelope[Merged]
_COMMENTCHANGED_ENVELOPE = EventEnvelope[CommentChanged]
_MESSAGEADDED_ENVELOPE = EventEnvelope[MessageAdded]


def _envelope(model: type[Env], event_type: str, payload: Any) -> Env:
    env = checked(model, payload, vendor=VENDOR, event_type=event_type)
    subject_id = env.subject.rpartition(":")[2]
    if subject_id != env.detail.id:
        raise PayloadError(
            f"names ticket {subject_id} but detail.id is {env.detail.id}",
            path="subject",
            vendor=VENDOR,
            event_type=env.type,
        )
    return env


def _ticket_event(
    payload: Mapping[str, Any],
    env: TicketEnvelope,
    *,
    kind: EventKind,
    creates_ticket: bool = True,
    comment: Comment | None = None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
    channel: Channel | None = None,
) -> InboundEvent:
    """`actor` and `channel` default to the ticket's (`detail.actor_id`, `detail.via.channel`)."""
    via = env.detail.via
    try:
        occurred_at = parse_time(env.time, vendor=VENDOR, path="time")
    except PayloadError as exc:
        raise PayloadError(
            f"not an ISO 8601 time: {env.time!r}", path="time", vendor=VENDOR, event_type=env.type
        ) from exc
    return InboundEvent(
        vendor=VENDOR,
        event_type=env.type,
        kind=kind,
        shape="event",
        object=ExternalRef(vendor=VENDOR, object_type="ticket", external_id=env.detail.id),
        occurred_at=occurred_at,
        document=payload,
        comment=comment,
        actor=actor if actor is not None else env.detail.actor_id,
        creates_ticket=creates_ticket,
        channel=channel if channel is not None else channel_of(via.channel if via else None),
        detail=detail or {},
    )


def _lifecycle(kind: EventKind, *, creates_ticket: bool, detail: Mapping[str, Any] | None = None) -> Handler:
    """created, soft_deleted, undeleted, marked_as_spam, permanently_deleted: the ticket in `detail`
    is all there is to read."""

    def handle(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
        env = _envelope(TicketEnvelope, event_type, payload)
        facts = dict(detail) if detail else None  # each event its own copy
        return (_ticket_event(payload, env, kind=kind, creates_ticket=creates_ticket, detail=facts),)

    return handle


def _field_change(
    field: str, kind: EventKind = EventKind.UPDATED, *, enum: bool = False, values: bool = True
) -> Handler:
    """`{current, previous}` events; `enum` values are lower-cased (Zendesk sends OPEN, Open...)."""

    def handle(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
        env = _envelope(_CHANGE_ENVELOPE, event_type, payload)
        detail: dict[str, Any] = {"field": field}
        if values:
            prev, cur = env.event.previous, env.event.current
            detail["from"] = prev.lower() if enum and prev else prev
            detail["to"] = cur.lower() if enum and cur else cur
        return (_ticket_event(payload, env, kind=kind, detail=detail),)

    return handle


def _on_comment_added(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_COMMENTADDED_ENVELOPE, event_type, payload)
    body = env.event.comment
    author = body.author or Author()
    comment = Comment(
        external_id=body.id,
        body=body.body,
        public=body.is_public,
        author_id=author.id,
        author_name=author.name,
        author_is_agent=author.is_staff,
        customer_visible=body.is_public,
    )
    return (_ticket_event(payload, env, kind=EventKind.COMMENTED, comment=comment),)


def _comment_changed(change: str) -> Handler:
    """comment_made_private, comment_redacted: an existing comment changed (COMMENT_UPDATED).

    A comment made private is internal from now on. A redaction keeps the comment's visibility,
    which counts as public only when the payload says `is_public: true`.
    """

    def handle(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
        env = _envelope(_COMMENTCHANGED_ENVELOPE, event_type, payload)
        ref = env.event.comment
        author = ref.author or Author()
        comment = Comment(
            external_id=ref.id,
            body=ref.body or "",
            public=False if change == "made_private" else ref.is_public is True,
            author_id=author.id,
            author_name=author.name,
            author_is_agent=author.is_staff,
        )
        detail = {"change": change}
        return (_ticket_event(payload, env, kind=EventKind.COMMENT_UPDATED, comment=comment, detail=detail),)

    return handle


def _on_message_added(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    """A message on a messaging (chat) ticket, from the customer, an agent, a trigger or a bot:
    a public comment whose author's role is `event.actor.type`."""
    env = _envelope(_MESSAGEADDED_ENVELOPE, event_type, payload)
    event = env.event
    actor = event.actor or MessagingActor()
    role = (actor.type or "").strip().lower() or None
    comment = Comment(
        external_id=event.message.id,
        body=event.message.body,
        public=True,  # messaging conversations are with the customer; internal notes are comments
        author_id=actor.id,
        author_name=actor.name,
        author_is_agent=AGENT_BY_ACTOR_TYPE.get(role) if role else None,
    )
    detail = {k: v for k, v in {"author_type": role, "conversation_id": event.conversation_id}.items() if v}
    return (
        _ticket_event(
            payload,
            env,
            kind=EventKind.COMMENTED,
            comment=comment,
            detail=detail,
            actor=actor.id,
            channel=Channel.CHAT,
        ),
    )


def _on_tags_changed(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_TAGSCHANGED_ENVELOPE, event_type, payload)
    detail = {"field": "tags", "added": list(env.event.tags_added), "removed": list(env.event.tags_removed)}
    return (_ticket_event(payload, env, kind=EventKind.UPDATED, detail=detail),)


def _on_custom_field_changed(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_CUSTOMFIELDCHANGED_ENVELOPE, event_type, payload)
    event = env.event
    detail = {
        "field": "custom_field",
        "custom_field_id": event.custom_field.id,
        "title": event.custom_field.title,
        "from": event.previous,
        "to": event.current,
    }
    return (_ticket_event(payload, env, kind=EventKind.UPDATED, detail=detail),)


def _on_merged(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    env = _envelope(_MERGED_ENVELOPE, event_type, payload)
    detail = {"target_ticket_id": env.event.target_ticket_id}
    return (_ticket_event(payload, env, kind=EventKind.MERGED, creates_ticket=False, detail=detail),)


# --- trigger / automation webhooks --------------------------------------------------------------


def _trigger_time(body: TriggerBody, headers: Headers) -> datetime:
    """`updated_at` when it is ISO 8601 ({{ticket.updated_at_with_timestamp}}), else the signing time.

    `{{ticket.updated_at}}` renders human-formatted ("February 3, 2025"), which orders nothing.
    """
    signed_at = header(headers, signature.TIMESTAMP_HEADER)
    sources = (("updated_at", body.updated_at), (signature.TIMESTAMP_HEADER, signed_at))
    for path, raw in sources:
        if not raw or not raw.strip():
            continue
        try:
            return parse_time(raw, vendor=VENDOR, path=path)
        except PayloadError:
            continue  # not ISO 8601: the next source decides
    raise PayloadError(
        'no ISO 8601 event time: send "updated_at": "{{ticket.updated_at_with_timestamp}}" '
        f"or a signed webhook ({signature.TIMESTAMP_HEADER})",
        path="updated_at",
        vendor=VENDOR,
        event_type=TRIGGER,
    )


def _flag(raw: str | None, *, path: str) -> bool:
    """A rendered boolean placeholder. Absent means False: an unmarked comment is treated as private."""
    if raw is None or not raw.strip():
        return False
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise PayloadError(f"expected true or false, got {raw!r}", path=path, vendor=VENDOR, event_type=TRIGGER)


def _link(raw: str | None) -> str | None:
    """`{{ticket.link}}` renders without a scheme ("acme.zendesk.com/agent/tickets/42")."""
    if raw is None or not raw.strip():
        return None
    url = raw.strip()
    return url if "://" in url else f"https://{url.lstrip('/')}"


def _on_trigger(event_type: str, payload: Any, headers: Headers) -> tuple[InboundEvent, ...]:
    body = checked(TriggerBody, payload, vendor=VENDOR, event_type=TRIGGER)
    name = (body.event or "").strip().lower() or "updated"
    kind = TRIGGER_EVENTS.get(name)
    if kind is None:
        raise PayloadError(
            f"unknown trigger event {body.event!r} (one of: {', '.join(TRIGGER_EVENTS)})",
            path="event",
            vendor=VENDOR,
            event_type=TRIGGER,
        )
    ticket_id = body.ticket_id.strip()
    occurred_at = _trigger_time(body, headers)
    comment = None
    if kind is EventKind.COMMENTED:
        if not body.latest_comment or not body.latest_comment.strip():
            raise PayloadError(
                "a 'commented' trigger body needs the comment: \"{{ticket.latest_comment.value}}\"",
                path="latest_comment",
                vendor=VENDOR,
                event_type=TRIGGER,
            )
        comment = Comment(
            # Placeholders expose no comment id; ticket + time is stable across retries.
            external_id=f"{ticket_id}@{occurred_at.isoformat()}",
            body=body.latest_comment,
            public=_flag(body.latest_comment_public, path="latest_comment_public"),
            author_name=(body.latest_comment_author or "").strip() or None,
        )
    event = InboundEvent(
        vendor=VENDOR,
        event_type=TRIGGER,
        kind=kind,
        shape="trigger",
        object=ExternalRef(vendor=VENDOR, object_type="ticket", external_id=ticket_id, url=_link(body.url)),
        occurred_at=occurred_at,
        document=payload,
        comment=comment,
        creates_ticket=kind is not EventKind.DELETED,
        channel=channel_of(body.via),
        detail={"trigger_event": name},
    )
    return (event,)


HANDLERS: HandlerTable = MappingProxyType(
    {
        TICKET + "created": _lifecycle(EventKind.CREATED, creates_ticket=True),
        TICKET + "soft_deleted": _lifecycle(EventKind.DELETED, creates_ticket=False),
        TICKET + "marked_as_spam": _lifecycle(
            EventKind.DELETED, creates_ticket=False, detail={"reason": "marked_as_spam"}
        ),
        TICKET + "permanently_deleted": _lifecycle(
            EventKind.DELETED, creates_ticket=False, detail={"reason": "permanently_deleted"}
        ),
        # Restored from the deleted tickets: an update; the mapping reads its status from `detail`.
        TICKET + "undeleted": _lifecycle(EventKind.UPDATED, creates_ticket=True, detail={"restored": True}),
        TICKET + "status_changed": _field_change("status", EventKind.STATUS_CHANGED, enum=True),
        TICKET + "priority_changed": _field_change("priority", EventKind.PRIORITY_CHANGED, enum=True),
        TICKET + "agent_assignment_changed": _field_change("assignee_id", EventKind.ASSIGNMENT_CHANGED),
        TICKET + "group_assignment_changed": _field_change("group_id", EventKind.ASSIGNMENT_CHANGED),
        TICKET + "organization_changed": _field_change("organization_id"),
        TICKET + "requester_changed": _field_change("requester_id"),
        TICKET + "subject_changed": _field_change("subject"),
        TICKET + "description_changed": _field_change("description", values=False),
        TICKET + "type_changed": _field_change("type", enum=True),
        TICKET + "custom_status_changed": _field_change("custom_status"),
        # An incident linked to (or unlinked from) its problem ticket: `current` is the problem's id.
        TICKET + "problem_link_changed": _field_change("problem_id"),
        TICKET + "comment_added": _on_comment_added,
        TICKET + "comment_made_private": _comment_changed("made_private"),
        TICKET + "comment_redacted": _comment_changed("redacted"),
        MESSAGING + "message_added": _on_message_added,
        TICKET + "tags_changed": _on_tags_changed,
        TICKET + "custom_field_changed": _on_custom_field_changed,
        TICKET + "merged": _on_merged,
        TRIGGER: _on_trigger,
    }
)


class ZendeskAdapter:
    vendor: ClassVar[str] = VENDOR
    handlers: ClassVar[HandlerTable] = HANDLERS

    def __init__(self, *, tolerance_seconds: float):
        """`tolerance_seconds`: how far a signature's timestamp may be from now (replay protection)."""
        if tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must not be negative")
        self.tolerance_seconds = tolerance_seconds

    def sign(self, *, body: bytes, secret: str, now: datetime) -> dict[str, str]:
        return signature.sign(body=body, secret=secret, now=now)

    def signed_content(self, *, headers: Headers, body: bytes) -> bytes:
        timestamp = header(headers, signature.TIMESTAMP_HEADER)
        return signature.signed_message(timestamp, body) if timestamp else body

    def verify(self, *, headers: Headers, body: bytes, secrets: Sequence[str], now: datetime) -> None:
        signature.verify(headers=headers, body=body, secrets=secrets, now=now, tolerance_seconds=self.tolerance_seconds)

    def delivery_key(self, *, headers: Headers, payload: Any) -> str | None:
        if _is_event_envelope(payload):
            event_id = payload.get("id")
            if isinstance(event_id, str) and event_id.strip():
                return event_id.strip()
        return (header(headers, INVOCATION_HEADER) or "").strip() or None

    def event_type(self, *, headers: Headers, payload: Any) -> str:
        if not isinstance(payload, Mapping):
            raise PayloadError("expected a JSON object", vendor=VENDOR)
        if _is_event_envelope(payload):
            return str(payload["type"])
        if "ticket_id" in payload:
            return TRIGGER
        raise PayloadError(
            'names no event type: expected a Zendesk event ("type": "zen:event-type:...") '
            'or a trigger body with "ticket_id"',
            path="type",
            vendor=VENDOR,
        )

    def parse(self, *, headers: Headers, payload: Any) -> Parsed:
        return dispatch(self, headers=headers, payload=payload)


def _is_event_envelope(payload: Any) -> bool:
    return isinstance(payload, Mapping) and str(payload.get("type", "")).startswith(EVENT_PREFIX)


__all__ = ["AGENT_BY_ACTOR_TYPE", "CHANNELS", "HANDLERS", "TRIGGER", "TRIGGER_EVENTS", "ZendeskAdapter", "channel_of"]
