"""The spreadsheet's tabs and columns: what the sync writes, what people may edit.

Columns are found by their header, never by position, and every data row carries its key in
the hidden ``Key`` column, so people can sort, filter, insert rows and move columns freely.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a column's cells are read and written."""

    TEXT = "text"
    INT = "int"
    DATE = "date"  # a calendar date; a date serial number in Google Sheets
    BOOL = "bool"  # a checkbox
    # An instant, shown as text in the team's zone, named: "YYYY-MM-DD HH:MM America/New_York".
    INSTANT = "instant"


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    editable: bool = False
    # Offered in a dropdown; for an editable column typed values outside the list are allowed
    # too (``move to PO:LINE``), so the validation is a hint, not strict.
    choices: tuple[str, ...] = ()
    note: str = ""
    # Characters wide, for a column of long text; 0: as wide as its header and choices need.
    width: int = 0
    # Long text wraps onto more lines of its row instead of being cut off at the column's edge.
    wrap: bool = False


KEY = "Key"
STATUS = "Status"
# A refusal's reason, or a conflict's values, runs to a few hundred characters: wide enough for
# a short one on one line, wrapped for the rest.
STATUS_WIDTH = 60


@dataclass(frozen=True)
class Tab:
    name: str
    columns: tuple[Column, ...]

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)

    def column(self, header: str) -> Column:
        for c in self.columns:
            if c.header == header:
                return c
        raise KeyError(header)

    @property
    def editable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.editable)


def _tab(name: str, *columns: Column) -> Tab:
    # The key first (hidden), the status last: both written by the sync only.
    return Tab(name, (Column(KEY), *columns, Column(STATUS, width=STATUS_WIDTH, wrap=True)))


# Dropdown choices: none may be the beginning of another, or Google's AutoInput (Excel's
# AutoComplete) finishes a typed "remove" as the longer choice already in the column.
REMOVE = "remove"
HOLD_FOR_STORE = "hold for store"
# What the second choice was called before; still applied when found in a sheet.
OLD_HOLD_FOR_STORE = "remove and hold for store"
MOVE_PREFIX = "move to "

PO_LINES = _tab(
    "PO lines",
    Column("PO"),
    Column("Line", Kind.INT),
    Column("SKU"),
    Column("Quantity", Kind.INT),
    Column(
        "Received",
        Kind.INT,
        editable=True,
        note="Units received so far: type the new total to record a receipt of what it adds.",
    ),
    Column("Store hold", Kind.INT, editable=True, note="Units kept for in-store sales."),
    Column("Allocated", Kind.INT),
    Column("ATP", Kind.INT),
    Column("Arrival date", Kind.DATE, editable=True, note="Expected arrival (YYYY-MM-DD)."),
    Column("Orders", Kind.INT),
    Column("Out of sync", Kind.INT),
    Column(
        "Sync dates",
        Kind.BOOL,
        editable=True,
        note="Tick to set every allocated order's promised date to the arrival date.",
    ),
)

ALLOCATIONS = _tab(
    "Allocations",
    Column("PO"),
    Column("Line", Kind.INT),
    Column("SKU"),
    Column("Order"),
    Column("Order line", Kind.INT),
    Column("Customer"),
    Column("Placed at", Kind.INSTANT),
    Column("Qty", Kind.INT),
    # Rule 10: where a split line's units are ("10 on PO-1:1, 5 on PO-2:1"), empty for a whole
    # line; PO and Line above are its latest part's, Qty the whole line's.
    Column("Parts"),
    Column("Arrival date", Kind.DATE),
    Column("Promised date", Kind.DATE),
    Column("In sync", Kind.BOOL),
    Column(
        "Action",
        editable=True,
        choices=(REMOVE, HOLD_FOR_STORE),
        note="remove (the units go back to ATP), hold for store (they go to the store hold), "
        "or move to PO:LINE",
    ),
)

UNALLOCATED = _tab(
    "Unallocated",
    Column("Order"),
    Column("Order line", Kind.INT),
    Column("SKU"),
    Column("Qty", Kind.INT),
    Column("Placed at", Kind.INSTANT),
    Column("Customer"),
    Column("Parked", Kind.BOOL),
    Column("Allocate to", editable=True, note="PO:LINE, e.g. PO-1001:1"),
)

# One row per run, appended; no key, nothing editable.
SYNC_LOG = Tab(
    "Sync log",
    (
        Column("When", Kind.INSTANT),
        Column("Who"),
        Column("Run"),
        Column("Edits applied", Kind.INT),
        Column("Edits refused", Kind.INT),
        Column("Requests", Kind.INT),
        Column("Note"),
    ),
)

DATA_TABS = (PO_LINES, ALLOCATIONS, UNALLOCATED)
TABS = (*DATA_TABS, SYNC_LOG)
# Changes whenever the layout does (a column, a dropdown's choices, a note): a spreadsheet set up
# for another layout is set up again, so that it does not keep offering old choices.
LAYOUT_STAMP = hashlib.sha256(repr(TABS).encode()).hexdigest()[:16]
