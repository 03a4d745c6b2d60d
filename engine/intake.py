"""Intake of purchase and sales orders (import files, order-intake requests).

The same record again is an update, not a duplicate. Changes route through the rules: new or
grown supply and new order lines are swept at once (rule 1), cut supply releases the latest
placed allocations (rule 6), a moved arrival date leaves promises out of sync (rule 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import insert, select, update

from engine import ledger
from engine.db import Database
from engine.models import po_lines, purchase_orders, sales_orders, so_lines
from engine.records import PORecord, SORecord
from engine.results import Outcome
from engine.supply import change_supply, rebalance_sku
from engine.sweep import sweep
from engine.unit import Actor, Unit, run_operation

Progress = Callable[[int], None]


def apply_records(
    db: Database,
    actor: Actor,
    purchase: Sequence[PORecord] = (),
    sales: Sequence[SORecord] = (),
    *,
    rebalance: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Create or update POs and orders in one transaction, then sweep the SKUs they touch.
    With ``rebalance``, SKUs that gained an earlier-arriving line also rebalance (rule 7)."""

    def work(unit: Unit) -> None:
        _Intake(unit, rebalance, progress).run(purchase, sales)

    return run_operation(db, actor, "import", work, dry_run=dry_run, retry_unique=True)


class _Intake:
    def __init__(self, unit: Unit, rebalance: bool, progress: Progress | None) -> None:
        self.unit = unit
        self.conn = unit.conn
        self.rebalance = rebalance
        self.progress = progress or (lambda n: None)
        self.to_sweep: set[str] = set()
        self.to_rebalance: set[str] = set()
        self.created = {"purchase_orders": 0, "po_lines": 0, "sales_orders": 0, "so_lines": 0}
        self.updated = dict.fromkeys(self.created, 0)
        # Records given again exactly as stored: how a sender's retry is told from news.
        self.unchanged = {"purchase_orders": 0, "sales_orders": 0}

    def run(self, purchase: Sequence[PORecord], sales: Sequence[SORecord]) -> None:
        self._lock(purchase, sales)
        for record in purchase:
            self._purchase_order(record)
            self.progress(1)
        for record in sales:
            self._sales_order(record)
            self.progress(1)
        for sku in sorted(self.to_rebalance):
            rebalance_sku(self.unit, sku)
        sweep(self.unit, self.to_sweep)
        self.unit.outcome.created = self.created
        self.unit.outcome.updated = self.updated
        self.unit.outcome.unchanged = self.unchanged

    def _lock(self, purchase: Sequence[PORecord], sales: Sequence[SORecord]) -> None:
        """Lock every SKU the records name or their existing lines hold (a line whose SKU
        changes touches its old SKU's allocations too)."""
        named = {ln.sku for r in purchase for ln in r.lines}
        named |= {ln.sku for r in sales for ln in r.lines}
        pos = [r.po for r in purchase]
        orders = [r.order for r in sales]
        while True:
            skus = named | self._held_skus(pos, orders)
            self.unit.lock_skus(skus)
            # Read again under the locks: a concurrent import may have moved a line to a SKU
            # not locked yet. Rarely true; locking the newcomer then may meet a deadlock,
            # which the database detects and the operation retries.
            if self._held_skus(pos, orders) <= skus:
                return

    def _held_skus(self, pos: list[str], orders: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in ledger.chunks(pos):
            query = select(po_lines.c.sku).where(po_lines.c.po_number.in_(chunk))
            found.update(self.conn.execute(query).scalars())
        for chunk in ledger.chunks(orders):
            query = select(so_lines.c.sku).where(so_lines.c.order_number.in_(chunk))
            found.update(self.conn.execute(query).scalars())
        return found

    def _purchase_order(self, record: PORecord) -> None:
        unit, conn = self.unit, self.conn
        header = conn.execute(
            select(purchase_orders.c.id, purchase_orders.c.supplier).where(
                purchase_orders.c.po_number == record.po
            )
        ).one_or_none()
        if header is None:
            po_id = conn.execute(
                insert(purchase_orders).values(
                    po_number=record.po,
                    supplier=record.supplier or "",
                    status="open",
                    created_at=unit.at,
                    updated_at=unit.at,
                )
            ).inserted_primary_key[0]
            self.created["purchase_orders"] += 1
            unit.event("po-created", po=record.po, after={"supplier": record.supplier or ""})
            existing: dict[int, ledger.Supply] = {}
            changed = True
        else:
            po_id = header.id
            changed = False
            if record.supplier is not None and header.supplier != record.supplier:
                conn.execute(
                    update(purchase_orders)
                    .where(purchase_orders.c.id == po_id)
                    .values(supplier=record.supplier, updated_at=unit.at)
                )
                self.updated["purchase_orders"] += 1
                unit.event(
                    "po",
                    po=record.po,
                    before={"supplier": header.supplier},
                    after={"supplier": record.supplier},
                )
                changed = True
            rows = conn.execute(select(*ledger.SUPPLY_COLUMNS).where(po_lines.c.po_id == po_id))
            existing = {r.line: ledger.supply_from(r) for r in rows}
        for rec in record.lines:
            line = existing.get(rec.line)
            if line is None:
                self._new_po_line(po_id, record.po, rec)
                changed = True
            elif self._update_po_line(line, rec):
                changed = True
        if not changed:
            self.unchanged["purchase_orders"] += 1

    def _new_po_line(self, po_id: int, po: str, rec: Any) -> None:
        self.conn.execute(
            insert(po_lines).values(
                po_id=po_id,
                po_number=po,
                line=rec.line,
                sku=rec.sku,
                quantity=rec.quantity,
                store_hold=0,
                allocated=0,
                arrival_date=rec.arrival_date,
                status="open",
                updated_at=self.unit.at,
            )
        )
        self.created["po_lines"] += 1
        self.unit.event(
            "po-line-created",
            sku=rec.sku,
            po=po,
            po_line=rec.line,
            quantity=rec.quantity,
            after={"sku": rec.sku, "quantity": rec.quantity, "arrival_date": rec.arrival_date},
        )
        self.to_sweep.add(rec.sku)
        if self.rebalance:
            self.to_rebalance.add(rec.sku)

    def _update_po_line(self, line: ledger.Supply, rec: Any) -> bool:
        unit = self.unit
        changed = False
        if line.sku != rec.sku:
            held = ledger.allocations_of(unit, [line.id])
            ledger.release(
                unit, [(d, line) for d in held], park=False, reason="PO line SKU changed"
            )
            line.allocated = 0
            # Both SKUs may place orders now: the old one got units back (read it before
            # set_field, which updates ``line``).
            self.to_sweep.update({line.sku, rec.sku})
            ledger.set_field(unit, line, "sku", rec.sku, reason="import")
            changed = True
        if rec.arrival_date != line.arrival_date:
            earlier = rec.arrival_date < line.arrival_date
            ledger.set_field(unit, line, "arrival_date", rec.arrival_date, reason="import")
            if earlier and self.rebalance and line.status == "open":
                self.to_rebalance.add(line.sku)
            changed = True
        if rec.quantity != line.quantity:
            store_hold = min(line.store_hold, rec.quantity)
            if change_supply(
                unit, line, quantity=rec.quantity, store_hold=store_hold, sweep_now=False
            ):
                self.to_sweep.add(line.sku)
            changed = True
        if changed:
            self.updated["po_lines"] += 1
        return changed

    def _sales_order(self, record: SORecord) -> None:
        unit, conn = self.unit, self.conn
        header = conn.execute(
            select(sales_orders.c.id, sales_orders.c.customer, sales_orders.c.placed_at).where(
                sales_orders.c.order_number == record.order
            )
        ).one_or_none()
        if header is None:
            so_id = conn.execute(
                insert(sales_orders).values(
                    order_number=record.order,
                    customer=record.customer or "",
                    placed_at=record.placed_at,
                    created_at=unit.at,
                )
            ).inserted_primary_key[0]
            self.created["sales_orders"] += 1
            existing: dict[int, ledger.Demand] = {}
            changed = True
        else:
            so_id = header.id
            changed = False
            before = {"customer": header.customer, "placed_at": header.placed_at}
            customer = header.customer if record.customer is None else record.customer
            after = {"customer": customer, "placed_at": record.placed_at}
            if before != after:
                conn.execute(update(sales_orders).where(sales_orders.c.id == so_id).values(**after))
                conn.execute(
                    update(so_lines)
                    .where(so_lines.c.so_id == so_id)
                    .values(placed_at=record.placed_at)
                )
                self.updated["sales_orders"] += 1
                unit.event("order", order=record.order, before=before, after=after)
                changed = True
            rows = conn.execute(select(*ledger.DEMAND_COLUMNS).where(so_lines.c.so_id == so_id))
            existing = {r.line: ledger.demand_from(r) for r in rows}
        new_lines = []
        for rec in record.lines:
            line = existing.get(rec.line)
            if line is None:
                new_lines.append(
                    {
                        "so_id": so_id,
                        "order_number": record.order,
                        "placed_at": record.placed_at,
                        "line": rec.line,
                        "sku": rec.sku,
                        "quantity": rec.quantity,
                        "status": "open",
                        "parked": False,
                    }
                )
                unit.event(
                    "order-line-created",
                    sku=rec.sku,
                    order=record.order,
                    so_line=rec.line,
                    quantity=rec.quantity,
                    after={"customer": record.customer or "", "placed_at": record.placed_at},
                )
                self.to_sweep.add(rec.sku)
            elif (line.sku, line.quantity) != (rec.sku, rec.quantity):
                self._update_so_line(line, rec)
                changed = True
        if new_lines:
            conn.execute(insert(so_lines), new_lines)
            self.created["so_lines"] += len(new_lines)
            changed = True
        if not changed:
            self.unchanged["sales_orders"] += 1

    def _update_so_line(self, line: ledger.Demand, rec: Any) -> None:
        unit = self.unit
        if line.po_line_id is not None:
            holder = ledger.po_line_by_id(unit, line.po_line_id)
            ledger.release(unit, [(line, holder)], park=False, reason="order line changed")
            self.to_sweep.add(holder.sku)
        self.conn.execute(
            update(so_lines)
            .where(so_lines.c.id == line.id)
            .values(sku=rec.sku, quantity=rec.quantity)
        )
        unit.event(
            "order-line",
            sku=rec.sku,
            order=line.order,
            so_line=line.line,
            quantity=rec.quantity,
            before={"sku": line.sku, "quantity": line.quantity},
            after={"sku": rec.sku, "quantity": rec.quantity},
        )
        self.updated["so_lines"] += 1
        self.to_sweep.add(rec.sku)
