"""The Jira task an owed post-mortem becomes once its ticket resolves: the seeds' template (seed 003's
"INCIDENT POST-MORTEM": what happened, root cause, timeline, impact, what went well and what did not,
action items; seed 002's RCA: impact assessment, preventive actions, owner assignment), filled with
what the connector knows — the ticket's facts, its SLA breaches and its timeline — and left for
people to finish. One task per post-mortem owed (`hdc-postmortem-<follow-up id>`), due when the
post-mortem is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from connector.escalation.requests import Context
from connector.outbound import PostmortemTask
from connector.store.tables import Followup, TimelineEntry
from connector.tickets.timeline import Kind

#: how many timeline entries the task's timeline lists (the earliest; the rest are on the ticket)
TIMELINE_ENTRIES = 40
#: timeline kinds that tell the incident's story (not every comment and field write)
_STORY = frozenset(
    {
        Kind.CREATED.value,
        Kind.UPDATED.value,
        Kind.ESCALATION.value,
        Kind.SLA_BREACH.value,
        Kind.SLA_MAXIMUM_BREACH.value,
        Kind.LINKED.value,
        "incident_triggered",
        "incident_acknowledged",
        "incident_resolved",
        "incident_escalated",
        "issue_status_changed",
    }
)


def task(c: Context, f: Followup) -> PostmortemTask:
    """The post-mortem task of follow-up `f` (due `f.due_at`) on the context's ticket."""
    policy, ticket = c.policy, c.ticket
    severity = policy.severity_of(ticket.severity) or ticket.severity or "no severity"
    tier = policy.tier_of(ticket.customer_tier)
    origin = next(iter(c.links()), None)
    rows = c.s.execute(
        select(TimelineEntry.at, TimelineEntry.summary)
        .where(TimelineEntry.ticket_id == ticket.id, TimelineEntry.kind.in_(_STORY))
        .order_by(TimelineEntry.at, TimelineEntry.id)
        .limit(TIMELINE_ENTRIES)
    ).all()
    breaches = [summary for at, summary in rows if "breached" in summary]
    users = max(ticket.impact_users or 0, ticket.linked_users or 0) or None
    duration = _duration(ticket.created_at, ticket.resolved_at)
    customer = ticket.customer_name or ticket.customer_id
    when = (
        f" (opened {ticket.created_at:%H:%M} UTC, resolved {ticket.resolved_at:%H:%M} UTC)"
        if ticket.resolved_at
        else ""
    )
    due = f.due_at.isoformat() if f.due_at else None
    lines = [
        "INCIDENT POST-MORTEM",
        f"Ticket: {origin.href if origin else f'connector ticket {ticket.id}'}",
        f"Date: {ticket.created_at:%Y-%m-%d} · Severity: {severity} · Tier: {tier}"
        + (f" · Customer: {customer}" if customer else ""),
        f"Duration: {duration}{when}",
        "Attendees: [names]",
        "",
        "WHAT HAPPENED:",
        ticket.resolution_summary or ticket.title or "[one paragraph description of the incident]",
        "",
        "ROOT CAUSE:",
        ticket.root_cause or "[why did it happen? Be specific.]",
        "",
        "TIMELINE (from the ticket; times UTC):",
        *(f"{at:%Y-%m-%d %H:%M} - {summary}" for at, summary in rows),
        "",
        "IMPACT:",
        f"- Customers affected: {users if users is not None else '[X]'}",
        f"- Duration: {duration}",
        f"- SLA: {'; '.join(breaches) if breaches else 'no breach recorded'}",
        "",
        "WHAT WENT WELL:",
        "- [thing that helped us resolve faster]",
        "",
        "WHAT DIDN'T GO WELL:",
        "- [thing that slowed us down]",
        "",
        "ACTION ITEMS (preventive actions):",
        "1. [Fix] - Owner: [name] - Due: [date]",
        "2. [Prevent recurrence] - Owner: [name] - Due: [date]",
        "3. [Improve monitoring] - Owner: [name] - Due: [date]",
        "",
        f"OWNER: {f.target or ticket.owner or '[assign one]'}",
        f"Post-mortem due: {due or 'when the ticket resolves'}",
    ]
    fields: dict[str, object] = {}
    if f.due_at is not None:
        fields["duedate"] = f"{f.due_at:%Y-%m-%d}"
    return PostmortemTask(
        ticket_id=ticket.id,
        followup_id=f.id,
        issue_type="Task",
        summary=f"Post-mortem: [{severity}] {ticket.title or f'ticket {ticket.id}'}"[:255],
        description="\n".join(lines),
        labels=("postmortem",),
        link_url=origin.href if origin else None,
        link_title=origin.text if origin else None,
        details={
            "ticket": ticket.id,
            "severity": severity,
            "tier": tier,
            "due_at": f.due_at.isoformat() if f.due_at else None,
        },
        fields=fields,
    )


def _duration(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "[X minutes]"
    minutes = max(0, int((end - start).total_seconds() // 60))
    return f"{minutes} minutes" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
