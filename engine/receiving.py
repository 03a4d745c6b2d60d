"""Receiving (rule 9): stock comes in on a PO line, covers its allocations first in, first out,
and the covered SO lines become ready to ship; fulfilment closes them.

A receipt of N units adds N to the line's ``received`` count. The received units go to the
line's allocations before its store hold (the customers were promised them); they cover whole
SO lines in FIFO order and stop at the first line they cannot cover. A *final* receipt says
nothing more will come: allocations the received units cannot hold are released, the most
recently placed first (rule 6's order), to the queue (not parked), and the line closes. A line
that has received its whole quantity closes too (rule 11: ATP 0 from then on). An over-receipt
(more units than ordered) raises the line's quantity first, and rule 1 places the queue on the
extra units, which are ready at once.

``fulfil`` closes ready SO lines (their units have shipped). A line whose stock is not in is
refused: shipping it would take units another line may be covered by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import bindparam, select, update

from engine import arguments, ledger, lookup
from engine.db import Database
from engine.errors import Closed, Refused
from engine.models import po_lines, purchase_orders, sales_orders, so_lines
from engine.results import FieldChange, LineRef, Outcome, ReadyLine
from engine.sweep import sweep
from engine.unit import Actor, Unit, run_operation

RECEIPT = "receipt"


def receive(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    quantity: int,
    *,
    final: bool = False,
    received_on: date | None = None,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 9: record a receipt of ``quantity`` units on PO line ``po``:``line`` (on
    ``received_on``, today by default). ``final``: nothing more will come for this line.
    ``key`` (a receipt id) makes the receipt count once however often it is delivered."""
    line = arguments.line_number(line)
    quantity = arguments.units(quantity, "quantity")
    today = db.clock().date()
    on = today if received_on is None else received_on
    if on > today:
        raise Refused(f"receipt date {on.isoformat()} is in the future")
    if quantity == 0 and not final:
        raise Refused("a receipt of 0 units changes nothing (a final one closes the line)")

    def work(unit: Unit) -> None:
        target, po_status = lookup.po_line(unit, po, line)
        refuse_closed(target, po_status, "receive on it")
        apply_receipt(unit, target, target.received + quantity, final=final, on=on)

    return run_operation(db, actor, "receive", work, dry_run=dry_run, key=key)


def record_received(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    total: int,
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 9, given as the line's total received so far (a sheet's cell, an import's field):
    a receipt of what it adds. The same total again changes nothing; a lower one is refused."""
    line = arguments.line_number(line)
    total = arguments.units(total, "received")

    def work(unit: Unit) -> None:
        target, po_status = lookup.po_line(unit, po, line)
        if total == target.received:
            return
        refuse_closed(target, po_status, "receive on it")
        apply_receipt(unit, target, total, final=False)

    return run_operation(db, actor, "receive", work, dry_run=dry_run, key=key)


def refuse_closed(target: ledger.Supply, po_status: str, doing: str) -> None:
    """Rule 11: a cancelled or fully received PO line (or one of such a PO) is closed."""
    status = target.status if target.status != "open" else po_status
    if status == "open":
        return
    how = {"cancelled": "reopen it first", "received": "it has received all it will"}.get(status)
    suffix = f" ({how})" if how else ""
    raise Closed(f"PO {target.po} line {target.line} is {status}: cannot {doing}{suffix}")


def apply_receipt(
    unit: Unit, target: ledger.Supply, total: int, *, final: bool, on: date | None = None
) -> None:
    """Bring an open, locked PO line's received count to ``total`` (not below what it has)."""
    if total < target.received:
        raise Refused(
            f"PO {target.po} line {target.line} has received {target.received}: "
            f"a receipt cannot lower it to {total}"
        )
    added = total - target.received
    unit.event(
        "receive",
        sku=target.sku,
        po=target.po,
        po_line=target.line,
        quantity=added,
        before={"received": target.received},
        after={"received": total, "date": on, "final": final},
        reason=RECEIPT,
    )
    ledger.set_field(unit, target, "received", total, reason=RECEIPT)
    if total > target.quantity:
        # An over-receipt: the extra units are supply, and rule 1 places the queue on them.
        ledger.set_field(unit, target, "quantity", total, reason="over-receipt")
        # Now, not after the commit however long the queue: the line closes below, and a
        # closed line takes no allocation.
        deferring, unit.defer_long_sweeps = unit.defer_long_sweeps, False
        try:
            sweep(unit, [target.sku])
        finally:
            unit.defer_long_sweeps = deferring
        _refresh(unit, target)
    if final:
        _release_uncovered(unit, target, total)
    ledger.cover(unit, target)
    if final or total >= target.quantity:
        _close(unit, target)


def _refresh(unit: Unit, target: ledger.Supply) -> None:
    fresh = ledger.po_line_by_id(unit, target.id)
    target.allocated, target.quantity, target.store_hold = (
        fresh.allocated,
        fresh.quantity,
        fresh.store_hold,
    )


def _release_uncovered(unit: Unit, target: ledger.Supply, total: int) -> None:
    """A final short receipt: release the most recently placed allocations not yet ready until
    what stays allocated fits in what was received (rule 6's order); they go back to the queue."""
    excess = target.allocated - total
    if excess <= 0:
        return
    released: list[tuple[ledger.Demand, ledger.Supply]] = []
    for d in ledger.allocations_of(unit, [target.id], newest_first=True):
        if excess <= 0:
            break
        if d.ready_at is not None or d.part_ready:
            continue
        # A split line (rule 10) goes whole; here it frees its part.
        released.append((d, target))
        excess -= d.units_here
    ledger.release(unit, released, park=False, reason="short receipt")
    target.allocated -= sum(d.units_here for d, _ in released)


def _close(unit: Unit, target: ledger.Supply) -> None:
    """The line has received all it will: closed (rule 11), and its PO with it once every
    line of the PO is closed."""
    ledger.set_field(unit, target, "status", "received", reason=RECEIPT)
    settle_po_status(unit, target.po)


def settle_po_status(unit: Unit, po: str) -> None:
    """A PO's status from its lines': open while any is open; else received if any line was
    received, cancelled if none was."""
    if unit.is_postgres:
        # Two lines of the PO (other SKUs, not locked here) may close at once: the later of
        # the two sees the other.
        unit.conn.execute(
            select(purchase_orders.c.id).where(purchase_orders.c.po_number == po).with_for_update()
        ).all()
    statuses = set(
        unit.conn.execute(select(po_lines.c.status).where(po_lines.c.po_number == po)).scalars()
    )
    want = "open" if "open" in statuses else "received" if "received" in statuses else "cancelled"
    current = unit.conn.execute(
        select(purchase_orders.c.status).where(purchase_orders.c.po_number == po)
    ).scalar_one()
    if current == want:
        return
    unit.conn.execute(
        update(purchase_orders)
        .where(purchase_orders.c.po_number == po)
        .values(status=want, updated_at=unit.at)
    )
    unit.event("po", po=po, before={"status": current}, after={"status": want})
    unit.outcome.po_changes.append(FieldChange(po, None, "status", None, want))


def fulfil(
    db: Database,
    actor: Actor,
    refs: Sequence[LineRef],
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Mark ready SO lines fulfilled (shipped; closed). All or nothing: a line that is not
    ready (its stock not in, not allocated, cancelled, fulfilled already) refuses them all,
    naming each. A fulfilled line keeps its allocation: its units left from that PO line."""
    if not refs:
        raise Refused("name at least one order line to fulfil")
    refs = arguments.refs(refs)

    def work(unit: Unit) -> None:
        demands, problems = lookup.resolve(unit.conn, refs, None)
        unit.lock_skus({d.sku for d in demands})
        demands, problems = lookup.resolve(unit.conn, refs, None)
        _close_shipped(unit, demands, problems)

    return run_operation(db, actor, "fulfil", work, dry_run=dry_run, key=key)


def fulfil_lines(unit: Unit, lines: Sequence[tuple[str, int]]) -> None:
    """``fulfil`` inside another operation (an import whose records say lines shipped); the
    lines' SKUs are locked already."""
    demands, problems = lookup.resolve(unit.conn, [LineRef(o, n) for o, n in lines], None)
    _close_shipped(unit, demands, problems)


def _close_shipped(unit: Unit, demands: Sequence[ledger.Demand], problems: list[str]) -> None:
    for d in demands:
        if d.status != "open":
            problems.append(f"{d.order}:{d.line} is {d.status}")
        elif d.po_line_id is None:
            problems.append(f"{d.order}:{d.line} is not allocated")
        elif d.ready_at is None:
            problems.append(f"{d.order}:{d.line} is not ready (its stock is not in)")
    if problems:
        raise Refused("cannot fulfil", problems)
    names = lookup.po_line_names(unit.conn, [d.po_line_id for d in demands if d.po_line_id])
    for chunk in ledger.chunks([d.id for d in demands]):
        unit.conn.execute(
            update(so_lines).where(so_lines.c.id.in_(chunk)).values(status="fulfilled")
        )
    unit.touch(d.po_line_id for d in demands if d.po_line_id is not None)
    for d in demands:
        po, po_line = names[d.po_line_id] if d.po_line_id else (None, None)
        unit.event(
            "fulfil",
            sku=d.sku,
            po=po,
            po_line=po_line,
            order=d.order,
            so_line=d.line,
            quantity=d.quantity,
            before={"status": d.status},
            after={"status": "fulfilled"},
        )
        unit.outcome.fulfilled.append(d.ref)


def ready(db: Database, *, sku: str | None = None, limit: int | None = None) -> list[ReadyLine]:
    """What can ship now: open SO lines whose stock is in, in FIFO order."""
    limit = arguments.limit(limit)
    query = _READY
    if sku is not None:
        query = query.where(so_lines.c.sku == bindparam("sku"))
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        rows = conn.execute(query, {"sku": sku} if sku is not None else {})
        return [
            ReadyLine(
                order=r.order_number,
                line=r.line,
                sku=r.sku,
                quantity=r.quantity,
                placed_at=r.placed_at,
                customer=r.customer,
                po=r.po_number,
                po_line=r.po_line,
                ready_at=r.ready_at,
            )
            for r in rows
        ]


_READY = (
    select(
        so_lines.c.order_number,
        so_lines.c.line,
        so_lines.c.sku,
        so_lines.c.quantity,
        so_lines.c.placed_at,
        sales_orders.c.customer,
        po_lines.c.po_number,
        po_lines.c.line.label("po_line"),
        so_lines.c.ready_at,
    )
    .join(sales_orders, sales_orders.c.id == so_lines.c.so_id)
    .join(po_lines, po_lines.c.id == so_lines.c.po_line_id)
    .where(so_lines.c.status == "open", so_lines.c.ready_at.is_not(None))
    .order_by(so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)
)


__all__ = [
    "apply_receipt",
    "fulfil",
    "fulfil_lines",
    "ready",
    "receive",
    "record_received",
    "refuse_closed",
    "settle_po_status",
]
