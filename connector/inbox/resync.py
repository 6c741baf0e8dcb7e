"""The sync reconciliation sweep (`connector sync reconcile`, and every `CONNECTOR_SYNC_RECONCILE_SECONDS`
in each worker): linked Jira issues not heard from for a while are fetched, and what a missed webhook
left stale is repaired through the same rules — the sweep writes the delivery that webhook would have
been (an issue update carrying the status Jira shows now; each comment the ticket's timeline lacks)
and the ordinary pipeline processes it: the Zendesk ticket learns its issue is done, a post-mortem
task done closes its post-mortem, a missed engineer's comment becomes its note.

Which links: engineering issues of tickets not closed, and post-mortem tasks, whose last known status
is not done, last heard from (an event, or the sweep's own fetch) longer ago than `stale_after`. Each
synthetic delivery is keyed by what it reports (`reconcile:jira/<instance>/<issue id>@<updated>`), so
running the sweep again adds nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from connector.errors import OutboundError
from connector.inbox.sink import inject
from connector.model import LinkRole, Status
from connector.outbound import Fetcher
from connector.runtime import Runtime
from connector.store.tables import Link, Ticket
from connector.tickets import timeline

log = logging.getLogger(__name__)
_DONE = (Status.RESOLVED.value, Status.CLOSED.value)


@dataclass
class Resynced:
    checked: int = 0  # issues fetched
    repaired: int = 0  # deliveries written for what was stale
    failed: int = 0  # fetches Jira could not answer (tried again next time)
    lines: list[str] = field(default_factory=list)  # what was done, for people


def reconcile_links(rt: Runtime, *, stale_after: timedelta, now: datetime | None = None, limit: int = 100) -> Resynced:
    """One sweep (see the module)."""
    now = now or datetime.now(UTC)
    out = Resynced()
    sender: object = rt.senders.get("jira")
    fetcher = sender if isinstance(sender, Fetcher) else None
    if fetcher is None:
        out.lines.append("jira is not configured (JIRA_URL and credentials): no linked issue to fetch")
        return out
    last = func.coalesce(Link.checked_at, Link.seen_at, Link.created_at)
    with rt.db.session() as s:
        rows = s.execute(
            select(Link.id, Link.ticket_id, Link.instance, Link.external_id, Link.key, Link.status)
            .join(Ticket, Ticket.id == Link.ticket_id)
            .where(
                Link.vendor == "jira",
                Link.object_type == "issue",
                or_(
                    (Link.role == LinkRole.ENGINEERING.value) & (Ticket.status != Status.CLOSED.value),
                    Link.role == LinkRole.POSTMORTEM.value,
                ),
                or_(Link.status.is_(None), Link.status.not_in(_DONE)),
                last < now - stale_after,
            )
            .order_by(last)
            .limit(limit)
        ).all()
    for link_id, ticket_id, instance, issue_id, key, known in rows:
        name = key or issue_id
        try:
            found = fetcher.fetch(instance, "issue", name)
        except OutboundError as exc:
            out.failed += 1
            out.lines.append(f"{name}: Jira did not answer ({exc.message}); tried again next time")
            log.warning("reconcile fetch failed", extra={"ticket_id": ticket_id, "error": exc.message[:200]})
            continue
        out.checked += 1
        with rt.db.session() as s:
            link = s.get(Link, link_id)
            if link is not None:
                link.checked_at = now
        if found is None:
            out.lines.append(f"{name}: Jira says it no longer exists")
            continue
        out.repaired += _repair(rt, ticket_id=ticket_id, instance=instance, known=known, found=found, out=out, now=now)
    return out


def _repair(
    rt: Runtime,
    *,
    ticket_id: int,
    instance: str,
    known: str | None,
    found: Mapping[str, Any],
    out: Resynced,
    now: datetime,
) -> int:
    issue = dict(found["issue"])
    name = issue.get("key") or issue.get("id")
    repaired = 0
    with rt.db.session() as s:
        mapping = rt.mappings.active(s, vendor="jira", instance=instance).document
        seen = {
            str(c.get("id")): timeline.seen(s, ticket_id=ticket_id, dedupe_key=f"comment:jira/{instance}/{c.get('id')}")
            for c in found.get("comments") or ()
        }
    mapped = rt.mappings.engine.apply(mapping, "issue", {"webhookEvent": "jira:issue_updated", "issue": issue})
    status = mapped.fields.get("status")
    if status is not None and str(status) != known:
        status_name = ((issue.get("fields") or {}).get("status") or {}).get("name")
        updated = _millis((issue.get("fields") or {}).get("updated")) or int(now.timestamp() * 1000)
        payload = {
            "timestamp": updated,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "issue": issue,
            "changelog": {
                "id": f"reconcile-{updated}",
                "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status", "toString": status_name}],
            },
        }
        key = f"reconcile:jira/{instance}/{issue.get('id')}@{updated}"
        what = f"{name}: status {known or 'unknown'} → {status} ({status_name})"
        repaired += _deliver(rt, instance, payload, key, what, out)
    for comment in found.get("comments") or ():
        if seen.get(str(comment.get("id"))):
            continue
        fields = issue.get("fields") or {}
        payload = {
            "timestamp": _millis(comment.get("created")) or int(now.timestamp() * 1000),
            "webhookEvent": "comment_created",
            "comment": comment,
            "issue": {
                "id": issue.get("id"),
                "key": issue.get("key"),
                "self": issue.get("self"),
                "fields": {
                    k: fields.get(k) for k in ("summary", "issuetype", "project", "assignee", "priority", "status")
                },
            },
        }
        key = f"reconcile:jira/{instance}/comment/{comment.get('id')}"
        what = f"{name}: comment {comment.get('id')} the ticket never heard of"
        repaired += _deliver(rt, instance, payload, key, what, out)
    return repaired


def _deliver(rt: Runtime, instance: str, payload: Mapping[str, Any], key: str, what: str, out: Resynced) -> int:
    """Write the delivery a missed webhook would have been; 1 if it is new (0: written before)."""
    answer = inject(rt, vendor="jira", instance=instance, payload=payload, key=key)
    if answer.status != 202:
        return 0
    out.lines.append(f"{what}: delivery {answer.body.get('delivery_id')}")
    return 1


def _millis(text: Any) -> int | None:
    """Jira's `2026-03-06T15:00:05.000+0000` → epoch milliseconds."""
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return int(datetime.strptime(text, fmt).timestamp() * 1000)
        except ValueError:
            continue
    return None
