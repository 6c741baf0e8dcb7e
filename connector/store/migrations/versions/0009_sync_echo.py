"""outbox.echo_of: a sync intent not sent because the change it would carry was the connector's own
(outbox item N) reported back by the tool's webhook; each own change is recognised once

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


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_ticket_intent")
        batch.drop_index("ix_outbox_echo_of")
        batch.drop_column("echo_of")
