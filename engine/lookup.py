"""Finding PO lines and SO lines by the numbers people use, with errors that name them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from engine import ledger
from engine.errors import NotFound
from engine.models import po_lines, purchase_orders, sales_orders, so_lines
from engine.queries import po_line_sku
from engine.results import LineRef
from engine.unit import Unit


def po_line(unit: Unit, po: str, line: int) -> tuple[ledger.Supply, str]:
    """A PO line (locked by its SKU) and its PO's status."""
    while True:
        sku = po_line_sku(unit.conn, po, line)
        unit.lock_skus([sku])
        row = unit.conn.execute(
            select(*ledger.SUPPLY_COLUMNS, purchase_orders.c.status.label("po_status"))
            .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
            .where(po_lines.c.po_number == po, po_lines.c.line == line)
        ).one()
        if row.sku == sku:  # else an import changed the SKU between the two reads: lock again
            unit.touch([row.id])
            return ledger.supply_from(row[:-1]), row.po_status


def po_skus(conn: Connection, po: str) -> list[str]:
    found = conn.execute(
        select(purchase_orders.c.id).where(purchase_orders.c.po_number == po)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"unknown PO {po}")
    return sorted(
        set(conn.execute(select(po_lines.c.sku).where(po_lines.c.po_id == found)).scalars())
    )


def order_lines(conn: Connection, order: str) -> list[ledger.Demand]:
    rows = conn.execute(
        select(*ledger.DEMAND_COLUMNS)
        .where(so_lines.c.order_number == order)
        .order_by(so_lines.c.line)
    ).all()
    if not rows:
        exists = conn.execute(
            select(sales_orders.c.id).where(sales_orders.c.order_number == order)
        ).first()
        if exists is None:
            raise NotFound(f"unknown order {order}")
    return [ledger.demand_from(r) for r in rows]


def resolve(
    conn: Connection, refs: Sequence[LineRef], sku: str | None
) -> tuple[list[ledger.Demand], list[str]]:
    """Turn ``ORDER[:LINE]`` references into SO lines, collecting every problem instead of
    stopping at the first. ``ORDER`` alone means the order's one line of ``sku``."""
    found: list[ledger.Demand] = []
    problems: list[str] = []
    seen: set[int] = set()
    for ref in refs:
        try:
            lines = order_lines(conn, ref.order)
        except NotFound as exc:
            problems.append(exc.message)
            continue
        if ref.line is not None:
            match = [d for d in lines if d.line == ref.line]
            if not match:
                problems.append(f"order {ref.order} has no line {ref.line}")
                continue
        else:
            match = [d for d in lines if sku is None or d.sku == sku]
            if len(match) != 1:
                what = f"of SKU {sku}" if sku else ""
                if not match:
                    problems.append(f"order {ref.order} has no line {what}".rstrip())
                else:
                    numbers = ", ".join(str(d.line) for d in match)
                    problems.append(
                        f"order {ref.order} has {len(match)} lines {what} (lines {numbers}): "
                        f"write {ref.order}:LINE"
                    )
                continue
        demand = match[0]
        if demand.id in seen:
            problems.append(f"{demand.order}:{demand.line} is named twice")
            continue
        seen.add(demand.id)
        found.append(demand)
    return found, problems


def po_line_names(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    if not ids:
        return {}
    rows = conn.execute(
        select(po_lines.c.id, po_lines.c.po_number, po_lines.c.line).where(po_lines.c.id.in_(ids))
    )
    return {r.id: (r.po_number, r.line) for r in rows}
