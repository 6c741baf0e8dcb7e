"""The support policy's versions in the database: the active one and its history.

Version 0 is the policy named by CONNECTOR_POLICY (a preset or a file), used until an admin saves
one (`PUT /api/policy`). Versions are immutable, so each is parsed once; the cache belongs to this
object (one per runtime, so one per database) and is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector.errors import NotFound
from connector.policy import Policy, load_policy, load_policy_document
from connector.store.cache import BoundedCache
from connector.store.limits import is_version
from connector.store.tables import PolicyVersion


@dataclass(frozen=True)
class ActivePolicy:
    version: int  # 0: CONNECTOR_POLICY, never saved
    policy: Policy


class PolicyVersions:
    def __init__(self, *, fallback: str, cache_size: int = 8):
        self.fallback = fallback
        self._parsed: BoundedCache[Policy] = BoundedCache(cache_size)

    def active(self, s: Session) -> ActivePolicy:
        row = s.execute(
            select(PolicyVersion.id, PolicyVersion.version, PolicyVersion.created_at).where(
                PolicyVersion.active.is_(True)
            )
        ).first()
        if row is None:
            return ActivePolicy(0, self._parsed.get(("ref", self.fallback), lambda: load_policy(self.fallback)))
        row_id, version, created_at = row

        def parse() -> Policy:
            return load_policy(s.scalars(select(PolicyVersion.document).where(PolicyVersion.id == row_id)).one())

        return ActivePolicy(version, self._parsed.get(("row", row_id, version, created_at), parse))

    def save(
        self, s: Session, *, document: Any, created_by: str | None = None, comment: str | None = None
    ) -> PolicyVersion:
        """Validate (PolicyError pointing into the document) and store a new active version.

        `document` is a dict, YAML text or a preset name — never a file: it comes from a request."""
        policy = load_policy_document(document)
        latest = s.scalar(select(func.max(PolicyVersion.version))) or 0
        s.execute(update(PolicyVersion).values(active=False))
        row = PolicyVersion(
            version=latest + 1,
            name=policy.name,
            document=policy.show(),
            active=True,
            created_by=created_by,
            comment=comment,
        )
        s.add(row)
        s.flush()
        self._parsed.get(("row", row.id, row.version, row.created_at), lambda: policy)  # parsed once
        return row

    def document(self, s: Session, version: int) -> dict[str, Any]:
        """One version's document as shown (version 0: CONNECTOR_POLICY's)."""
        if version == 0:
            return self._parsed.get(("ref", self.fallback), lambda: load_policy(self.fallback)).show()
        row = s.scalar(select(PolicyVersion).where(PolicyVersion.version == version)) if is_version(version) else None
        if row is None:
            raise NotFound(f"there is no policy version {version}")
        return dict(row.document)

    def versions(self, s: Session) -> list[PolicyVersion]:
        return list(s.scalars(select(PolicyVersion).order_by(PolicyVersion.version)))

    def rollback(self, s: Session, *, version: int, created_by: str | None = None) -> PolicyVersion:
        """Make an earlier version current again, as a new version (history is never rewritten)."""
        old = s.scalar(select(PolicyVersion).where(PolicyVersion.version == version)) if is_version(version) else None
        if old is None:
            raise NotFound(f"there is no policy version {version}")
        return self.save(s, document=old.document, created_by=created_by, comment=f"rollback to version {version}")
