"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Keys compare byte by byte on PostgreSQL as on SQLite (see engine.models.KEY).
KEY = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("sku", KEY, nullable=True),
        sa.Column("po_number", KEY, nullable=True),
        sa.Column("po_line", sa.Integer(), nullable=True),
        sa.Column("order_number", KEY, nullable=True),
        sa.Column("so_line", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_operation_id"), ["operation_id"], unique=False
        )
        batch_op.create_index("ix_audit_events_order", ["order_number", "so_line"], unique=False)
        batch_op.create_index("ix_audit_events_po", ["po_number", "po_line"], unique=False)

    op.create_table(
        "products",
        sa.Column("sku", KEY, nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_products")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("po_number", KEY, nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'cancelled', 'received')", name=op.f("ck_purchase_orders_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("po_number", name=op.f("uq_purchase_orders_po_number")),
    )
    op.create_table(
        "sales_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_number", KEY, nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_orders")),
        sa.UniqueConstraint("order_number", name=op.f("uq_sales_orders_order_number")),
    )
    op.create_table(
        "po_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("po_id", sa.Integer(), nullable=False),
        sa.Column("po_number", KEY, nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("sku", KEY, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("store_hold", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("arrival_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'cancelled', 'received')", name=op.f("ck_po_lines_status")
        ),
        sa.CheckConstraint(
            "allocated + store_hold <= quantity", name=op.f("ck_po_lines_atp_not_negative")
        ),
        sa.CheckConstraint("allocated >= 0", name=op.f("ck_po_lines_allocated_not_negative")),
        sa.CheckConstraint("line >= 1", name=op.f("ck_po_lines_line_positive")),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_po_lines_quantity_not_negative")),
        sa.CheckConstraint("store_hold >= 0", name=op.f("ck_po_lines_store_hold_not_negative")),
        sa.ForeignKeyConstraint(
            ["po_id"], ["purchase_orders.id"], name=op.f("fk_po_lines_po_id_purchase_orders")
        ),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name=op.f("fk_po_lines_sku_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_po_lines")),
        sa.UniqueConstraint("id", "sku", name=op.f("uq_po_lines_id_sku")),
        sa.UniqueConstraint("po_id", "line", name=op.f("uq_po_lines_po_id_line")),
    )
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_po_lines_supply", ["sku", "arrival_date", "po_number", "line"], unique=False
        )

    op.create_table(
        "so_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("so_id", sa.Integer(), nullable=False),
        sa.Column("order_number", KEY, nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("sku", KEY, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("po_line_id", sa.Integer(), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "po_line_id IS NULL OR status = 'open'", name=op.f("ck_so_lines_allocated_only_open")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'cancelled', 'fulfilled')", name=op.f("ck_so_lines_status")
        ),
        sa.CheckConstraint("line >= 1", name=op.f("ck_so_lines_line_positive")),
        sa.CheckConstraint(
            "po_line_id IS NULL OR NOT parked", name=op.f("ck_so_lines_parked_unallocated")
        ),
        sa.CheckConstraint(
            "po_line_id IS NULL OR promised_date IS NOT NULL",
            name=op.f("ck_so_lines_allocated_promised"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_so_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["po_line_id"], ["po_lines.id"], name=op.f("fk_so_lines_po_line_id_po_lines")
        ),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name=op.f("fk_so_lines_sku_products")),
        sa.ForeignKeyConstraint(
            ["so_id"], ["sales_orders.id"], name=op.f("fk_so_lines_so_id_sales_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_so_lines")),
        sa.UniqueConstraint(
            "id",
            "po_line_id",
            "sku",
            "quantity",
            name=op.f("uq_so_lines_id_po_line_id_sku_quantity"),
        ),
        sa.UniqueConstraint("order_number", "line", name=op.f("uq_so_lines_order_number_line")),
    )
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_so_lines_allocated",
            ["po_line_id", "placed_at", "order_number", "line"],
            unique=False,
            sqlite_where=sa.text("po_line_id IS NOT NULL"),
            postgresql_where=sa.text("po_line_id IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_so_lines_queue",
            ["sku", "placed_at", "order_number", "line"],
            unique=False,
            sqlite_where=sa.text("status = 'open' AND po_line_id IS NULL"),
            postgresql_where=sa.text("status = 'open' AND po_line_id IS NULL"),
        )

    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("so_line_id", sa.Integer(), nullable=False),
        sa.Column("po_line_id", sa.Integer(), nullable=False),
        sa.Column("sku", KEY, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_allocations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["po_line_id", "sku"],
            ["po_lines.id", "po_lines.sku"],
            name="fk_allocations_po_line_same_sku",
        ),
        sa.ForeignKeyConstraint(
            ["so_line_id", "po_line_id", "sku", "quantity"],
            ["so_lines.id", "so_lines.po_line_id", "so_lines.sku", "so_lines.quantity"],
            name="fk_allocations_so_line_agrees",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocations")),
        sa.UniqueConstraint("so_line_id", name=op.f("uq_allocations_so_line_id")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocations_po_line_id"), ["po_line_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_allocations_operation_id"), ["operation_id"], unique=False
        )

    op.create_table(
        "promise_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("so_line_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("old_date", sa.Date(), nullable=True),
        sa.Column("new_date", sa.Date(), nullable=True),
        sa.Column("reason", KEY, nullable=False),
        sa.ForeignKeyConstraint(
            ["so_line_id"], ["so_lines.id"], name=op.f("fk_promise_changes_so_line_id_so_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promise_changes")),
    )
    with op.batch_alter_table("promise_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promise_changes_so_line_id"), ["so_line_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("promise_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promise_changes_so_line_id"))

    op.drop_table("promise_changes")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocations_operation_id"))
        batch_op.drop_index(batch_op.f("ix_allocations_po_line_id"))

    op.drop_table("allocations")
    with op.batch_alter_table("so_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_so_lines_queue",
            sqlite_where=sa.text("status = 'open' AND po_line_id IS NULL"),
            postgresql_where=sa.text("status = 'open' AND po_line_id IS NULL"),
        )
        batch_op.drop_index(
            "ix_so_lines_allocated",
            sqlite_where=sa.text("po_line_id IS NOT NULL"),
            postgresql_where=sa.text("po_line_id IS NOT NULL"),
        )

    op.drop_table("so_lines")
    with op.batch_alter_table("po_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_po_lines_supply")

    op.drop_table("po_lines")
    op.drop_table("sales_orders")
    op.drop_table("purchase_orders")
    op.drop_table("products")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_po")
        batch_op.drop_index("ix_audit_events_order")
        batch_op.drop_index(batch_op.f("ix_audit_events_operation_id"))

    op.drop_table("audit_events")
