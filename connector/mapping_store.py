"""Field-mapping documents in the database: the active version of each, and every earlier one.

Resolution order for (vendor, instance): the instance's active version, then the vendor's
`default` instance, then the document shipped in `mappings/defaults/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from connector import defaults
from connector.errors import MappingError, NotFound
from connector.tables import MappingVersion
from mappings.engine import default_document, load_document
from mappings.schema import MappingDocument


@dataclass(frozen=True)
class ActiveMapping:
    vendor: str
    instance: str  # the instance whose version applies ("default" when inherited)
    version: int  # 0: the shipped default, never saved
    document: MappingDocument


def active(s: Session, *, vendor: str, instance: str = defaults.DEFAULT_INSTANCE) -> ActiveMapping:
    for inst in dict.fromkeys((instance, defaults.DEFAULT_INSTANCE)):
        row = s.scalar(select(MappingVersion).where(
            MappingVersion.vendor == vendor, MappingVersion.instance == inst, MappingVersion.active.is_(True)))
        if row is not None:
            return ActiveMapping(vendor, inst, row.version, _cached(row.id, row.document))
    return ActiveMapping(vendor, defaults.DEFAULT_INSTANCE, 0, default_document(vendor))


_docs: dict[int, MappingDocument] = {}


def _cached(row_id: int, document: dict[str, Any]) -> MappingDocument:
    doc = _docs.get(row_id)
    if doc is None:  # versions are immutable, so the row id is a sound cache key
        doc = _docs[row_id] = load_document(document, source=f"mapping version row {row_id}")
    return doc


def save(s: Session, *, vendor: str, instance: str, document: dict[str, Any] | str,
         created_by: str | None = None, comment: str | None = None) -> MappingVersion:
    """Validate and store a new version and make it the active one."""
    doc = load_document(document, source=f"{vendor}/{instance}")
    if doc.vendor != vendor:
        raise MappingError(f"vendor: this document is for {doc.vendor!r}, not {vendor!r}")
    latest = s.scalar(select(func.max(MappingVersion.version)).where(
        MappingVersion.vendor == vendor, MappingVersion.instance == instance)) or 0
    s.execute(update(MappingVersion).where(MappingVersion.vendor == vendor, MappingVersion.instance == instance)
              .values(active=False))
    row = MappingVersion(vendor=vendor, instance=instance, version=latest + 1,
                         document=doc.model_dump(mode="json", exclude_defaults=True), active=True,
                         created_by=created_by, comment=comment)
    s.add(row)
    s.flush()
    return row


def versions(s: Session, *, vendor: str, instance: str) -> list[MappingVersion]:
    return list(s.scalars(select(MappingVersion).where(
        MappingVersion.vendor == vendor, MappingVersion.instance == instance).order_by(MappingVersion.version)))


def rollback(s: Session, *, vendor: str, instance: str, version: int, created_by: str | None = None) -> MappingVersion:
    """Make an earlier version current again, as a new version (history is never rewritten)."""
    old = s.scalar(select(MappingVersion).where(MappingVersion.vendor == vendor, MappingVersion.instance == instance,
                                                MappingVersion.version == version))
    if old is None:
        raise NotFound(f"{vendor}/{instance} has no mapping version {version}")
    return save(s, vendor=vendor, instance=instance, document=old.document, created_by=created_by,
                comment=f"rollback to version {version}")
