"""Reading escalations: a ticket's escalation state (level, owner, path and position), its decisions,
owed follow-ups and outbound intents, and the list across tickets. Shared by the API, the CLI and the demo."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.errors import NotFound
from connector.escalation.engine import INTAKE, LIFECYCLE
from connector.escalation.followups import followup_json
from connector.escalation.live import current_state
from connector.escalation.state import escalation_path, path_position
from connector.outbox import item_json
from connector.policy import Policy
from connector.store import is_id
from connector.store.listing import conditions, newest_first
from connector.store.tables import Escalation, Followup, OutboxItem, RepeatCluster, Ticket

FILTERS = ("ticket_id", "trigger_id", "action", "outcome", "target")


def ticket_escalation(s: Session, policy: Policy, ticket_id: int) -> dict[str, Any]:
    """One ticket's escalation story: where it stands and everything the engine did for it."""
    ticket = s.get(Ticket, ticket_id) if is_id(ticket_id) else None
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    state = current_state(s, policy, ticket)
    rows = s.scalars(select(Escalation).where(Escalation.ticket_id == ticket_id).order_by(Escalation.id))
    followups = s.scalars(select(Followup).where(Followup.ticket_id == ticket_id).order_by(Followup.id))
    outbox = s.scalars(select(OutboxItem).where(OutboxItem.ticket_id == ticket_id).order_by(OutboxItem.id))
    return {
        "level": state.level,
        "owner": state.owner,
        "path": escalation_path(policy, state),
        "position": path_position(policy, state),
        "open_pages": list(state.pages),
        "decisions": [escalation_json(e) for e in rows],
        "followups": [followup_json(f) for f in followups],
        "outbox": [item_json(i) for i in outbox],
    }


def list_escalations(s: Session, *, filters: Mapping[str, str], limit: int, offset: int) -> dict[str, Any]:
    """Decisions across tickets, newest first; `filters` may name any of FILTERS."""
    where = conditions(Escalation, FILTERS, filters)
    total, rows = newest_first(s, Escalation, where, limit=limit, offset=offset)
    return {"total": total, "escalations": [escalation_json(e) for e in rows]}


def escalation_json(e: Escalation) -> dict[str, Any]:
    data = e.data or {}
    return {
        "id": e.id,
        "ticket_id": e.ticket_id,
        "at": _iso(e.at),
        "recorded_at": _iso(e.recorded_at),
        "trigger": e.trigger_id,
        "event": data.get("event"),
        "occurrence": e.occurrence,
        "action": e.action,
        "target": e.target,
        "outcome": e.outcome,
        "reason": e.reason,
        "changes": data.get("changes") or {},
        "within_seconds": data.get("within_seconds"),
        "params": data.get("params") or {},
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def escalation_summary(s: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """For the reports: of the tickets created in [since, until), how many the engine escalated (any
    decision applied, queued or owed; not intake routing, not a page's lifecycle), by rule; and the
    repeat-issue clusters found."""
    chosen = (Ticket.created_at >= since) & (Ticket.created_at < until)
    tickets = s.scalar(select(func.count()).select_from(Ticket).where(chosen)) or 0
    acted = (
        select(Escalation.ticket_id, Escalation.trigger_id)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .where(
            chosen,
            Escalation.outcome.in_(("applied", "queued", "owed")),
            Escalation.trigger_id.not_in((INTAKE, LIFECYCLE)),  # routing at intake and the page lifecycle
        )
    )
    rows = s.execute(acted).all()
    escalated = len({t for t, _ in rows})
    by_rule: dict[str, set[int]] = {}
    for ticket_id, trigger in rows:
        by_rule.setdefault(trigger, set()).add(ticket_id)
    clusters = s.scalars(
        select(RepeatCluster)
        .where(RepeatCluster.fired_at >= since, RepeatCluster.fired_at < until)
        .order_by(RepeatCluster.fired_at.desc())
        .limit(100)
    )
    return {
        "tickets": tickets,
        "escalated": escalated,
        "rate_percent": round(100.0 * escalated / tickets, 2) if tickets else None,
        "by_rule": sorted(((k, len(v)) for k, v in by_rule.items()), key=lambda kv: (-kv[1], kv[0])),
        "repeat_clusters": [
            {
                "trigger": c.trigger_id,
                "customer": c.customer,
                "category": c.category,
                "tickets": list(c.ticket_ids or []),
                "fired_at": _iso(c.fired_at),
            }
            for c in clusters
        ],
    }
