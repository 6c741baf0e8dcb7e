"""The store: the SQL database that is the source of truth — engine and sessions, tables, Alembic
migrations, and the versioned documents (policies, field mappings). Imports the model and the policy."""

from __future__ import annotations

from connector.store.database import Database, WriterGate
from connector.store.limits import MAX_ID, MAX_VERSION, is_id, is_version
from connector.store.mappings import ActiveMapping, MappingVersions
from connector.store.policies import ActivePolicy, PolicyVersions
from connector.store.tables import FINAL_STATUSES, DeliveryStatus

__all__ = [
    "FINAL_STATUSES",
    "MAX_ID",
    "MAX_VERSION",
    "ActiveMapping",
    "ActivePolicy",
    "Database",
    "DeliveryStatus",
    "MappingVersions",
    "PolicyVersions",
    "WriterGate",
    "is_id",
    "is_version",
]
