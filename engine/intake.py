"""Intake of purchase and sales orders (import files, order-intake requests).

The same record again is an update, not a duplicate. Changes route through the rules: new or
grown supply and new order lines are swept at once (rule 1), cut supply releases the latest
placed allocations (rule 6), a moved arrival date leaves promises out of sync (rule 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import CursorResult, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine import bulk, held_lines, ledger, outbox
from engine.db import Database
from engine.errors import Conflict, Difference, Refused
from engine.models import po_lines, purchase_orders, sales_orders, so_lines
from engine.queries import order_lines_in
from engine.receiving import apply_receipt, fulfil_lines, settle_po_status
from engine.records import PORecord, SORecord
from engine.redact import masked_email
from engine.results import OrderLineState, Outcome
from engine.staging import Staging
from engine.supply import change_supply, rebalance_sku
from engine.sweep import sweep
from engine.unit import Actor, Unit, run_operation

Progress = Callable[[int], None]


def _inserted_id(result: CursorResult[Any]) -> int:
    # SQLAlchemy types it Optional; after a single-row insert into a table with an integer key
    # it is always there.
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


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


def apply_import(
    db: Database,
    actor: Actor,
    staged: Staging,
    *,
    rebalance: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """``apply_records`` for an import read into ``staged`` (``engine.importer.staged_files``),
    in one transaction still, but taking the records a batch at a time and writing each batch's
    audit events as it goes: memory stays flat however many lines the files hold."""

    def work(unit: Unit) -> None:
        _Intake(unit, rebalance, progress).run_staged(staged)

    return run_operation(db, actor, "import", work, dry_run=dry_run, retry_unique=True)


def apply_orders(
    db: Database, actor: Actor, orders: Sequence[SORecord], *, headers: bool = True
) -> tuple[Outcome, list[OrderLineState]]:
    """New sales orders as they arrive one request at a time, allocated at once (rule 1), and
    every line of those orders as it then stands, in the same transaction (an order intake
    answers with it without a second round of connection, snapshot and rollback).

    An order already stored is not changed here: sent again as stored (a sender's retry) it is
    counted unchanged; sent with other contents (a line, SKU, quantity, customer or placed_at
    of its own) it raises ``Conflict`` naming every difference, and nothing is stored. A
    changed order comes through ``apply_records`` (the import), audited as a change.
    ``headers=False`` leaves the PO line headers out of the outcome (the HTTP intake shows none:
    a statement less per transaction)."""
    found: list[OrderLineState] = []

    def work(unit: Unit) -> None:
        intake = _Intake(unit, False, None, fixed=True)
        intake.run((), orders)
        outcome = unit.outcome
        if intake.created["sales_orders"] == len(orders) and not outcome.allocated_truncated:
            # Orders all new: their lines are open and unparked, allocated just now or queued,
            # which the outcome tells without a read (the SKUs stay locked one read less).
            found[:] = _new_lines(orders, outcome)  # a retry starts over
            unit.first_promises = _first_promises(unit, orders)
        else:
            found[:] = order_lines_in(unit.conn, [o.order for o in orders])

    # Yielding: an order never waits behind a sweep batch or an import holding its SKU; its
    # lines stay queued for the sweep the outcome asks for (``awaiting_sweep``). Pipelined:
    # the writes between two reads (the audit events, the allocations and their bookkeeping,
    # the outbox) reach PostgreSQL together, one round trip, not one each.
    outcome = run_operation(
        db,
        actor,
        "intake",
        work,
        retry_unique=True,
        yielding=True,
        headers=headers,
        pipeline=True,
        placing=True,
    )
    return outcome, found


def _first_promises(unit: Unit, orders: Sequence[SORecord]) -> outbox.FirstPromises | None:
    """The promise changes of an intake of new orders (``orders``) when they are all first
    promises of its own new lines, each placed whole and not ready: its sweep placed no older
    queued line, split none and received nothing, and it cancelled nothing. Otherwise None, and
    the events are read back from the history as any operation's are."""
    outcome = unit.outcome
    new = {(o.order, ln.line) for o in orders for ln in o.lines}
    placed = {(p.order, p.line) for p in outcome.allocated}
    first = {(c.order, c.line) for c in outcome.promises if c.old is None}
    if (
        unit.cancelled_lines
        or unit.ready_lines
        or outcome.released
        or outcome.moved
        or len(placed) != len(outcome.allocated)
        or any(p.parts or p.promised_date is None for p in outcome.allocated)
        or len(outcome.promises) != len(outcome.allocated)
        or not placed <= new
        or first != placed
    ):
        return None
    customers = {o.order: (o.customer or "", o.email) for o in orders}
    return outbox.FirstPromises(customers, list(outcome.allocated))


def _new_lines(orders: Sequence[SORecord], outcome: Outcome) -> list[OrderLineState]:
    placed = {(p.order, p.line): p for p in outcome.allocated}
    found = []
    for order in sorted(orders, key=lambda o: o.order):
        for rec in sorted(order.lines, key=lambda ln: ln.line):
            p = placed.get((order.order, rec.line))
            found.append(
                OrderLineState(
                    order.order,
                    rec.line,
                    rec.sku,
                    rec.quantity,
                    "open",
                    False,
                    p.po if p else None,
                    p.po_line if p else None,
                    p.promised_date if p else None,
                )
            )
    return found


# Built once: building statements anew for each record was a tenth of an order intake's time.
_PO_SKUS = select(po_lines.c.sku).where(
    po_lines.c.po_number.in_(bindparam("numbers", expanding=True))
)
_ORDER_SKUS = select(so_lines.c.sku).where(
    so_lines.c.order_number.in_(bindparam("numbers", expanding=True))
)
_PO_HEADER = select(
    purchase_orders.c.id, purchase_orders.c.supplier, purchase_orders.c.status
).where(purchase_orders.c.po_number == bindparam("number"))
_PO_LINES = select(*ledger.SUPPLY_COLUMNS).where(po_lines.c.po_id == bindparam("po_id"))
_ORDER_LINES = select(*ledger.DEMAND_COLUMNS).where(so_lines.c.so_id == bindparam("so_id"))
# An order's header, unless the order is stored already: its id, or none.
_INSERT_NEW_ORDERS = {
    postgres: dialect.insert(sales_orders)
    .on_conflict_do_nothing(index_elements=[sales_orders.c.order_number])
    .returning(sales_orders.c.id, sales_orders.c.order_number)
    for postgres, dialect in ((True, postgresql), (False, sqlite))
}
_HEADER_COLUMNS = ("order_number", "customer", "email", "placed_at", "created_at", "allow_split")
# The same for many orders on PostgreSQL: one statement whatever their number (engine.bulk),
# the rows inserted in the order given.
_INSERT_NEW_ORDERS_JSON = (
    postgresql.insert(sales_orders)
    .from_select(list(_HEADER_COLUMNS), bulk.rows_of(sales_orders, _HEADER_COLUMNS))
    .on_conflict_do_nothing(index_elements=[sales_orders.c.order_number])
    .returning(sales_orders.c.id, sales_orders.c.order_number)
)
_ORDER_HEADER = select(
    sales_orders.c.id,
    sales_orders.c.customer,
    sales_orders.c.email,
    sales_orders.c.placed_at,
    sales_orders.c.allow_split,
).where(sales_orders.c.order_number == bindparam("number"))


class _Intake:
    def __init__(
        self, unit: Unit, rebalance: bool, progress: Progress | None, *, fixed: bool = False
    ) -> None:
        self.unit = unit
        # Stored orders are compared, never changed (see apply_orders).
        self.fixed = fixed
        self.conflicts: list[Difference] = []
        self.conn = unit.conn
        self.rebalance = rebalance
        self.progress = progress or (lambda n: None)
        self.to_sweep: set[str] = set()
        self.to_rebalance: set[str] = set()
        # SO lines the records say are fulfilled, (order, line): closed after the sweep.
        self.to_fulfil: list[tuple[str, int]] = []
        self.created = {"purchase_orders": 0, "po_lines": 0, "sales_orders": 0, "so_lines": 0}
        self.updated = dict.fromkeys(self.created, 0)
        # Records given again exactly as stored: how a sender's retry is told from news.
        self.unchanged = {"purchase_orders": 0, "sales_orders": 0}

    def run(self, purchase: Sequence[PORecord], sales: Sequence[SORecord]) -> None:
        # With POs in the batch their changes come first, as the file gives them; orders alone
        # (an order intake) store the new ones before taking the locks.
        stored = sales if purchase else self._new_orders(sales)
        self._lock(purchase, sales, stored)
        for po in purchase:
            self._purchase_order(po)
            self.progress(1)
        for order in stored:
            self._sales_order(order)
            self.progress(1)
        self._finish()

    def run_staged(self, staged: Staging) -> None:
        """``run`` for records too many to hold: every SKU they name or their stored lines hold
        is locked first (in SKU order, as ``_lock`` does), then they are applied a batch at a
        time, POs first, each batch's events written before the next is read."""
        held = self._held_skus(staged.numbers("po"), staged.numbers("order"))
        self.unit.lock_skus(staged.skus() | held)
        for pos in staged.purchase_orders():
            for po in pos:
                self._purchase_order(po)
                self.progress(1)
            self.unit.flush()
        for orders in staged.sales_orders():
            for order in self._new_orders(orders):
                self._sales_order(order)
                self.progress(1)
            self.unit.flush()
        self._finish()

    def _finish(self) -> None:
        if self.conflicts:
            orders = len({d.record for d in self.conflicts})
            raise Conflict(
                f"{orders} {'order' if orders == 1 else 'orders'} already stored with other "
                "contents",
                self.conflicts,
            )
        for sku in sorted(self.to_rebalance):
            rebalance_sku(self.unit, sku)
        sweep(self.unit, self.to_sweep)
        held_lines.write(self.unit, ())  # new lines the sweep did not reach, queued
        if self.to_fulfil:
            fulfil_lines(self.unit, self.to_fulfil)
        self.unit.outcome.created = self.created
        self.unit.outcome.updated = self.updated
        self.unit.outcome.unchanged = self.unchanged

    def _new_orders(self, sales: Sequence[SORecord]) -> list[SORecord]:
        """Store the orders not stored yet, before any SKU is locked, and return the others.

        Nothing decides on new lines until the sweep, which runs under the locks, so they can
        go in first, and the locks are held for less time: concurrent orders of the same SKUs
        wait less. (The new lines' foreign keys take KEY SHARE locks on their products, which
        the SKU locks, FOR NO KEY UPDATE, do not wait for.) An order stored by a concurrent
        intake in the meantime is found stored: the insert waits for it to commit."""
        if not sales:
            return []
        self.unit.add_products({ln.sku for r in sales for ln in r.lines})
        first: dict[str, SORecord] = {}
        for record in sales:
            first.setdefault(record.order, record)  # given twice: the second updates the first
        # One statement for every header, in order-number order (two intakes inserting the same
        # new orders then wait for each other in one order, never in a cycle); an order stored
        # already (here or by a concurrent intake) returns no id.
        headers = [self._header(first[number]) for number in sorted(first)]
        if self.unit.is_postgres and len(headers) > 1:
            found = self.conn.execute(
                _INSERT_NEW_ORDERS_JSON,
                {"rows": bulk.as_json(sales_orders, _HEADER_COLUMNS, headers, self.conn.dialect)},
            )
        else:
            found = self.conn.execute(_INSERT_NEW_ORDERS[self.unit.is_postgres], headers)
        ids = {number: so_id for so_id, number in found}
        stored = []
        lines: list[dict[str, Any]] = []
        for record in sales:
            so_id = ids.pop(record.order, None) if first.get(record.order) is record else None
            if so_id is None:
                stored.append(record)
                continue
            self.created["sales_orders"] += 1
            lines += self._new_lines(record, so_id)
            self.progress(1)
        if lines:
            if held_lines.may_hold(self.unit, lines):
                held_lines.hold(self.unit, lines)  # written by the sweep, placed or queued
            else:
                bulk.insert_rows(self.conn, so_lines, lines)
            self.created["so_lines"] += len(lines)
        self.unit.flush()  # their audit events too
        return stored

    def _lock(
        self,
        purchase: Sequence[PORecord],
        sales: Sequence[SORecord],
        stored: Sequence[SORecord],
    ) -> None:
        """Lock every SKU the records name or the existing lines of the ``stored`` orders and
        POs hold (a line whose SKU changes touches its old SKU's allocations too), all in SKU
        order. A concurrent change may still move a line to a SKU not locked here:
        ``_lines_locked`` catches that."""
        named = {ln.sku for r in purchase for ln in r.lines}
        named |= {ln.sku for r in sales for ln in r.lines}
        pos = [r.po for r in purchase]
        orders = [r.order for r in stored]
        if len(pos) + len(orders) <= ledger.CHUNK:
            # A few records (an order as it arrives): their held SKUs are read in the locking
            # statement itself.
            self.unit.lock_skus(named, orders=orders, pos=pos)
        else:
            self.unit.lock_skus(named | self._held_skus(pos, orders))

    def _held_skus(self, pos: Iterable[str], orders: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for numbers, query in ((pos, _PO_SKUS), (orders, _ORDER_SKUS)):
            numbers = iter(numbers)
            while chunk := list(islice(numbers, ledger.CHUNK)):
                found.update(self.conn.execute(query, {"numbers": chunk}).scalars())
        return found

    def _lines_locked(self, read: Callable[[], list[Any]]) -> list[Any]:
        """A record's existing lines, read with every SKU they hold locked. Rarely, a
        concurrent import moved a line to a SKU not locked yet; locking it then may meet a
        deadlock, which the database detects and the operation retries."""
        lines = read()
        while self.unit.lock_skus({ln.sku for ln in lines}):
            lines = read()  # again, now that nobody else can move them
        return lines

    def _purchase_order(self, record: PORecord) -> None:
        unit, conn = self.unit, self.conn
        header = conn.execute(_PO_HEADER, {"number": record.po}).one_or_none()
        if header is None:
            po_id = _inserted_id(
                conn.execute(
                    insert(purchase_orders).values(
                        po_number=record.po,
                        supplier=record.supplier or "",
                        status="open",
                        created_at=unit.at,
                        updated_at=unit.at,
                    )
                )
            )
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
            lines = self._lines_locked(
                lambda: [ledger.supply_from(r) for r in conn.execute(_PO_LINES, {"po_id": po_id})]
            )
            existing = {ln.line: ln for ln in lines}
        # Whether the PO may be received (closed) now: as stored, or after a receipt below.
        closed = header is not None and header.status == "received"
        for rec in record.lines:
            line = existing.get(rec.line)
            if line is None:
                created = self._new_po_line(po_id, record.po, rec)
                if closed:
                    # A fully received PO given a new line is open again for it.
                    settle_po_status(unit, record.po)
                    closed = False
                if rec.received_quantity:
                    line = ledger.po_line_by_id(unit, created)
                    apply_receipt(unit, line, rec.received_quantity, final=False)
                changed = True
            elif self._update_po_line(line, rec):
                changed = True
            closed = closed or rec.received_quantity is not None
        if not changed:
            self.unchanged["purchase_orders"] += 1

    def _new_po_line(self, po_id: int, po: str, rec: Any) -> int:
        created = self.conn.execute(
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
        self.unit.touch([_inserted_id(created)])
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
        return _inserted_id(created)

    def _update_po_line(self, line: ledger.Supply, rec: Any) -> bool:
        unit = self.unit
        changed = False
        # A received line's quantity is what came (an over-receipt raised it): the quantity a
        # supplier's file still gives is history, not a change.
        quantity = line.quantity if line.status == "received" else rec.quantity
        if line.status != "open" and (line.sku, line.arrival_date, line.quantity) != (
            rec.sku,
            rec.arrival_date,
            quantity,
        ):
            # Rule 11, as for a person's change of the line.
            raise Refused(f"PO {line.po} line {line.line} is {line.status}: it cannot change")
        received = rec.received_quantity
        if received is not None and received != line.received and line.status != "open":
            raise Refused(
                f"PO {line.po} line {line.line} is {line.status}: it cannot receive "
                f"(received {line.received}, the file says {received})"
            )
        if line.sku != rec.sku:
            if line.received:
                raise Refused(
                    f"PO {line.po} line {line.line} has received {line.received} units of "
                    f"{line.sku}: its SKU cannot change"
                )
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
        if quantity != line.quantity:
            store_hold = min(line.store_hold, rec.quantity)
            if change_supply(
                unit, line, quantity=rec.quantity, store_hold=store_hold, sweep_now=False
            ):
                self.to_sweep.add(line.sku)
            changed = True
        if received is not None and received != line.received:
            # A receipt given as the line's total received so far (rule 9).
            apply_receipt(unit, line, received, final=False)
            changed = True
        if changed:
            self.updated["po_lines"] += 1
        return changed

    def _header(self, record: SORecord) -> dict[str, Any]:
        return {
            "order_number": record.order,
            "customer": record.customer or "",
            "email": record.email,
            "placed_at": record.placed_at,
            "created_at": self.unit.at,
            "allow_split": bool(record.allow_split),
        }

    def _create_order(self, record: SORecord) -> None:
        so_id = _inserted_id(self.conn.execute(insert(sales_orders), self._header(record)))
        self.created["sales_orders"] += 1
        self._order_lines(record, so_id, {}, changed=True)

    def _sales_order(self, record: SORecord) -> None:
        unit, conn = self.unit, self.conn
        header = conn.execute(_ORDER_HEADER, {"number": record.order}).one_or_none()
        if header is None:
            self._create_order(record)
        else:
            so_id = header.id
            changed = False
            demand = self._lines_locked(
                lambda: [
                    ledger.demand_from(r) for r in conn.execute(_ORDER_LINES, {"so_id": so_id})
                ]
            )
            if self.fixed:
                found = _differences(record, header.customer, header.placed_at, demand)
                if record.email is not None and record.email != header.email:
                    found.insert(
                        1 if found and found[0].field == "customer" else 0,
                        Difference(
                            record.order,
                            "email",
                            masked_email(header.email),
                            masked_email(record.email),
                        ),
                    )
                if record.allow_split is not None and record.allow_split != header.allow_split:
                    found.append(
                        Difference(
                            record.order, "allow_split", header.allow_split, record.allow_split
                        )
                    )
                self.conflicts += found
                if not found:
                    self.unchanged["sales_orders"] += 1
                return
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
                for d in demand:
                    d.placed_at = record.placed_at
                self.updated["sales_orders"] += 1
                unit.event("order", order=record.order, before=before, after=after)
                changed = True
            if record.email is not None and record.email != header.email:
                conn.execute(
                    update(sales_orders)
                    .where(sales_orders.c.id == so_id)
                    .values(email=record.email)
                )
                # The audit log says that the address changed, not what it is: an address is
                # personal data kept in one place, the order (and the events that tell it).
                unit.event(
                    "order",
                    order=record.order,
                    before={"email": masked_email(header.email)},
                    after={"email": masked_email(record.email)},
                )
                if before == after:
                    self.updated["sales_orders"] += 1
                changed = True
            if record.allow_split is not None and record.allow_split != header.allow_split:
                self._allow_split(record, so_id, header.allow_split, demand)
                if before == after and not changed:
                    self.updated["sales_orders"] += 1
                changed = True
            self._order_lines(record, so_id, {ln.line: ln for ln in demand}, changed=changed)

    def _allow_split(
        self, record: SORecord, so_id: int, was: bool, demand: list[ledger.Demand]
    ) -> None:
        """Rule 10 asked (or no longer asked) for the order's lines: stored on the order and
        its lines; the sweep then places any queued line that may now be split. Lines already
        split stay as they are."""
        allow = bool(record.allow_split)
        self.conn.execute(
            update(sales_orders).where(sales_orders.c.id == so_id).values(allow_split=allow)
        )
        self.conn.execute(
            update(so_lines).where(so_lines.c.so_id == so_id).values(allow_split=allow)
        )
        self.unit.event(
            "order", order=record.order, before={"allow_split": was}, after={"allow_split": allow}
        )
        if allow:
            self.to_sweep.update(d.sku for d in demand)

    def _new_lines(self, record: SORecord, so_id: int) -> list[dict[str, Any]]:
        """The rows of a new order's lines (inserted by the caller), with their events."""
        return [self._new_line(record, rec, so_id) for rec in record.lines]

    def _new_line(self, record: SORecord, rec: Any, so_id: int) -> dict[str, Any]:
        """The row of a line new to the database (inserted by the caller), with its event."""
        self.unit.event(
            "order-line-created",
            sku=rec.sku,
            order=record.order,
            so_line=rec.line,
            quantity=rec.quantity,
            after={"customer": record.customer or "", "placed_at": record.placed_at},
        )
        self.to_sweep.add(rec.sku)
        return {
            "so_id": so_id,
            "order_number": record.order,
            "placed_at": record.placed_at,
            "line": rec.line,
            "sku": rec.sku,
            "quantity": rec.quantity,
            "status": "open",
            "parked": False,
            "allow_split": bool(record.allow_split),
        }

    def _order_lines(
        self,
        record: SORecord,
        so_id: int,
        existing: dict[int, ledger.Demand],
        *,
        changed: bool,
    ) -> None:
        """Add the record's new lines and update the changed ones."""
        conn = self.conn
        new_lines = []
        for rec in record.lines:
            if rec.status == "fulfilled":
                done = existing.get(rec.line)
                if done is None or done.status != "fulfilled":
                    self.to_fulfil.append((record.order, rec.line))
                    changed = True
            line = existing.get(rec.line)
            if line is None:
                new_lines.append(self._new_line(record, rec, so_id))
            elif (line.sku, line.quantity) != (rec.sku, rec.quantity):
                self._update_so_line(line, rec)
                changed = True
        if new_lines:
            bulk.insert_rows(conn, so_lines, new_lines)
            self.created["so_lines"] += len(new_lines)
            changed = True
        if not changed:
            self.unchanged["sales_orders"] += 1

    def _update_so_line(self, line: ledger.Demand, rec: Any) -> None:
        unit = self.unit
        if line.status == "fulfilled":
            raise Refused(f"{line.order}:{line.line} is fulfilled: it cannot change")
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


def _differences(
    record: SORecord, customer: str, placed_at: datetime, demand: Sequence[ledger.Demand]
) -> list[Difference]:
    """How ``record`` differs from the stored order: its customer (when given), placed_at (as
    an instant), each line's SKU and quantity, lines it adds and stored lines it leaves out."""
    order = record.order
    found = []
    if record.customer is not None and record.customer != customer:
        found.append(Difference(order, "customer", customer, record.customer))
    if record.placed_at != placed_at:
        found.append(
            Difference(order, "placed_at", placed_at.isoformat(), record.placed_at.isoformat())
        )
    stored = {d.line: d for d in demand}
    for i, rec in enumerate(record.lines):
        line = stored.pop(rec.line, None)
        if line is None:
            found.append(
                Difference(order, f"lines[{i}]", None, _line_json(rec.line, rec.sku, rec.quantity))
            )
            continue
        if line.sku != rec.sku:
            found.append(Difference(order, f"lines[{i}].sku", line.sku, rec.sku))
        if line.quantity != rec.quantity:
            found.append(Difference(order, f"lines[{i}].quantity", line.quantity, rec.quantity))
    for number in sorted(stored):
        line = stored[number]
        found.append(Difference(order, "lines", _line_json(number, line.sku, line.quantity), None))
    return found


def _line_json(line: int, sku: str, quantity: int) -> dict[str, Any]:
    return {"line": line, "sku": sku, "quantity": quantity}
