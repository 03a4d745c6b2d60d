"""Rule 2's review of a PO line that holds parts of split lines (rule 10): its whole lines and
each split line with a part on it, in FIFO order, a split line's quantity its part here.

Only a PO line whose ``split_parts`` is above 0 is read this way; every other keeps the plain
review's query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from engine.line_parts import line_parts
from engine.models import allocation_parts, po_lines, sales_orders, so_lines
from engine.paging import FIFO, fifo_page
from engine.results import LinePart, POLineHeader, Review, ReviewLine


def review_with_parts(
    conn: Connection,
    po_line_id: int,
    head: POLineHeader,
    supplier: str,
    limit: int | None,
    after: tuple[datetime, str, int] | None,
    before: tuple[datetime, str, int] | None,
) -> Review:
    anchor = po_lines.alias("anchor")
    part = allocation_parts.alias("part")
    query = (
        select(
            *FIFO,
            sales_orders.c.customer,
            sales_orders.c.email,
            so_lines.c.quantity,
            so_lines.c.promised_date,
            so_lines.c.ready_at,
            so_lines.c.split,
            so_lines.c.id,
            part.c.quantity.label("part"),
            part.c.ready_at.label("part_ready_at"),
            anchor.c.arrival_date.label("anchor_arrival"),
        )
        .join(sales_orders, sales_orders.c.id == so_lines.c.so_id)
        .join(anchor, anchor.c.id == so_lines.c.po_line_id)
        .outerjoin(part, and_(part.c.so_line_id == so_lines.c.id, part.c.po_line_id == po_line_id))
        .where(
            or_(
                and_(so_lines.c.po_line_id == po_line_id, so_lines.c.split.is_(False)),
                part.c.id.is_not(None),
            )
        )
    )
    rows = fifo_page(conn, query, limit=limit, after=after, before=before)
    # Each split line's other parts too, so that a face can say where the rest of it is.
    parts = line_parts(conn, [r.id for r in rows if r.split])
    return Review(
        head=head,
        supplier=supplier,
        allocations=[_line(r, parts.get(r.id, ())) for r in rows],
    )


def _line(r: Any, parts: tuple[LinePart, ...]) -> ReviewLine:
    split = bool(r.split)
    return ReviewLine(
        order=r.order_number,
        line=r.line,
        customer=r.customer,
        placed_at=r.placed_at,
        quantity=r.part if split else r.quantity,
        promised_date=r.promised_date,
        # A split line is in sync when promised its latest part's date, on each of its lines.
        in_sync=r.promised_date == r.anchor_arrival,
        email=r.email,
        ready=(r.part_ready_at if split else r.ready_at) is not None,
        split=split,
        line_quantity=r.quantity if split else None,
        parts=parts,
    )


__all__ = ["review_with_parts"]
