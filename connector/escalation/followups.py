"""What people owe: follow-ups a notification asked for (`notify … within 2h`) and post-mortems.

A follow-up is owed from the decision that made it; a notification's is due `within` after it, a
post-mortem's `within` after the ticket resolves. `done` marks one done (who, a note, a link to the
write-up). The sweep marks those past due as overdue — once each — puts that on the ticket's
timeline and hands it to the escalation engine (`followup_overdue` triggers act on it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connector.errors import ConnectorError, NotFound
from connector.escalation.carry import ANYWHERE, Acting
from connector.escalation.live import settle
from connector.escalation.signals import FollowupMissed
from connector.logs import where
from connector.sla.live import refresh
from connector.store import Database, PolicyVersions, is_id
from connector.store.tables import Followup, FollowupKind, Ticket
from connector.tickets import timeline
from connector.tickets.timeline import FollowupRecorded

log = logging.getLogger(__name__)
SOURCE = "connector/followups"


def sweep(
    db: Database,
    policies: PolicyVersions,
    *,
    now: datetime | None = None,
    limit: int = 200,
    acting: Acting = ANYWHERE,
) -> int:
    """Mark every follow-up past its due time as overdue (once), and escalate it. Returns how many."""
    now = now or datetime.now(UTC)
    with db.session() as s:
        q = (
            select(Followup)
            .where(Followup.due_at <= now, Followup.done_at.is_(None), Followup.overdue_at.is_(None))
            .order_by(Followup.due_at)
            .limit(limit)
        )
        if not db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        due = list(s.scalars(q))
        if not due:
            return 0
        policy = policies.active(s).policy
        for f in due:
            try:
                with s.begin_nested():
                    _overdue(s, policy, f, now, acting)
            except (SQLAlchemyError, ValueError, LookupError) as exc:
                log.error(
                    "follow-up escalation failed; trying again later",
                    extra={"followup_id": f.id, "error": type(exc).__name__, "where": where(exc)},
                )
    return len(due)


def _overdue(s: Session, policy: Any, f: Followup, now: datetime, acting: Acting) -> None:
    assert f.due_at is not None
    s.scalar(select(Ticket.id).where(Ticket.id == f.ticket_id).with_for_update())
    f.overdue_at = now
    what = "post-mortem" if f.kind == FollowupKind.POSTMORTEM else f"follow-up for {f.target}"
    timeline.write(
        s,
        ticket_id=f.ticket_id,
        at=f.due_at,
        recorded_at=now,
        source=SOURCE,
        summary=f"{what} overdue (due {f.due_at.isoformat()})",
        record=FollowupRecorded(
            followup_id=f.id, followup=f.kind, change="overdue", target=f.target, due_at=f.due_at.isoformat()
        ),
    )
    signal = FollowupMissed(at=f.due_at, key=str(f.id), kind=f.kind, target=f.target, due_at=f.due_at)
    settle(s, policy, f.ticket_id, [signal], now, refresh=refresh, acting=acting)


def done(
    s: Session, followup_id: int, *, by: str | None, note: str | None, url: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """Mark a follow-up or post-mortem done (once: doing it again changes nothing)."""
    f = s.get(Followup, followup_id, with_for_update=True) if is_id(followup_id) else None
    if f is None:
        raise NotFound(f"no follow-up {followup_id}")
    if f.done_at is not None:
        return followup_json(f)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConnectorError("url: a link to the write-up, http:// or https://")
    now = now or datetime.now(UTC)
    f.done_at, f.done_by, f.note, f.url = now, (by or None), (note or None), (url or None)
    what = "post-mortem" if f.kind == FollowupKind.POSTMORTEM else f"follow-up for {f.target}"
    timeline.write(
        s,
        ticket_id=f.ticket_id,
        at=now,
        recorded_at=now,
        source=SOURCE,
        actor=by,
        summary=f"{what} done" + (f": {note}" if note else ""),
        record=FollowupRecorded(followup_id=f.id, followup=f.kind, change="done", target=f.target),
    )
    return followup_json(f)


def list_followups(
    s: Session, *, kind: str | None = None, state: str | None = None, ticket_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Follow-ups, newest first; `state`: open, overdue or done."""
    q = select(Followup)
    if kind is not None:
        if kind not in {k.value for k in FollowupKind}:
            raise ConnectorError(f"kind: one of {', '.join(k.value for k in FollowupKind)}; got {kind[:40]!r}")
        q = q.where(Followup.kind == kind)
    if state == "open":
        q = q.where(Followup.done_at.is_(None))
    elif state == "overdue":
        q = q.where(Followup.done_at.is_(None), Followup.overdue_at.is_not(None))
    elif state == "done":
        q = q.where(Followup.done_at.is_not(None))
    elif state is not None:
        raise ConnectorError(f"state: one of open, overdue, done; got {state[:40]!r}")
    if ticket_id is not None:
        q = q.where(Followup.ticket_id == ticket_id)
    return [followup_json(f) for f in s.scalars(q.order_by(Followup.id.desc()).limit(limit))]


def followup_json(f: Followup) -> dict[str, Any]:
    return {
        "id": f.id,
        "ticket_id": f.ticket_id,
        "escalation_id": f.escalation_id,
        "kind": f.kind,
        "target": f.target,
        "owed_at": _iso(f.owed_at),
        "within_seconds": f.within_seconds,
        "due_at": _iso(f.due_at),
        "overdue": f.overdue_at is not None and f.done_at is None,
        "overdue_at": _iso(f.overdue_at),
        "done_at": _iso(f.done_at),
        "done_by": f.done_by,
        "note": f.note,
        "url": f.url,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
