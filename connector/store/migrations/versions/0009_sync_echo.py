"""outbox.echo_of: a sync intent not sent because the change it would carry was the connector's own
(outbox item N) reported back by the tool's webhook; each own change is recognised once.
links.status / seen_at / checked_at: a linked object's last reported status and event time, and when
the reconciliation sweep last fetched it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("echo_of", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.create_index("ix_outbox_echo_of", ["echo_of"])
        batch.create_index("ix_outbox_ticket_intent", ["ticket_id", "intent"])
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("status", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("checked_at")
        batch.drop_column("seen_at")
        batch.drop_column("status")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_ticket_intent")
        batch.drop_index("ix_outbox_echo_of")
        batch.drop_column("echo_of")
