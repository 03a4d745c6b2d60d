"""Builders and readers shared by the tests."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

import engine as e
from engine.models import metadata

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def po(number: str, *lines: tuple[int, str, int, str], supplier: str = "Acme") -> e.PORecord:
    """``po("PO-1", (1, "SKU-A", 10, "2027-01-10"))``."""
    return e.PORecord(
        po=number,
        supplier=supplier,
        lines=[
            e.POLineRecord(line=ln, sku=sku, quantity=qty, arrival_date=date.fromisoformat(d))
            for ln, sku, qty, d in lines
        ],
    )


def so(
    number: str, placed: datetime | int, *lines: tuple[int, str, int], customer: str = ""
) -> e.SORecord:
    """``so("SO-1", 3, (1, "SKU-A", 2))``: an int ``placed`` means T0 plus that many minutes."""
    placed_at = T0 + timedelta(minutes=placed) if isinstance(placed, int) else placed
    return e.SORecord(
        order=number,
        customer=customer or f"customer of {number}",
        placed_at=placed_at,
        lines=[e.SOLineRecord(line=ln, sku=sku, quantity=qty) for ln, sku, qty in lines],
    )


def allocation_map(db: e.Database) -> dict[tuple[str, int], tuple[str, int]]:
    """``{(order, line): (po, po_line)}`` for every allocation."""
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT s.order_number, s.line, p.po_number, p.line FROM allocations a "
                "JOIN so_lines s ON s.id = a.so_line_id JOIN po_lines p ON p.id = a.po_line_id"
            )
        ).all()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def dump(db: e.Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal dumps mean an unchanged database."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.read() as conn:
        for table in metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            found[table.name] = [tuple(r) for r in conn.execute(query)]
    return found


OPERATION = re.compile(r" \[operation [0-9a-f-]{36}\]")


def without_operations(status: object) -> str:
    """A sheet's Status without the operation ids each applied edit names (they are new each
    run); asserting each is there."""
    assert isinstance(status, str) and OPERATION.search(status), status
    return OPERATION.sub("", status)
