"""Benchmark of ``preorder order`` on an order whose SKU queue holds 200,000 lines, against the
same lookup on an order whose SKU queue holds 100, in the same database and the same run.

The measured order is the last of its SKU's queue, so its place (the lines and units ahead of
it) counts the whole queue: the worst case. Both SKUs have one open PO line too small for any
of their lines (so the "why" reads the SKU's supply and names the largest ATP). Printed:

- **engine**: ``engine.order(db, ORDER)``, the call every face makes, p50 and p95 per size;
- **cli**: ``preorder --db URL order ORDER`` as a shell runs it (a new process each time),
  p50 and p95 per size, and ``preorder --help`` as the machine's baseline for a process start;
- **slack**: ``/preorder order ORDER`` end to end: a signed slash command into the real Bolt app
  behind the real waitress server, ``views.open`` (the Loading modal) and ``views.update`` (the
  order's modal) out to the Slack Web API stand-in of the tests, timed until the stand-in has
  recorded the update, whose modal is checked (the place in the queue it tells); beside it
  ``/preorder help`` (answered in the ack) as the baseline of a signed request;

and for each the ratio p95 at the large queue / p95 at the small one (target <= 1.25).

    python bench/order_lookup.py [--db sqlite|postgresql|both] [--large N] [--small N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
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
from bot.service.server import SLACK_PATH  # noqa: E402
from tests.slack.harness import SlackApp, texts  # noqa: E402

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ARRIVAL = date(2027, 1, 11)
TARGET_RATIO = 1.25
WAIT = 10.0  # seconds to wait for the stand-in to see the order's modal before giving up


def make_data(sizes: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """For each size, a SKU with that many queued SO lines (one order each, 2-3 units, FIFO by
    placed_at) and one open PO line of 1 unit; the last order of each has its creation in the
    audit log, as an import writes it."""
    tables = ("products", "purchase_orders", "po_lines", "sales_orders", "so_lines")
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in (*tables, "audit_events")}
    next_id = 1
    for n, (key, count) in enumerate(sizes.items(), start=1):
        sku, po = f"SKU-{key.upper()}", f"PO-{key.upper()}"
        rows["products"].append({"sku": sku})
        rows["purchase_orders"].append(
            {"id": n, "po_number": po, "supplier": "Bench", "status": "open",
             "created_at": T0, "updated_at": T0}
        )  # fmt: skip
        rows["po_lines"].append(
            {"id": n, "po_id": n, "po_number": po, "line": 1, "sku": sku, "quantity": 1,
             "store_hold": 0, "allocated": 0, "allocated_lines": 0, "out_of_sync": 0,
             "arrival_date": ARRIVAL, "status": "open", "updated_at": T0}
        )  # fmt: skip
        for i in range(count):
            number = order_number(key, i)
            placed = T0 + timedelta(seconds=i)
            rows["sales_orders"].append(
                {"id": next_id, "order_number": number, "customer": f"Customer {next_id}",
                 "placed_at": placed, "created_at": placed}
            )  # fmt: skip
            rows["so_lines"].append(
                {"id": next_id, "so_id": next_id, "order_number": number, "placed_at": placed,
                 "line": 1, "sku": sku, "quantity": 2 + i % 2, "status": "open",
                 "parked": False, "po_line_id": None, "promised_date": None}
            )  # fmt: skip
            next_id += 1
        rows["audit_events"].append(
            {"at": T0, "operation_id": f"bench-{key}", "operation": "import", "actor": "bench",
             "source": "api", "action": "order-line-created", "sku": sku,
             "order_number": order_number(key, count - 1), "so_line": 1,
             "quantity": 2 + (count - 1) % 2, "after": {"customer": "bench"}}
        )  # fmt: skip
    return rows


def order_number(key: str, i: int) -> str:
    return f"SO-{key[0].upper()}{i:07d}"


def measure(
    url: str, orders: dict[str, str], ahead: dict[str, int], calls: int, requests: int
) -> tuple[float, dict[str, Any]]:
    """Time ``engine.order`` on each order, the sizes interleaved, then ``/preorder order``
    through the Slack app and ``/preorder help`` beside it; checks what each says."""
    db = e.Database(url)
    c.warm(db)
    started = time.perf_counter()
    found: dict[str, list[float]] = {k: [] for k in orders}
    for i in range(20 + calls):
        for key, number in list(orders.items()) if i % 2 else list(orders.items())[::-1]:
            t = time.perf_counter()
            view = e.order(db, number)
            took = (time.perf_counter() - t) * 1000
            if i >= 20:
                found[key].append(took)
            (line,) = view.lines
            if line.state != "queued" or line.ahead is None or line.reason["reason"] != "atp-short":
                raise RuntimeError(f"{number}: not the queued line expected: {line}")
            if line.ahead[0] != ahead[key]:
                raise RuntimeError(f"{number}: {line.ahead[0]} lines ahead, not {ahead[key]}")
    slack: dict[str, list[float]] = {k: [] for k in ("help", *orders)}
    with slack_app(db) as app:

        def time_one(kind: str, i: int) -> None:
            took = (
                help_request(app, "order ORDER")
                if kind == "help"
                else order_request(app, orders[kind], ahead[kind])
            )
            if i >= 5:
                slack[kind].append(took)

        rounds(list(slack), 5 + requests, time_one)
    db.dispose()
    return time.perf_counter() - started, {"ms": found, "slack_ms": slack}


def order_request(app: SlackApp, number: str, ahead: int) -> float:
    """ms from sending ``/preorder order NUMBER`` until the stand-in recorded the order's modal
    replacing the Loading one; the modal must tell the line's place in its queue."""
    body, headers = signed(app, f"order {number}")
    t = time.perf_counter()
    answer = app.request(SLACK_PATH, data=body, headers=headers)
    (update,) = app.slack.wait_for("views.update", 1, timeout=WAIT)
    took = (time.perf_counter() - t) * 1000
    if answer.status != 200:
        raise RuntimeError(f"order {number}: HTTP {answer.status} {answer.text[:200]}")
    shown = texts((update.response.get("view") or {}).get("blocks"))
    if not update.ok or number not in shown or f"{ahead} lines" not in shown:
        calls = [(x.method, x.error) for x in app.slack.calls()]
        raise RuntimeError(f"the order {number} was not shown: {calls} {shown[:300]!r}")
    return took


def cli_ms(url: str, args: list[str], runs: int) -> list[float]:
    script = shutil.which("preorder")
    if script is None:
        raise SystemExit("error: the preorder console script is not installed (pip install -e .)")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run(
            [script, "--db", url, *args], capture_output=True, text=True, check=False
        )
        times.append((time.perf_counter() - t) * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"preorder {' '.join(args)}: {done.stderr.strip()}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/order_lookup.py",
        description="Latency of 'preorder order' (the engine call and the command) on the last "
        "order of a 200,000-line SKU queue against the same on a 100-line queue.",
    )
    c.add_common_arguments(parser)
    parser.add_argument("--small", type=int, default=100, help="small queue (default: 100)")
    parser.add_argument("--large", type=int, default=200_000, help="large queue (default: 200000)")
    parser.add_argument("--calls", type=int, default=200, help="engine calls per size (200)")
    parser.add_argument("--cli-runs", type=int, default=20, help="command runs per size (20)")
    parser.add_argument(
        "--slack-requests", type=int, default=100, help="Slack commands per size (100)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs (default: 3)")
    args = parser.parse_args(argv)
    sizes = {"small": args.small, "large": args.large}
    orders = {key: order_number(key, n - 1) for key, n in sizes.items()}
    ahead = {key: n - 1 for key, n in sizes.items()}
    c.say(
        f"order lookup benchmark: the last order of a {args.small:,}-line and of a "
        f"{args.large:,}-line SKU queue; {args.calls} engine calls, {args.cli_runs} command "
        f"runs and {args.slack_requests} Slack commands per size, {args.repeat} run(s); "
        f"{c.python_info()}"
    )
    rows = make_data(sizes)
    summary: list[str] = []
    with c.scratch_folder(args.workdir) as folder:
        for backend in c.backends(args.db):
            c.say(f"\n-- {backend} --")
            with c.open_store(backend, args, folder, "order_lookup", rows) as store:
                url = store.fresh()  # the lookups only read: one copy serves every run
                summary += run_backend(backend, url, orders, ahead, args)
    c.say("\nsummary (medians over the runs)")
    for line in summary:
        c.say(f"  {line}")
    return 0


def run_backend(
    backend: str,
    url: str,
    orders: dict[str, str],
    ahead: dict[str, int],
    args: argparse.Namespace,
) -> list[str]:
    ways = ("engine", "cli", "slack")
    p95: dict[str, list[float]] = {f"{w} {k}": [] for w in ways for k in orders}
    p95["slack help"] = []
    p50: dict[str, list[float]] = {name: [] for name in p95}
    start95: list[float] = []
    for i in range(1, args.repeat + 1):
        result = c.in_child(measure, url, orders, ahead, args.calls, args.slack_requests)
        found = {f"engine {k}": v for k, v in result.extra["ms"].items()}
        found |= {f"slack {k}": v for k, v in result.extra["slack_ms"].items()}
        base = cli_ms(url, ["--help"], args.cli_runs)
        for key, number in orders.items():
            found[f"cli {key}"] = cli_ms(url, ["order", number], args.cli_runs)
        start95.append(c.percentile(base, 95))
        c.say(f"  run {i}: preorder --help p95 {start95[-1]:.0f} ms (the start of a process)")
        for name, ms in found.items():
            p50[name].append(c.percentile(ms, 50))
            p95[name].append(c.percentile(ms, 95))
            c.say(f"    {name}: p50 {p50[name][-1]:.2f} ms, p95 {p95[name][-1]:.2f} ms")
    out = [
        f"{backend}: preorder --help p95 {c.median(start95):.0f} ms; /preorder help p95 "
        f"{c.median(p95['slack help']):.1f} ms"
    ]
    for way in ways:
        ratios = [b / a for a, b in zip(p95[f"{way} small"], p95[f"{way} large"], strict=True)]
        ratio = c.median(ratios)
        out.append(
            f"{backend}: {way}: p95 {c.median(p95[way + ' small']):.2f} ms at {args.small:,}, "
            f"{c.median(p95[way + ' large']):.2f} ms at {args.large:,}; ratio {ratio:.2f} "
            f"(runs {c.runs(ratios, '', 2)}), target <= {TARGET_RATIO}: "
            f"{c.verdict(ratio <= TARGET_RATIO)}"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
