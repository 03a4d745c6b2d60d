"""Benchmark of the intake transaction alone: ``engine.apply_orders`` with batches of 1, 5, 10
and 20 new orders on PostgreSQL, one after another on one connection, no HTTP, nothing beside
it: how long a transaction takes, the CPU it takes in Python and in PostgreSQL, and how much
of that is the transaction's fixed part rather than its orders' (a least-squares line through
the batch sizes).

This is what says how the order intake scales with transactions in flight. Each transaction
pays its fixed part (its statements, their round trips and the commit) whatever its size, so
splitting the same orders over more transactions (a second one in flight, a second replica)
costs that part again for each; on a machine whose cores are already busy that is what the
second transaction competes for.

The database starts as a season of orders would leave it (``_steady.py``, as for
``intake_http.py``); each order has 1-3 lines over ``--skus`` SKUs, most with supply left.

``--beside N`` runs N loops beside the transactions, each doing what a server's HTTP thread
does between its waits (0.4 ms of Python, then 4.3 ms asleep: four of them take a third of a
core), in threads of this process (``--beside-in threads``: they share the transactions'
interpreter lock, as the HTTP threads of a server whose transactions run in its own thread do)
or in processes of their own (``processes``: as beside the intake's worker process).

    python bench/intake_batches.py [--transactions 300] [--sizes 1,5,10,20] [--rounds 3]
    python bench/intake_batches.py --sizes 10 --beside 4 --beside-in threads
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402
from _common import postgres_cpu  # noqa: E402
from _steady import HEADROOM, steady_state  # noqa: E402

import engine as e  # noqa: E402

ACTOR = e.Actor("api", e.Source.API)
WARM_UP = 30  # transactions before the first timed one: plans cached, statements prepared


class Orders:
    """New orders of 1-3 lines (distinct SKUs, 1-3 units each), numbered in sequence."""

    def __init__(self, skus: list[str], seed: int) -> None:
        self.skus = skus
        self.rng = random.Random(seed)
        self.n = 0

    def batch(self, size: int) -> list[e.SORecord]:
        found = []
        for _ in range(size):
            self.n += 1
            picked = self.rng.sample(self.skus, self.rng.choice((1, 2, 3)))
            found.append(
                e.SORecord(
                    order=f"BATCH-{self.n:08d}",
                    customer=f"customer-{self.rng.randrange(10_000)}",
                    placed_at=datetime.now(UTC),
                    lines=[
                        e.SOLineRecord(line=ln, sku=sku, quantity=self.rng.choice((1, 1, 2, 3)))
                        for ln, sku in enumerate(picked, start=1)
                    ],
                )
            )
        return found


def measure(db: e.Database, orders: Orders, size: int, count: int) -> tuple[float, float, float]:
    """``count`` transactions of ``size`` orders: each one's mean wall time, Python CPU (this
    thread's) and PostgreSQL CPU (all of its processes on this machine), in ms."""
    batches = [orders.batch(size) for _ in range(count)]
    pg, wall, cpu = postgres_cpu(), time.perf_counter(), time.thread_time()
    for batch in batches:
        e.apply_orders(db, ACTOR, batch, headers=False)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    after = postgres_cpu()
    database = (after - pg) if pg is not None and after is not None else float("nan")
    return 1000 * wall / count, 1000 * cpu / count, 1000 * database / count


BUSY = 0.0004  # seconds of Python a loop beside the transactions runs at a time
ASLEEP = 0.0043  # and then sleeps


def busy_loop(stop: threading.Event | Any) -> None:
    """What a server's HTTP thread does between its waits, until ``stop`` is set."""
    while not stop.is_set():
        began = time.thread_time()
        while time.thread_time() - began < BUSY:
            pass
        time.sleep(ASLEEP)


@contextmanager
def beside(count: int, where: str) -> Iterator[None]:
    """``count`` busy loops running in threads of this process or in processes of their own."""
    if not count:
        yield
        return
    context = multiprocessing.get_context("spawn")
    stop: Any = threading.Event() if where == "threads" else context.Event()
    kind: Any = threading.Thread if where == "threads" else context.Process
    loops = [kind(target=busy_loop, args=(stop,), daemon=True) for _ in range(count)]
    for loop in loops:
        loop.start()
    try:
        yield
    finally:
        stop.set()
        for loop in loops:
            loop.join(timeout=10)


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """The least-squares line through ``points`` (size, ms): (fixed ms, ms an order)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/intake_batches.py",
        description="The intake transaction alone (engine.apply_orders) on PostgreSQL, by "
        "batch size: time, Python CPU and PostgreSQL CPU a transaction, and its fixed part.",
    )
    c.add_pg_url(parser)
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--transactions", type=int, default=300, help="timed transactions a size (default: 300)"
    )
    parser.add_argument(
        "--sizes", default="1,5,10,20", help="orders a transaction, comma-separated (1,5,10,20)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds over the sizes; medians shown (default: 3)"
    )
    parser.add_argument("--skus", type=int, default=200, help="SKUs (default: 200)")
    parser.add_argument(
        "--history", type=int, default=100_000, help="SO lines stored before (default: 100000)"
    )
    parser.add_argument(
        "--beside",
        type=int,
        default=0,
        metavar="N",
        help="busy loops beside the transactions, as a server's HTTP threads (default: 0)",
    )
    parser.add_argument(
        "--beside-in",
        choices=["threads", "processes"],
        default="threads",
        help="where those loops run: threads of this process, sharing its interpreter lock, "
        "or processes of their own (default: threads)",
    )
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 1,5,10,20")
    if not sizes or sizes[0] < 1 or args.transactions < 1 or args.rounds < 1 or args.skus < 3:
        parser.error("need sizes >= 1, --transactions and --rounds >= 1, --skus >= 3")
    if args.beside < 0:
        parser.error("--beside must be at least 0")
    c.say(
        f"intake transactions alone: {args.transactions} transactions of each of "
        f"{', '.join(map(str, sizes))} new orders, {args.rounds} round(s), on {args.history:,} "
        f"SO lines stored before over {args.skus} SKUs"
        + (f", {args.beside} busy loops beside them in {args.beside_in}" if args.beside else "")
        + f"; PostgreSQL; {c.python_info()}"
    )
    rows, _ = steady_state(args.history, args.skus, args.seed, sold_out=20, headroom=HEADROOM)
    skus = [r["sku"] for r in rows["products"]]
    found: dict[int, list[tuple[float, float, float]]] = {size: [] for size in sizes}
    with c.open_store("postgresql", args, Path("."), "intake_batches", rows) as store:
        db = e.Database(store.fresh())
        orders = Orders(skus, args.seed)
        measure(db, orders, 10, WARM_UP)
        with beside(args.beside, args.beside_in):
            for _ in range(args.rounds):
                # Sizes interleaved in each round, so that a noisy minute touches each of them.
                for size in sizes:
                    found[size].append(measure(db, orders, size, args.transactions))
        db.dispose()
    c.say("\nsummary (ms a transaction, median of the rounds)")
    c.say(f"  {'orders':>6}  {'time':>6}  {'Python':>6}  {'PostgreSQL':>10}  {'time an order':>13}")
    medians: dict[int, tuple[float, float, float]] = {}
    for size in sizes:
        runs = found[size]
        medians[size] = (
            c.median([w for w, _, _ in runs]),
            c.median([p for _, p, _ in runs]),
            c.median([d for _, _, d in runs]),
        )
        wall, python, database = medians[size]
        c.say(f"  {size:>6}  {wall:6.2f}  {python:6.2f}  {database:10.2f}  {wall / size:13.2f}")
    if len(sizes) > 1:
        for name, index in (("time", 0), ("Python CPU", 1), ("PostgreSQL CPU", 2)):
            fixed, each = fit([(size, medians[size][index]) for size in sizes])
            c.say(f"  {name}: {fixed:.2f} ms a transaction + {each:.3f} ms an order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
