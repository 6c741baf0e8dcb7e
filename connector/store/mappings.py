"""Field-mapping documents in the database: the active version of each, and every earlier one.

Resolution order for (vendor, instance): the instance's active version, then the vendor's
`default` instance, then the document shipped with the mapping engine. Versions are immutable, so
each is validated once; the cache belongs to this object (one per runtime) and is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector import defaults
from connector.errors import MappingError, NotFound
from connector.model import FieldMapping, MappingEngine
from connector.store.cache import BoundedCache
from connector.store.limits import is_version
from connector.store.tables import MappingVersion

#: `Session.info` key of the transaction's active versions (see `MappingVersions._active_rows`)
_ACTIVE = "mapping_versions_active"


@dataclass(frozen=True)
class ActiveMapping:
    vendor: str
    instance: str  # the instance whose version applies ("default" when inherited)
    version: int  # 0: the shipped default, never saved
    document: FieldMapping


class MappingVersions:
    def __init__(self, engine: MappingEngine, *, cache_size: int = 32):
        self.engine = engine
        self._loaded: BoundedCache[FieldMapping] = BoundedCache(cache_size)

    def active(self, s: Session, *, vendor: str, instance: str = defaults.DEFAULT_INSTANCE) -> ActiveMapping:
        rows = self._active_rows(s)
        for inst in dict.fromkeys((instance, defaults.DEFAULT_INSTANCE)):
            row = rows.get((vendor, inst))
            if row is not None:
                row_id, version, created_at = row

                def load(row_id: int = row_id) -> FieldMapping:
                    document = s.scalars(select(MappingVersion.document).where(MappingVersion.id == row_id)).one()
                    return self.engine.load(document, source=f"mapping version row {row_id}")

                return ActiveMapping(
                    vendor, inst, version, self._loaded.get(("row", row_id, version, created_at), load)
                )
        shipped = self._loaded.get(("shipped", vendor), lambda: self.engine.default(vendor))
        return ActiveMapping(vendor, defaults.DEFAULT_INSTANCE, 0, shipped)

    @staticmethod
    def _active_rows(s: Session) -> dict[tuple[str, str], tuple[int, int, datetime]]:
        """Every (vendor, instance)'s active version, read once per transaction: processing a
        delivery asks for its own vendor's mapping, then sync and the escalation engine for the
        others'. Read again once a savepoint begins or ends, or a version is saved."""
        transaction = s.get_nested_transaction() or s.get_transaction()
        memo = s.info.get(_ACTIVE)
        if memo is not None and memo[0] is transaction:
            return memo[1]
        rows = {
            (vendor, instance): (row_id, version, created_at)
            for row_id, vendor, instance, version, created_at in s.execute(
                select(
                    MappingVersion.id,
                    MappingVersion.vendor,
                    MappingVersion.instance,
                    MappingVersion.version,
                    MappingVersion.created_at,
                ).where(MappingVersion.active.is_(True))
            )
        }
        s.info[_ACTIVE] = (transaction, rows)
        return rows

    def load(self, document: dict[str, Any] | str, *, source: str) -> FieldMapping:
        """Validate a draft document (MappingError pointing into it)."""
        return self.engine.load(document, source=source)

    def save(
        self,
        s: Session,
        *,
        vendor: str,
        instance: str,
        document: dict[str, Any] | str,
        created_by: str | None = None,
        comment: str | None = None,
    ) -> MappingVersion:
        """Validate and store a new version and make it the active one."""
        doc = self.engine.load(document, source=f"{vendor}/{instance}")
        s.info.pop(_ACTIVE, None)  # this transaction's next look-up sees the new version
        if doc.vendor != vendor:
            raise MappingError(f"vendor: this document is for {doc.vendor!r}, not {vendor!r}")
        latest = (
            s.scalar(
                select(func.max(MappingVersion.version)).where(
                    MappingVersion.vendor == vendor, MappingVersion.instance == instance
                )
            )
            or 0
        )
        s.execute(
            update(MappingVersion)
            .where(MappingVersion.vendor == vendor, MappingVersion.instance == instance)
            .values(active=False)
        )
        row = MappingVersion(
            vendor=vendor,
            instance=instance,
            version=latest + 1,
            document=doc.dump(),
            active=True,
            created_by=created_by,
            comment=comment,
        )
        s.add(row)
        s.flush()
        return row

    def versions(self, s: Session, *, vendor: str, instance: str) -> list[MappingVersion]:
        return list(
            s.scalars(
                select(MappingVersion)
                .where(MappingVersion.vendor == vendor, MappingVersion.instance == instance)
                .order_by(MappingVersion.version)
            )
        )

    def rollback(
        self, s: Session, *, vendor: str, instance: str, version: int, created_by: str | None = None
    ) -> MappingVersion:
        """Make an earlier version current again, as a new version (history is never rewritten)."""
        old = (
            s.scalar(
                select(MappingVersion).where(
                    MappingVersion.vendor == vendor,
                    MappingVersion.instance == instance,
                    MappingVersion.version == version,
                )
            )
            if is_version(version)  # a number the column cannot hold names no version
            else None
        )
        if old is None:
            raise NotFound(f"{vendor}/{instance} has no mapping version {version}")
        return self.save(
            s,
            vendor=vendor,
            instance=instance,
            document=old.document,
            created_by=created_by,
            comment=f"rollback to version {version}",
        )
