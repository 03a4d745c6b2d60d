"""Seed data shared by the intake benchmarks: a database in the steady state rule 1 could have
left after a season of orders.

Most SO lines are allocated first in, first out; a modest queue of lines fits nowhere (on
sold-out SKUs, plus a few too big for any PO line); some lines are parked or cancelled; every
allocation has its audit event and its first promise in the promise history; the SKUs not sold
out have ATP left on their last PO line, so that most new orders get allocated.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

Rows = dict[str, list[dict[str, Any]]]

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ARRIVAL0 = date(2027, 1, 4)
PO_LINES_PER_SKU = 4
# The intake benchmarks' units of ATP left on each SKU that is not sold out: more than a run's
# orders take.
HEADROOM = (3_000, 5_000)


def order_book(
    rng: random.Random,
    skus: list[str],
    lines: int,
    *,
    start: datetime,
    gaps: tuple[int, ...],
    customers: int,
    quantity: Callable[[random.Random], int],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], datetime]:
    """Orders of 1-3 lines (on distinct SKUs), each placed a ``gaps`` choice of seconds after
    the last (0: a tie), until there are ``lines`` SO lines, all open and unallocated. Returns
    the order rows, the SO line rows and the last ``placed_at``."""
    orders: list[dict[str, Any]] = []
    demand: list[dict[str, Any]] = []
    placed = start
    while len(demand) < lines:
        n = len(orders) + 1
        number = f"SO-{n:08d}"
        placed += timedelta(seconds=rng.choice(gaps))
        orders.append(
            {
                "id": n,
                "order_number": number,
                "customer": f"customer-{rng.randrange(customers)}",
                "placed_at": placed,
                "created_at": placed,
            }
        )
        k = min(rng.choice((1, 1, 1, 2, 2, 3)), lines - len(demand))
        for ln, sku in enumerate(rng.sample(skus, k), start=1):
            demand.append(
                {
                    "id": len(demand) + 1,
                    "so_id": n,
                    "order_number": number,
                    "placed_at": placed,
                    "line": ln,
                    "sku": sku,
                    "quantity": quantity(rng),
                    "status": "open",
                    "parked": False,
                    "po_line_id": None,
                    "promised_date": None,
                }
            )
    return orders, demand, placed


def steady_state(
    lines: int,
    n_skus: int,
    seed: int,
    *,
    sold_out: int | None = None,
    headroom: tuple[int, int] = (40, 80),
) -> tuple[Rows, datetime]:
    """Existing data of ``lines`` SO lines over ``n_skus`` SKUs, ``sold_out`` of them (default a
    fifth) with no ATP left and the others with ``headroom`` units (a range) of ATP left on
    their last PO line. Returns the rows by table and the last ``placed_at``."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    out = set(rng.sample(skus, n_skus // 5 if sold_out is None else sold_out))
    orders, demand, placed = order_book(
        rng,
        skus,
        lines,
        start=T0,
        gaps=(0, 1, 2, 5, 9),
        customers=100_000,
        quantity=lambda r: r.choice((1, 1, 1, 2, 2, 3)),
    )
    by_sku: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in demand:
        by_sku[row["sku"]].append(row)
    held: dict[str, list[dict[str, Any]]] = {}
    for sku, rows in by_sku.items():
        # Sold-out SKUs: their latest 5% of lines wait in the queue, there being no ATP.
        cut = len(rows) - max(1, len(rows) // 20) if sku in out else len(rows)
        keep = []
        for i, row in enumerate(rows):
            r = rng.random()
            if r < 0.01:
                row["status"] = "cancelled"
            elif r < 0.012:
                row["parked"] = True
            elif i >= cut:
                pass  # queued
            elif r < 0.014:
                row["quantity"] = rng.randint(100, 150)  # queued: bigger than any ATP
            else:
                keep.append(row)
        held[sku] = keep

    # The existing allocations came in by imports of a thousand orders each: one operation each.
    operation = {o["id"]: f"seed-import-{o['id'] // 1000:06d}" for o in orders}
    pos: list[dict[str, Any]] = []
    supply: list[dict[str, Any]] = []
    allocs: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    promises: list[dict[str, Any]] = []
    lines_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # Each PO brings one arrival wave of four SKUs: the SKU's k-th line arrives in wave k.
    for k in range(PO_LINES_PER_SKU):
        for j, sku in enumerate(skus):
            if j % 4 == 0:
                pos.append(
                    {
                        "id": len(pos) + 1,
                        "po_number": f"PO-{len(pos) + 1:06d}",
                        "supplier": f"supplier-{rng.randrange(40)}",
                        "status": "open",
                        "created_at": T0,
                        "updated_at": T0,
                    }
                )
            line = {
                "id": len(supply) + 1,
                "po_id": pos[-1]["id"],
                "po_number": pos[-1]["po_number"],
                "line": j % 4 + 1,
                "sku": sku,
                "quantity": 0,
                "store_hold": rng.choice((0, 0, 0, 2, 5)),
                "allocated": 0,
                "allocated_lines": 0,
                "arrival_date": ARRIVAL0 + timedelta(days=14 * k + rng.randrange(7)),
                "status": "open",
                "updated_at": T0,
            }
            supply.append(line)
            lines_of[sku].append(line)
    for sku in skus:
        rows = held.get(sku, [])
        targets = lines_of[sku]
        for i, row in enumerate(rows):
            line = targets[i * PO_LINES_PER_SKU // len(rows)]
            line["allocated"] += row["quantity"]
            line["allocated_lines"] += 1
            row["po_line_id"] = line["id"]
            row["promised_date"] = line["arrival_date"]
            allocs.append(
                {
                    "id": len(allocs) + 1,
                    "so_line_id": row["id"],
                    "po_line_id": line["id"],
                    "sku": sku,
                    "quantity": row["quantity"],
                    "operation_id": operation[row["so_id"]],
                    "actor": "seed",
                    "source": "api",
                    "created_at": row["placed_at"],
                }
            )
            # Its first promise, as rule 4's history records it (engine.ledger.allocate).
            promises.append(
                {
                    "id": len(promises) + 1,
                    "so_line_id": row["id"],
                    "at": row["placed_at"],
                    "operation_id": operation[row["so_id"]],
                    "actor": "seed",
                    "source": "api",
                    "old_date": None,
                    "new_date": line["arrival_date"],
                    "reason": "fifo",
                }
            )
            events.append(
                {
                    "id": len(events) + 1,
                    "at": row["placed_at"],
                    "operation_id": operation[row["so_id"]],
                    "operation": "import",
                    "actor": "seed",
                    "source": "api",
                    "action": "allocate",
                    "sku": sku,
                    "po_number": line["po_number"],
                    "po_line": line["line"],
                    "order_number": row["order_number"],
                    "so_line": row["line"],
                    "quantity": row["quantity"],
                    "before": None,
                    "after": {
                        "po": line["po_number"],
                        "line": line["line"],
                        "promised_date": line["arrival_date"].isoformat(),
                    },
                    "reason": "fifo",
                }
            )
        for line in targets:
            line["quantity"] = line["allocated"] + line["store_hold"]
        if sku not in out:
            targets[-1]["quantity"] += rng.randint(*headroom)  # ATP left for new orders
    tables = {
        "products": [{"sku": s} for s in skus],
        "purchase_orders": pos,
        "po_lines": supply,
        "sales_orders": orders,
        "so_lines": demand,
        "allocations": allocs,
        "audit_events": events,
        "promise_changes": promises,
    }
    return tables, placed
