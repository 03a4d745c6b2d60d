"""Benchmark of ``/preorder review PO LINE`` end to end: a signed slash command into the real app
behind the real waitress server, ``views.open`` (the Loading modal) and ``views.update`` (the
review's first page) out to the Slack Web API stand-in of the tests, on a PO line with few
allocations and on one with many, in the same database.

Per request it times from sending the signed POST until the stand-in has recorded the
``views.update`` that replaced the Loading modal with the review, and checks that view (the
line's first page, in FIFO order). Beside it, as the machine's baseline, the same kind of signed
request answered in the ack (``/preorder help``) and ``GET /healthz``.

    python bench/slack_review.py [--db sqlite|postgresql|both] [--requests N] [--large N]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402
from _slack import help_request, rounds, signed, slack_app  # noqa: E402

import engine as e  # noqa: E402
from bot.handlers.review import page  # noqa: E402
from bot.ids import CallbackId  # noqa: E402
from bot.service.server import HEALTH_PATH, SLACK_PATH  # noqa: E402
from bot.views.review import PAGE_SIZE  # noqa: E402
from bot.views.state import ViewState  # noqa: E402
from tests.slack.harness import SlackApp, texts  # noqa: E402

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ARRIVAL = date(2027, 1, 11)
WAIT = 10.0  # seconds to wait for the stand-in to see the review before giving up
TARGET_P95_MS = 300.0
TARGET_RATIO = 1.25

Line = tuple[str, str, int]  # (key, po number, allocations)


def make_data(sizes: dict[str, int], seed: int) -> dict[str, list[dict[str, Any]]]:
    """One PO line per size, open, with that many allocated SO lines of 1-3 units each (one
    order each, FIFO by placed_at); every 50th promise is out of sync. ATP 10 left on each."""
    tables = ("products", "purchase_orders", "po_lines", "sales_orders", "so_lines", "allocations")
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in tables}
    next_id = 1
    for n, (key, count) in enumerate(sizes.items(), start=1):
        sku, po = f"SKU-{key.upper()}", f"PO-{key.upper()}"
        rows["products"].append({"sku": sku})
        rows["purchase_orders"].append(
            {"id": n, "po_number": po, "supplier": f"Supplier {n}", "status": "open",
             "created_at": T0, "updated_at": T0}
        )  # fmt: skip
        allocated = 0
        for i in range(count):
            quantity = 1 + (i * 7 + seed) % 3
            allocated += quantity
            number = f"SO-{key[0].upper()}{i:07d}"
            placed = T0 + timedelta(seconds=i)
            promised = ARRIVAL - timedelta(days=7) if i % 50 == 49 else ARRIVAL
            rows["sales_orders"].append(
                {"id": next_id, "order_number": number, "customer": f"Customer {next_id}",
                 "placed_at": placed, "created_at": placed}
            )  # fmt: skip
            rows["so_lines"].append(
                {"id": next_id, "so_id": next_id, "order_number": number, "placed_at": placed,
                 "line": 1, "sku": sku, "quantity": quantity, "status": "open",
                 "parked": False, "po_line_id": n, "promised_date": promised}
            )  # fmt: skip
            rows["allocations"].append(
                {"id": next_id, "so_line_id": next_id, "po_line_id": n, "sku": sku,
                 "quantity": quantity, "operation_id": f"seed-{next_id // 1000:06d}",
                 "actor": "bench", "source": "api", "created_at": placed}
            )  # fmt: skip
            next_id += 1
        rows["po_lines"].append(
            {"id": n, "po_id": n, "po_number": po, "line": 1, "sku": sku,
             "quantity": allocated + 10, "store_hold": 0, "allocated": allocated,
             "allocated_lines": count, "out_of_sync": count // 50, "arrival_date": ARRIVAL,
             "status": "open", "updated_at": T0}
        )  # fmt: skip
    return rows


def first_order(key: str) -> str:
    return f"SO-{key[0].upper()}{0:07d}"


# --- one run, in a child process ----------------------------------------------------------------


def measure(
    url: str, lines: list[Line], requests: int, warmup: int
) -> tuple[float, dict[str, Any]]:
    """Start the stand-in and the app on ``url``; time ``warmup + requests`` rounds of each kind
    of request (the kinds interleaved, their order rotating); return the timed ones in ms."""
    db = e.Database(url)
    c.warm(db)
    engine_ms = {key: engine_page_ms(db, po, requests) for key, po, _ in lines}
    started = time.perf_counter()
    kinds = ["help", "healthz", *(key for key, _, _ in lines)]
    found: dict[str, list[float]] = {k: [] for k in kinds}
    acks: dict[str, list[float]] = {key: [] for key, _, _ in lines}
    numbers = {key: po for key, po, _ in lines}
    with slack_app(db) as app:

        def time_one(kind: str, i: int) -> None:
            if kind == "help":
                took = help_request(app, "review PO-NUMBER LINE")
            elif kind == "healthz":
                took = health_request(app)
            else:
                ack, took = review_request(app, kind, numbers[kind])
                if i >= warmup:
                    acks[kind].append(ack)
            if i >= warmup:
                found[kind].append(took)

        rounds(kinds, warmup + requests, time_one)
    db.dispose()
    return time.perf_counter() - started, {"ms": found, "ack_ms": acks, "engine_ms": engine_ms}


def engine_page_ms(db: e.Database, po: str, count: int) -> float:
    """Median time of the handler's query for the first page, the engine alone (no Slack)."""
    state = ViewState(po=po, line=1)
    times = []
    for _ in range(10 + count):
        t = time.perf_counter()
        page(db, state, PAGE_SIZE)
        times.append((time.perf_counter() - t) * 1000)
    return c.median(times[10:])


def review_request(app: SlackApp, key: str, po: str) -> tuple[float, float]:
    """(ms to the ack, ms until the stand-in recorded the review replacing the Loading modal)."""
    body, headers = signed(app, f"review {po} 1")
    t = time.perf_counter()
    answer = app.request(SLACK_PATH, data=body, headers=headers)
    ack = time.perf_counter()
    (update,) = app.slack.wait_for("views.update", 1, timeout=WAIT)
    done = time.perf_counter()
    if answer.status != 200:
        raise RuntimeError(f"review {po}: HTTP {answer.status} {answer.text[:200]}")
    check_review(app, key, update)
    return (ack - t) * 1000, (done - t) * 1000


def check_review(app: SlackApp, key: str, update: Any) -> None:
    (opened,) = app.slack.calls("views.open")
    view = update.response.get("view") or {}
    shown = texts(view.get("blocks"))
    if not (
        opened.ok
        and update.ok
        and view.get("id") == opened.response["view"]["id"]
        and view.get("callback_id") == CallbackId.REVIEW
        and shown.count("promised") == PAGE_SIZE
        and f"`{first_order(key)}:1`" in shown
    ):
        calls = [(x.method, x.error) for x in app.slack.calls()]
        raise RuntimeError(f"the review of {key} was not shown: {calls} {shown[:300]!r}")


def health_request(app: SlackApp) -> float:
    t = time.perf_counter()
    answer = app.request(HEALTH_PATH)
    took = (time.perf_counter() - t) * 1000
    if answer.status != 200:
        raise RuntimeError(f"healthz: HTTP {answer.status} {answer.text[:200]}")
    return took


# --- driver -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/slack_review.py",
        description="Latency of /preorder review PO LINE through the Slack app (signed request "
        "in, views.open and views.update out to the Slack stand-in) on a PO line with few "
        "allocations and on one with many, beside a trivial signed request as the baseline.",
    )
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="which database to measure (default: sqlite)",
    )
    parser.add_argument(
        "--pg-url",
        default=c.DEFAULT_PG_URL,
        help="PostgreSQL server for --db postgresql; the benchmark works in a schema of its own "
        "and drops it at the end (default: $PREORDER_BENCH_POSTGRES_URL or %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for the SQLite files (default: a temporary folder, removed at the end)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the quantities (default: 1)")
    parser.add_argument(
        "--small", type=int, default=100, help="allocations on the small line (default: 100)"
    )
    parser.add_argument(
        "--large", type=int, default=50_000, help="allocations on the large line (default: 50000)"
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=100,
        help="timed requests of each kind per run (default: 100)",
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="untimed requests of each kind first (default: 10)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs (default: 3)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("need --repeat and --requests >= 1 and --warmup >= 0")
    if min(args.small, args.large) < PAGE_SIZE + 1:
        parser.error(f"need --small and --large > {PAGE_SIZE} (a page and a Next button)")

    sizes = {"small": args.small, "large": args.large}
    c.say(
        f"slack review benchmark: /preorder review on a PO line with {args.small:,} and one with "
        f"{args.large:,} allocations, {args.requests} timed requests of each (after "
        f"{args.warmup} untimed), {args.repeat} run(s); {c.python_info()}"
    )
    started = time.perf_counter()
    rows = make_data(sizes, args.seed)
    c.say(f"data: {len(rows['allocations']):,} allocations built in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    summary: list[str] = []
    with c.scratch_folder(args.workdir) as folder:
        for backend in c.backends(args.db):
            summary.extend(run_backend(backend, args, folder, sizes, rows))
    c.say("\nsummary (medians over the runs)")
    for line in summary:
        c.say(f"  {line}")
    return 0


def run_backend(
    backend: str,
    args: argparse.Namespace,
    folder: Path,
    sizes: dict[str, int],
    rows: dict[str, list[dict[str, Any]]],
) -> list[str]:
    c.say(f"\n-- {backend} --")
    lines: list[Line] = [(key, f"PO-{key.upper()}", n) for key, n in sizes.items()]
    kinds = ["help", "healthz", *sizes]
    p50: dict[str, list[float]] = {k: [] for k in kinds}
    p95: dict[str, list[float]] = {k: [] for k in kinds}
    ack95: dict[str, list[float]] = {k: [] for k in sizes}
    engine: dict[str, list[float]] = {k: [] for k in sizes}
    with c.open_store(backend, args, folder, "slack_review", rows) as store:
        url = store.fresh()  # the requests only read: one copy serves every run
        for i in range(1, args.repeat + 1):
            result = c.in_child(measure, url, lines, args.requests, args.warmup)
            for kind in kinds:
                ms = result.extra["ms"][kind]
                p50[kind].append(c.percentile(ms, 50))
                p95[kind].append(c.percentile(ms, 95))
            for key in sizes:
                ack95[key].append(c.percentile(result.extra["ack_ms"][key], 95))
                engine[key].append(result.extra["engine_ms"][key])
            c.say(f"  run {i} ({result.seconds:.1f} s):")
            for kind in kinds:
                top = max(result.extra["ms"][kind])
                c.say(f"    {label(kind, sizes)}: p50 {p50[kind][-1]:.1f} ms, "
                      f"p95 {p95[kind][-1]:.1f} ms, max {top:.1f} ms")  # fmt: skip
            for key in sizes:
                c.say(f"    {label(key, sizes)}: ack p95 {ack95[key][-1]:.1f} ms, first page "
                      f"query alone p50 {engine[key][-1]:.2f} ms")  # fmt: skip
    small, large = sizes
    ratios = [b / a for a, b in zip(p95[small], p95[large], strict=True)]
    ratio = c.median(ratios)
    out = [
        f"{backend}: {label(kind, sizes)}: p50 {c.median(p50[kind]):.1f} ms, "
        f"p95 {c.median(p95[kind]):.1f} ms (p95 runs {c.runs(p95[kind], 'ms', 1)})"
        for kind in kinds
    ]
    out += [
        f"{backend}: {label(key, sizes)}: ack p95 {c.median(ack95[key]):.1f} ms, first page "
        f"query alone p50 {c.median(engine[key]):.2f} ms"
        for key in sizes
    ]
    worst = max(c.median(p95[key]) for key in sizes)
    out.append(
        f"{backend}: review p95 < {TARGET_P95_MS:.0f} ms at both sizes (worst {worst:.1f} ms): "
        f"{c.verdict(worst < TARGET_P95_MS)}"
    )
    out.append(
        f"{backend}: review p95 at {sizes[large]:,} / at {sizes[small]:,} allocations: "
        f"{ratio:.2f} (runs {c.runs(ratios, '')}); target <= {TARGET_RATIO}: "
        f"{c.verdict(ratio <= TARGET_RATIO)}"
    )
    for line in out:
        c.say("  " + line.split(": ", 1)[1])
    return out


def label(kind: str, sizes: dict[str, int]) -> str:
    if kind == "help":
        return "baseline /preorder help (answer in the ack)"
    if kind == "healthz":
        return "baseline GET /healthz"
    return f"review, {sizes[kind]:,} allocations (POST to review shown)"


if __name__ == "__main__":
    sys.exit(main())
