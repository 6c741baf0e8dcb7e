"""tickets.problem_ref (the problem a ticket is an incident of, by its id in the same tool) and
tickets.linked_users (distinct requesters of a problem's linked incidents): users affected

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("problem_ref", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("linked_users", sa.Integer(), nullable=True))
        batch.create_index("ix_tickets_problem_ref", ["problem_ref"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_problem_ref")
        batch.drop_column("linked_users")
        batch.drop_column("problem_ref")
