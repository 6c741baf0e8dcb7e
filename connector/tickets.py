"""Apply canonical events to stored tickets: idempotent, order-safe, every change on the timeline.

Order safety: each field remembers the time of the event that last wrote it (`field_versions`);
an event older than that does not overwrite it. Identity: a vendor object is linked to exactly
one ticket (`links`), so every event about it lands on the same ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.model import EventKind, InboundEvent, Status
from connector.tables import Link, Ticket, TimelineEntry
from mappings.engine import MappingResult

#: which link role each vendor object takes when it joins an existing ticket
JOIN_ROLE = {"issue": "engineering", "incident": "incident", "ticket": "origin"}
_TERMINAL = {Status.RESOLVED.value, Status.CLOSED.value}


@dataclass
class Applied:
    ticket_id: int | None
    created: bool = False
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)  # fields a newer event had already set
    skipped: str | None = None

    def describe(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        verb = "created" if self.created else "updated"
        changed = ", ".join(sorted(self.changes)) or "no field changes"
        return f"ticket {self.ticket_id} {verb} ({changed})"


def find_link(s: Session, *, vendor: str, instance: str, object_type: str, external_id: str) -> Link | None:
    return s.scalar(select(Link).where(Link.vendor == vendor, Link.instance == instance,
                                       Link.object_type == object_type, Link.external_id == external_id))


def apply_event(s: Session, *, event: InboundEvent, instance: str, mapped: MappingResult,
                delivery_id: int | None) -> Applied:
    """Apply one event. Raises IntegrityError if a concurrent job linked the same object first;
    the caller retries the whole delivery, which then finds the link."""
    ref = event.object
    link = find_link(s, vendor=ref.vendor, instance=instance, object_type=ref.object_type,
                     external_id=ref.external_id)
    source = f"{ref.vendor}/{instance}"
    created = False
    if link is not None:
        ticket = _lock(s, link.ticket_id)
        _refresh_link(link, event)
    else:
        ticket = _lock(s, int(event.ticket_hint)) if (event.ticket_hint or "").isdigit() else None
        if ticket is not None:
            link = _link(s, ticket, event, instance, JOIN_ROLE.get(ref.object_type, "related"))
            _timeline(s, ticket, event.occurred_at, "linked", source, delivery_id, event.actor,
                      f"{_label(event)} linked ({link.role})", {"url": ref.url, "role": link.role})
        elif event.creates_ticket and event.kind not in (EventKind.DELETED, EventKind.COMMENT_DELETED):
            ticket = Ticket(status=Status.NEW.value, created_at=event.occurred_at, updated_at=event.occurred_at,
                            channel=(event.channel.value if event.channel else None), tags=[], field_versions={})
            s.add(ticket)
            s.flush()
            link = _link(s, ticket, event, instance, "origin")
            created = True
        else:
            return Applied(None, skipped=f"{_label(event)} is not linked to any ticket")

    result = Applied(ticket.id, created=created)
    if link.role == "origin":
        result.changes, result.stale = _write_fields(ticket, mapped.fields, event.occurred_at)
        if event.kind is EventKind.DELETED and _newer(ticket, "status", event.occurred_at):
            old = ticket.status
            _set(ticket, "status", Status.CLOSED.value, event.occurred_at)
            if old != ticket.status:
                result.changes["status"] = (old, ticket.status)
        _stamp_status_times(ticket, result.changes, event.occurred_at)
        if created:  # the initial values are the SLA engine's starting point
            initial = {name: getattr(ticket, name) for name in
                       ("status", "severity", "customer_tier", "category", "channel", "support_level")}
            _timeline(s, ticket, event.occurred_at, "created", source, delivery_id, event.actor,
                      f"ticket created from {_label(event)}", {"url": ref.url, "fields": initial})
        if result.changes and not created:
            _timeline(s, ticket, event.occurred_at, "updated", source, delivery_id, event.actor,
                      "; ".join(f"{k}: {_short(a)} → {_short(b)}" for k, (a, b) in sorted(result.changes.items())),
                      {"changes": {k: [a, b] for k, (a, b) in result.changes.items()}, "event": event.kind.value})
    elif event.comment is None:
        # A linked Jira issue or PagerDuty incident: the trail records it; fields stay the origin's.
        _timeline(s, ticket, event.occurred_at, event.kind.value, source, delivery_id, event.actor,
                  _linked_summary(event, mapped), {"fields": mapped.fields, **dict(event.detail)})

    if event.comment is not None:
        _comment(s, ticket, event, source, delivery_id, link.role)
    elif link.role == "origin" and not created and not result.changes and (
            result.stale or event.kind not in (EventKind.CREATED, EventKind.UPDATED)):
        summary = f"{_label(event)}: {event.kind.value.replace('_', ' ')}"
        if result.stale:
            summary += f" — older than the ticket's {', '.join(sorted(result.stale))}; not applied"
        _timeline(s, ticket, event.occurred_at, event.kind.value, source, delivery_id, event.actor, summary,
                  {**dict(event.detail), "stale_fields": result.stale})
    if event.occurred_at > ticket.updated_at:
        ticket.updated_at = event.occurred_at
    return result


def _lock(s: Session, ticket_id: int) -> Ticket | None:
    return s.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())


def _link(s: Session, ticket: Ticket, event: InboundEvent, instance: str, role: str) -> Link:
    ref = event.object
    link = Link(ticket_id=ticket.id, vendor=ref.vendor, instance=instance, object_type=ref.object_type,
                external_id=ref.external_id, key=ref.key, url=ref.url, role=role)
    s.add(link)
    s.flush()  # a concurrent job that linked the same object first makes this raise IntegrityError
    return link


def _refresh_link(link: Link, event: InboundEvent) -> None:
    if event.object.key and link.key != event.object.key:
        link.key = event.object.key
    if event.object.url and link.url != event.object.url:
        link.url = event.object.url


def _newer(ticket: Ticket, name: str, at: datetime) -> bool:
    seen = (ticket.field_versions or {}).get(name)
    return seen is None or datetime.fromisoformat(seen) <= at


def _set(ticket: Ticket, name: str, value: Any, at: datetime) -> None:
    setattr(ticket, name, value)
    versions = dict(ticket.field_versions or {})
    versions[name] = at.isoformat()
    ticket.field_versions = versions  # reassign: JSON columns do not track in-place changes


def _write_fields(ticket: Ticket, values: dict[str, Any],
                  at: datetime) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    changes: dict[str, tuple[Any, Any]] = {}
    stale: list[str] = []
    for name, value in values.items():
        if not _newer(ticket, name, at):
            if getattr(ticket, name) != value:
                stale.append(name)  # an older delivery never rolls a field back
            continue
        old = getattr(ticket, name)
        if isinstance(value, list):
            value = list(value)
        _set(ticket, name, value, at)
        if old != value and not (old in (None, []) and value in (None, [])):
            changes[name] = (old, value)
    return changes, stale


def _stamp_status_times(ticket: Ticket, changes: dict[str, tuple[Any, Any]], at: datetime) -> None:
    if "status" not in changes:
        return
    new = ticket.status
    if new == Status.RESOLVED.value:
        ticket.resolved_at = ticket.resolved_at or at
    elif new == Status.CLOSED.value:
        ticket.resolved_at = ticket.resolved_at or at
        ticket.closed_at = ticket.closed_at or at
    elif changes["status"][0] in _TERMINAL:  # reopened
        ticket.resolved_at = None
        ticket.closed_at = None


def _comment(s: Session, ticket: Ticket, event: InboundEvent, source: str, delivery_id: int | None,
             role: str) -> None:
    c = event.comment
    assert c is not None
    kind = {EventKind.COMMENT_UPDATED: "comment_updated", EventKind.COMMENT_DELETED: "comment_deleted"}.get(
        event.kind, "commented")
    visibility = "public" if c.public else "internal"
    author = c.author_name or c.author_id or "unknown author"
    _timeline(s, ticket, event.occurred_at, kind, source, delivery_id, author,
              f"{visibility} {'comment' if kind == 'commented' else kind.replace('_', ' ')} by {author}",
              {"comment_id": c.external_id, "public": c.public, "body": c.body,
               "author_is_agent": c.author_is_agent, "link_role": role})
    if kind != "commented" or not c.public or ticket.first_response_at is not None or role != "origin":
        return
    is_agent = c.author_is_agent if c.author_is_agent is not None else (
        c.author_id is not None and c.author_id != ticket.requester_id)
    if is_agent and event.occurred_at >= ticket.created_at:
        ticket.first_response_at = event.occurred_at


def _timeline(s: Session, ticket: Ticket, at: datetime, kind: str, source: str, delivery_id: int | None,
              actor: str | None, summary: str, data: dict[str, Any]) -> None:
    s.add(TimelineEntry(ticket_id=ticket.id, at=at, kind=kind, source=source, delivery_id=delivery_id,
                        actor=actor, summary=summary, data=_jsonable(data)))


def _label(event: InboundEvent) -> str:
    ref = event.object
    return f"{ref.vendor} {ref.object_type} {ref.key or ref.external_id}"


def _linked_summary(event: InboundEvent, mapped: MappingResult) -> str:
    text = f"{_label(event)}: {event.kind.value.replace('_', ' ')}"
    if "status" in mapped.fields:
        text += f" (status {mapped.fields['status']})"
    return text


def _short(value: Any) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, str | int | float | bool):
        return value.value
    return value
