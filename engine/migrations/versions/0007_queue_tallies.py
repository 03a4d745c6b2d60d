"""The size of each SKU's queue by hour of placed_at, kept by triggers on so_lines, so that a
queued line's place in its queue is read from a few tallies instead of counting every line
ahead of it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.models import KEY
from engine.queue_tallies import create_triggers, drop_triggers, recount
from engine.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# On SQLite the tallies are a table without rowid: the row triggers find and change each in one
# B-tree (the primary key's) instead of the key's index and then the table.
SQLITE_TALLIES = """
CREATE TABLE queue_tallies (
    sku VARCHAR(64) NOT NULL,
    hour DATETIME NOT NULL,
    lines BIGINT NOT NULL,
    units BIGINT NOT NULL,
    CONSTRAINT pk_queue_tallies PRIMARY KEY (sku, hour)
) WITHOUT ROWID
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_TALLIES)
    else:
        op.create_table(
            "queue_tallies",
            sa.Column("sku", KEY, nullable=False),
            sa.Column("hour", UTCDateTime(), nullable=False),
            sa.Column("lines", sa.BigInteger(), nullable=False),
            sa.Column("units", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("sku", "hour", name=op.f("pk_queue_tallies")),
        )
    op.create_table(
        "queue_tally_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", KEY, nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_tally_deltas")),
    )
    op.create_index(
        "ix_queue_tally_deltas_sku", "queue_tally_deltas", ["sku", "hour", "lines", "units"]
    )
    conn = op.get_bind()
    create_triggers(conn)
    recount(conn)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_index("ix_queue_tally_deltas_sku", table_name="queue_tally_deltas")
    op.drop_table("queue_tally_deltas")
    op.drop_table("queue_tallies")
