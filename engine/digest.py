"""What needs a merchandiser's attention, as aggregates: the data a digest is built from.

One read transaction, so the two lists describe the same moment; SQL aggregates only, so its
cost does not grow with the number of lines shown (a digest of a million queued lines is a few
rows per SKU and per PO line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select

from engine.db import Database
from engine.models import po_lines, so_lines
from engine.results import _jsonable


@dataclass(frozen=True)
class QueueBySku:
    """A SKU's unallocated open SO lines (rule 1's queue, parked lines counted apart)."""

    sku: str
    lines: int
    units: int
    parked: int
    oldest_placed_at: datetime


@dataclass(frozen=True)
class OutOfSyncLine:
    """A PO line with allocated SO lines whose promised date is not its arrival date (rule 4)."""

    po: str
    line: int
    sku: str
    arrival_date: date
    lines: int
    units: int
    earliest_promise: date
    latest_promise: date


@dataclass(frozen=True)
class Digest:
    unallocated: list[QueueBySku]
    out_of_sync: list[OutOfSyncLine]

    @property
    def is_empty(self) -> bool:
        return not self.unallocated and not self.out_of_sync

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "unallocated": [vars(q) for q in self.unallocated],
                "out_of_sync": [vars(o) for o in self.out_of_sync],
            }
        )


def digest(db: Database) -> Digest:
    """The unallocated queue by SKU and the PO lines with out-of-sync promises."""
    queue = (
        select(
            so_lines.c.sku,
            func.count().label("lines"),
            func.sum(so_lines.c.quantity).label("units"),
            func.sum(case((so_lines.c.parked, 1), else_=0)).label("parked"),
            func.min(so_lines.c.placed_at).label("oldest"),
        )
        .where(so_lines.c.status == "open", so_lines.c.po_line_id.is_(None))
        .group_by(so_lines.c.sku)
        .order_by(so_lines.c.sku)
    )
    stale = (
        select(
            po_lines.c.po_number,
            po_lines.c.line,
            po_lines.c.sku,
            po_lines.c.arrival_date,
            func.count().label("lines"),
            func.sum(so_lines.c.quantity).label("units"),
            func.min(so_lines.c.promised_date).label("earliest"),
            func.max(so_lines.c.promised_date).label("latest"),
        )
        .join(po_lines, po_lines.c.id == so_lines.c.po_line_id)
        .where(po_lines.c.out_of_sync > 0, so_lines.c.promised_date != po_lines.c.arrival_date)
        .group_by(po_lines.c.id, po_lines.c.po_number, po_lines.c.line, po_lines.c.sku)
        .group_by(po_lines.c.arrival_date)
        .order_by(po_lines.c.po_number, po_lines.c.line)
    )
    with db.read() as conn:
        queued = conn.execute(queue).all()
        out = conn.execute(stale).all()
    return Digest(
        unallocated=[
            QueueBySku(r.sku, r.lines, int(r.units), int(r.parked), r.oldest) for r in queued
        ],
        out_of_sync=[
            OutOfSyncLine(
                r.po_number,
                r.line,
                r.sku,
                r.arrival_date,
                r.lines,
                int(r.units),
                r.earliest,
                r.latest,
            )
            for r in out
        ],
    )
