"""Rule 1: FIFO auto-allocation of the unallocated queue."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from itertools import groupby, starmap
from operator import itemgetter
from typing import Any

from sqlalchemy import Select, bindparam, select

from engine import fifo, ledger
from engine.db import Database
from engine.models import po_lines, purchase_orders, so_lines
from engine.results import Outcome
from engine.unit import Actor, Unit, run_operation

# SKUs planned together: bounds the rows held in memory on a sweep of a million lines.
SKU_BATCH = 128
# A sweep of at most this many SKUs reads the queue's placed_at (see _queue).
FEW_SKUS = 8


def auto_allocate(
    db: Database,
    actor: Actor,
    *,
    skus: Collection[str] | None = None,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 1: allocate unallocated, open, unparked SO lines in FIFO order, each whole, to the
    earliest-arriving open PO line of its SKU with ATP for it. ``skus`` limits the sweep;
    ``key`` makes it run once (a scheduled sweep's time, so replicas never repeat it)."""
    return run_operation(
        db, actor, "auto-allocate", lambda unit: sweep(unit, skus), dry_run=dry_run, key=key
    )


def sweep(unit: Unit, skus: Collection[str] | None = None) -> None:
    """Run rule 1 inside an operation, for ``skus`` or for every SKU that could gain."""
    candidates = sorted(set(skus)) if skus is not None else _skus_with_work(unit)
    if not candidates:
        return
    unit.lock_skus(candidates)
    for batch in _batches(candidates, SKU_BATCH):
        supply = ledger.open_supply(unit, batch)
        room = {sku: max((s.atp for s in lines), default=0) for sku, lines in supply.items()}
        wanted = [sku for sku in batch if room[sku] > 0]
        if not wanted:
            continue
        queue = _queue(unit, wanted, max(room[s] for s in wanted))
        pairs = []
        for sku in wanted:
            pairs.extend(fifo.plan(supply[sku], queue.get(sku, [])))
        ledger.allocate(unit, pairs, reason="fifo")


def _queue(unit: Unit, skus: list[str], most: int) -> dict[str, list[ledger.Demand]]:
    # A line bigger than every PO line's ATP cannot be placed: leave it out of the read. After a
    # sweep that is every line still waiting, so the read stays small however long the queue.
    # Only the columns a queued line can differ in (the others are fixed by the WHERE clause:
    # open, unparked, unallocated, no promise), and not placed_at, which the ORDER BY uses:
    # the read is most of a big sweep's cost. A sweep of a few SKUs (an order's, as it arrives)
    # does read placed_at, which saves ``ledger.allocate`` reading it for the lines it places.
    query = _QUEUE_PLACED if len(skus) <= FEW_SKUS else _QUEUE
    rows = unit.conn.execute(query, {"skus": skus, "most": most})
    return {sku: list(starmap(ledger.Demand, lines)) for sku, lines in groupby(rows, itemgetter(3))}


def _queue_query(columns: int) -> Select[Any]:
    return (
        select(*ledger.DEMAND_COLUMNS[:columns])
        .where(
            so_lines.c.sku.in_(bindparam("skus", expanding=True)),
            so_lines.c.status == "open",
            so_lines.c.po_line_id.is_(None),
            so_lines.c.parked.is_(False),
            so_lines.c.quantity <= bindparam("most"),
        )
        .order_by(so_lines.c.sku, so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)
    )


# Built once: an order intake sweeps its SKUs, and building the query each time was a part of it.
_QUEUE = _queue_query(5)  # id, order, line, sku, quantity
_QUEUE_PLACED = _queue_query(6)  # and placed_at


def _skus_with_work(unit: Unit) -> list[str]:
    """SKUs with both an unparked queue and an open PO line with ATP left."""
    # One index probe per SKU with ATP rather than a DISTINCT over the whole queue, which a
    # 200,000-line queue makes a few percent of the sweep.
    waiting = (
        select(so_lines.c.id)
        .where(
            so_lines.c.sku == po_lines.c.sku,
            so_lines.c.status == "open",
            so_lines.c.po_line_id.is_(None),
            so_lines.c.parked.is_(False),
        )
        .exists()
    )
    with_work = (
        select(po_lines.c.sku)
        .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
        .where(
            po_lines.c.status == "open",
            purchase_orders.c.status == "open",
            po_lines.c.quantity - po_lines.c.store_hold - po_lines.c.allocated > 0,
            waiting,
        )
        .distinct()
    )
    return sorted(unit.conn.execute(with_work).scalars())


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
