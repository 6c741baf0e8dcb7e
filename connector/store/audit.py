"""The audit log of admin changes: written in the transaction of the change it records, read newest first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.store.tables import AuditEntry


def audit(
    s: Session,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    note: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor[:64],
        action=action[:64],
        target=target[:255] if target else None,
        note=note or None,
        data=dict(data or {}),
    )
    s.add(entry)
    return entry


def audit_log(
    s: Session, *, limit: int = 100, before: int | None = None, action: str | None = None
) -> list[dict[str, Any]]:
    """Entries newest first; `before`: only those older than that entry id (the next page's cursor)."""
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    if action:
        q = q.where(AuditEntry.action == action)
    return [
        {
            "id": e.id,
            "at": e.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "note": e.note,
            "data": e.data or {},
        }
        for e in s.scalars(q)
    ]
