"""Receiving (rule 9): units received on each PO line; when an SO line's stock came in (ready),
and fulfilled lines keep the allocation their units left from

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READY = sa.text("status = 'open' AND ready_at IS NOT NULL")
OPEN_ONLY = "po_line_id IS NULL OR status = 'open'"
OPEN_OR_SHIPPED = (
    "po_line_id IS NULL OR status = 'open' OR (status = 'fulfilled' AND ready_at IS NOT NULL)"
)

# The tallies again after fulfilled lines gave their allocations up (downgrade only).
TALLIES = """
UPDATE po_lines SET
    allocated = COALESCE(
        (SELECT sum(quantity) FROM allocations WHERE allocations.po_line_id = po_lines.id), 0
    ),
    allocated_lines = (SELECT count(*) FROM so_lines WHERE so_lines.po_line_id = po_lines.id),
    out_of_sync = (
        SELECT count(*) FROM so_lines
        WHERE so_lines.po_line_id = po_lines.id
          AND so_lines.promised_date <> po_lines.arrival_date
    )
"""


def upgrade() -> None:
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(op.f("ck_po_lines_received_not_negative"), "received >= 0")
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ready_at", sa.DateTime(), nullable=True))
        batch_op.drop_constraint(op.f("ck_so_lines_allocated_only_open"), type_="check")
        batch_op.create_check_constraint(op.f("ck_so_lines_allocated_only_open"), OPEN_OR_SHIPPED)
        batch_op.create_check_constraint(
            op.f("ck_so_lines_ready_allocated"), "ready_at IS NULL OR po_line_id IS NOT NULL"
        )
        batch_op.create_index(
            "ix_so_lines_ready",
            ["placed_at", "order_number", "line"],
            sqlite_where=READY,
            postgresql_where=READY,
        )


def downgrade() -> None:
    # A fulfilled line gives its allocation up: the old schema allocates open lines only.
    op.execute(
        "DELETE FROM allocations WHERE so_line_id IN "
        "(SELECT id FROM so_lines WHERE status = 'fulfilled')"
    )
    op.execute("UPDATE so_lines SET po_line_id = NULL, ready_at = NULL WHERE status = 'fulfilled'")
    op.execute(TALLIES)
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_so_lines_ready")
        batch_op.drop_constraint(op.f("ck_so_lines_ready_allocated"), type_="check")
        batch_op.drop_constraint(op.f("ck_so_lines_allocated_only_open"), type_="check")
        batch_op.create_check_constraint(op.f("ck_so_lines_allocated_only_open"), OPEN_ONLY)
        batch_op.drop_column("ready_at")
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_po_lines_received_not_negative"), type_="check")
        batch_op.drop_column("received")
