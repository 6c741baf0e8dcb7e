"""deliveries.object_key and event_at (the SLA sweeper waits for a ticket's backlog); timeline.dedupe_key
(a comment reported by two deliveries is recorded once)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("object_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("event_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_deliveries_object_status", ["object_key", "status"], unique=False)
    with op.batch_alter_table("timeline") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(length=255), nullable=True))
        batch.create_unique_constraint("uq_timeline_dedupe", ["ticket_id", "dedupe_key"])


def downgrade() -> None:
    with op.batch_alter_table("timeline") as batch:
        batch.drop_constraint("uq_timeline_dedupe", type_="unique")
        batch.drop_column("dedupe_key")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_object_status")
        batch.drop_column("event_at")
        batch.drop_column("object_key")
