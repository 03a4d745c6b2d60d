"""Read-only views of the state: review a PO line, the unallocated queue, a PO (rule 2)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from itertools import starmap
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, select

from engine import arguments
from engine.db import Database
from engine.errors import NotFound
from engine.headers import header_of, headers_where
from engine.line_parts import every_split_line
from engine.models import applied_keys as applied
from engine.models import po_lines, purchase_orders, sales_orders, so_lines
from engine.paging import FIFO, fifo_page
from engine.results import (
    AllocatedLine,
    OrderLineState,
    PODetail,
    POLineHeader,
    QueuedLine,
    Review,
    ReviewLine,
    State,
)


def po_line(db: Database, po: str, line: int) -> POLineHeader:
    """Rule 2's header of PO line ``po``:``line``: SKU, status, arrival date, quantity, store
    hold, allocated, ATP, allocated lines and lines out of sync. One indexed read."""
    line = arguments.line_number(line)
    with db.read() as conn:
        return _head(conn, po, line)[1]


def _head(conn: Connection, po: str, line: int) -> tuple[int, POLineHeader, str]:
    found = header_of(conn, po, line)
    if found is None:
        raise missing_po_line(conn, po, line)
    return found


def review(
    db: Database,
    po: str,
    line: int,
    *,
    limit: int | None = None,
    after: tuple[datetime, str, int] | None = None,
    before: tuple[datetime, str, int] | None = None,
) -> Review:
    """Rule 2: a PO line's header and its allocated SO lines in FIFO order.

    ``limit`` with ``after`` (the FIFO key of the last line shown) or ``before`` (of the first)
    pages forwards or backwards by keyset, so page 500 costs what page 1 does."""
    line, limit = arguments.line_number(line), arguments.limit(limit)
    after, before = arguments.fifo_key(after), arguments.fifo_key(before)
    with db.read() as conn:
        po_line_id, head, supplier = _head(conn, po, line)
        if conn.execute(_SPLIT_PARTS, {"pid": po_line_id}).scalar_one():
            # Rule 10: a line holding parts of split lines (loaded only then).
            from engine.review_parts import review_with_parts

            return review_with_parts(conn, po_line_id, head, supplier, limit, after, before)
        query = (
            select(
                *FIFO,
                sales_orders.c.customer,
                sales_orders.c.email,
                so_lines.c.quantity,
                so_lines.c.promised_date,
                so_lines.c.ready_at,
            )
            .join(sales_orders, sales_orders.c.id == so_lines.c.so_id)
            .where(so_lines.c.po_line_id == po_line_id)
        )
        rows = fifo_page(conn, query, limit=limit, after=after, before=before)
    return Review(
        head=head,
        supplier=supplier,
        allocations=[
            ReviewLine(
                order=r.order_number,
                line=r.line,
                customer=r.customer,
                placed_at=r.placed_at,
                quantity=r.quantity,
                promised_date=r.promised_date,
                in_sync=r.promised_date == head.arrival_date,
                email=r.email,
                ready=r.ready_at is not None,
            )
            for r in rows
        ],
    )


_SPLIT_PARTS = select(po_lines.c.split_parts).where(po_lines.c.id == bindparam("pid"))


def unallocated(
    db: Database,
    *,
    sku: str | None = None,
    limit: int | None = None,
    search: str | None = None,
    parked: bool | None = None,
) -> list[QueuedLine]:
    """Open SO lines without an allocation, parked ones included, in FIFO order.
    ``search`` keeps lines whose order number or customer contains it (any case); ``parked``
    only the parked (True) or unparked (False) ones."""
    limit = arguments.limit(limit)
    query = QUEUE
    if sku is not None:
        query = query.where(so_lines.c.sku == sku)
    if parked is not None:
        query = query.where(so_lines.c.parked.is_(parked))
    if search:
        needle = search.strip().lower()
        query = query.where(
            func.lower(so_lines.c.order_number).contains(needle, autoescape=True)
            | func.lower(sales_orders.c.customer).contains(needle, autoescape=True)
        )
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        return [_queued(r) for r in conn.execute(query)]


# The unallocated queue: open SO lines without an allocation, parked ones included, FIFO.
QUEUE = (
    select(*FIFO, so_lines.c.sku, so_lines.c.quantity, sales_orders.c.customer, so_lines.c.parked)
    .join(sales_orders, sales_orders.c.id == so_lines.c.so_id)
    .where(so_lines.c.status == "open", so_lines.c.po_line_id.is_(None))
    .order_by(*FIFO)
)


def _queued(r: Any) -> QueuedLine:
    return QueuedLine(
        order=r.order_number,
        line=r.line,
        sku=r.sku,
        quantity=r.quantity,
        placed_at=r.placed_at,
        customer=r.customer,
        parked=r.parked,
    )


def state(db: Database) -> State:
    """Open PO lines on open POs (rule 1's order), every allocation (by PO line, then FIFO) and
    the unallocated queue (FIFO), all from one consistent read."""
    open_lines = and_(po_lines.c.status == "open", purchase_orders.c.status == "open")
    held = (
        select(
            po_lines.c.po_number,
            po_lines.c.line.label("po_line"),
            so_lines.c.sku,
            so_lines.c.order_number,
            so_lines.c.line,
            sales_orders.c.customer,
            so_lines.c.placed_at,
            so_lines.c.quantity,
            po_lines.c.arrival_date,
            so_lines.c.promised_date,
        )
        .join(po_lines, po_lines.c.id == so_lines.c.po_line_id)
        .join(sales_orders, sales_orders.c.id == so_lines.c.so_id)
        .where(so_lines.c.po_line_id.is_not(None))
        .order_by(po_lines.c.po_number, po_lines.c.line, *FIFO)
    )
    with db.read() as conn:
        lines = headers_where(conn, open_lines)
        # Positional: the columns above are AllocatedLine's fields in order (reading them by name
        # costs over half a second per 200,000 allocations). Through starmap because select()'s
        # typing stops counting at ten columns: mypy takes a row of ten for one of "ten or more".
        allocations = list(starmap(AllocatedLine, conn.execute(held)))
        split = every_split_line(conn)
        if split:
            # Rule 10: a split line's row is its latest part's; its parts go with it.
            allocations = [
                replace(a, parts=split[a.order, a.line]) if (a.order, a.line) in split else a
                for a in allocations
            ]
        waiting = [_queued(r) for r in conn.execute(QUEUE)]
    return State(lines, allocations, waiting)


def applied_keys(db: Database, keys: Collection[str]) -> set[str]:
    """Which of these idempotency keys belong to operations that have committed."""
    found: set[str] = set()
    wanted = sorted(set(keys))
    with db.read() as conn:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            found.update(
                conn.execute(select(applied.c.key).where(applied.c.key.in_(chunk))).scalars()
            )
    return found


def unallocated_count(db: Database, *, sku: str | None = None, parked: bool | None = None) -> int:
    """How many open SO lines wait unallocated (parked ones included); one index range."""
    query = select(func.count()).where(so_lines.c.status == "open", so_lines.c.po_line_id.is_(None))
    if sku is not None:
        query = query.where(so_lines.c.sku == sku)
    if parked is not None:
        query = query.where(so_lines.c.parked.is_(parked))
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def is_empty(db: Database) -> bool:
    """Whether the database holds no purchase order and no sales order."""
    query = select(exists(select(purchase_orders.c.id)) | exists(select(sales_orders.c.id)))
    with db.read() as conn:
        return not conn.execute(query).scalar_one()


def purchase_order(db: Database, po: str) -> PODetail:
    """A PO and each of its lines with allocated, ATP and out-of-sync counts."""
    with db.read() as conn:
        head = conn.execute(
            select(purchase_orders).where(purchase_orders.c.po_number == po)
        ).one_or_none()
        if head is None:
            raise NotFound(f"unknown PO {po}")
        lines = sorted(headers_where(conn, po_lines.c.po_id == head.id), key=lambda s: s.line)
    return PODetail(po=po, supplier=head.supplier, status=head.status, lines=lines)


def po_lines_of_sku(db: Database, sku: str, *, open_only: bool = True) -> list[POLineHeader]:
    """A SKU's PO lines in rule 1's order (arrival date, PO, line)."""
    cond = po_lines.c.sku == sku
    if open_only:
        cond = and_(cond, po_lines.c.status == "open", purchase_orders.c.status == "open")
    with db.read() as conn:
        return headers_where(conn, cond)


def open_po_lines(
    db: Database, *, with_atp: bool = False, limit: int | None = None
) -> list[POLineHeader]:
    """Open PO lines on open POs in arrival order (``with_atp``: only those with ATP left)."""
    limit = arguments.limit(limit)
    cond = and_(po_lines.c.status == "open", purchase_orders.c.status == "open")
    if with_atp:
        cond = and_(cond, po_lines.c.quantity - po_lines.c.store_hold - po_lines.c.allocated > 0)
    with db.read() as conn:
        return headers_where(conn, cond, limit=limit)


def order_lines(db: Database, orders: Collection[str]) -> list[OrderLineState]:
    """Every line of these orders as it stands now (unknown orders have none), by order
    number and line."""
    with db.read() as conn:
        return order_lines_in(conn, orders)


# A chosen order's lines with the PO line each is allocated to; one index probe per order.
ORDER_LINE_STATES = (
    select(
        so_lines.c.order_number,
        so_lines.c.line,
        so_lines.c.sku,
        so_lines.c.quantity,
        so_lines.c.status,
        so_lines.c.parked,
        po_lines.c.po_number,
        po_lines.c.line.label("po_line"),
        so_lines.c.promised_date,
        so_lines.c.ready_at,
    )
    .outerjoin(po_lines, po_lines.c.id == so_lines.c.po_line_id)
    .where(so_lines.c.order_number.in_(bindparam("orders", expanding=True)))
    .order_by(so_lines.c.order_number, so_lines.c.line)
)


def order_lines_in(conn: Connection, orders: Collection[str]) -> list[OrderLineState]:
    """``order_lines`` inside a transaction already open."""
    wanted = sorted(set(orders))
    found: list[OrderLineState] = []
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        found.extend(starmap(OrderLineState, conn.execute(ORDER_LINE_STATES, {"orders": chunk})))
    return found


def po_line_sku(conn: Connection, po: str, line: int) -> str:
    """The SKU of a PO line, read before locking; raises NotFound naming what is missing."""
    sku = conn.execute(
        select(po_lines.c.sku).where(po_lines.c.po_number == po, po_lines.c.line == line)
    ).scalar_one_or_none()
    if sku is None:
        raise missing_po_line(conn, po, line)
    return sku


def missing_po_line(conn: Connection, po: str, line: int) -> NotFound:
    """The NotFound for a PO line there is not: an unknown PO, or a PO without that line."""
    exists = conn.execute(
        select(purchase_orders.c.id).where(purchase_orders.c.po_number == po)
    ).first()
    if exists is None:
        return NotFound(f"unknown PO {po}")
    return NotFound(f"PO {po} has no line {line}")
