"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from connector.tables import Base


def test_migrations_match_the_models(database):
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # type differences (our UTC wrapper) are not schema differences
    assert [d for d in diff if d[0] not in ("modify_type",)] == []
