"""Benchmark of a receipt (rule 9) on a PO line holding many allocations, against the cost of its
writes, and of order intake while it runs.

Seeds one PO line of SKU ``SKU-R`` holding ``--lines`` allocated SO lines (one unit each, FIFO),
plus ``--skus`` other SKUs with ATP left for new orders; then, on fresh identical copies:

* the receipt: ``engine.receive(db, actor, "PO-R", 1, N)`` receiving every unit, so every line
  becomes ready (an audit event and an ``order.ready`` event each), one transaction, in a child
  process of its own, while a thread of the same process takes orders for the other SKUs one
  ``engine.apply_orders`` call at a time (as ``POST /orders`` does);
* the write floor: the same SO lines marked ready by one UPDATE and their audit events written by
  one executemany, committed, nothing else (no reads, no locks, no outbox);
* intake alone: the same orders with no receipt running, in the same child first, as the
  baseline of the intake figures.

Every receipt's result is checked: every line ready, the line received and closed.

    python bench/receiving.py [--db sqlite|postgresql|both] [--lines N] [--repeat K]
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c
from sqlalchemy import func, insert, select, update

import engine as e
from engine.models import audit_events, po_lines, so_lines

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARRIVAL = date(2027, 1, 10)
ACTOR = e.Actor("bench", e.Source.API)
PO_R = "PO-R"
SKU_R = "SKU-R"


def make_rows(lines: int, n_skus: int) -> dict[str, list[dict[str, Any]]]:
    """The receiving line (``lines`` units, every one allocated, one unit per SO line) and, for
    intake, ``n_skus`` other SKUs with a PO line each and plenty of ATP."""
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    pos = [
        {"id": 1, "po_number": PO_R, "supplier": "bench", "status": "open",
         "created_at": T0, "updated_at": T0},
        {"id": 2, "po_number": "PO-OTHER", "supplier": "bench", "status": "open",
         "created_at": T0, "updated_at": T0},
    ]  # fmt: skip
    supply = [
        {"id": 1, "po_id": 1, "po_number": PO_R, "line": 1, "sku": SKU_R, "quantity": lines,
         "store_hold": 0, "allocated": lines, "allocated_lines": lines, "out_of_sync": 0,
         "arrival_date": ARRIVAL, "status": "open", "updated_at": T0},
    ]  # fmt: skip
    for i, sku in enumerate(skus):
        supply.append(
            {"id": i + 2, "po_id": 2, "po_number": "PO-OTHER", "line": i + 1, "sku": sku,
             "quantity": 1_000_000, "store_hold": 0, "allocated": 0, "allocated_lines": 0,
             "out_of_sync": 0, "arrival_date": ARRIVAL, "status": "open", "updated_at": T0}
        )  # fmt: skip
    orders, demand, allocs = [], [], []
    for n in range(1, lines + 1):
        placed = T0 + timedelta(seconds=n)
        orders.append(
            {"id": n, "order_number": f"SO-{n:07d}", "customer": f"customer {n}",
             "email": None, "placed_at": placed, "created_at": placed}
        )  # fmt: skip
        demand.append(
            {"id": n, "so_id": n, "order_number": f"SO-{n:07d}", "placed_at": placed, "line": 1,
             "sku": SKU_R, "quantity": 1, "status": "open", "parked": False, "po_line_id": 1,
             "promised_date": ARRIVAL}
        )  # fmt: skip
        allocs.append(
            {"id": n, "so_line_id": n, "po_line_id": 1, "sku": SKU_R, "quantity": 1,
             "operation_id": "seed", "actor": "seed", "source": "cli", "created_at": placed}
        )  # fmt: skip
    return {
        "products": [{"sku": s} for s in [SKU_R, *skus]],
        "purchase_orders": pos,
        "po_lines": supply,
        "sales_orders": orders,
        "so_lines": demand,
        "allocations": allocs,
    }


def _order(n: int, skus: int, rng: random.Random) -> e.SORecord:
    return e.SORecord(
        order=f"NEW-{n:07d}",
        customer="bench",
        placed_at=datetime.now(UTC) - timedelta(minutes=1),
        lines=[e.SOLineRecord(line=1, sku=f"SKU-{rng.randrange(skus):05d}", quantity=1)],
    )


def measure_receipt(url: str, lines: int, skus: int, alone: int) -> tuple[float, dict[str, Any]]:
    """Intake alone (``alone`` orders), then the receipt with intake running beside it."""
    db = e.Database(url)
    c.warm(db)
    rng = random.Random(7)
    serial = 0

    def take() -> tuple[float, float]:
        nonlocal serial
        serial += 1
        started = time.perf_counter()
        e.apply_orders(db, ACTOR, [_order(serial, skus, rng)])
        return started, time.perf_counter()

    baseline = [end - start for start, end in (take() for _ in range(alone))]
    spans: list[tuple[float, float]] = []
    stop = threading.Event()

    def intake() -> None:
        while not stop.is_set():
            spans.append(take())

    worker = threading.Thread(target=intake)
    worker.start()
    time.sleep(0.2)  # intake under way before the receipt starts
    started = time.perf_counter()
    outcome = e.receive(db, ACTOR, PO_R, 1, lines)
    ended = time.perf_counter()
    seconds = ended - started
    stop.set()
    worker.join()
    db.dispose()
    # The orders whose time overlapped the receipt's.
    during = [end - start for start, end in spans if end > started and start < ended]
    return seconds, {
        "ready": outcome.ready_count,
        "notified": outcome.notified,
        "alone_p50": c.median(baseline),
        "alone_p95": c.percentile(baseline, 95),
        "during_p50": c.median(during) if during else 0.0,
        "during_p95": c.percentile(during, 95) if during else 0.0,
        "during_max": max(during, default=0.0),
        "during_n": len(during),
    }


def measure_floor(url: str) -> tuple[float, dict[str, Any]]:
    """The least a receipt's writes cost: every line of the PO line marked ready by one UPDATE
    and an audit event each by one executemany; one transaction."""
    db = e.Database(url)
    c.warm(db)
    at = datetime.now(UTC)
    started = time.perf_counter()
    with db.write() as conn:
        rows = conn.execute(
            select(so_lines.c.order_number, so_lines.c.line, so_lines.c.quantity).where(
                so_lines.c.po_line_id == 1
            )
        ).all()
        conn.execute(update(so_lines).where(so_lines.c.po_line_id == 1).values(ready_at=at))
        conn.execute(
            insert(audit_events),
            [
                {"at": at, "operation_id": "floor", "operation": "receive", "actor": "bench",
                 "source": "api", "action": "ready", "sku": SKU_R, "po_number": PO_R,
                 "po_line": 1, "order_number": r.order_number, "so_line": r.line,
                 "quantity": r.quantity, "reason": "received"}
                for r in rows
            ],
        )  # fmt: skip
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, {"lines": len(rows)}


def check_receipt(url: str, lines: int) -> None:
    db = e.Database(url)
    with db.read() as conn:
        ready = conn.execute(
            select(func.count()).where(so_lines.c.po_line_id == 1, so_lines.c.ready_at.is_not(None))
        ).scalar_one()
        status, received = conn.execute(
            select(po_lines.c.status, po_lines.c.received).where(po_lines.c.id == 1)
        ).one()
    db.dispose()
    if (ready, status, received) != (lines, "received", lines):
        raise SystemExit(
            f"receipt result wrong: {ready} ready of {lines}, line {status}, received {received}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/receiving.py",
        description="Time a receipt covering every allocation of a PO line (engine.receive, one "
        "transaction) against the write floor of the same changes, and the latency of order "
        "intake while it runs against intake alone, all in the same run.",
    )
    c.add_common_arguments(parser)
    parser.add_argument(
        "--lines", type=int, default=50_000, help="allocations on the line (default: 50000)"
    )
    parser.add_argument("--skus", type=int, default=200, help="other SKUs (default: 200)")
    parser.add_argument("--alone", type=int, default=200, help="intake orders alone (200)")
    parser.add_argument("--repeat", type=int, default=3, help="measurements (default: 3)")
    args = parser.parse_args(argv)
    if min(args.lines, args.skus, args.alone, args.repeat) < 1:
        parser.error("every count must be at least 1")
    c.say(
        f"receiving benchmark: a receipt on a PO line holding {args.lines:,} allocations, "
        f"{args.repeat} run(s); {c.python_info()}"
    )
    rows = make_rows(args.lines, args.skus)
    summary: list[str] = []
    with c.scratch_folder(args.workdir) as folder:
        for backend in c.backends(args.db):
            summary.append(run_backend(backend, args, folder, rows))
    c.say("\nsummary")
    for line in summary:
        c.say(f"  {line}")
    return 0


def run_backend(
    backend: str, args: argparse.Namespace, folder: Path, rows: dict[str, list[dict[str, Any]]]
) -> str:
    c.say(f"\n-- {backend} --")
    receipts: list[c.ChildResult] = []
    floors: list[c.ChildResult] = []
    with c.open_store(backend, args, folder, "receiving", rows) as store:
        for i in range(1, args.repeat + 1):
            url = store.fresh()
            receipt = c.in_child(measure_receipt, url, args.lines, args.skus, args.alone)
            check_receipt(url, args.lines)
            url = store.fresh()
            floor = c.in_child(measure_floor, url)
            receipts.append(receipt)
            floors.append(floor)
            x = receipt.extra
            c.say(
                f"  run {i}: receipt {receipt.seconds:.2f} s ({x['ready']:,} lines ready, "
                f"{x['notified']:,} events), write floor {floor.seconds:.2f} s, ratio "
                f"{receipt.seconds / floor.seconds:.2f}; intake p95 alone "
                f"{x['alone_p95'] * 1e3:.0f} ms, during the receipt {x['during_p95'] * 1e3:.0f} "
                f"ms (max {x['during_max'] * 1e3:.0f} ms, {x['during_n']} orders)"
            )
    ratio = c.median([r.seconds / f.seconds for r, f in zip(receipts, floors, strict=True)])
    alone = c.median([r.extra["alone_p95"] for r in receipts]) * 1e3
    during = c.median([r.extra["during_p95"] for r in receipts]) * 1e3
    return (
        f"{backend}: receipt of {args.lines:,} lines {c.median([r.seconds for r in receipts]):.2f} "
        f"s, {ratio:.2f}x its write floor; intake p95 {alone:.0f} ms alone, {during:.0f} ms "
        f"during the receipt ({during / alone:.1f}x)"
    )


if __name__ == "__main__":
    sys.exit(main())
