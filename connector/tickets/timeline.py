"""A ticket's timeline: typed records, written and read through this module only.

Each record type owns its row `kind` and the shape of its JSON `data`; `write()` stores a record and
`decode()` reads one back, so a module that consumes the timeline (the SLA engine's history, the
escalation engine) gets the same dataclass the ticket code wrote — never a dict read by key names,
never a parsed summary. The `summary` column is prose for people and nothing reads it.

Row kinds:
- `created`, `updated`, `linked`, `commented`, `comment_updated`, `comment_deleted`: `Kind` members,
  one record type each (comments share `CommentPosted`);
- `sla_warning`, `sla_breach`, ...: `SlaRecorded`, written by the SLA engine's live clocks;
- `escalation`, `outbound`, `followup`: `Escalated` (a decision of the escalation engine),
  `OutboundRecorded` (what became of a page, notification or linked issue), `FollowupRecorded`;
- anything else: an `ObjectEvent`, kind `<object type>_<event kind>` (`issue_updated`,
  `ticket_merged`; incident events keep their own names: `incident_triggered`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.model import EventKind, LinkRole
from connector.store.tables import TimelineEntry
from connector.tickets import locks
from connector.tickets.ahead import keys_ahead


class Kind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    LINKED = "linked"
    COMMENTED = "commented"
    COMMENT_UPDATED = "comment_updated"
    COMMENT_DELETED = "comment_deleted"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    SLA_MAXIMUM_BREACH = "sla_maximum_breach"
    SLA_OVERDUE = "sla_overdue"
    SLA_MET = "sla_met"
    SLA_RETARGETED = "sla_retargeted"
    SLA_CANCELLED = "sla_cancelled"
    SLA_REOPENED = "sla_reopened"
    ESCALATION = "escalation"
    OUTBOUND = "outbound"
    FOLLOWUP = "followup"
    SYNC_HELD = "sync_held"


COMMENT_KINDS = frozenset({Kind.COMMENTED, Kind.COMMENT_UPDATED, Kind.COMMENT_DELETED})
SLA_KINDS = frozenset(
    {
        Kind.SLA_WARNING,
        Kind.SLA_BREACH,
        Kind.SLA_MAXIMUM_BREACH,
        Kind.SLA_OVERDUE,
        Kind.SLA_MET,
        Kind.SLA_RETARGETED,
        Kind.SLA_CANCELLED,
        Kind.SLA_REOPENED,
    }
)


@dataclass(frozen=True)
class TicketCreated:
    """The ticket was opened; `fields` are its SLA-relevant values at that instant (`SLA_FIELDS`)."""

    fields: Mapping[str, Any]
    url: str | None = None


@dataclass(frozen=True)
class FieldsChanged:
    """Fields of the ticket changed: name → (old, new); `event` is what the origin object reported."""

    changes: Mapping[str, tuple[Any, Any]]
    event: EventKind


@dataclass(frozen=True)
class Linked:
    """A vendor object joined the ticket."""

    role: LinkRole
    url: str | None = None


@dataclass(frozen=True)
class CommentPosted:
    change: Kind  # COMMENTED, COMMENT_UPDATED or COMMENT_DELETED
    comment_id: str
    public: bool
    body: str
    author_is_agent: bool | None
    link_role: LinkRole


@dataclass(frozen=True)
class ObjectEvent:
    """Something happened to a linked vendor object that changed no ticket field: any event of a
    Jira issue or PagerDuty incident linked to the ticket, or an origin event that was stale (a newer
    one had already set its fields) or changed nothing."""

    event: EventKind
    object_type: str
    role: LinkRole
    fields: Mapping[str, Any] = field(default_factory=dict)  # what the mapping read (not applied)
    detail: Mapping[str, Any] = field(default_factory=dict)  # the adapter's facts (old → new, ...)
    stale_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlaRecorded:
    """An SLA warning, breach, maximum breach, met, retarget or cancellation (see `sla_fires`)."""

    kind: Kind  # one of SLA_KINDS
    metric: str
    cycle: int
    label: str


@dataclass(frozen=True)
class Escalated:
    """A decision of the escalation engine (see `escalations`): the rule, the action, its target, what it
    changed on the ticket (level, owner, category: the SLA clocks read these) and why."""

    escalation_id: int
    trigger_id: str
    event: str
    action: str
    target: str | None
    outcome: str
    reason: str
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundRecorded:
    """What became of an outbound intent (see `outbox`): sent, not sent (with the reason) or dead."""

    outbox_id: int
    intent: str
    channel: str
    target: str | None
    status: str
    reference: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class FollowupRecorded:
    """An owed follow-up or post-mortem became overdue, or was done."""

    followup_id: int
    followup: str  # notify | postmortem
    change: str  # overdue | done | due
    target: str | None = None
    due_at: str | None = None


@dataclass(frozen=True)
class SyncHeld:
    """A change one tool reported that sync did not carry to the other: the field, whose word it
    takes (`owner`: the mapping's `status_owner`, or the later write by event time) and why."""

    field: str
    value: str | None
    source: str  # the tool that reported it: jira, zendesk
    owner: str
    reason: str


Record = (
    TicketCreated
    | FieldsChanged
    | Linked
    | CommentPosted
    | ObjectEvent
    | SlaRecorded
    | Escalated
    | OutboundRecorded
    | FollowupRecorded
    | SyncHeld
)


def object_kind(object_type: str, event: EventKind) -> str:
    """The row kind of an ObjectEvent: `issue_updated`, `ticket_merged`, `incident_triggered`."""
    return event.value if event.value.startswith(f"{object_type}_") else f"{object_type}_{event.value}"


def kind_of(record: Record) -> str:
    match record:
        case TicketCreated():
            return Kind.CREATED
        case FieldsChanged():
            return Kind.UPDATED
        case Linked():
            return Kind.LINKED
        case CommentPosted():
            return record.change
        case ObjectEvent():
            return object_kind(record.object_type, record.event)
        case SlaRecorded():
            return record.kind
        case Escalated():
            return Kind.ESCALATION
        case OutboundRecorded():
            return Kind.OUTBOUND
        case FollowupRecorded():
            return Kind.FOLLOWUP
        case SyncHeld():
            return Kind.SYNC_HELD
    raise TypeError(f"not a timeline record: {record!r}")


def encode(record: Record) -> dict[str, Any]:
    """The record's `data` column."""
    match record:
        case TicketCreated():
            return {"url": record.url, "fields": _jsonable(record.fields)}
        case FieldsChanged():
            return {
                "changes": {k: [_jsonable(a), _jsonable(b)] for k, (a, b) in record.changes.items()},
                "event": record.event.value,
            }
        case Linked():
            return {"url": record.url, "role": record.role.value}
        case CommentPosted():
            return {
                "comment_id": record.comment_id,
                "public": record.public,
                "body": record.body,
                "author_is_agent": record.author_is_agent,
                "link_role": record.link_role.value,
            }
        case ObjectEvent():
            return {
                "event": record.event.value,
                "object_type": record.object_type,
                "role": record.role.value,
                "fields": _jsonable(record.fields),
                "detail": _jsonable(record.detail),
                "stale_fields": list(record.stale_fields),
            }
        case SlaRecorded():
            return {"metric": record.metric, "cycle": record.cycle, "label": record.label}
        case Escalated():
            return {
                "escalation_id": record.escalation_id,
                "trigger_id": record.trigger_id,
                "event": record.event,
                "action": record.action,
                "target": record.target,
                "outcome": record.outcome,
                "reason": record.reason,
                "changes": {k: [_jsonable(a), _jsonable(b)] for k, (a, b) in record.changes.items()},
            }
        case OutboundRecorded() | FollowupRecorded() | SyncHeld():
            return asdict(record)
    raise TypeError(f"not a timeline record: {record!r}")


def decode(kind: str, data: Mapping[str, Any] | None) -> Record:
    """The record a row holds. Rows written before this module's layout (linked-object events stored
    under the plain event kind, their facts at the top level) are read by their shape."""
    data = data or {}
    if kind == Kind.CREATED and "url" in data:
        return TicketCreated(fields=dict(data.get("fields") or {}), url=data.get("url"))
    if (
        kind == Kind.UPDATED
        and isinstance(data.get("changes"), Mapping)
        and "event" in data
        and "fields" not in data
        and "stale_fields" not in data
    ):
        return FieldsChanged(
            changes={k: (v[0], v[1]) for k, v in data["changes"].items()},
            event=_event_kind(data["event"], EventKind.UPDATED),
        )
    if kind == Kind.LINKED:
        return Linked(role=_role(data.get("role")), url=data.get("url"))
    if kind in COMMENT_KINDS:
        return CommentPosted(
            change=Kind(kind),
            comment_id=str(data.get("comment_id", "")),
            public=bool(data.get("public")),
            body=str(data.get("body") or ""),
            author_is_agent=data.get("author_is_agent"),
            link_role=_role(data.get("link_role")),
        )
    if kind == Kind.ESCALATION:
        return Escalated(
            escalation_id=int(data.get("escalation_id") or 0),
            trigger_id=str(data.get("trigger_id") or ""),
            event=str(data.get("event") or ""),
            action=str(data.get("action") or ""),
            target=data.get("target"),
            outcome=str(data.get("outcome") or ""),
            reason=str(data.get("reason") or ""),
            changes={k: (v[0], v[1]) for k, v in (data.get("changes") or {}).items()},
        )
    if kind == Kind.OUTBOUND:
        return OutboundRecorded(
            outbox_id=int(data.get("outbox_id") or 0),
            intent=str(data.get("intent") or ""),
            channel=str(data.get("channel") or ""),
            target=data.get("target"),
            status=str(data.get("status") or ""),
            reference=data.get("reference"),
            reason=data.get("reason"),
        )
    if kind == Kind.FOLLOWUP:
        return FollowupRecorded(
            followup_id=int(data.get("followup_id") or 0),
            followup=str(data.get("followup") or ""),
            change=str(data.get("change") or ""),
            target=data.get("target"),
            due_at=data.get("due_at"),
        )
    if kind == Kind.SYNC_HELD:
        return SyncHeld(
            field=str(data.get("field") or ""),
            value=data.get("value"),
            source=str(data.get("source") or ""),
            owner=str(data.get("owner") or ""),
            reason=str(data.get("reason") or ""),
        )
    if kind in SLA_KINDS:
        return SlaRecorded(
            kind=Kind(kind),
            metric=str(data.get("metric")),
            cycle=int(data.get("cycle") or 1),
            label=str(data.get("label")),
        )
    if "object_type" in data and "event" in data:
        return ObjectEvent(
            event=_event_kind(data["event"], EventKind.UPDATED),
            object_type=data["object_type"],
            role=_role(data.get("role")),
            fields=dict(data.get("fields") or {}),
            detail=dict(data.get("detail") or {}),
            stale_fields=tuple(data.get("stale_fields") or ()),
        )
    # The earlier layout: kind = the event kind, facts beside "fields" and "stale_fields".
    known = {"fields", "stale_fields"}
    return ObjectEvent(
        event=_event_kind(kind, EventKind.UPDATED),
        object_type="",
        role=LinkRole.RELATED,
        fields=dict(data.get("fields") or {}),
        detail={k: v for k, v in data.items() if k not in known},
        stale_fields=tuple(data.get("stale_fields") or ()),
    )


def write(
    s: Session,
    *,
    ticket_id: int,
    at: datetime,
    record: Record,
    source: str,
    summary: str,
    delivery_id: int | None = None,
    actor: str | None = None,
    recorded_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Add one record to a ticket's timeline (in the caller's transaction). With a `dedupe_key`, a
    fact already recorded under that key is not recorded again: returns False."""
    if dedupe_key is not None and seen(s, ticket_id=ticket_id, dedupe_key=dedupe_key):
        return False
    entry = TimelineEntry(
        ticket_id=ticket_id,
        at=at,
        kind=kind_of(record),
        source=source,
        delivery_id=delivery_id,
        actor=actor,
        summary=summary,
        data=encode(record),
        dedupe_key=dedupe_key[:255] if dedupe_key else None,
    )
    if recorded_at is not None:
        entry.recorded_at = recorded_at
    s.add(entry)
    ahead = keys_ahead(s)
    if ahead is not None and entry.dedupe_key is not None:
        ahead[0].add((ticket_id, entry.dedupe_key))
        ahead[1].add((ticket_id, entry.dedupe_key))
    return True


def seen(s: Session, *, ticket_id: int, dedupe_key: str) -> bool:
    """Is a fact with this key on the ticket's timeline already? (A concurrent writer of the same key
    fails on the unique constraint instead, and its job retries and finds it.)"""
    ahead = keys_ahead(s)
    key = (ticket_id, dedupe_key[:255])
    if ahead is not None and (key in ahead[0] or locks.created_here(s, ticket_id)):
        return key in ahead[1]
    s.flush()
    found = s.scalar(
        select(TimelineEntry.id).where(
            TimelineEntry.ticket_id == ticket_id, TimelineEntry.dedupe_key == dedupe_key[:255]
        )
    )
    return found is not None


def kinds_of(*types: type) -> list[str]:
    """The row kinds that can hold records of these types (ObjectEvents excepted: pass their kinds)."""
    table: dict[type, tuple[str, ...]] = {
        TicketCreated: (Kind.CREATED,),
        FieldsChanged: (Kind.UPDATED,),
        Linked: (Kind.LINKED,),
        CommentPosted: tuple(COMMENT_KINDS),
        SlaRecorded: tuple(SLA_KINDS),
        Escalated: (Kind.ESCALATION,),
        OutboundRecorded: (Kind.OUTBOUND,),
        FollowupRecorded: (Kind.FOLLOWUP,),
    }
    return [str(k) for t in types for k in table[t]]


def _role(value: Any) -> LinkRole:
    try:
        return LinkRole(value) if value is not None else LinkRole.ORIGIN
    except ValueError:
        return LinkRole.RELATED


def _event_kind(value: Any, fallback: EventKind) -> EventKind:
    try:
        return EventKind(value)
    except ValueError:
        return fallback


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value
