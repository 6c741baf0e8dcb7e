"""Escalation and the outbox: tickets.owner; escalations (each action at most once per trigger, ticket
and occurrence); outbox (outbound intents with attempts and answers); followups (owed follow-ups and
post-mortems); repeat_clusters (one repeat-issue escalation per cluster)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    op.create_table(
        "escalations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", _ID, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("trigger_id", sa.String(length=96), nullable=False),
        sa.Column("occurrence", sa.String(length=160), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("at", _AT, nullable=False),
        sa.Column("recorded_at", _AT, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.UniqueConstraint("ticket_id", "trigger_id", "occurrence", "action_index", name="uq_escalation"),
    )
    op.create_index("ix_escalations_at", "escalations", ["at"])
    op.create_index("ix_escalations_ticket_id", "escalations", ["ticket_id"])
    op.create_table(
        "outbox",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", _ID, sa.ForeignKey("tickets.id"), nullable=True),
        sa.Column("escalation_id", _ID, sa.ForeignKey("escalations.id"), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("sequence_key", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=True),
        sa.Column("enqueued_at", _AT, nullable=True),
        sa.Column("claimed_at", _AT, nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("sent_at", _AT, nullable=True),
        sa.Column("rate_key", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency"),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_sequence", "outbox", ["sequence_key", "id"])
    op.create_index("ix_outbox_rate", "outbox", ["rate_key", "sent_at"])
    op.create_index("ix_outbox_ticket_id", "outbox", ["ticket_id"])
    op.create_table(
        "followups",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", _ID, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("escalation_id", _ID, sa.ForeignKey("escalations.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("owed_at", _AT, nullable=False),
        sa.Column("within_seconds", sa.Float(), nullable=False),
        sa.Column("due_at", _AT, nullable=True),
        sa.Column("done_at", _AT, nullable=True),
        sa.Column("done_by", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("overdue_at", _AT, nullable=True),
        sa.UniqueConstraint("escalation_id", name="uq_followup_escalation"),
    )
    op.create_index("ix_followups_due", "followups", ["due_at"])
    op.create_index("ix_followups_ticket_id", "followups", ["ticket_id"])
    op.create_table(
        "repeat_clusters",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("trigger_id", sa.String(length=96), nullable=False),
        sa.Column("customer", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ticket_id", _ID, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("ticket_ids", sa.JSON(), nullable=False),
        sa.Column("fired_at", _AT, nullable=False),
        sa.UniqueConstraint("trigger_id", "customer", "category", "seq", name="uq_repeat_cluster"),
    )


def downgrade() -> None:
    op.drop_table("repeat_clusters")
    op.drop_index("ix_followups_ticket_id", table_name="followups")
    op.drop_index("ix_followups_due", table_name="followups")
    op.drop_table("followups")
    for name in ("ix_outbox_ticket_id", "ix_outbox_rate", "ix_outbox_sequence", "ix_outbox_status_next"):
        op.drop_index(name, table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_escalations_ticket_id", table_name="escalations")
    op.drop_index("ix_escalations_at", table_name="escalations")
    op.drop_table("escalations")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("owner")
