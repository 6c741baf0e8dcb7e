"""The field-mapping engine and the shipped default mappings (`mappings/defaults/`).

A leaf over the canonical model: it imports `connector.model` and `connector.errors`, and nothing
in the core imports it; the composition roots hand `Engine()` to the runtime.
"""

from __future__ import annotations

from mappings.engine import Engine, apply, default_document, load_document
from mappings.schema import MappingDocument

__all__ = ["Engine", "MappingDocument", "apply", "default_document", "load_document"]
