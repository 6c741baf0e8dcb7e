"""sla_fires.data: the typed facts of a fire (a retarget's cause and old and new targets)

Until now the report read a retarget's cause and targets back out of its `detail` text. This adds
`data` and converts the rows written before it, once, from that text (the only place the text is
parsed; from now on the engine writes `data` itself).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# "resolution: 8h → 1h after severity → P0, due 2026-03-09T14:00:00Z" (the engine's wording until 0004)
_RETARGET = re.compile(r"^\S+: (\S+) → (\S+) after (\w+) → (.*?)(?:, due \S+)?$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def _seconds(text: str) -> float | None:
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def upgrade() -> None:
    with op.batch_alter_table("sla_fires") as batch:
        batch.add_column(sa.Column("data", sa.JSON(), nullable=True))
    fires = sa.table(
        "sla_fires",
        sa.column("id", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("detail", sa.Text()),
        sa.column("data", sa.JSON()),
    )
    conn = op.get_bind()
    for row_id, detail in conn.execute(sa.select(fires.c.id, fires.c.detail).where(fires.c.kind == "retargeted")):
        m = _RETARGET.match(detail or "")
        old, new = (_seconds(m.group(1)), _seconds(m.group(2))) if m else (None, None)
        if m is None or old is None or new is None:
            continue
        facts = {"retarget": {"cause": m.group(3), "value": m.group(4), "old_seconds": old, "new_seconds": new}}
        conn.execute(sa.update(fires).where(fires.c.id == row_id).values(data=facts))


def downgrade() -> None:
    with op.batch_alter_table("sla_fires") as batch:
        batch.drop_column("data")
