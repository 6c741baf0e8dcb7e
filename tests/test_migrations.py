"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from connector.store.tables import Base


def test_migrations_match_the_models(database):
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # type differences (our UTC wrapper) are not schema differences
    assert [d for d in diff if d[0] not in ("modify_type",)] == []


def test_0004_reads_the_typed_facts_of_earlier_retargets_from_their_text(tmp_path):
    """Fires written before 0004 carried a retarget's cause and targets only in `detail`."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from connector.store import Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.upgrade("0003")
    at = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tickets (id, status, tags, created_at, updated_at, field_versions) "
                "VALUES (1, 'open', '[]', :at, :at, '{}')"
            ),
            {"at": at},
        )
        for i, (kind, detail) in enumerate(
            [
                ("retargeted", "resolution: 8h → 1h after severity → P0, due 2026-03-09T15:00:00Z"),
                ("retargeted", "first_response: 1d → 1h30m after tier → enterprise"),
                ("breach", "first_response breached its 1h target"),
            ],
            start=1,
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO sla_fires (id, ticket_id, metric, cycle, label, kind, at, recorded_at,"
                    " detail) VALUES (:i, 1, 'm', 1, :label, :kind, :at, :at, :detail)"
                ),
                {"i": i, "label": f"l{i}", "kind": kind, "at": at, "detail": detail},
            )
    db.upgrade()
    with db.engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, data FROM sla_fires ORDER BY id")).all())
    db.dispose()
    import json

    assert json.loads(rows[1]) == {
        "retarget": {"cause": "severity", "value": "P0", "old_seconds": 28800.0, "new_seconds": 3600.0}
    }
    assert json.loads(rows[2]) == {
        "retarget": {"cause": "tier", "value": "enterprise", "old_seconds": 86400.0, "new_seconds": 5400.0}
    }
    assert rows[3] is None
