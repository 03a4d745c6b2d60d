"""What each tab should show: the database's state as rows, by key.

Keys are the business identities people already use (``PO-1001:1`` for a PO line,
``SO-1:2`` for an order line), so a key can also be checked against the row's own visible
cells: a key that disagrees with them was tampered with or copied onto another row.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

import engine as e
from sheets.layout import ALLOCATIONS, PO_LINES, UNALLOCATED

# tab name -> key -> header -> database value (Status is the sync's, not the database's)
Rows = dict[str, dict[str, Any]]

# The visible columns a tab's key is made of.
IDENTITY: dict[str, tuple[str, str]] = {
    PO_LINES.name: ("PO", "Line"),
    ALLOCATIONS.name: ("Order", "Order line"),
    UNALLOCATED.name: ("Order", "Order line"),
}


def key_of(first: Any, second: Any) -> str:
    return f"{first}:{second}"


def desired(state: e.State, zone: tzinfo = UTC) -> dict[str, Rows]:
    """Every data tab's rows for ``state``; command columns (Action, Allocate to, Sync dates)
    are empty: they hold only what a person asks for until it is applied. Instants are shown
    in ``zone``, the team's."""
    po_rows: Rows = {}
    for s in state.po_lines:
        key = key_of(s.po, s.line)
        po_rows[key] = {
            "Key": key,
            "PO": s.po,
            "Line": s.line,
            "SKU": s.sku,
            "Quantity": s.quantity,
            "Received": s.received,
            "Store hold": s.store_hold,
            "Allocated": s.allocated,
            "ATP": s.atp,
            "Arrival date": s.arrival_date,
            "Orders": s.orders,
            "Out of sync": s.out_of_sync,
            "Sync dates": False,
        }
    held: Rows = {}
    for a in state.allocations:
        key = key_of(a.order, a.line)
        held[key] = {
            "Key": key,
            "PO": a.po,
            "Line": a.po_line,
            "SKU": a.sku,
            "Order": a.order,
            "Order line": a.line,
            "Customer": a.customer,
            "Placed at": a.placed_at.astimezone(zone),
            "Qty": a.quantity,
            "Parts": e.parts_text(a.parts) if a.parts else None,
            "Arrival date": a.arrival_date,
            "Promised date": a.promised_date,
            "In sync": a.in_sync,
            "Action": None,
        }
    waiting: Rows = {}
    for q in state.unallocated:
        key = key_of(q.order, q.line)
        waiting[key] = {
            "Key": key,
            "Order": q.order,
            "Order line": q.line,
            "SKU": q.sku,
            "Qty": q.quantity,
            "Placed at": q.placed_at.astimezone(zone),
            "Customer": q.customer,
            "Parked": q.parked,
            "Allocate to": None,
        }
    return {PO_LINES.name: po_rows, ALLOCATIONS.name: held, UNALLOCATED.name: waiting}
