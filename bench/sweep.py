"""Benchmark of rule 1's FIFO sweep (``engine.auto_allocate``) against the cost of its writes.

Seeds SO lines (all unallocated, unparked, open) and PO lines of a few hundred SKUs, then, on fresh
identical copies of that data, measures:

* the sweep: ``engine.auto_allocate(db, actor)`` (one transaction on SQLite; on PostgreSQL in
  SKU batches, each a transaction of its own: ``engine.sweep``), in a child process of its own
  (so that its peak RSS is the sweep's alone);
* the write floor: the same allocation rows as one bulk insert (as
  ``engine.ledger.allocate`` writes them) plus one set-based UPDATE of the same SO lines,
  committed, and nothing else: no reads, no planning, no PO line counters, no audit events;
  and the same again with the triggers that keep the queue's tallies off
  (``engine.queue_tallies``): what those triggers cost on the least a sweep writes, beside it
  in the same run;
* a naive loop, one transaction per order, on a sample of the queue, extrapolated per line.

Every sweep's result is checked against an independent rule 1 plan of the seeded data.

With ``--split`` each run also sweeps with split lines on (rule 10, ``PREORDER_SPLIT_LINES=1``:
a line no single PO line holds takes units from several), checked against an independent plan
of rule 10, and reports it against the same write floor and against the sweep with split off
measured in the same run. Its data has larger large lines (1% of 100-400 units rather than
0.5% of 20-60), so that some fit no single PO line at their turn and split: both sweeps of the
run take that data.

    python bench/sweep.py [--db sqlite|postgresql|both] [--lines N] [--repeat K] [--split]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any

import _common as c
from _steady import order_book
from sqlalchemy import Connection, func, insert, select, update

import engine as e
from engine.ledger import write_allocations
from engine.models import (
    allocation_parts,
    allocations,
    audit_events,
    po_lines,
    products,
    purchase_orders,
    so_lines,
)
from engine.queue_tallies import create_triggers, drop_triggers

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARRIVAL0 = date(2027, 1, 4)
ACTOR = e.Actor("bench", e.Source.CLI)
# Share of each SKU's demand that its open PO lines can sell: most lines get allocated.
SUPPLY_SHARE = 0.92

Pair = tuple[int, int, str, int]  # so_line_id, po_line_id, sku, quantity


@dataclass
class SweepData:
    rows: dict[str, list[dict[str, Any]]]
    plan: list[Pair]  # rule 1's allocations of the seeded data, by SKU then FIFO
    # With split lines on (rule 10): the whole allocations, and the parts of split lines.
    split_plan: tuple[list[Pair], list[Pair]] = ([], [])


# The share of large lines and their sizes. ``--split`` takes larger ones, about a PO line's
# size, so that some fit no single PO line at their turn and split (rule 10).
LARGE = (0.005, 20, 60)
LARGE_SPLIT = (0.01, 100, 400)


def _quantities(large: tuple[float, int, int]) -> Callable[[random.Random], int]:
    share, low, high = large

    def quantity(rng: random.Random) -> int:
        """Small quantities, a few large ones."""
        return rng.choice((1, 1, 1, 2, 2, 3)) if rng.random() > share else rng.randint(low, high)

    return quantity


def make_data(
    lines: int,
    n_po_lines: int,
    n_skus: int,
    seed: int,
    large: tuple[float, int, int] = LARGE,
) -> SweepData:
    """Orders of 1-3 lines placed over time (ties included), small quantities with a few large
    ones, PO lines spread over the SKUs with weekly arrival dates (ties broken by PO number and
    line), some store holds, a few cancelled lines and one cancelled PO."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    orders, demand_rows, _ = order_book(
        rng,
        skus,
        lines,
        start=T0,
        gaps=(0, 1, 1, 2, 3, 7),
        customers=50_000,
        quantity=_quantities(large),
    )
    demand: Counter[str] = Counter()
    for row in demand_rows:
        demand[row["sku"]] += row["quantity"]

    per_po = 4
    n_pos = -(-n_po_lines // per_po)
    cancelled_po = 7 if n_pos > 7 else None
    pos = [
        {
            "id": i + 1,
            "po_number": f"PO-{i + 1:06d}",
            "supplier": f"supplier-{rng.randrange(40)}",
            "status": "cancelled" if i == cancelled_po else "open",
            "created_at": T0,
            "updated_at": T0,
        }
        for i in range(n_pos)
    ]
    supply_rows: list[dict[str, Any]] = []
    for j in range(n_po_lines):
        po = pos[j // per_po]
        supply_rows.append(
            {
                "id": j + 1,
                "po_id": po["id"],
                "po_number": po["po_number"],
                "line": j % per_po + 1,
                "sku": skus[j % n_skus],
                "quantity": 0,
                "store_hold": rng.choice((0, 0, 0, 2, 5)),
                "allocated": 0,
                "arrival_date": ARRIVAL0 + timedelta(days=rng.randrange(0, 120, 7)),
                "status": "cancelled" if rng.random() < 0.01 else "open",
                "updated_at": T0,
            }
        )
    usable: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in supply_rows:
        open_po = pos[row["po_id"] - 1]["status"] == "open"
        if row["status"] == "open" and open_po:
            usable[row["sku"]].append(row)
        else:
            row["quantity"] = row["store_hold"] + rng.randint(0, 200)
    for sku, rows in usable.items():
        sellable = int(demand[sku] * SUPPLY_SHARE)
        weights = [rng.uniform(0.5, 1.5) for _ in rows]
        total = sum(weights)
        shares = [int(sellable * w / total) for w in weights]
        shares[0] += sellable - sum(shares)
        for row, share in zip(rows, shares, strict=True):
            row["quantity"] = row["store_hold"] + share

    data: dict[str, list[dict[str, Any]]] = {
        "products": [{"sku": s} for s in skus],
        "purchase_orders": pos,
        "po_lines": supply_rows,
        "sales_orders": orders,
        "so_lines": demand_rows,
    }
    return SweepData(data, _plan(usable, demand_rows), _split_plan(usable, demand_rows))


def _plan(usable: dict[str, list[dict[str, Any]]], queue: list[dict[str, Any]]) -> list[Pair]:
    """Rule 1, written out independently of the engine: each line, whole, in FIFO order, to the
    earliest open PO line of its SKU (arrival date, PO number, line) with ATP for it."""
    atp: dict[str, list[list[Any]]] = {
        sku: [
            [r["quantity"] - r["store_hold"], r["id"]]
            for r in sorted(rows, key=lambda r: (r["arrival_date"], r["po_number"], r["line"]))
        ]
        for sku, rows in usable.items()
    }
    pairs: dict[str, list[Pair]] = defaultdict(list)
    fifo = sorted(queue, key=lambda r: (r["placed_at"], r["order_number"], r["line"]))
    for row in fifo:
        for slot in atp.get(row["sku"], []):
            if slot[0] >= row["quantity"]:
                slot[0] -= row["quantity"]
                pairs[row["sku"]].append((row["id"], slot[1], row["sku"], row["quantity"]))
                break
    return [p for sku in sorted(pairs) for p in pairs[sku]]


def _split_plan(
    usable: dict[str, list[dict[str, Any]]], queue: list[dict[str, Any]]
) -> tuple[list[Pair], list[Pair]]:
    """Rule 10, written out independently of the engine: as ``_plan``, but a line no single PO
    line holds, when its SKU's lines hold it together, takes from each in rule 1's order as much
    as it has until it is covered. Returns the whole allocations and the parts."""
    atp: dict[str, list[list[Any]]] = {
        sku: [
            [r["quantity"] - r["store_hold"], r["id"]]
            for r in sorted(rows, key=lambda r: (r["arrival_date"], r["po_number"], r["line"]))
        ]
        for sku, rows in usable.items()
    }
    whole: list[Pair] = []
    parts: list[Pair] = []
    fifo = sorted(queue, key=lambda r: (r["placed_at"], r["order_number"], r["line"]))
    for row in fifo:
        slots, need = atp.get(row["sku"], []), row["quantity"]
        fits = next((slot for slot in slots if slot[0] >= need), None)
        if fits is not None:
            fits[0] -= need
            whole.append((row["id"], fits[1], row["sku"], need))
        elif sum(slot[0] for slot in slots) >= need:
            for slot in slots:
                take = min(slot[0], need)
                if take:
                    slot[0] -= take
                    need -= take
                    parts.append((row["id"], slot[1], row["sku"], take))
                if not need:
                    break
    return whole, parts


# --- the measurements, each run in a child process --------------------------------------------


def measure_sweep(url: str, split: bool = False) -> tuple[float, dict[str, Any]]:
    db = e.Database(url, split_lines=split)
    c.warm(db)
    started = time.perf_counter()
    outcome = e.auto_allocate(db, ACTOR)
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, {
        "lines": outcome.allocated_count,
        "units": outcome.allocated_units,
        "batches": outcome.batches,
    }


def measure_one_transaction(url: str) -> tuple[float, dict[str, Any]]:
    """The same sweep as one transaction (what auto_allocate does on SQLite, and did on
    PostgreSQL before its sweep took SKU batches): the batches' reference in the same run."""
    from engine.sweep import sweep
    from engine.unit import run_operation

    db = e.Database(url)
    c.warm(db)
    started = time.perf_counter()
    outcome = run_operation(
        db, ACTOR, "auto-allocate", lambda unit: sweep(unit), defer_long_sweeps=False
    )
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, {"lines": outcome.allocated_count}


def measure_floor(
    url: str, pairs: list[Pair], tallies: bool = True
) -> tuple[float, dict[str, Any]]:
    """The write floor: the sweep's allocation rows as one bulk insert, written exactly as
    ``ledger.allocate`` writes them (``ledger.write_allocations``: one statement of three arrays
    on PostgreSQL, the driver's executemany on SQLite), and one set-based UPDATE pointing
    the same SO lines at their PO lines with the promised date; one transaction; nothing else.
    Without ``tallies`` the triggers that keep the queue's tallies are off for it (put back in
    the same transaction, before its commit): the same writes as before the tallies, their
    reference. Timed from the first write to the commit's end."""
    db = e.Database(url)
    c.warm(db)
    at = datetime.now(UTC)
    point = (
        update(so_lines)
        .where(
            so_lines.c.id == allocations.c.so_line_id,
            allocations.c.po_line_id == po_lines.c.id,
        )
        .values(po_line_id=allocations.c.po_line_id, promised_date=po_lines.c.arrival_date)
    )
    with db.write() as conn:
        if not tallies:
            switch_tally_triggers(conn, on=False)
        started = time.perf_counter()
        write_allocations(
            conn,
            pairs,
            operation_id="00000000-0000-0000-0000-000000000000",
            actor=ACTOR,
            at=at,
        )
        conn.execute(point)
        if not tallies:
            switch_tally_triggers(conn, on=True)
    # The commit counts, as the sweep's own commits do (on PostgreSQL the flush of a
    # 200,000-line transaction's log is about a second).
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, {"lines": len(pairs)}


def switch_tally_triggers(conn: Connection, *, on: bool) -> None:
    """Turn the queue tally triggers off or back on inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        verb = "ENABLE" if on else "DISABLE"
        for name in ("queue_tallies_insert", "queue_tallies_update", "queue_tallies_delete"):
            conn.exec_driver_sql(f"ALTER TABLE so_lines {verb} TRIGGER {name}")
    elif on:
        create_triggers(conn)
    else:
        drop_triggers(conn)


def measure_naive(url: str, sample: int) -> tuple[float, dict[str, Any]]:
    """The obvious implementation: read the queue, then one transaction per order, each line
    placed with its own lookup, insert, updates and audit event. Times the loop only."""
    db = e.Database(url)
    c.warm(db)
    with db.read() as conn:
        queue = conn.execute(
            select(
                so_lines.c.id,
                so_lines.c.order_number,
                so_lines.c.line,
                so_lines.c.sku,
                so_lines.c.quantity,
            )
            .where(
                so_lines.c.status == "open",
                so_lines.c.po_line_id.is_(None),
                so_lines.c.parked.is_(False),
            )
            .order_by(so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)
            .limit(sample)
        ).all()
    atp = po_lines.c.quantity - po_lines.c.store_hold - po_lines.c.allocated
    placed: list[Pair] = []
    started = time.perf_counter()
    for order, group in groupby(queue, key=lambda r: r.order_number):
        lines = list(group)
        with db.write() as conn:
            operation = f"naive-{order}"
            if db.is_postgres:
                conn.execute(
                    select(products.c.sku)
                    .where(products.c.sku.in_(sorted({r.sku for r in lines})))
                    .order_by(products.c.sku)
                    .with_for_update()
                ).all()
            for r in lines:
                target = conn.execute(
                    select(po_lines.c.id, po_lines.c.po_number, po_lines.c.line)
                    .add_columns(po_lines.c.arrival_date)
                    .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
                    .where(
                        po_lines.c.sku == r.sku,
                        po_lines.c.status == "open",
                        purchase_orders.c.status == "open",
                        atp >= r.quantity,
                    )
                    .order_by(po_lines.c.arrival_date, po_lines.c.po_number, po_lines.c.line)
                    .limit(1)
                ).first()
                if target is None:
                    continue
                at = datetime.now(UTC)
                conn.execute(
                    insert(allocations).values(
                        so_line_id=r.id,
                        po_line_id=target.id,
                        sku=r.sku,
                        quantity=r.quantity,
                        operation_id=operation,
                        actor=ACTOR.name,
                        source=ACTOR.source.value,
                        created_at=at,
                    )
                )
                conn.execute(
                    update(so_lines)
                    .where(so_lines.c.id == r.id)
                    .values(po_line_id=target.id, promised_date=target.arrival_date)
                )
                conn.execute(
                    update(po_lines)
                    .where(po_lines.c.id == target.id)
                    .values(allocated=po_lines.c.allocated + r.quantity)
                )
                conn.execute(
                    insert(audit_events).values(
                        at=at,
                        operation_id=operation,
                        operation="auto-allocate",
                        actor=ACTOR.name,
                        source=ACTOR.source.value,
                        action="allocate",
                        sku=r.sku,
                        po_number=target.po_number,
                        po_line=target.line,
                        order_number=r.order_number,
                        so_line=r.line,
                        quantity=r.quantity,
                        after={
                            "po": target.po_number,
                            "line": target.line,
                            "promised_date": target.arrival_date.isoformat(),
                        },
                        reason="fifo",
                    )
                )
                placed.append((r.id, target.id, r.sku, r.quantity))
    seconds = time.perf_counter() - started
    db.dispose()
    return seconds, {"lines": len(queue), "placed": placed}


# --- checks ------------------------------------------------------------------------------------


def check_sweep(url: str, expected: list[Pair], parts: list[Pair] | None = None) -> None:
    """The sweep did exactly rule 1's plan (with ``parts``: rule 10's, whole allocations and
    parts), with an audit event per allocation (per part) and counters that add up."""
    db = e.Database(url)
    with db.read() as conn:
        got_parts = set(
            conn.execute(
                select(
                    allocation_parts.c.so_line_id,
                    allocation_parts.c.po_line_id,
                    allocation_parts.c.sku,
                    allocation_parts.c.quantity,
                )
            ).all()
        )
        got = set(
            conn.execute(
                select(
                    allocations.c.so_line_id,
                    allocations.c.po_line_id,
                    allocations.c.sku,
                    allocations.c.quantity,
                )
            ).all()
        )
        pointed = conn.execute(
            select(func.count()).where(so_lines.c.po_line_id.is_not(None))
        ).scalar_one()
        events = conn.execute(
            select(func.count()).where(audit_events.c.action == "allocate")
        ).scalar_one()
        counters = conn.execute(select(func.sum(po_lines.c.allocated))).scalar_one() or 0
    db.dispose()
    want = set(expected)
    want_parts = set(parts or [])
    split_lines = len({p[0] for p in want_parts})
    problems = []
    if got != want:
        problems.append(f"{len(got - want)} unexpected, {len(want - got)} missing allocations")
    if got_parts != want_parts:
        problems.append(
            f"{len(got_parts - want_parts)} unexpected, {len(want_parts - got_parts)} missing parts"
        )
    if pointed != len(want) + split_lines or events != len(want) + len(want_parts):
        problems.append(
            f"{pointed} SO lines allocated, {events} audit events, "
            f"{len(want)} + {split_lines} split ({len(want_parts)} parts) planned"
        )
    units = sum(p[3] for p in want) + sum(p[3] for p in want_parts)
    if counters != units:
        problems.append(f"PO line counters sum to {counters}, allocations to {units}")
    if problems:
        raise SystemExit("sweep result differs from rule 1: " + "; ".join(problems))


# --- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/sweep.py",
        description="Time rule 1's FIFO sweep (engine.auto_allocate: one transaction on SQLite, "
        "SKU batches on PostgreSQL) against "
        "the write floor of the same allocations, and against a naive one-transaction-per-order "
        "loop; report the sweep process's peak memory.",
    )
    c.add_common_arguments(parser)
    parser.add_argument("--lines", type=int, default=200_000, help="SO lines (default: 200000)")
    parser.add_argument("--po-lines", type=int, default=2_000, help="PO lines (default: 2000)")
    parser.add_argument("--skus", type=int, default=500, help="SKUs (default: 500)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurements of each kind (default: 3)"
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="also sweep with split lines on (rule 10) in each run, against the same floor",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=2_000,
        help="SO lines the naive loop places, extrapolated per line to --lines (default: 2000; "
        "0 skips it)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.lines < 1 or args.skus < 1 or args.po_lines < args.skus:
        parser.error("need --repeat >= 1, --lines >= 1 and --po-lines >= --skus >= 1")

    c.say(
        f"sweep benchmark: {args.lines:,} SO lines, {args.po_lines:,} PO lines, "
        f"{args.skus:,} SKUs, {args.repeat} run(s) each; {c.python_info()}"
    )
    started = time.perf_counter()
    data = make_data(
        args.lines, args.po_lines, args.skus, args.seed, LARGE_SPLIT if args.split else LARGE
    )
    planned_units = sum(p[3] for p in data.plan)
    c.say(
        f"data: {len(data.rows['sales_orders']):,} orders; rule 1 places {len(data.plan):,} "
        f"of {args.lines:,} lines ({planned_units:,} units); built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    summary: list[str] = []
    with c.scratch_folder(args.workdir) as folder:
        for backend in c.backends(args.db):
            summary.extend(run_backend(backend, args, folder, data))
    c.say("\nsummary")
    for line in summary:
        c.say(f"  {line}")
    return 0


def run_backend(backend: str, args: argparse.Namespace, folder: Path, data: SweepData) -> list[str]:
    c.say(f"\n-- {backend} --")
    sweeps: list[c.ChildResult] = []
    floors: list[c.ChildResult] = []
    splits: list[c.ChildResult] = []
    bares: list[float] = []  # the write floor without the queue tally triggers
    wholes: list[float] = []  # one-transaction sweep / floor, per run (PostgreSQL)
    with c.open_store(backend, args, folder, "sweep", data.rows) as store:
        for i in range(1, args.repeat + 1):
            # With --split the two sweeps take turns going first, so that neither always
            # measures after the other's writes.
            order = (False, True) if i % 2 or not args.split else (True, False)
            for on in order[: 2 if args.split else 1]:
                url = store.fresh()
                if on:
                    split = c.in_child(measure_sweep, url, True)
                    check_sweep(url, *data.split_plan)
                    splits.append(split)
                else:
                    sweep = c.in_child(measure_sweep, url)
                    check_sweep(url, data.plan)
            url = store.fresh()
            floor = c.in_child(measure_floor, url, data.plan)
            url = store.fresh()
            bare = c.in_child(measure_floor, url, data.plan, False)
            sweeps.append(sweep)
            floors.append(floor)
            if args.split:
                c.say(
                    f"  run {i}: sweep with split lines {split.seconds:.2f} s "
                    f"({split.extra['lines']:,} lines allocated, "
                    f"{len({p[0] for p in data.split_plan[1]}):,} of them split; checked "
                    f"against rule 10), ratio to the floor {split.seconds / floor.seconds:.2f}, "
                    f"to the sweep without {split.seconds / sweep.seconds:.2f}"
                )
            bares.append(bare.seconds)
            if backend == "postgresql":
                url = store.fresh()
                whole = c.in_child(measure_one_transaction, url)
                check_sweep(url, data.plan)
                wholes.append(whole.seconds / floor.seconds)
                c.say(
                    f"  run {i}: the same sweep as one transaction {whole.seconds:.2f} s, "
                    f"ratio to the floor {whole.seconds / floor.seconds:.2f}"
                )
            c.say(
                f"  run {i}: sweep {sweep.seconds:.2f} s ({sweep.extra['lines']:,} lines "
                f"allocated in {sweep.extra['batches']} transactions, checked against rule 1), "
                f"write floor {floor.seconds:.2f} s ({bare.seconds:.2f} s without the queue "
                f"tally triggers), ratio {sweep.seconds / floor.seconds:.2f}, sweep peak RSS "
                f"{sweep.peak_rss_mb:.0f} MB"
            )
        naive = None
        if args.naive_sample:
            url = store.fresh()
            naive = c.in_child(measure_naive, url, args.naive_sample)
            wanted = {p[0]: p for p in data.plan}
            placed = naive.extra["placed"]
            if any(wanted.get(p[0]) != p for p in placed):
                raise SystemExit("the naive loop disagrees with rule 1 (benchmark bug)")

    sweep_s = [r.seconds for r in sweeps]
    floor_s = [r.seconds for r in floors]
    ratios = [s / f for s, f in zip(sweep_s, floor_s, strict=True)]
    triggers = [f / b for f, b in zip(floor_s, bares, strict=True)]
    extra = [(f - b) / s for f, b, s in zip(floor_s, bares, sweep_s, strict=True)]
    peaks = [r.peak_rss_mb for r in sweeps]
    ratio = c.median(ratios)
    peak = max(peaks)
    lines = [
        f"{backend}: sweep of {args.lines:,} lines: median {c.median(sweep_s):.2f} s "
        f"(runs {c.runs(sweep_s)})",
        f"{backend}: write floor: median {c.median(floor_s):.2f} s (runs {c.runs(floor_s)})",
        f"{backend}: write floor without the queue tally triggers: median "
        f"{c.median(bares):.2f} s (runs {c.runs(bares)}); the triggers' cost, floor / floor "
        f"without them: median {c.median(triggers):.2f} (runs {c.runs(triggers, '')}), "
        f"{c.median(extra):.1%} of the sweep (runs {c.runs(extra, '')})",
        f"{backend}: sweep / floor: median {ratio:.2f} (runs {c.runs(ratios, '')}); "
        f"target <= 2: {c.verdict(ratio <= 2)}",
        *(
            [
                f"{backend}: the same sweep as one transaction / floor: median "
                f"{c.median(wholes):.2f} (runs {c.runs(wholes, '')})"
            ]
            if wholes
            else []
        ),
    ]
    if splits:
        split_s = [r.seconds for r in splits]
        split_ratios = [s / f for s, f in zip(split_s, floor_s, strict=True)]
        on_off = [s / w for s, w in zip(split_s, sweep_s, strict=True)]
        split_ratio = c.median(split_ratios)
        lines += [
            f"{backend}: sweep with split lines on: median {c.median(split_s):.2f} s "
            f"(runs {c.runs(split_s)}); {len({p[0] for p in data.split_plan[1]}):,} lines split",
            f"{backend}: sweep with split lines on / floor: median {split_ratio:.2f} "
            f"(runs {c.runs(split_ratios, '')}); target <= 2: {c.verdict(split_ratio <= 2)}",
            f"{backend}: split on / split off, same run: median {c.median(on_off):.2f} "
            f"(runs {c.runs(on_off, '')})",
        ]
    if naive is not None:
        per_line = naive.seconds / max(1, naive.extra["lines"])
        projected = per_line * args.lines
        lines.append(
            f"{backend}: naive loop (one transaction per order) measured on the first "
            f"{naive.extra['lines']:,} lines: {naive.seconds:.2f} s = {per_line * 1000:.2f} ms "
            f"per line; extrapolated per line to {args.lines:,} lines: {projected:.0f} s; "
            f"sweep speed-up {projected / c.median(sweep_s):.0f}x"
        )
    lines.append(
        f"{backend}: sweep process peak RSS: max {peak:.0f} MB (runs {c.runs(peaks, 'MB', 0)}; "
        f"{sweeps[0].baseline_rss_mb:.0f} MB before the sweep started); target < 1 GB: "
        f"{c.verdict(peak < 1024)}"
    )
    for line in lines:
        c.say("  " + line.split(": ", 1)[1])
    return lines


if __name__ == "__main__":
    sys.exit(main())
