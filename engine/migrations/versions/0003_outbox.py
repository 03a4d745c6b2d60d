"""The outbox of events for webhooks and customer emails (DESIGN.md section 5); an order's
email address

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Keys compare byte by byte on PostgreSQL as on SQLite (see engine.models.KEY).
KEY = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")
NEW = sa.text("NOT enqueued")
PENDING = sa.text("status = 'pending'")
WAITING = sa.text("status IN ('pending', 'dead')")
DEAD = sa.text("status = 'dead'")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "outbox_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=1100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_outbox_channels_name")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("order_number", KEY, nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("enqueued", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_events_event_id")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_new", ["id"], sqlite_where=NEW, postgresql_where=NEW
        )
        batch_op.create_index(batch_op.f("ix_outbox_events_order_number"), ["order_number"])
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("order_number", KEY, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("answer_status", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead', 'skipped')",
            name=op.f("ck_outbox_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["outbox_channels.id"],
            name=op.f("fk_outbox_deliveries_channel_id_outbox_channels"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox_events.id"],
            name=op.f("fk_outbox_deliveries_outbox_id_outbox_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_deliveries")),
        sa.UniqueConstraint(
            "outbox_id", "channel_id", name=op.f("uq_outbox_deliveries_outbox_id_channel_id")
        ),
    )
    with op.batch_alter_table("outbox_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_deliveries_due",
            ["channel_id", "due_at", "id"],
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )
        batch_op.create_index(
            "ix_outbox_deliveries_waiting",
            ["channel_id", "order_number", "outbox_id"],
            sqlite_where=WAITING,
            postgresql_where=WAITING,
        )
        batch_op.create_index(
            "ix_outbox_deliveries_dead", ["id"], sqlite_where=DEAD, postgresql_where=DEAD
        )


def downgrade() -> None:
    op.drop_table("outbox_deliveries")
    op.drop_table("outbox_events")
    op.drop_table("outbox_channels")
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.drop_column("email")
