"""Carrying out the escalation engine's decisions, in the caller's transaction: the ticket's new level,
owner or category (order-safe, as vendor writes are), a timeline entry, the outbound intent in the
outbox (a page, a notification, a linked issue) and any owed follow-up — or, for an intent whose channel
has no sender here, the intent recorded as not sent, with what to configure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.escalation import postmortem
from connector.escalation.requests import Context, build_request
from connector.escalation.signals import ActionKind, Decision, Outcome
from connector.model import TERMINAL, IssueField
from connector.outbound import CHANNELS, PageRequest
from connector.outbox import not_configured, record
from connector.store.tables import Escalation, Followup, FollowupKind, Ticket
from connector.tickets import set_field, timeline
from connector.tickets.timeline import Escalated

log = logging.getLogger(__name__)

SOURCE = "connector/escalation"
_RESOLVED = frozenset(s.value for s in TERMINAL)


@dataclass(frozen=True)
class Acting:
    """What the engine knows of the process it acts in: where people reach the connector (links in pages
    and notifications) and which outbound channels have a sender (None: all of them). An intent for a
    channel without one is recorded as not sent at once, with what to configure, and no job is queued."""

    public_url: str | None = None
    channels: frozenset[str] | None = None
    #: the fields a linked Jira issue is created with (the Jira mapping's `sync.issue_fields`), read when needed
    issue_fields: Callable[[Session], Sequence[IssueField]] | None = None
    #: "vendor/instance" → the tool's base URL (ZENDESK_URL, ...): links to objects whose payloads had none
    sites: Mapping[str, str] = field(default_factory=dict)


#: no public URL; every channel assumed to have a sender (intents are queued, and their jobs decide)
ANYWHERE = Acting()


def decision_row(ticket: Ticket, d: Decision, now: datetime) -> Escalation:
    return Escalation(
        ticket_id=ticket.id,
        trigger_id=d.trigger_id[:96],
        occurrence=d.occurrence[:160],
        action_index=d.action_index,
        action=d.action.value,
        target=d.target,
        at=d.at,
        recorded_at=now,
        outcome=d.outcome.value,
        reason=d.reason,
        data=d.facts(),
    )


def carry_out(c: Context, acting: Acting, d: Decision, row: Escalation, now: datetime) -> None:
    s, policy, ticket = c.s, c.policy, c.ticket
    applied: dict[str, tuple[Any, Any]] = {}
    for name, (old, new) in d.changes.items():
        if set_field(ticket, name, new, d.at):
            applied[name] = (old, new)
    timeline.write(
        s,
        ticket_id=ticket.id,
        at=d.at,
        recorded_at=now,
        source=SOURCE,
        summary=d.describe(),
        record=Escalated(
            escalation_id=row.id,
            trigger_id=d.trigger_id,
            event=d.event,
            action=d.action.value,
            target=d.target,
            outcome=d.outcome.value,
            reason=d.reason,
            changes=applied,
        ),
    )
    if d.outcome is Outcome.SKIPPED:
        return
    request = build_request(c, d)
    if request is not None:
        sequence = request.dedup_key if isinstance(request, PageRequest) else None
        channels = acting.channels
        channel = CHANNELS[request.kind]
        record(
            s,
            request,
            idempotency_key=f"escalation-{row.id}",
            ticket_id=ticket.id,
            escalation_id=row.id,
            sequence_key=sequence,
            fresh=True,  # keyed by a decision row this transaction made
            unavailable=None if channels is None or channel in channels else not_configured(channel),
            unsent=c.unsent,
        )
    if d.action is ActionKind.NOTIFY and d.within is not None:
        _owe(s, ticket, row, d, FollowupKind.NOTIFY, due_at=d.at + d.within)
    elif d.action is ActionKind.REQUIRE_POSTMORTEM:
        within = d.within or policy.escalation.postmortem_within
        resolved = ticket.resolved_at if ticket.status in _RESOLVED else None
        owed = _owe(s, ticket, row, d, FollowupKind.POSTMORTEM, due_at=None if resolved is None else resolved + within)
        if resolved is not None:  # owed by a ticket already resolved: due now, and its task with it
            _postmortem_task(c, acting, owed)
    log.info(
        "escalation",
        extra={"ticket_id": ticket.id, "trigger": d.trigger_id, "action": d.action.value, "outcome": d.outcome.value},
    )


def _owe(
    s: Session, ticket: Ticket, row: Escalation, d: Decision, kind: FollowupKind, *, due_at: datetime | None
) -> Followup:
    within = d.within or timedelta(0)
    owed = Followup(
        ticket_id=ticket.id,
        escalation_id=row.id,
        kind=kind.value,
        target=d.target,
        owed_at=d.at,
        within_seconds=within.total_seconds(),
        due_at=due_at,
    )
    s.add(owed)
    return owed


def postmortems_fall_due(c: Context, acting: Acting, owed: Sequence[Followup] | None = None) -> None:
    """A resolved ticket's owed post-mortems are due `within` after its resolution; each becomes a
    Jira task holding the template. `owed`: the ticket's post-mortems owed with no due time yet, when
    the caller read them already (`postmortems_owed`, many tickets at once)."""
    s, ticket = c.s, c.ticket
    resolved_at = ticket.resolved_at
    if not _resolved(ticket) or resolved_at is None:
        return
    for f in postmortems_owed(s, [ticket])[ticket.id] if owed is None else owed:
        f.due_at = resolved_at + timedelta(seconds=f.within_seconds)
        _postmortem_task(c, acting, f)


def postmortems_owed(s: Session, tickets: Sequence[Ticket]) -> dict[int, list[Followup]]:
    """The post-mortems each resolved ticket owes with no due time yet, with one statement for all of them
    (each ticket's in id order)."""
    out: dict[int, list[Followup]] = {t.id: [] for t in tickets}
    resolved = [t.id for t in tickets if _resolved(t)]
    if resolved:
        for f in s.scalars(
            select(Followup)
            .where(
                Followup.ticket_id.in_(resolved),
                Followup.kind == FollowupKind.POSTMORTEM.value,
                Followup.due_at.is_(None),
                Followup.done_at.is_(None),
            )
            .order_by(Followup.id)
        ):
            out[f.ticket_id].append(f)
    return out


def _resolved(ticket: Ticket) -> bool:
    return ticket.status in _RESOLVED and ticket.resolved_at is not None


def _postmortem_task(c: Context, acting: Acting, f: Followup) -> None:
    """Record the Jira task of a post-mortem now due (once per post-mortem owed)."""
    c.s.flush()  # a post-mortem owed a moment ago has its id then
    request = postmortem.task(c, f)
    channel = CHANNELS[request.kind]
    channels = acting.channels
    record(
        c.s,
        request,
        idempotency_key=f"postmortem-task-{f.id}",
        ticket_id=c.ticket.id,
        escalation_id=f.escalation_id,
        unavailable=None if channels is None or channel in channels else not_configured(channel),
        unsent=c.unsent,
    )
