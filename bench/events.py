"""Benchmark of the events (DESIGN.md section 5): what the outbox costs an operation, and how
fast the events leave.

* **sync**: ``engine.sync_date`` of a PO line holding ``--orders`` orders (default 100,000),
  every promise changing, with events off (``Database(events=False)``, as ``PREORDER_EVENTS=0``)
  and on (one event per order written in the same transaction), alternating on fresh identical
  copies of the data, each in a fresh child process; the ratio on/off.
* **webhooks**: those events delivered (``notify.deliver``, ``--workers`` threads, default 4,
  enqueueing included) to a webhook receiver on 127.0.0.1 in a process of its own (the test
  suite's: it checks every signature); events per second. Every event must arrive once.
* **emails**: ``--emails`` orders (default 20,000) with an address, synced, then their emails
  (one per order, the debounce window over) sent to an SMTP server on 127.0.0.1 (aiosmtpd, in a
  process of its own); emails per second. Every one must arrive.

    python bench/events.py [--db sqlite|postgresql|both] [--orders N] [--emails N] [--repeat K]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# The webhook receiver and the SMTP server live in the test suite.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402

import engine as e  # noqa: E402
from engine.config import load  # noqa: E402
from notify.deliver import Deliverer  # noqa: E402
from notify.settings import NotifySettings  # noqa: E402

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PROMISED = date(2027, 1, 10)  # what the orders were promised
ARRIVAL = date(2027, 2, 15)  # where the PO line's arrival date has moved since
ACTOR = e.Actor("bench", e.Source.CLI)
SECRET = "bench-webhook-secret"
SYNC_TARGET = 1.3
WEBHOOK_TARGET = 1000.0


def make_data(orders: int, *, emails: bool) -> dict[str, list[dict[str, Any]]]:
    """One PO line (PO-1:1, SKU MUG) holding ``orders`` one-line orders of one unit, promised
    ``PROMISED``; its arrival date has moved to ``ARRIVAL``, so all of them are out of sync."""
    rows: dict[str, list[dict[str, Any]]] = {
        "products": [{"sku": "MUG"}],
        "purchase_orders": [
            {"id": 1, "po_number": "PO-1", "supplier": "Acme", "status": "open",
             "created_at": T0, "updated_at": T0}
        ],
        "po_lines": [
            {"id": 1, "po_id": 1, "po_number": "PO-1", "line": 1, "sku": "MUG",
             "quantity": orders, "store_hold": 0, "allocated": orders, "allocated_lines": orders,
             "out_of_sync": orders, "arrival_date": ARRIVAL, "status": "open", "updated_at": T0}
        ],
        "sales_orders": [],
        "so_lines": [],
        "allocations": [],
    }  # fmt: skip
    for i in range(1, orders + 1):
        number = f"SO-{i:07d}"
        placed = T0 + timedelta(seconds=i)
        rows["sales_orders"].append(
            {"id": i, "order_number": number, "customer": f"Customer {i}",
             "email": f"customer{i}@example.com" if emails else None,
             "placed_at": placed, "created_at": placed}
        )  # fmt: skip
        rows["so_lines"].append(
            {"id": i, "so_id": i, "order_number": number, "placed_at": placed, "line": 1,
             "sku": "MUG", "quantity": 1, "status": "open", "parked": False, "po_line_id": 1,
             "promised_date": PROMISED}
        )  # fmt: skip
        rows["allocations"].append(
            {"id": i, "so_line_id": i, "po_line_id": 1, "sku": "MUG", "quantity": 1,
             "operation_id": "seed", "actor": "bench", "source": "cli", "created_at": T0}
        )  # fmt: skip
    return rows


def timed_sync(url: str, events: bool, orders: int) -> tuple[float, dict[str, Any]]:
    """In a child process: the sync, from call to commit, checked."""
    db = e.Database(url, events=events)
    c.warm(db)
    started = time.perf_counter()
    outcome = e.sync_date(db, ACTOR, "PO-1", 1)
    seconds = time.perf_counter() - started
    assert len(outcome.promises) == orders, "the sync changed another number of promises"
    assert outcome.notified == (orders if events else 0), "events written: not one per order"
    db.dispose()
    return seconds, {}


# --- the receivers, each in a process of its own --------------------------------------------------


def serve_webhooks(pipe: Connection) -> None:
    from tests.standins.webhook.receiver import Receiver

    with Receiver(SECRET) as receiver:
        pipe.send(receiver.url)
        pipe.recv()  # until told to stop
        ids = [d.event_id for d in receiver.received]
        pipe.send((len(ids), len(set(ids)), receiver.refused_signatures))


def serve_smtp(pipe: Connection) -> None:
    from tests.standins.smtp.server import Mailbox, SmtpServer

    box = Mailbox(parse=False)
    server = SmtpServer(box)
    server.start()
    try:
        pipe.send(server.port)
        pipe.recv()
        pipe.send(len(set(box.recipients)))
    finally:
        server.stop()


class Served:
    """A receiver running in a child process: ``address`` is what it said first, ``finish``
    stops it and returns its count."""

    def __init__(self, target: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=target, args=(child,), daemon=True)
        self.process.start()
        self.address = self.pipe.recv()

    def finish(self) -> Any:
        self.pipe.send("stop")
        found = self.pipe.recv()
        self.process.join(10)
        return found


# --- the measurements ---------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> list[str]:
    c.say(f"\n-- {backend} --")
    summary: list[str] = []
    rows = make_data(args.orders, emails=False)
    with c.open_store(backend, args, folder, "events", rows) as store:
        times: dict[bool, list[float]] = {False: [], True: []}
        for run in range(args.repeat):
            for events in (False, True) if run % 2 == 0 else (True, False):
                url = store.fresh()
                seconds = c.in_child(timed_sync, url, events, args.orders).seconds
                times[events].append(seconds)
                c.say(f"  run {run + 1}: sync with events {'on ' if events else 'off'} "
                      f"{seconds:.2f} s")  # fmt: skip
        off, on = c.median(times[False]), c.median(times[True])
        ratio = on / off
        summary.append(
            f"{backend}: sync of {args.orders:,} orders: events off {off:.2f} s "
            f"({c.runs(times[False])}), on {on:.2f} s ({c.runs(times[True])}); "
            f"ratio {ratio:.2f} (target <= {SYNC_TARGET}: {c.verdict(ratio <= SYNC_TARGET)})"
        )
        # The last copy synced holds the events of the last "on" run, or is synced again.
        url = store.fresh()
        db = e.Database(url, events=True)
        e.sync_date(db, ACTOR, "PO-1", 1)
        receiver = Served(serve_webhooks)
        try:
            settings = load(
                NotifySettings,
                webhook_url=receiver.address,
                webhook_secret=SECRET,
                deliver_workers=args.workers,
                smtp_url="",
            )
            started = time.perf_counter()
            with Deliverer(db, settings) as deliverer:
                report = deliverer.run()
            seconds = time.perf_counter() - started
        finally:
            received, distinct, refused = receiver.finish()
            db.dispose()
        delivered = report.count("webhook", "delivered")
        assert delivered == args.orders and not report.failed, report.summary()
        assert (received, distinct, refused) == (args.orders, args.orders, 0), (
            f"the receiver got {received} requests, {distinct} events, {refused} bad signatures"
        )
        rate = delivered / seconds
        c.say(f"  webhooks: {delivered:,} events in {seconds:.2f} s")
        summary.append(
            f"{backend}: webhooks: {delivered:,} events in {seconds:.1f} s with {args.workers} "
            f"workers: {rate:,.0f}/s (target >= {WEBHOOK_TARGET:,.0f}/s: "
            f"{c.verdict(rate >= WEBHOOK_TARGET)})"
        )
    if args.emails:
        summary.append(run_emails(backend, args, folder))
    return summary


def run_emails(backend: str, args: argparse.Namespace, folder: Path) -> str:
    rows = make_data(args.emails, emails=True)
    with c.open_store(backend, args, folder, "emails", rows) as store:
        url = store.fresh()
        db = e.Database(url, events=True)
        e.sync_date(db, ACTOR, "PO-1", 1)
        server = Served(serve_smtp)
        settings = load(
            NotifySettings,
            smtp_url=f"smtp://127.0.0.1:{server.address}",
            email_from="Shop <orders@shop.example.com>",
            deliver_workers=args.workers,
            webhook_url="",
        )
        # The debounce window over: a run as if PREORDER_NOTIFY_DELAY had passed.
        later = datetime.now(UTC) + settings.delay + timedelta(seconds=60)
        late = e.Database(url, events=True, clock=lambda: later)
        try:
            started = time.perf_counter()
            with Deliverer(late, settings) as deliverer:
                report = deliverer.run()
            seconds = time.perf_counter() - started
        finally:
            received = server.finish()
            db.dispose()
            late.dispose()
        sent = report.count("email", "delivered")
        assert sent == args.emails == received and not report.failed, report.summary()
        c.say(f"  emails: {sent:,} in {seconds:.2f} s")
        return (
            f"{backend}: emails: {sent:,} to the SMTP server in {seconds:.1f} s with "
            f"{args.workers} workers: {sent / seconds:,.0f}/s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/events.py",
        description="What the outbox costs a sync of a PO line holding many orders (events on "
        "against off), and how fast the events then go to a webhook receiver and, as emails, "
        "to an SMTP server, all on 127.0.0.1.",
    )
    c.add_common_arguments(parser)
    parser.add_argument(
        "--orders", type=int, default=100_000, help="orders on the PO line (default: 100000)"
    )
    parser.add_argument(
        "--emails", type=int, default=20_000, help="emails to send, 0: none (default: 20000)"
    )
    parser.add_argument("--workers", type=int, default=4, help="delivery workers (default: 4)")
    parser.add_argument("--repeat", type=int, default=3, help="sync runs each way (default: 3)")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.emails < 0 or args.repeat < 1 or args.workers < 1:
        parser.error("need --orders, --repeat and --workers >= 1 and --emails >= 0")
    c.say(
        f"events benchmark: sync of {args.orders:,} orders with events off and on, their "
        f"delivery to a webhook, {args.emails:,} emails; {args.repeat} run(s); {c.python_info()}"
    )
    summary: list[str] = []
    with c.scratch_folder(args.workdir) as folder:
        for backend in c.backends(args.db):
            summary.extend(run_backend(backend, args, folder))
    c.say("\nsummary (medians over the runs)")
    for line in summary:
        c.say(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
