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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c
from _steady import steady_state

import engine as e

ACTOR = e.Actor("bench", e.Source.API)
WARM_UP = 20

NewOrder = tuple[str, datetime, list[tuple[int, str, int]]]


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
        rows, last = steady_state(n, args.skus, args.seed)
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
