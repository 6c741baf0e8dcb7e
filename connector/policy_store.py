"""The support policy in the database: the active version and its history.

Version 0 is the policy named by CONNECTOR_POLICY (a preset or a file), used until an admin saves
one through `PUT /api/policy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector.errors import NotFound
from connector.policy import Policy, load_policy
from connector.tables import PolicyVersion


@dataclass(frozen=True)
class ActivePolicy:
    version: int
    policy: Policy


_cache: dict[object, Policy] = {}


def active(s: Session, *, fallback: str) -> ActivePolicy:
    row = s.scalar(select(PolicyVersion).where(PolicyVersion.active.is_(True)))
    if row is not None:
        key: object = ("row", row.id)
        if key not in _cache:  # versions are immutable
            _cache[key] = load_policy(row.document)
        return ActivePolicy(row.version, _cache[key])
    key = ("ref", fallback)
    if key not in _cache:
        _cache[key] = load_policy(fallback)
    return ActivePolicy(0, _cache[key])


def save(s: Session, *, document: Any, created_by: str | None = None, comment: str | None = None) -> PolicyVersion:
    """Validate (PolicyError pointing into the document) and store a new active version."""
    policy = load_policy(document)
    latest = s.scalar(select(func.max(PolicyVersion.version))) or 0
    s.execute(update(PolicyVersion).values(active=False))
    row = PolicyVersion(version=latest + 1, name=policy.name, document=policy.show(), active=True,
                        created_by=created_by, comment=comment)
    s.add(row)
    s.flush()
    return row


def versions(s: Session) -> list[PolicyVersion]:
    return list(s.scalars(select(PolicyVersion).order_by(PolicyVersion.version)))


def rollback(s: Session, *, version: int, created_by: str | None = None) -> PolicyVersion:
    old = s.scalar(select(PolicyVersion).where(PolicyVersion.version == version))
    if old is None:
        raise NotFound(f"there is no policy version {version}")
    return save(s, document=old.document, created_by=created_by, comment=f"rollback to version {version}")
