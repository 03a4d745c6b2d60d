"""Promise history without a foreign key to its SO line: a sweep writes a promise row for every
line it places, and checking each row against ``so_lines`` was most of that insert's time

SO lines are never deleted, and every promise row is written from the SO line it names, in the
transaction that changes it; the invariant checker of the tests holds every row to a line.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_promise_changes_so_line_id_so_lines"


def upgrade() -> None:
    with op.batch_alter_table("promise_changes", schema=None) as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("promise_changes", schema=None) as batch_op:
        batch_op.create_foreign_key(FOREIGN_KEY, "so_lines", ["so_line_id"], ["id"])
