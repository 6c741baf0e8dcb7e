"""Users affected through links: several customers' tickets linked to one problem.

In Zendesk an incident ticket names the problem ticket it belongs to (`problem_link_changed`; the
canonical field `problem_ref`). The problem's users affected are then the distinct requesters of its
incidents (its own requester, often the agent who opened it, is not counted). Whenever an incident is
linked to a problem or unlinked from it, and when a problem arrives after its incidents, the count is
taken again and stored on the problem (`linked_users`, the connector's own field, on its timeline);
a changed count is a signal for the problem's `users_affected` triggers — one escalation on the
problem, not one per incident.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connector.escalation.carry import SOURCE
from connector.escalation.signals import Changed, Signal
from connector.model import EventKind, LinkRole
from connector.policy import Policy
from connector.policy.routing import UsersAffectedTrigger
from connector.store.tables import Link, Ticket
from connector.tickets import Applied, find_link, locks, timeline
from connector.tickets.timeline import FieldsChanged


def linked_impact(s: Session, policy: Policy, applied: Mapping[int, Sequence[Applied]]) -> dict[int, list[Signal]]:
    """The problems whose count of affected users the applied events changed, with the signal for each
    (their new count stored). Nothing is read unless the policy has a `users_affected` trigger."""
    if not any(isinstance(t, UsersAffectedTrigger) for t in policy.triggers):
        return {}
    out: dict[int, list[Signal]] = {}
    for ticket_id, items in applied.items():
        for a in items:
            if a.at is None or a.skipped:
                continue
            problems = {ref for ref in a.changes.get("problem_ref", ()) if ref}
            origin = _origin(s, ticket_id) if problems or a.created else None
            if origin is None:
                continue
            vendor, instance, external_id = origin
            if a.created:  # a problem that arrives after its incidents
                problems.add(external_id)
            for ref in sorted(problems):
                problem_id = _recount(s, vendor, instance, str(ref), a.at)
                if problem_id is not None:
                    out.setdefault(problem_id, []).append(Changed(a.at, frozenset({"linked_users"})))
    return out


def _origin(s: Session, ticket_id: int) -> tuple[str, str, str] | None:
    row = s.execute(
        select(Link.vendor, Link.instance, Link.external_id).where(
            Link.ticket_id == ticket_id, Link.role == LinkRole.ORIGIN.value, Link.object_type == "ticket"
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _recount(s: Session, vendor: str, instance: str, ref: str, at: datetime) -> int | None:
    """Count the problem's incidents' requesters again; the problem's ticket id if the count changed."""
    link = find_link(s, vendor=vendor, instance=instance, object_type="ticket", external_id=ref)
    if link is None:
        return None  # the problem is not known here yet: counted when it arrives
    users = s.scalar(
        select(func.count(func.distinct(func.coalesce(Ticket.requester_id, Ticket.requester_email))))
        .join(
            Link,
            and_(
                Link.ticket_id == Ticket.id,
                Link.role == LinkRole.ORIGIN.value,
                Link.vendor == vendor,
                Link.instance == instance,
            ),
        )
        .where(Ticket.problem_ref == ref, Ticket.id != link.ticket_id)
    )
    problem = locks.lock(s, link.ticket_id)
    count = int(users or 0) or None
    if problem is None or problem.linked_users == count:
        return None
    old, problem.linked_users = problem.linked_users, count
    timeline.write(
        s,
        ticket_id=problem.id,
        at=at,
        source=SOURCE,
        summary=f"users affected through linked incidents: {old or 0} → {count or 0}",
        record=FieldsChanged(changes={"linked_users": (old, count)}, event=EventKind.UPDATED),
    )
    return problem.id
