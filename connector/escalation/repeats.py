"""Repeat issues across a customer's tickets: the ticket that completes a cluster (the same customer's
`count` tickets of one category within the window, since its last cluster) makes one escalation, not
one per ticket. Clusters are rows (`repeat_clusters`), so two tickets completing one at once make one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.escalation.signals import Changed, Opened, RepeatSeen, Signal
from connector.escalation.state import TICKET_STATE_FIELDS, TicketState
from connector.policy import Policy, RepeatIssueTrigger
from connector.store.tables import RepeatCluster, Ticket


def may_complete_cluster(signals: Sequence[Signal]) -> bool:
    """Could these signals make the ticket complete a cluster (then the customer's other tickets are read)?"""
    return any(
        isinstance(x, Opened) or (isinstance(x, Changed) and {"category", "customer_id"} & x.fields) for x in signals
    )


def repeat_signals(s: Session, policy: Policy, ticket: Ticket, signals: Sequence[Signal]) -> list[Signal]:
    """A ticket opened (or given its category or customer) may complete a cluster of its customer's
    tickets of one category: `count` of them within the window since the customer's last cluster."""
    if not may_complete_cluster(signals):
        return []
    customer = ticket.customer_id or ticket.requester_email
    category = policy.category_of(ticket.category) or ticket.category
    if not customer or not category:
        return []
    state = TicketState.of(policy, {name: getattr(ticket, name) for name in TICKET_STATE_FIELDS})
    out: list[Signal] = []
    for t in policy.triggers:
        if not isinstance(t, RepeatIssueTrigger) or (t.category is not None and category not in t.category):
            continue
        if (t.severity is not None and (state.severity or policy.severity.default) not in t.severity) or (
            t.tier is not None and state.tier not in t.tier
        ):
            continue
        window = t.window or policy.escalation.repeat_window
        last = s.scalar(
            select(RepeatCluster)
            .where(
                RepeatCluster.trigger_id == t.id,
                RepeatCluster.customer == customer[:255],
                RepeatCluster.category == category,
            )
            .order_by(RepeatCluster.seq.desc())
            .limit(1)
        )
        if last is not None and ticket.id in (last.ticket_ids or []):
            continue
        since = ticket.created_at - window
        if last is not None and last.fired_at > since:
            since = last.fired_at
        column = Ticket.customer_id if ticket.customer_id else Ticket.requester_email
        ids = list(
            s.scalars(
                select(Ticket.id)
                .where(
                    column == customer,
                    Ticket.category == ticket.category,
                    Ticket.created_at > since,
                    Ticket.created_at <= ticket.created_at,
                )
                .order_by(Ticket.created_at, Ticket.id)
            )
        )
        if ticket.id not in ids:
            ids.append(ticket.id)
        if len(ids) < t.count:
            continue
        seq = (last.seq if last is not None else 0) + 1
        s.add(
            RepeatCluster(
                trigger_id=t.id,
                customer=customer[:255],
                category=category,
                seq=seq,
                ticket_id=ticket.id,
                ticket_ids=ids,
                fired_at=ticket.created_at,
            )
        )
        s.flush()  # two tickets completing the same cluster at once: one fails here and its job retries
        out.append(
            RepeatSeen(
                at=ticket.created_at,
                trigger_id=t.id,
                cluster=f"{customer}/{category}#{seq}",
                customer=customer,
                category=category,
                tickets=len(ids),
                window=window,
            )
        )
    return out
