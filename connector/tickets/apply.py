"""Apply canonical events to stored tickets: idempotent, order-safe, every change on the timeline.

Order safety: each field remembers the time of the event that last wrote it (`field_versions`);
an event older than that does not overwrite it. Identity: a vendor object is linked to exactly
one ticket (`links`), so every event about it lands on the same ticket. The caller hands in the
field values a mapping read from the event (plain values; this module knows no mapping).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.model import (
    JOIN_ROLE,
    SLA_FIELDS,
    TERMINAL,
    Comment,
    EventKind,
    ExternalRef,
    InboundEvent,
    LinkRole,
    Status,
)
from connector.store.tables import Link, Ticket
from connector.tickets import locks, timeline
from connector.tickets.ahead import links_ahead, reserved_id
from connector.tickets.timeline import CommentPosted, FieldsChanged, Kind, Linked, ObjectEvent, TicketCreated

#: `locks.known` key: the links this transaction made for a ticket
LINKS_MADE = "links_made"
_COMMENT_CHANGE = {EventKind.COMMENT_UPDATED: Kind.COMMENT_UPDATED, EventKind.COMMENT_DELETED: Kind.COMMENT_DELETED}


@dataclass
class Applied:
    ticket_id: int | None
    created: bool = False
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)  # fields a newer event had already set
    skipped: str | None = None
    comment: Comment | None = None  # a new comment on the ticket's own conversation (its origin object)
    at: datetime | None = None  # when the event happened
    # what the event was about, for sync: the object, its instance and role, the kind of event, a new
    # comment on it (whatever its role) and, for a linked object, the fields its mapping read
    ref: ExternalRef | None = None
    instance: str | None = None
    role: LinkRole | None = None
    kind: EventKind | None = None
    posted: Comment | None = None
    linked_fields: dict[str, Any] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)  # the adapter's facts (old → new, ...)

    def describe(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        verb = "created" if self.created else "updated"
        changed = ", ".join(sorted(self.changes)) or "no field changes"
        return f"ticket {self.ticket_id} {verb} ({changed})"


def find_link(s: Session, *, vendor: str, instance: str, object_type: str, external_id: str) -> Link | None:
    return s.scalar(
        select(Link).where(
            Link.vendor == vendor,
            Link.instance == instance,
            Link.object_type == object_type,
            Link.external_id == external_id,
        )
    )


def apply_event(
    s: Session, *, event: InboundEvent, instance: str, fields: Mapping[str, Any], delivery_id: int | None
) -> Applied:
    """Apply one event and the field values mapped from it. Raises IntegrityError if a concurrent job
    linked the same object first; the caller retries the whole delivery, which then finds the link."""
    ref = event.object
    source = f"{ref.vendor}/{instance}"
    found = _ticket_and_link(s, event, instance, source, delivery_id, fields)
    if found is None:
        return Applied(None, skipped=f"{_label(event)} is not linked to any ticket")
    ticket, link, created, written = found
    role = LinkRole(link.role)

    def note(
        record: timeline.Record, summary: str, actor: str | None = event.actor, dedupe_key: str | None = None
    ) -> bool:
        return timeline.write(
            s,
            ticket_id=ticket.id,
            at=event.occurred_at,
            record=record,
            source=source,
            summary=summary,
            delivery_id=delivery_id,
            actor=actor,
            dedupe_key=dedupe_key,
        )

    result = Applied(
        ticket.id,
        created=created,
        at=event.occurred_at,
        ref=ref,
        instance=instance,
        role=role,
        kind=event.kind,
        detail=event.detail,
    )
    if role is not LinkRole.ORIGIN:
        result.linked_fields = dict(fields)
        _seen(link, event.occurred_at, fields.get("status"))
    if role is LinkRole.ORIGIN:
        # a new ticket has its fields already (written before its INSERT: no UPDATE right after it)
        result.changes, result.stale = written or _write_fields(ticket, fields, event.occurred_at)
        if event.kind is EventKind.DELETED and _newer(ticket, "status", event.occurred_at):
            old = ticket.status
            _set(ticket, "status", Status.CLOSED.value, event.occurred_at)
            if old != ticket.status:
                result.changes["status"] = (old, ticket.status)
        _stamp_status_times(ticket, result.changes, event.occurred_at)
        if created:  # the initial values are the SLA engine's starting point
            note(
                TicketCreated(fields={name: getattr(ticket, name) for name in SLA_FIELDS}, url=ref.url),
                f"ticket created from {_label(event)}",
            )
        elif result.changes:
            note(
                FieldsChanged(changes=dict(result.changes), event=event.kind),
                "; ".join(f"{k}: {_short(a)} → {_short(b)}" for k, (a, b) in sorted(result.changes.items())),
            )
    elif event.comment is None:
        # A linked Jira issue or PagerDuty incident: the trail records it; fields stay the origin's.
        note(
            ObjectEvent(
                event=event.kind, object_type=ref.object_type, role=role, fields=dict(fields), detail=dict(event.detail)
            ),
            _linked_summary(event, fields),
        )

    if event.comment is not None:
        if _comment(ticket, event, role, note, instance):
            result.posted = event.comment
            if role is LinkRole.ORIGIN:
                result.comment = event.comment
    elif (
        role is LinkRole.ORIGIN
        and not created
        and not result.changes
        and (result.stale or event.kind not in (EventKind.CREATED, EventKind.UPDATED))
    ):
        summary = f"{_label(event)}: {event.kind.value.replace('_', ' ')}"
        if result.stale:
            summary += f" — older than the ticket's {', '.join(sorted(result.stale))}; not applied"
        note(
            ObjectEvent(
                event=event.kind,
                object_type=ref.object_type,
                role=role,
                detail=dict(event.detail),
                stale_fields=tuple(result.stale),
            ),
            summary,
        )
    if event.occurred_at > ticket.updated_at:
        ticket.updated_at = event.occurred_at
    return result


def _ticket_and_link(
    s: Session, event: InboundEvent, instance: str, source: str, delivery_id: int | None, fields: Mapping[str, Any]
) -> tuple[Ticket, Link, bool, tuple[dict[str, tuple[Any, Any]], list[str]] | None] | None:
    """The ticket the event's object belongs to and its link (linking or creating as the event
    allows), whether the ticket was created, and (when it was) the fields written to it; None if the
    event may not open one."""
    ref = event.object
    ahead, key = links_ahead(s), (ref.vendor, instance, ref.object_type, ref.external_id)
    if ahead is not None and key in ahead:
        link = ahead[key]
    else:
        link = find_link(
            s, vendor=ref.vendor, instance=instance, object_type=ref.object_type, external_id=ref.external_id
        )
    if link is not None:
        _refresh_link(link, event)
        return _lock(s, link.ticket_id), link, False, None
    hint = event.ticket_hint
    hinted = _lock_if_exists(s, int(hint)) if hint is not None and hint.isdigit() else None
    if hinted is not None:
        link = _link(s, hinted, event, instance, event.join_role or JOIN_ROLE.get(ref.object_type, LinkRole.RELATED))
        timeline.write(
            s,
            ticket_id=hinted.id,
            at=event.occurred_at,
            record=Linked(role=LinkRole(link.role), url=ref.url),
            source=source,
            summary=f"{_label(event)} linked ({link.role})",
            delivery_id=delivery_id,
            actor=event.actor,
        )
        return hinted, link, False, None
    if not event.creates_ticket or event.kind in (EventKind.DELETED, EventKind.COMMENT_DELETED):
        return None
    ticket = Ticket(
        status=Status.NEW.value,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
        channel=(event.channel.value if event.channel else None),
        tags=[],
        field_versions={},
    )
    written = _write_fields(ticket, fields, event.occurred_at)
    reserved = reserved_id(s)
    s.add(ticket)
    if reserved is None:
        s.flush()  # its id
    else:
        ticket.id = reserved
    locks.hold(s, ticket, new=True)  # inserted by this transaction: no one else can see it yet
    return ticket, _link(s, ticket, event, instance, LinkRole.ORIGIN), True, written


def _lock(s: Session, ticket_id: int) -> Ticket:
    ticket = _lock_if_exists(s, ticket_id)
    if ticket is None:  # a link's foreign key guarantees the ticket
        raise LookupError(f"link to ticket {ticket_id}, which does not exist")
    return ticket


def _lock_if_exists(s: Session, ticket_id: int) -> Ticket | None:
    return locks.lock(s, ticket_id)


def _link(s: Session, ticket: Ticket, event: InboundEvent, instance: str, role: LinkRole) -> Link:
    ref = event.object
    link = Link(
        ticket_id=ticket.id,
        vendor=ref.vendor,
        instance=instance,
        object_type=ref.object_type,
        external_id=ref.external_id,
        key=ref.key,
        url=ref.url,
        role=role.value,
    )
    s.add(link)
    ahead = links_ahead(s)
    if ahead is None:
        s.flush()  # a concurrent job that linked the same object first makes this raise IntegrityError
    else:  # a batch: that IntegrityError comes with the round's flush, and fails the batch
        ahead[(link.vendor, link.instance, link.object_type, link.external_id)] = link
    known = locks.known(s, ticket.id)
    if known is not None:  # the ticket's links made in this transaction (for a new ticket: all it has)
        known.setdefault(LINKS_MADE, []).append(link)
    return link


def _seen(link: Link, at: datetime, status: Any) -> None:
    """A linked object's latest event: its time, and the status it reported (an older event changes neither)."""
    if link.seen_at is not None and link.seen_at > at:
        return
    link.seen_at = at
    if status is not None and link.status != str(status):
        link.status = str(status)


def _refresh_link(link: Link, event: InboundEvent) -> None:
    if event.object.key and link.key != event.object.key:
        link.key = event.object.key
    if event.object.url and link.url != event.object.url:
        link.url = event.object.url


def set_field(ticket: Ticket, name: str, value: Any, at: datetime) -> bool:
    """Set one field as of `at` unless a newer event already set it (the order-safe rule of every
    write): the escalation engine's changes obey it as vendor events do. True if it was set."""
    if not _newer(ticket, name, at):
        return False
    _set(ticket, name, value, at)
    return True


def _newer(ticket: Ticket, name: str, at: datetime) -> bool:
    seen = (ticket.field_versions or {}).get(name)
    return seen is None or datetime.fromisoformat(seen) <= at


def _set(ticket: Ticket, name: str, value: Any, at: datetime) -> None:
    setattr(ticket, name, value)
    versions = dict(ticket.field_versions or {})
    versions[name] = at.isoformat()
    ticket.field_versions = versions  # reassign: JSON columns do not track in-place changes


def _write_fields(
    ticket: Ticket, values: Mapping[str, Any], at: datetime
) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    changes: dict[str, tuple[Any, Any]] = {}
    stale: list[str] = []
    seen = ticket.field_versions or {}
    versions = dict(seen)
    stamp = at.isoformat()
    for name, value in values.items():
        old = getattr(ticket, name)
        written = seen.get(name)
        if written is not None and datetime.fromisoformat(written) > at:  # `_newer`, for each field at once
            if old != value:
                stale.append(name)  # an older delivery never rolls a field back
            continue
        if isinstance(value, list):
            value = list(value)
        if old != value or (old is None) != (value is None):
            setattr(ticket, name, value)
        versions[name] = stamp
        if old != value and not (old in (None, []) and value in (None, [])):
            changes[name] = (old, value)
    if versions != seen:
        ticket.field_versions = versions  # reassign: JSON columns do not track in-place changes
    return changes, stale


def _stamp_status_times(ticket: Ticket, changes: dict[str, tuple[Any, Any]], at: datetime) -> None:
    if "status" not in changes:
        return
    new = ticket.status
    if new == Status.RESOLVED:
        ticket.resolved_at = ticket.resolved_at or at
    elif new == Status.CLOSED:
        ticket.resolved_at = ticket.resolved_at or at
        ticket.closed_at = ticket.closed_at or at
    elif changes["status"][0] in TERMINAL:  # reopened
        ticket.resolved_at = None
        ticket.closed_at = None


Note = Callable[..., bool]


def _comment(ticket: Ticket, event: InboundEvent, role: LinkRole, note: Note, instance: str) -> bool:
    """Record a comment once, whichever deliveries report it (Jira sends a new comment both as
    `comment_created` and inside `jira:issue_updated`): comments are keyed by the vendor's comment id.
    True if this is a new comment (not an edit, a deletion or one seen before)."""
    c = event.comment
    assert c is not None
    change = _COMMENT_CHANGE.get(event.kind, Kind.COMMENTED)
    visibility = "public" if c.public else "internal"
    author = c.author_name or c.author_id or "unknown author"
    what = "comment" if change is Kind.COMMENTED else change.value.replace("_", " ")
    key = comment_key(event, instance)
    assert key is not None
    recorded = note(
        CommentPosted(
            change=change,
            comment_id=c.external_id,
            public=c.public,
            body=c.body,
            author_is_agent=c.author_is_agent,
            link_role=role,
        ),
        f"{visibility} {what} by {author}",
        author,
        key,
    )
    if not recorded or change is not Kind.COMMENTED:
        return False
    if not c.public or ticket.first_response_at is not None or role is not LinkRole.ORIGIN:
        return True
    is_agent = (
        c.author_is_agent
        if c.author_is_agent is not None
        else (c.author_id is not None and c.author_id != ticket.requester_id)
    )
    if is_agent and event.occurred_at >= ticket.created_at:
        ticket.first_response_at = event.occurred_at
    return True


def comment_key(event: InboundEvent, instance: str) -> str | None:
    """The timeline's dedupe key of the comment an event reports (None: it reports none): the vendor's
    comment id, and for an edit or a deletion its kind and time."""
    c = event.comment
    if c is None:
        return None
    ref = event.object
    key = f"comment:{ref.vendor}/{instance}/{c.external_id}"
    change = _COMMENT_CHANGE.get(event.kind, Kind.COMMENTED)
    if change is not Kind.COMMENTED:
        key += f":{change.value}@{event.occurred_at.isoformat()}"
    return key


def _label(event: InboundEvent) -> str:
    ref = event.object
    return f"{ref.vendor} {ref.object_type} {ref.key or ref.external_id}"


def _linked_summary(event: InboundEvent, fields: Mapping[str, Any]) -> str:
    text = f"{_label(event)}: {event.kind.value.replace('_', ' ')}"
    if "status" in fields:
        text += f" (status {fields['status']})"
    return text


def _short(value: Any) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
