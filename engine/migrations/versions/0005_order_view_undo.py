"""Orders looked up by customer and email, a line's place in the queue from the queue index, an
operation's audit events by its id, and the undo links

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

QUEUE = sa.text("status = 'open' AND po_line_id IS NULL")
PO_EVENTS = sa.text("order_number IS NULL")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.create_index("ix_sales_orders_customer", ["customer", "placed_at"])
        batch_op.create_index("ix_sales_orders_email", ["email", "placed_at"])
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_so_lines_queue", sqlite_where=QUEUE, postgresql_where=QUEUE)
        batch_op.create_index(
            "ix_so_lines_queue",
            [
                "sku",
                "placed_at",
                "order_number",
                "line",
                "parked",
                "quantity",
                "status",
                "po_line_id",
            ],
            sqlite_where=QUEUE,
            postgresql_where=QUEUE,
        )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_operation", ["operation_id"])
        batch_op.create_index(
            "ix_audit_events_po_line",
            ["po_number", "po_line"],
            sqlite_where=PO_EVENTS,
            postgresql_where=PO_EVENTS,
        )
    op.create_table(
        "undo_links",
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("undone_by", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("operation_id", name=op.f("pk_undo_links")),
        sa.UniqueConstraint("undone_by", name=op.f("uq_undo_links_undone_by")),
    )


def downgrade() -> None:
    op.drop_table("undo_links")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_audit_events_po_line", sqlite_where=PO_EVENTS, postgresql_where=PO_EVENTS
        )
        batch_op.drop_index("ix_audit_events_operation")
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_so_lines_queue", sqlite_where=QUEUE, postgresql_where=QUEUE)
        batch_op.create_index(
            "ix_so_lines_queue",
            ["sku", "placed_at", "order_number", "line"],
            sqlite_where=QUEUE,
            postgresql_where=QUEUE,
        )
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_orders_email")
        batch_op.drop_index("ix_sales_orders_customer")
