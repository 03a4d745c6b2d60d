"""Benchmark of order intake latency: one order in, its lines auto-allocated (rule 1), one call of
``engine.apply_records`` with one ``SORecord`` of 1-3 lines, on a database that already holds
many SO lines, compared with the same measurement on a small database in the same run.

The existing data is a steady state rule 1 could have left: most SO lines allocated first in,
first out; a modest queue of lines that fit nowhere (on sold-out SKUs, plus a few too big for
any PO line); some parked and cancelled lines; an audit event for every allocation; ATP left on
most SKUs so that most new orders get allocated.

    python bench/intake.py [--db sqlite|postgresql|both] [--lines N] [--small N] [--orders N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c

import engine as e

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ARRIVAL0 = date(2027, 1, 4)
ACTOR = e.Actor("bench", e.Source.API)
WARM_UP = 20
PO_LINES_PER_SKU = 4

NewOrder = tuple[str, datetime, list[tuple[int, str, int]]]


def make_data(
    lines: int, n_skus: int, seed: int
) -> tuple[dict[str, list[dict[str, Any]]], datetime]:
    """Existing data of ``lines`` SO lines; returns the rows and the last ``placed_at``."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    sold_out = set(rng.sample(skus, n_skus // 5))
    orders: list[dict[str, Any]] = []
    demand: list[dict[str, Any]] = []
    placed = T0
    while len(demand) < lines:
        n = len(orders) + 1
        number = f"SO-{n:08d}"
        placed += timedelta(seconds=rng.choice((0, 1, 2, 5, 9)))
        orders.append(
            {
                "id": n,
                "order_number": number,
                "customer": f"customer-{rng.randrange(100_000)}",
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
                    "quantity": rng.choice((1, 1, 1, 2, 2, 3)),
                    "status": "open",
                    "parked": False,
                    "po_line_id": None,
                    "promised_date": None,
                }
            )

    by_sku: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in demand:
        by_sku[row["sku"]].append(row)
    held: dict[str, list[dict[str, Any]]] = {}
    for sku, rows in by_sku.items():
        # Sold-out SKUs: their latest 5% of lines wait in the queue, there being no ATP.
        cut = len(rows) - max(1, len(rows) // 20) if sku in sold_out else len(rows)
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
        if sku not in sold_out:
            targets[-1]["quantity"] += rng.randint(40, 80)  # ATP left for new orders
    rows = {
        "products": [{"sku": s} for s in skus],
        "purchase_orders": pos,
        "po_lines": supply,
        "sales_orders": orders,
        "so_lines": demand,
        "allocations": allocs,
        "audit_events": events,
    }
    return rows, placed


def new_orders(count: int, n_skus: int, after: datetime, seed: int) -> list[NewOrder]:
    rng = random.Random(seed + 1)
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    found = []
    placed = after
    for n in range(1, count + 1):
        placed += timedelta(seconds=rng.randint(1, 30))
        k = rng.choice((1, 1, 2, 3))
        lines = [
            (ln, sku, rng.choice((1, 1, 2, 3)))
            for ln, sku in enumerate(rng.sample(skus, k), start=1)
        ]
        found.append((f"NEW-{n:07d}", placed, lines))
    return found


def measure_intake(url: str, orders: list[NewOrder]) -> tuple[float, dict[str, Any]]:
    """Each order as its own ``apply_records`` call; the first WARM_UP are not counted."""
    db = e.Database(url)
    c.warm(db)
    records = [
        e.SORecord(
            order=number,
            customer="bench",
            placed_at=placed,
            lines=[e.SOLineRecord(line=ln, sku=sku, quantity=q) for ln, sku, q in lines],
        )
        for number, placed, lines in orders
    ]
    latencies: list[float] = []
    allocated = 0
    started = time.perf_counter()
    for record in records:
        t = time.perf_counter()
        outcome = e.apply_records(db, ACTOR, sales=[record])
        latencies.append(time.perf_counter() - t)
        allocated += outcome.allocated_count
    total = time.perf_counter() - started
    db.dispose()
    lines = sum(len(r.lines) for r in records[WARM_UP:])
    return total, {"latencies": latencies[WARM_UP:], "allocated": allocated, "lines": lines}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/intake.py",
        description="Latency of one order's intake and auto-allocation (engine.apply_records with "
        "one order of 1-3 lines) on a large database, against the same on a small one.",
    )
    c.add_common_arguments(parser)
    parser.add_argument(
        "--lines", type=int, default=1_000_000, help="existing SO lines, large (default: 1000000)"
    )
    parser.add_argument(
        "--small", type=int, default=10_000, help="existing SO lines, small (default: 10000)"
    )
    parser.add_argument("--skus", type=int, default=500, help="SKUs (default: 500)")
    parser.add_argument(
        "--orders",
        type=int,
        default=1_000,
        help=f"orders timed per run, after {WARM_UP} warm-up orders (default: 1000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (default: 3)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.orders < 1 or args.lines < 1 or args.small < 1 or args.skus < 5:
        parser.error("need --repeat, --orders, --lines, --small >= 1 and --skus >= 5")

    c.say(
        f"intake benchmark: {args.orders:,} orders of 1-3 lines, one apply_records call each, "
        f"on {args.small:,} and on {args.lines:,} existing SO lines ({args.skus:,} SKUs), "
        f"{args.repeat} run(s) each; {c.python_info()}"
    )
    sizes = {"small": args.small, "large": args.lines}
    data = {}
    for key, n in sizes.items():
        started = time.perf_counter()
        rows, last = make_data(n, args.skus, args.seed)
        allocated = len(rows["allocations"])
        queued = sum(
            1 for r in rows["so_lines"] if r["status"] == "open" and r["po_line_id"] is None
        )
        c.say(
            f"data {n:,} lines: {allocated:,} allocated, {queued:,} unallocated (parked ones "
            f"included), built in {time.perf_counter() - started:.1f} s"
        )
        data[key] = (rows, last)
    summary: list[str] = []
    with c.scratch_folder(args.workdir) as folder:
        for backend in c.backends(args.db):
            summary.extend(run_backend(backend, args, folder, sizes, data))
    c.say("\nsummary")
    for line in summary:
        c.say(f"  {line}")
    return 0


def run_backend(
    backend: str,
    args: argparse.Namespace,
    folder: Path,
    sizes: dict[str, int],
    data: dict[str, tuple[dict[str, list[dict[str, Any]]], datetime]],
) -> list[str]:
    c.say(f"\n-- {backend} --")
    p50: dict[str, list[float]] = {k: [] for k in sizes}
    p99: dict[str, list[float]] = {k: [] for k in sizes}
    with (
        c.open_store(backend, args, folder, "intake_small", data["small"][0]) as small,
        c.open_store(backend, args, folder, "intake_large", data["large"][0]) as large,
    ):
        stores = {"small": small, "large": large}
        for i in range(1, args.repeat + 1):
            for key, store in stores.items():
                orders = new_orders(WARM_UP + args.orders, args.skus, data[key][1], args.seed + i)
                result = c.in_child(measure_intake, store.fresh(), orders)
                ms = [x * 1000 for x in result.extra["latencies"]]
                p50[key].append(c.percentile(ms, 50))
                p99[key].append(c.percentile(ms, 99))
                c.say(
                    f"  run {i}, {sizes[key]:,} lines: p50 {p50[key][-1]:.2f} ms, "
                    f"p99 {p99[key][-1]:.2f} ms, max {max(ms):.2f} ms "
                    f"({result.extra['allocated']:,} lines allocated of "
                    f"{result.extra['lines']:,} timed + warm-up)"
                )
    ratios = [b / a for a, b in zip(p99["small"], p99["large"], strict=True)]
    ratio = c.median(ratios)
    lines = []
    for key, n in sizes.items():
        lines.append(
            f"{backend}: {n:,} existing lines: p50 median {c.median(p50[key]):.2f} ms "
            f"(runs {c.runs(p50[key], 'ms')}), p99 median {c.median(p99[key]):.2f} ms "
            f"(runs {c.runs(p99[key], 'ms')})"
        )
    lines.append(
        f"{backend}: p99 at {sizes['large']:,} / p99 at {sizes['small']:,}: median {ratio:.2f} "
        f"(runs {c.runs(ratios, '')}); target <= 2: {c.verdict(ratio <= 2)}"
    )
    for line in lines:
        c.say("  " + line.split(": ", 1)[1])
    return lines


if __name__ == "__main__":
    sys.exit(main())
