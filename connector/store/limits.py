"""What the integer columns hold. A number outside this range names no row, and the database drivers
refuse to bind it (SQLite: OverflowError; psycopg: out of range) — so it is answered as "not found"
before any query."""

from __future__ import annotations

#: ids (`BigInteger`; SQLite's INTEGER is 64-bit too) and SQL's LIMIT / OFFSET
MAX_ID = 2**63 - 1
#: version numbers of mapping and policy documents (`Integer`: 32-bit on PostgreSQL)
MAX_VERSION = 2**31 - 1


def is_id(value: int) -> bool:
    """Whether `value` can be a row's id (ids start at 1)."""
    return 0 < value <= MAX_ID


def is_version(value: int) -> bool:
    """Whether `value` can be a document's version number (versions start at 1)."""
    return 0 < value <= MAX_VERSION
