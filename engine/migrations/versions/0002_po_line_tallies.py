"""PO line tallies of allocated and out-of-sync lines; fewer audit indexes; idempotency keys;
mirror snapshots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TALLIES = """
UPDATE po_lines SET
    allocated_lines = (
        SELECT count(*) FROM so_lines WHERE so_lines.po_line_id = po_lines.id
    ),
    out_of_sync = (
        SELECT count(*) FROM so_lines
        WHERE so_lines.po_line_id = po_lines.id
          AND so_lines.promised_date <> po_lines.arrival_date
    )
"""


def upgrade() -> None:
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allocated_lines", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("out_of_sync", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(TALLIES)
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_po_lines_allocated_lines"), "allocated_lines BETWEEN 0 AND allocated"
        )
        batch_op.create_check_constraint(
            op.f("ck_po_lines_out_of_sync"), "out_of_sync BETWEEN 0 AND allocated_lines"
        )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_po")
        batch_op.drop_index(batch_op.f("ix_audit_events_operation_id"))
    op.create_table(
        "applied_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_applied_keys")),
    )
    op.create_table(
        "mirror_rows",
        sa.Column("mirror", sa.String(length=300), nullable=False),
        sa.Column("tab", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("mirror", "tab", "key", name=op.f("pk_mirror_rows")),
    )


def downgrade() -> None:
    op.drop_table("mirror_rows")
    op.drop_table("applied_keys")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_operation_id"), ["operation_id"], unique=False
        )
        batch_op.create_index("ix_audit_events_po", ["po_number", "po_line"], unique=False)
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_po_lines_out_of_sync"), type_="check")
        batch_op.drop_constraint(op.f("ck_po_lines_allocated_lines"), type_="check")
        batch_op.drop_column("out_of_sync")
        batch_op.drop_column("allocated_lines")
