"""PO line headers (rule 2): a PO line's figures as every face shows them, read in one statement
for any number of lines, inside whatever transaction the caller has open.

``po_lines`` keeps its tallies (allocated units and lines, lines out of sync) on the row, so a
header is one row of ``po_lines`` joined to its PO: no count over the allocations.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, select

from engine.models import po_lines, purchase_orders
from engine.results import POLineHeader

_HEADERS = select(
    po_lines.c.id,
    po_lines.c.po_number,
    po_lines.c.line,
    po_lines.c.sku,
    po_lines.c.status,
    purchase_orders.c.status.label("po_status"),
    po_lines.c.arrival_date,
    po_lines.c.quantity,
    po_lines.c.store_hold,
    po_lines.c.allocated,
    po_lines.c.allocated_lines,
    po_lines.c.out_of_sync,
    po_lines.c.received,
).join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
# Rule 1's order: arrival date, PO, line.
ARRIVAL_ORDER = (po_lines.c.arrival_date, po_lines.c.po_number, po_lines.c.line)
# Built once: it runs at the end of every operation, the order intake's included.
_BY_ID = _HEADERS.where(po_lines.c.id.in_(bindparam("ids", expanding=True))).order_by(
    po_lines.c.po_number, po_lines.c.line
)
# With the PO's supplier, which a review shows beside the header.
_BY_KEY = _HEADERS.add_columns(purchase_orders.c.supplier).where(
    po_lines.c.po_number == bindparam("po"), po_lines.c.line == bindparam("line")
)


def header_from(r: Any) -> POLineHeader:
    # A closed line says why itself; an open line of a closed PO takes the PO's status.
    status = r.po_status if r.status == "open" else r.status
    return POLineHeader(
        po=r.po_number,
        line=r.line,
        sku=r.sku,
        status=status,
        arrival_date=r.arrival_date,
        quantity=r.quantity,
        store_hold=r.store_hold,
        allocated=r.allocated,
        # Rule 11: a cancelled or fully received line promises nothing more, whatever units
        # its figures leave; every face reads this header, so none can show it otherwise.
        atp=r.quantity - r.store_hold - r.allocated if status == "open" else 0,
        orders=r.allocated_lines,
        out_of_sync=r.out_of_sync,
        received=r.received,
    )


def header_of(conn: Connection, po: str, line: int) -> tuple[int, POLineHeader, str] | None:
    """The id and header of PO line ``po``:``line``, and its PO's supplier; None when there is
    no such line."""
    found = conn.execute(_BY_KEY, {"po": po, "line": line}).one_or_none()
    return None if found is None else (found.id, header_from(found), found.supplier)


def headers_by_id(conn: Connection, ids: Collection[int]) -> list[POLineHeader]:
    """The headers of these PO lines (by id), by PO and line, in one statement."""
    if not ids:
        return []
    return [header_from(r) for r in conn.execute(_BY_ID, {"ids": list(ids)})]


def headers_where(
    conn: Connection, cond: ColumnElement[bool], *, limit: int | None = None
) -> list[POLineHeader]:
    """The headers of the PO lines meeting ``cond``, in rule 1's order (arrival, PO, line)."""
    query = _HEADERS.where(cond).order_by(*ARRIVAL_ORDER)
    if limit is not None:
        query = query.limit(limit)
    return [header_from(r) for r in conn.execute(query)]
