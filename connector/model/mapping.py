"""The field-mapping contract: what the core asks of a mapping engine, and what it gets back.

The engine itself lives in `mappings/` (a leaf over this model); the composition roots hand it to
the runtime. The core stores mapping documents, asks the engine to validate and apply them, and
passes the resulting plain field values on to the ticket code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from connector.model.sync import SyncRules


@dataclass(frozen=True)
class MappingNote:
    """What a mapping could not use: the canonical field (None: the whole payload) and why — the
    message may quote the payload's value (shown to admins in a preview, never logged)."""

    field: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class MappedFields:
    """Canonical field values a mapping read from one payload (absent: not set by this payload;
    None: cleared), with the rule that gave each (`trace`) and what could not be used (`notes`)."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    #: canonical field → the rule that produced it, e.g. "severity ← detail.priority 'urgent' → 'P0'"
    trace: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[MappingNote, ...] = ()


class FieldMapping(Protocol):
    """A validated mapping document of one vendor."""

    @property
    def vendor(self) -> str: ...

    def shape_names(self) -> list[str]:
        """The payload shapes the document maps."""
        ...

    def dump(self) -> dict[str, Any]:
        """The document as stored and shown (defaults left out)."""
        ...

    def sync_rules(self) -> SyncRules:
        """The document's outbound direction: how the connector writes back to this vendor."""
        ...


class MappingEngine(Protocol):
    def load(self, document: Mapping[str, Any] | str, *, source: str) -> FieldMapping:
        """Validate a document (a dict or YAML text); MappingError pointing into it on any problem."""
        ...

    def default(self, vendor: str) -> FieldMapping:
        """The document shipped for `vendor`."""
        ...

    def apply(self, mapping: FieldMapping, shape: str, payload: Any) -> MappedFields:
        """Map one payload of `shape` to canonical ticket fields. Pure."""
        ...
