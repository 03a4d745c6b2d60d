"""Changes to PO supply and their consequences (rules 4, 6, 7)."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy import select

from engine import arguments, ledger, lookup, parts
from engine.db import Database
from engine.errors import Refused
from engine.manual import sync_line
from engine.models import po_lines, purchase_orders
from engine.receiving import refuse_closed, settle_po_status
from engine.results import Outcome
from engine.sweep import sweep
from engine.unit import Actor, Unit, run_operation


def set_arrival(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    arrival: date,
    *,
    sync: bool = False,
    rebalance: bool = False,
    allow_past: bool = False,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 4: move a PO line's arrival date. Promises do not follow silently: the allocated
    lines show as out of sync unless ``sync`` asks to sync them in the same step. Moved earlier
    with ``rebalance``, the line also takes orders from later lines of its SKU (rule 7).

    A date before today (the database clock's, UTC) is refused unless ``allow_past``: it would
    promise customers a day already gone. Every face (command line, sheet) meets this one rule."""
    line = arguments.line_number(line)
    if arrival < db.clock().date() and not allow_past:
        raise Refused(f"arrival date {arrival.isoformat()} is in the past")

    def work(unit: Unit) -> None:
        target, po_status = lookup.po_line(unit, po, line)
        refuse_closed(target, po_status, "change its arrival date")
        earlier = arrival < target.arrival_date
        ledger.set_field(unit, target, "arrival_date", arrival, reason="arrival date")
        if rebalance and earlier:
            rebalance_sku(unit, target.sku)
        if sync:
            sync_line(unit, target)

    return run_operation(db, actor, "set-arrival", work, dry_run=dry_run, key=key)


def set_quantity(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    quantity: int,
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 6 / rule 1: a cut below what is allocated releases the most recently placed
    allocations first until it fits; an increase sweeps the SKU's queue."""
    line = arguments.line_number(line)
    quantity = arguments.units(quantity, "quantity")

    def work(unit: Unit) -> None:
        target, po_status = lookup.po_line(unit, po, line)
        refuse_closed(target, po_status, "change its quantity")
        change_supply(unit, target, quantity=quantity, store_hold=target.store_hold)

    return run_operation(db, actor, "set-quantity", work, dry_run=dry_run, key=key)


def set_store_hold(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    store_hold: int,
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 6 / rule 1: raising the store hold above the free units releases the most recently
    placed allocations first until it fits; lowering it sweeps the SKU's queue."""
    line = arguments.line_number(line)
    store_hold = arguments.units(store_hold, "store hold")

    def work(unit: Unit) -> None:
        target, po_status = lookup.po_line(unit, po, line)
        refuse_closed(target, po_status, "change its store hold")
        if store_hold > target.quantity:
            raise Refused(
                f"store hold {store_hold} exceeds the quantity {target.quantity} of {po}:{line}"
            )
        change_supply(unit, target, quantity=target.quantity, store_hold=store_hold)

    return run_operation(db, actor, "set-store-hold", work, dry_run=dry_run, key=key)


def change_supply(
    unit: Unit, target: ledger.Supply, *, quantity: int, store_hold: int, sweep_now: bool = True
) -> bool:
    """Apply a new quantity and store hold to a locked PO line, releasing or sweeping.

    Returns whether the line's SKU is due a sweep; ``sweep_now=False`` leaves that sweep to the
    caller (an import sweeps once, after all its changes, so that FIFO does not depend on the
    order of the records)."""
    if store_hold > quantity:
        raise Refused(
            f"store hold {store_hold} exceeds the quantity {quantity} of {target.po}:{target.line}"
        )
    grows = quantity - store_hold > target.quantity - target.store_hold
    frees_elsewhere = False
    excess = target.allocated - (quantity - store_hold)
    if excess > 0:
        released: list[tuple[ledger.Demand, ledger.Supply]] = []
        pinned = 0
        for d in ledger.allocations_of(unit, [target.id], newest_first=True):
            if d.ready_at is not None or d.part_ready:
                # Its stock is in (rule 9): a cut does not take it back.
                pinned += d.units_here
                continue
            if excess <= 0:
                continue
            # A split line (rule 10) goes whole; here it frees its part, elsewhere the rest.
            released.append((d, target))
            excess -= d.units_here
        if excess > 0:
            raise Refused(
                f"{target.po}:{target.line} has {pinned} units ready to ship (received): "
                f"its sellable quantity cannot go below that (asked {quantity - store_hold})"
            )
        ledger.release(unit, released, park=False, reason="supply cut")
        # A split line released here frees units on its other PO lines too: rule 1 runs.
        frees_elsewhere = any(d.split for d, _ in released)
        target.allocated -= sum(d.units_here for d, _ in released)
    # Lower the field that shrinks first so that the ATP check holds after each statement.
    if quantity < target.quantity:
        ledger.set_field(unit, target, "store_hold", store_hold, reason="supply change")
        ledger.set_field(unit, target, "quantity", quantity, reason="supply change")
    else:
        ledger.set_field(unit, target, "quantity", quantity, reason="supply change")
        ledger.set_field(unit, target, "store_hold", store_hold, reason="supply change")
    due = (grows and target.status == "open") or frees_elsewhere
    if due and sweep_now:
        sweep(unit, [target.sku])
    return due


def cancel_po(
    db: Database,
    actor: Actor,
    po: str,
    *,
    line: int | None = None,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 6: cancel a PO (or one line). Its allocations are released; those SO lines become
    unallocated, not parked, and wait for the sweep or a person."""
    line = None if line is None else arguments.line_number(line)

    def work(unit: Unit) -> None:
        if line is not None:
            target, po_status = lookup.po_line(unit, po, line)
            if target.status == "cancelled" or po_status == "cancelled":
                raise Refused(f"PO {po} line {line} is already cancelled")
            if target.status == "received":
                raise Refused(f"PO {po} line {line} is received: there is nothing left to cancel")
            targets = [target]
        else:
            unit.lock_skus(lookup.po_skus(unit.conn, po))
            status = unit.conn.execute(
                select(purchase_orders.c.status).where(purchase_orders.c.po_number == po)
            ).scalar_one()
            if status == "cancelled":
                raise Refused(f"PO {po} is already cancelled")
            rows = unit.conn.execute(
                select(*ledger.SUPPLY_COLUMNS)
                .where(po_lines.c.po_number == po, po_lines.c.status == "open")
                .order_by(po_lines.c.line)
            )
            targets = [ledger.supply_from(r) for r in rows]
            if not targets:
                raise Refused(f"PO {po} has no open line to cancel")
        stocked = [f"{t.po}:{t.line} has received {t.received}" for t in targets if t.received]
        if stocked:
            raise Refused(
                "cannot cancel lines with stock in (record a final receipt instead)", stocked
            )
        cancel_lines(unit, targets)
        # Another line of this PO (another SKU, not locked here) may close at the same time:
        # settle_po_status locks the PO's row, so the later of the two sees the other.
        settle_po_status(unit, po)

    return run_operation(db, actor, "cancel-po", work, dry_run=dry_run, key=key)


# The reason of the release events a PO (line) cancellation writes: the digest finds the orders
# a cancellation left waiting by it.
PO_CANCELLED = "PO cancelled"


def cancel_lines(unit: Unit, targets: list[ledger.Supply]) -> None:
    by_id = {t.id: t for t in targets}
    held = ledger.allocations_of(unit, list(by_id))
    ledger.release(
        unit,
        # A split line (rule 10) with a part here is released whole.
        [
            (d, by_id[d.part_on if d.part_on in by_id else d.po_line_id])
            for d in held
            if d.po_line_id
        ],
        park=False,
        reason=PO_CANCELLED,
    )
    for t in targets:
        t.allocated = 0
        ledger.set_field(unit, t, "status", "cancelled", reason=PO_CANCELLED)


def rebalance(
    db: Database,
    actor: Actor,
    *,
    sku: str | None = None,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 7: move orders to PO lines arriving earlier than the lines that hold them, in FIFO
    order while the earlier line has ATP; then sweep the units this frees (rule 1)."""

    def work(unit: Unit) -> None:
        skus = [sku] if sku is not None else _skus_with_supply(unit)
        unit.lock_skus(skus)
        for s in skus:
            rebalance_sku(unit, s)

    return run_operation(db, actor, "rebalance", work, dry_run=dry_run, key=key)


def rebalance_sku(unit: Unit, sku: str) -> None:
    unit.lock_skus([sku])
    supply = ledger.open_supply(unit, [sku])[sku]
    if len(supply) < 2:
        return
    by_id = {s.id: s for s in supply}
    # Ready lines stay where their stock is (rule 9).
    held = [
        d
        for d in ledger.allocations_of(unit, list(by_id))
        if d.ready_at is None and not d.part_ready and d.po_line_id in by_id
    ]
    holder = {d.id: by_id[d.po_line_id] for d in held if d.po_line_id in by_id}
    # A split line (rule 10) moves only whole, onto one earlier line that holds it all (its
    # part there counting); its parts free their units where they were.
    split = parts.parts_of(unit, [d.id for d in held if d.split])
    # In the plan's order: a split line merged onto an earlier line frees units on the later
    # lines it had parts on, which a whole line may then move onto, and the other way round; a
    # PO line's counter is checked as each statement writes it, so the steps are written in
    # that order too (runs of one kind at a time).
    steps: list[tuple[bool, Any]] = []
    for target in supply:
        if target.atp <= 0:
            continue
        for d in held:
            frm = holder[d.id]
            if frm.arrival_date <= target.arrival_date:
                continue
            if d.id in split:
                here = sum(p.quantity for p in split[d.id] if p.po_line_id == target.id)
                if d.quantity - here > target.atp:
                    continue
                steps.append((True, (d, target)))
                for p in split.pop(d.id):
                    if p.po_line_id in by_id:
                        by_id[p.po_line_id].allocated -= p.quantity
            else:
                if d.quantity > target.atp:
                    continue
                steps.append((False, (d, frm, target)))
                frm.allocated -= d.quantity
            holder[d.id] = target
            target.allocated += d.quantity
            if target.atp == 0:
                break
    # Targets come in arrival order, so a moved line never qualifies for a later target: each
    # line moves at most once.
    for merge, run in itertools.groupby(steps, key=lambda step: step[0]):
        items = [item for _, item in run]
        if merge:
            ledger.move_split(unit, items, reason="rebalance")
        else:
            ledger.move(unit, items, reason="rebalance")
    if steps:
        sweep(unit, [sku])


def reopen_po(
    db: Database,
    actor: Actor,
    po: str,
    *,
    line: int | None = None,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 11: reopen a cancelled PO line (or every cancelled line of the PO): open again,
    its ATP back, and rule 1 runs for its SKU. Received lines stay closed."""
    line = None if line is None else arguments.line_number(line)

    def work(unit: Unit) -> None:
        if line is not None:
            target, _ = lookup.po_line(unit, po, line)
            if target.status != "cancelled":
                raise Refused(f"PO {po} line {line} is {target.status}, not cancelled")
            targets = [target]
        else:
            unit.lock_skus(lookup.po_skus(unit.conn, po))
            rows = unit.conn.execute(
                select(*ledger.SUPPLY_COLUMNS)
                .where(po_lines.c.po_number == po, po_lines.c.status == "cancelled")
                .order_by(po_lines.c.line)
            )
            targets = [ledger.supply_from(r) for r in rows]
            if not targets:
                raise Refused(f"PO {po} has no cancelled line to reopen")
        for t in targets:
            ledger.set_field(unit, t, "status", "open", reason="reopened")
        settle_po_status(unit, po)
        sweep(unit, {t.sku for t in targets})

    return run_operation(db, actor, "reopen-po", work, dry_run=dry_run, key=key)


def _skus_with_supply(unit: Unit) -> list[str]:
    rows = unit.conn.execute(
        select(po_lines.c.sku)
        .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
        .where(po_lines.c.status == "open", purchase_orders.c.status == "open")
        .group_by(po_lines.c.sku)
        .order_by(po_lines.c.sku)
    )
    return list(rows.scalars())


__all__ = [
    "PO_CANCELLED",
    "cancel_lines",
    "cancel_po",
    "change_supply",
    "rebalance",
    "rebalance_sku",
    "reopen_po",
    "set_arrival",
    "set_quantity",
    "set_store_hold",
]
