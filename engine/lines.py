"""The order lines as the operations see them: an open PO line (supply) and an SO line
(demand), and the columns they are read from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.models import po_lines, so_lines
from engine.results import LineRef


@dataclass
class Supply:
    """An open PO line as the planner sees it; ``atp`` is updated as units are promised."""

    id: int
    po: str
    line: int
    sku: str
    arrival_date: date
    quantity: int
    store_hold: int
    allocated: int
    status: str = "open"
    received: int = 0

    @property
    def atp(self) -> int:
        # Rule 11: a closed line (cancelled, or fully received) promises nothing more.
        if self.status != "open":
            return 0
        return self.quantity - self.store_hold - self.allocated

    @property
    def fifo_key(self) -> tuple[date, str, int]:
        return (self.arrival_date, self.po, self.line)


# Not frozen: a frozen dataclass's __init__ costs a tenth of a 200,000-line sweep.
@dataclass(slots=True)
class Demand:
    """An SO line as the planner sees it."""

    id: int
    order: str
    line: int
    sku: str
    quantity: int
    # None when read by the sweep, which orders by it in SQL and never needs it in Python
    # (converting 200,000 instants is a tenth of a big sweep); see placed_at_of.
    placed_at: datetime | None = None
    parked: bool = False
    status: str = "open"
    po_line_id: int | None = None
    promised_date: date | None = None
    # When its stock came in (rule 9); None: not ready.
    ready_at: datetime | None = None
    # Allocated in parts (rule 10): po_line_id is then the PO line of its latest part.
    split: bool = False
    # May be split though the setting is off (its order's allow_split); set by the sweep only.
    allow_split: bool = False
    # For a split line read as one PO line's allocation: its units on that line (or those
    # lines), and that line.
    part: int | None = None
    part_on: int | None = None
    # That part's stock is in (rule 9); the line is ready once every part's is.
    part_ready: bool = False

    @property
    def units_here(self) -> int:
        """The units this line holds on the PO line it was read for: a part, or all of it."""
        return self.quantity if self.part is None else self.part

    @property
    def ref(self) -> LineRef:
        return LineRef(self.order, self.line)

    @property
    def fifo_key(self) -> tuple[datetime, str, int]:
        assert self.placed_at is not None, "fifo_key of a line read without placed_at"
        return (self.placed_at, self.order, self.line)


SUPPLY_COLUMNS = (
    po_lines.c.id,
    po_lines.c.po_number,
    po_lines.c.line,
    po_lines.c.sku,
    po_lines.c.arrival_date,
    po_lines.c.quantity,
    po_lines.c.store_hold,
    po_lines.c.allocated,
    po_lines.c.status,
    po_lines.c.received,
)

DEMAND_COLUMNS = (
    so_lines.c.id,
    so_lines.c.order_number,
    so_lines.c.line,
    so_lines.c.sku,
    so_lines.c.quantity,
    so_lines.c.placed_at,
    so_lines.c.parked,
    so_lines.c.status,
    so_lines.c.po_line_id,
    so_lines.c.promised_date,
    so_lines.c.ready_at,
    so_lines.c.split,
)


def supply_from(row: Any) -> Supply:
    return Supply(*row)


def demand_from(row: Any) -> Demand:
    return Demand(*row)
