"""Benchmark of the Google Sheets sync against the Sheets v4 stand-in of the tests, through the
real gspread and google-auth over HTTP, with the stand-in enforcing Google's per-minute quotas.

Three phases on one database of 100,000 allocations (SQLite, seeded directly):

* the first push of every row to an empty spreadsheet;
* a re-push after 1,000 allocation rows changed (arrival dates moved on 20 PO lines);
* a pull that applies 1,000 edits people typed (Action "remove" on 1,000 allocation rows),
  then the push that tidies the sheet after them.

For each it prints the HTTP requests (reads, writes), their bytes and its seconds, beside the
machine's baseline measured in the same run: reading the same rows from the database
(``engine.state``), which every push does first.

    python bench/sheets.py [--allocations N] [--edits N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402
from sqlalchemy import insert  # noqa: E402

import engine as e  # noqa: E402
from engine.models import (  # noqa: E402
    allocations,
    po_lines,
    products,
    purchase_orders,
    sales_orders,
    so_lines,
)
from sheets.google import GoogleSheet  # noqa: E402
from sheets.google_requests import column_letters  # noqa: E402
from sheets.layout import ALLOCATIONS  # noqa: E402
from sheets.sync import Report, Sync  # noqa: E402
from tests.standins.sheets.standin import PAYLOAD_LIMIT, SheetsStandin  # noqa: E402

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ARRIVAL = date(2027, 1, 11)
PER_LINE = 50  # allocations per PO line
ACTOR = e.Actor("bench", e.Source.SHEET)
TARGET_WRITES_FIRST_PUSH = 60
TARGET_REPUSH_REQUESTS = 3


def seed(db: e.Database, count: int) -> list[tuple[str, int]]:
    """``count`` allocated one-line orders, PER_LINE per PO line (4 lines per PO), plus 500
    unallocated lines; returns the PO lines as (po, line)."""
    n_lines = -(-count // PER_LINE)
    rows: dict[str, list[dict[str, Any]]] = {
        t: [] for t in ("products", "pos", "lines", "orders", "so", "alloc")
    }
    for j in range(n_lines):
        po_id, line = j // 4 + 1, j % 4 + 1
        if line == 1:
            rows["pos"].append(
                {"id": po_id, "po_number": f"PO-{po_id:05d}", "supplier": "Bench",
                 "status": "open", "created_at": T0, "updated_at": T0}
            )  # fmt: skip
        sku = f"SKU-{j:05d}"
        held = min(PER_LINE, count - j * PER_LINE)
        rows["products"].append({"sku": sku})
        rows["lines"].append(
            {"id": j + 1, "po_id": po_id, "po_number": f"PO-{po_id:05d}", "line": line,
             "sku": sku, "quantity": held + 10, "store_hold": 0, "allocated": held,
             "allocated_lines": held, "out_of_sync": 0, "arrival_date": ARRIVAL,
             "status": "open", "updated_at": T0}
        )  # fmt: skip
    for i in range(count + 500):
        j = min(i // PER_LINE, n_lines - 1)
        number, placed = f"SO-{i + 1:07d}", T0 + timedelta(seconds=i)
        allocated = i < count
        rows["orders"].append(
            {"id": i + 1, "order_number": number, "customer": f"Customer {i % 9000:04d}",
             "placed_at": placed, "created_at": placed}
        )  # fmt: skip
        rows["so"].append(
            {"id": i + 1, "so_id": i + 1, "order_number": number, "placed_at": placed,
             "line": 1, "sku": f"SKU-{j:05d}", "quantity": 1 if allocated else 999,
             "status": "open", "parked": False,
             "po_line_id": j + 1 if allocated else None,
             "promised_date": ARRIVAL if allocated else None}
        )  # fmt: skip
        if allocated:
            rows["alloc"].append(
                {"id": i + 1, "so_line_id": i + 1, "po_line_id": j + 1,
                 "sku": f"SKU-{j:05d}", "quantity": 1, "operation_id": "seed",
                 "actor": "bench", "source": "api", "created_at": placed}
            )  # fmt: skip
    with db.engine.begin() as conn:
        for table, key in (
            (products, "products"),
            (purchase_orders, "pos"),
            (po_lines, "lines"),
            (sales_orders, "orders"),
            (so_lines, "so"),
            (allocations, "alloc"),
        ):
            for i in range(0, len(rows[key]), 20_000):
                conn.execute(insert(table), rows[key][i : i + 20_000])
    return [(r["po_number"], r["line"]) for r in rows["lines"]]


def phase(
    name: str, standin: SheetsStandin, run: Any, baseline: float
) -> tuple[Report, dict[str, Any]]:
    standin.clear_requests()
    started = time.perf_counter()
    report = run()
    seconds = time.perf_counter() - started
    sent = [r for r in standin.requests]
    bodies = [r.body_bytes for r in sent]
    figures: dict[str, Any] = {
        "requests": len(sent),
        "reads": sum(r.kind == "read" for r in sent),
        "writes": sum(r.kind == "write" for r in sent),
        "largest": max(bodies, default=0),
        "mean": sum(bodies) / len(bodies) if bodies else 0,
        "largest_answer": max((r.response_bytes for r in sent), default=0),
        "seconds": seconds,
        "ops": [r.op for r in sent],
        # The first read of an empty spreadsheet is refused (its tabs do not exist yet): that
        # is how the sync learns it must set them up, not a failure.
        "failed": [
            r.status for i, r in enumerate(sent) if not r.ok and not (i == 0 and r.status == 400)
        ],
    }
    c.say(
        f"  {name}: {figures['requests']} requests ({figures['reads']} read, "
        f"{figures['writes']} write), request bodies largest {figures['largest'] / 1e6:.2f} MB, "
        f"mean {figures['mean'] / 1e3:.0f} kB; largest answer "
        f"{figures['largest_answer'] / 1e6:.1f} MB; {seconds:.1f} s "
        f"({seconds / baseline:.1f}x the database read); {report.summary}"
    )
    if figures["failed"]:
        c.say(f"    refused by the stand-in: {figures['failed']}")
    return report, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/sheets.py",
        description="Time the Google Sheets sync against the Sheets stand-in: first push of "
        "N allocations, a re-push after 1,000 changes, a pull applying 1,000 edits.",
    )
    parser.add_argument("--allocations", type=int, default=100_000, help="default: 100000")
    parser.add_argument("--edits", type=int, default=1_000, help="default: 1000")
    args = parser.parse_args(argv)

    c.say(f"sheets benchmark: {args.allocations:,} allocations, {args.edits:,} changes and edits")
    c.say(f"  {c.python_info()}")
    with tempfile.TemporaryDirectory() as folder, SheetsStandin() as standin:
        db = e.Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        e.upgrade(db)
        started = time.perf_counter()
        lines = seed(db, args.allocations)
        c.say(f"  seeded in {time.perf_counter() - started:.1f} s")
        reads = []
        for _ in range(3):
            t = time.perf_counter()
            e.state(db)
            reads.append(time.perf_counter() - t)
        baseline = c.median(reads)
        c.say(f"  baseline: engine.state() of every row: median {baseline:.2f} s")

        key_file = standin.service_account_file(Path(folder) / "key.json")
        sheet_id = standin.create_spreadsheet(tabs=["Sheet1"])
        standin.enforce_quota(True)

        def sync() -> Sync:
            backend = GoogleSheet(sheet_id, key_file, api_url=standin.base_url)
            return Sync(db, backend, ACTOR)

        _, first = phase("first push", standin, lambda: sync().push(), baseline)

        standin.advance_clock(61)  # a new quota minute
        moved = args.edits // PER_LINE
        for po, line in lines[:moved]:
            e.set_arrival(db, ACTOR, po, line, ARRIVAL + timedelta(days=7))
        _, repush = phase(f"re-push after {moved * PER_LINE:,} changes", standin,
                          lambda: sync().push(), baseline)  # fmt: skip

        standin.advance_clock(61)
        header = standin.cells(sheet_id, ALLOCATIONS.name)[0]
        action = column_letters(header.index("Action"))
        rows = standin.cells(sheet_id, ALLOCATIONS.name)
        key_at = header.index("Key")
        picked = [r + 1 for r in range(1, len(rows)) if r % 97 == 0][: args.edits]
        for row in picked:
            standin.set_cell(sheet_id, ALLOCATIONS.name, f"{action}{row}", "remove")
        edited = {rows[r - 1][key_at] for r in picked}
        pull_report, pull = phase(f"pull applying {len(picked):,} edits", standin,
                                  lambda: sync().pull(), baseline)  # fmt: skip
        standin.advance_clock(61)
        _, tidy = phase("push after the pull", standin, lambda: sync().push(), baseline)
        left = {r[key_at] for r in standin.cells(sheet_id, ALLOCATIONS.name)[1:]}
        if pull_report.applied != len(picked) or edited & left:
            raise SystemExit(f"error: the pull did not apply every edit: {pull_report.summary}")
        db.dispose()

    every = [*first["ops"], *repush["ops"], *pull["ops"], *tidy["ops"]]
    largest = max(first["largest"], repush["largest"], pull["largest"], tidy["largest"])
    c.say("")
    c.say("summary")
    c.say(
        f"  every request under 2 MB: largest {largest / 1e6:.2f} MB "
        f"({len(every)} requests): {c.verdict(largest < PAYLOAD_LIMIT)}"
    )
    c.say(
        f"  first push within the per-minute write quota: {first['writes']} writes "
        f"(target <= {TARGET_WRITES_FIRST_PUSH}), {first['seconds']:.1f} s: "
        f"{c.verdict(first['writes'] <= TARGET_WRITES_FIRST_PUSH and not first['failed'])}"
    )
    c.say(
        f"  re-push of 1,000 changes: {repush['requests']} requests ({', '.join(repush['ops'])}), "
        f"{repush['seconds']:.1f} s: "
        f"{c.verdict(repush['requests'] <= TARGET_REPUSH_REQUESTS)}"
    )
    c.say(
        f"  pull of 1,000 edits: {pull['reads']} read, {pull['writes']} write, "
        f"{pull['seconds']:.1f} s: {c.verdict(pull['reads'] == 1)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
