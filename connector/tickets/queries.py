"""Reading tickets: the list with its filters, one ticket with links, SLA clocks and timeline, as JSON.
Shared by the admin API, the CLI and the demo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.errors import ConnectorError, NotFound
from connector.model import TICKET_FIELDS
from connector.store.limits import is_id
from connector.store.tables import Link, SlaClock, Ticket, TimelineEntry

#: query-string filters of the ticket list → the column each one compares
FILTERS = ("status", "severity", "customer_tier", "channel", "support_level")
#: filters that are not one column: `vendor` (the tool the ticket came from), `sla` (breached: a clock
#: breached; at_risk: a running clock due within AT_RISK), `q` (text in the title)
SPECIAL_FILTERS = ("vendor", "sla", "q")
AT_RISK = timedelta(hours=1)


@dataclass(frozen=True)
class TicketPage:
    total: int | None  # None when not counted (`count=False`: a count of a million rows is not free)
    tickets: list[dict[str, Any]]
    next_before: int | None = None  # the cursor of the next (older) page, if there may be one


def list_tickets(
    s: Session,
    *,
    filters: Mapping[str, str],
    limit: int,
    offset: int = 0,
    before: int | None = None,
    count: bool = True,
    now: datetime | None = None,
) -> TicketPage:
    """Tickets, newest first; `filters` may name any of FILTERS and SPECIAL_FILTERS (others are
    ignored). `before`: only tickets older than that id — keyset paging, as fast on the last page of a
    million tickets as on the first (the answer's `next_before` is the next page's)."""
    q = select(Ticket).order_by(Ticket.id.desc())
    for name in FILTERS:
        if filters.get(name):
            q = q.where(getattr(Ticket, name) == filters[name])
    vendor = filters.get("vendor")
    if vendor:
        origin = select(Link.id).where(Link.ticket_id == Ticket.id, Link.role == "origin", Link.vendor == vendor)
        q = q.where(origin.exists())
    sla = filters.get("sla")
    if sla == "breached":
        q = q.where(
            select(SlaClock.id).where(SlaClock.ticket_id == Ticket.id, SlaClock.breached_at.is_not(None)).exists()
        )
    elif sla == "at_risk":
        soon = (now or datetime.now(UTC)) + AT_RISK
        risky = select(SlaClock.id).where(
            SlaClock.ticket_id == Ticket.id,
            SlaClock.state == "running",
            SlaClock.breached_at.is_(None),
            SlaClock.due_at <= soon,
        )
        q = q.where(risky.exists())
    elif sla:
        raise ConnectorError(f"sla: breached or at_risk; got {sla[:40]!r}")
    text = (filters.get("q") or "").strip()
    if text:
        q = q.where(Ticket.title.ilike(f"%{_like(text[:200])}%", escape="\\"))
    total = (s.scalar(select(func.count()).select_from(q.subquery())) or 0) if count else None
    if before is not None:
        q = q.where(Ticket.id < before)
    rows = s.scalars(q.limit(limit).offset(offset if before is None else 0)).all()
    more = rows[-1].id if len(rows) == limit else None
    return TicketPage(total=total, tickets=[ticket_json(t, s, full=False) for t in rows], next_before=more)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_ticket(s: Session, ticket_id: int) -> dict[str, Any]:
    """One ticket with its links, SLA clocks and timeline; NotFound if there is none."""
    t = s.get(Ticket, ticket_id) if is_id(ticket_id) else None
    if t is None:
        raise NotFound(f"no ticket {ticket_id}")
    return ticket_json(t, s, full=True)


def ticket_json(t: Ticket, s: Session, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": t.id, **{name: getattr(t, name) for name in TICKET_FIELDS}}
    out["linked_users"] = t.linked_users  # the connector's count: requesters of a problem's linked incidents
    for name in ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at"):
        out[name] = _iso(getattr(t, name))
    links = s.scalars(select(Link).where(Link.ticket_id == t.id).order_by(Link.id)).all()
    out["links"] = [
        {
            "vendor": ln.vendor,
            "instance": ln.instance,
            "object_type": ln.object_type,
            "external_id": ln.external_id,
            "key": ln.key,
            "url": ln.url,
            "role": ln.role,
        }
        for ln in links
    ]
    if full:
        entries = s.scalars(
            select(TimelineEntry).where(TimelineEntry.ticket_id == t.id).order_by(TimelineEntry.at, TimelineEntry.id)
        ).all()
        out["timeline"] = [
            {
                "at": _iso(e.at),
                "recorded_at": _iso(e.recorded_at),
                "kind": e.kind,
                "source": e.source,
                "actor": e.actor,
                "summary": e.summary,
                "delivery_id": e.delivery_id,
                "data": e.data,
            }
            for e in entries
        ]
        clocks = s.scalars(
            select(SlaClock)
            .where(SlaClock.ticket_id == t.id)
            .order_by(SlaClock.started_at, SlaClock.metric, SlaClock.cycle)
        ).all()
        out["sla_clocks"] = [c.data for c in clocks]
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
