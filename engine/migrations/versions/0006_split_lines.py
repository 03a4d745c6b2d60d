"""Split lines (rule 10): an order may allow its lines to be split, a line may be allocated in
parts (one row per PO line it takes units from), and each PO line counts the parts it holds

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPLIT_QUEUE = sa.text("status = 'open' AND po_line_id IS NULL AND allow_split AND NOT parked")
KEY = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("split_parts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_po_lines_split_parts"), "split_parts BETWEEN 0 AND allocated_lines"
        )
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allow_split", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allow_split", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("split", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_so_lines_split_allocated"), "po_line_id IS NOT NULL OR NOT split"
        )
        batch_op.create_index(
            "ix_so_lines_split_queue",
            ["sku", "placed_at", "order_number", "line", "quantity"],
            sqlite_where=SPLIT_QUEUE,
            postgresql_where=SPLIT_QUEUE,
        )
    op.create_table(
        "allocation_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("so_line_id", sa.Integer(), nullable=False),
        sa.Column("po_line_id", sa.Integer(), nullable=False),
        sa.Column("sku", KEY, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ready_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_allocation_parts_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["so_line_id"],
            ["so_lines.id"],
            name=op.f("fk_allocation_parts_so_line_id_so_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["po_line_id", "sku"],
            ["po_lines.id", "po_lines.sku"],
            name="fk_allocation_parts_po_line_same_sku",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_parts")),
        sa.UniqueConstraint(
            "so_line_id", "po_line_id", name=op.f("uq_allocation_parts_so_line_id_po_line_id")
        ),
    )
    op.create_index(
        op.f("ix_allocation_parts_po_line_id"), "allocation_parts", ["po_line_id"], unique=False
    )


def downgrade() -> None:
    # The old schema allocates whole lines only: split lines go back to the queue (their
    # units back to ATP), as a cancelled PO line's would.
    op.execute(
        "UPDATE po_lines SET "
        "allocated = allocated - COALESCE((SELECT sum(quantity) FROM allocation_parts "
        "WHERE allocation_parts.po_line_id = po_lines.id), 0), "
        "allocated_lines = allocated_lines - split_parts, "
        "out_of_sync = out_of_sync - (SELECT count(*) FROM so_lines WHERE split "
        "AND so_lines.po_line_id = po_lines.id "
        "AND so_lines.promised_date <> po_lines.arrival_date)"
    )
    op.execute(
        "UPDATE so_lines SET po_line_id = NULL, promised_date = NULL, ready_at = NULL WHERE split"
    )
    op.drop_index(op.f("ix_allocation_parts_po_line_id"), table_name="allocation_parts")
    op.drop_table("allocation_parts")
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_so_lines_split_queue", sqlite_where=SPLIT_QUEUE, postgresql_where=SPLIT_QUEUE
        )
        batch_op.drop_constraint(op.f("ck_so_lines_split_allocated"), type_="check")
        batch_op.drop_column("split")
        batch_op.drop_column("allow_split")
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.drop_column("allow_split")
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_po_lines_split_parts"), type_="check")
        batch_op.drop_column("split_parts")
