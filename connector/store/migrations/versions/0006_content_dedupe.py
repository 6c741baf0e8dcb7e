"""deliveries.content_sha256: the digest of what the vendor's signature covers, unique per vendor and
instance — a captured body re-sent with a fresh delivery-id header is a duplicate, not a new delivery

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("content_sha256", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_deliveries_content", ["vendor", "instance", "content_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("uq_deliveries_content", type_="unique")
        batch.drop_column("content_sha256")
