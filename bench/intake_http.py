"""Benchmark of order intake over HTTP: signed ``POST /orders`` requests from concurrent senders
into the real intake app behind the real waitress server on loopback, on PostgreSQL, while the
FIFO sweep runs every few seconds beside it, as the scheduler would run it.

The server (waitress, the intake app, the sweep thread) runs in a child process of its own, so
that the senders' Python does not share its interpreter lock. Each sender keeps one connection
open and posts one order of 1-3 lines at a time, with a unique order number, over ``--skus``
SKUs; most SKUs have plenty of supply, a few are sold out, so that their orders queue.

The database starts where a season of orders would have left it (``--history`` SO lines,
mostly allocated; see ``_steady.py``). ``--history 0`` starts from an empty order book, which
measures PostgreSQL's first minute rather than the service: its foreign-key checks plan a
sequential scan of a table while it is nearly empty, and keep that plan while the table grows
until autovacuum next analyses it (at most a minute, by default). After the run the
script checks the database: no PO line over-allocated, each PO line's counter the sum of its
allocations, every line of every accepted order stored and either allocated or queued.
It also reports the CPU an order of each part over the timed window (the servers, the
machine's PostgreSQL processes, the senders) and the intake transactions (orders each, time,
their own CPU: the intake's worker process's, or with ``--in-thread`` the batcher thread's),
which say what bounds the throughput.

With ``--during-sweep N`` the database also holds N queued lines (on the sold-out SKUs, placed
after every other line) whose supply a PO import brings 5 s into the timed run, as on a launch
day: the import frees supply for the whole queue, and its sweep runs while orders keep coming.
The orders answered while that sweep ran are reported against those answered before it.

    python bench/intake_http.py [--seconds 30] [--senders 20] [--threads 24] [--skus 200]
    python bench/intake_http.py --during-sweep 200000
    python bench/intake_http.py --replicas 2       # two server processes, one database
    python bench/intake_http.py --profile          # cProfile of the intake transactions
    python bench/intake_http.py --in-thread        # transactions in the server's own thread
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import logging
import os
import pstats
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# The invariant checks of the test suite are reused to judge the end state.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import _common as c  # noqa: E402
from _common import postgres_cpu, process_cpu  # noqa: E402
from _steady import HEADROOM, steady_state  # noqa: E402
from sqlalchemy import text  # noqa: E402

import engine as e  # noqa: E402
from bot.intake.http import SIGNATURE_HEADER, sign  # noqa: E402
from tests.invariants import check_invariants  # noqa: E402

SECRET = "bench-intake-secret"
TARGET_P99_MS = 100.0
TARGET_RATE = 1_000.0
# Seconds into the timed run when --during-sweep's PO import starts.
LAUNCH_AFTER = 5.0


# --- the server, in a child process -------------------------------------------------------------


def serve_child(
    url: str,
    threads: int,
    sweep_every: float,
    pipe: Connection,
    profile: bool = False,
    process: bool = True,
) -> None:
    """Serve the intake on a free port (sent up the pipe) and sweep every ``sweep_every`` s
    until the parent says stop; then send back the sweep's figures (and with ``profile``, the
    cProfile of the engine's intake transactions, as text). ``process``: the intake's
    transactions run in its worker process, as ``preorder serve`` runs them on PostgreSQL;
    otherwise in the batcher's thread here (``PREORDER_INTAKE_PROCESS=0``, and ``profile``)."""
    from bot.intake.http import intake_app
    from bot.intake.worker import IntakeWorker
    from bot.service.metrics import Metrics
    from bot.service.server import HttpServer, wsgi_app

    # Refusals and failures only: a line per accepted order would be most of what is printed.
    logging.basicConfig(level=logging.WARNING, format="server: %(levelname)s %(message)s")
    db = e.Database(url)
    metrics = Metrics()
    # Each intake transaction: its wall time, the batcher thread's CPU in it (none of the
    # transaction's own when the worker runs it) and its orders; the parent's marks take them
    # for the timed window, with the worker's CPU so far (read from /proc at each mark only:
    # read around every call, it cost a fifth of the throughput here).
    calls: list[tuple[float, float, int]] = []
    if process:
        remote = IntakeWorker.__call__

        def timed_remote(self: IntakeWorker, orders: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return remote(self, orders)
            finally:
                calls.append((time.perf_counter() - wall, time.thread_time() - cpu, len(orders)))

        IntakeWorker.__call__ = timed_remote  # type: ignore[method-assign]
    counted = e.apply_orders

    def timed(db: e.Database, actor: e.Actor, orders: Any, **kw: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return counted(db, actor, orders, **kw)
        finally:
            calls.append((time.perf_counter() - wall, time.thread_time() - cpu, len(orders)))

    if not process:
        e.apply_orders = timed
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        # Only the batcher's thread calls apply_orders: enabled around each call, the profile
        # is the intake transactions' own time (Python and waiting on the database).
        apply_orders = e.apply_orders

        def profiled(*a: Any, **k: Any) -> Any:
            profiler.enable()
            try:
                return apply_orders(*a, **k)
            finally:
                profiler.disable()

        e.apply_orders = profiled
    intake = intake_app(db, SECRET, metrics, process=process)
    router = wsgi_app(
        None,  # no Slack app
        db,
        slack=False,
        metrics=metrics,
        intake=intake,
    )
    server = HttpServer(router, "127.0.0.1", 0, threads=threads)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    stop = threading.Event()
    sweeps: list[tuple[float, int]] = []

    def sweeper() -> None:
        actor = e.Actor("scheduler", e.Source.SCHEDULER)
        while not stop.wait(sweep_every):
            t = time.perf_counter()
            outcome = e.auto_allocate(db, actor)
            sweeps.append((time.perf_counter() - t, outcome.allocated_count))

    sweep_thread = threading.Thread(target=sweeper, daemon=True)
    sweep_thread.start()
    pipe.send(server.port)
    while pipe.recv() == "mark":
        # The process's CPU so far and the transactions since the last mark.
        # (Taken by count: a transaction the batcher appends meanwhile stays for the next.)
        n = len(calls)
        worker = intake.worker
        pipe.send((time.process_time(), calls[:n], process_cpu(worker.pid if worker else None)))
        del calls[:n]
    stop.set()
    sweep_thread.join()
    server.stop(timeout=10)
    loop.join(timeout=10)
    intake.close()
    db.dispose()
    text_out = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        text_out = out.getvalue()
    pipe.send((sweeps, text_out))


def import_child(url: str, launch: list[tuple[str, int]], pipe: Connection) -> None:
    """The buying team's PO import (a process of its own, as ``preorder import`` is): one PO
    line per SKU of ``launch`` with its units, which frees supply for their queued lines; sends
    back when it started and ended (``time.perf_counter``, the same clock in every process
    here), what its outcome says and how many lines of those SKUs still wait after it."""
    db = e.Database(url)
    record = e.PORecord(
        po="PO-LAUNCH",
        supplier="launch",
        lines=[
            e.POLineRecord(line=i, sku=sku, quantity=units, arrival_date=date(2027, 3, 1))
            for i, (sku, units) in enumerate(launch, start=1)
        ],
    )
    start = time.perf_counter()
    outcome = e.apply_records(db, e.Actor("buying team", e.Source.CLI), [record])
    end = time.perf_counter()
    with db.read() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM so_lines WHERE status = 'open' AND po_line_id IS NULL "
                "AND NOT parked AND sku = ANY(:skus)"
            ),
            {"skus": [sku for sku, _ in launch]},
        ).scalar_one()
    db.dispose()
    pipe.send(
        {
            "start": start,
            "end": end,
            "allocated": outcome.allocated_count,
            "batches": outcome.batches,
            "waiting": waiting,
        }
    )


# --- the senders --------------------------------------------------------------------------------


@dataclass
class Sent:
    """What one sender posted and heard back."""

    latencies: list[float] = field(default_factory=list)  # of timed 200s, seconds
    began: list[float] = field(default_factory=list)  # when each of them was sent
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    # order number -> its lines [(line, sku, quantity)], for every order answered 200
    accepted: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    reported: Counter[str] = field(default_factory=Counter)  # line states in the answers
    timed_orders: int = 0
    last_done: float = 0.0


def send(
    index: int, ports: list[int], skus: list[str], clock_on: float, end: float, seed: int
) -> Sent:
    """Post orders one after another until ``end``, each to the next of ``ports`` in turn (the
    replicas behind one address), a connection kept open to each."""
    rng = random.Random(seed * 1000 + index)
    sent = Sent()
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for port in ports]
    n = 0
    while time.perf_counter() < end:
        n += 1
        turn = (index + n) % len(ports)
        conn = conns[turn]
        number = f"B{index:02d}-{n:07d}"
        lines = [
            (ln, sku, rng.choice((1, 1, 2, 3)))
            for ln, sku in enumerate(rng.sample(skus, rng.choice((1, 2, 3))), start=1)
        ]
        body = json.dumps(
            {
                "sales_orders": [
                    {
                        "order": number,
                        "customer": f"customer-{rng.randrange(10_000)}",
                        "placed_at": datetime.now(UTC).isoformat(),
                        "lines": [{"line": ln, "sku": s, "quantity": q} for ln, s, q in lines],
                    }
                ]
            }
        ).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}
        began = time.perf_counter()
        try:
            conn.request("POST", "/orders", body, headers)
            reply = conn.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException) as exc:
            sent.errors[type(exc).__name__] += 1
            conn.close()
            conns[turn] = http.client.HTTPConnection("127.0.0.1", ports[turn], timeout=60)
            continue
        done = time.perf_counter()
        sent.statuses[reply.status] += 1
        if reply.status != 200:
            continue
        sent.accepted[number] = lines
        sent.reported.update(x["status"] for x in json.loads(data)["lines"])
        if began >= clock_on:
            sent.latencies.append(done - began)
            sent.began.append(began)
            sent.timed_orders += 1
            sent.last_done = done
    for conn in conns:
        conn.close()
    return sent


# --- the end state ------------------------------------------------------------------------------


def check_end_state(url: str, posted: dict[str, list[tuple[int, str, int]]]) -> list[str]:
    """Problems with the database after the run (none expected)."""
    problems: list[str] = []
    db = e.Database(url)
    with db.read() as conn:
        over = conn.execute(
            text(
                "SELECT p.po_number, p.line, p.allocated, p.quantity - p.store_hold, "
                "COALESCE((SELECT SUM(a.quantity) FROM allocations a "
                "WHERE a.po_line_id = p.id), 0) AS summed FROM po_lines p "
                "WHERE p.allocated > p.quantity - p.store_hold OR p.allocated <> "
                "COALESCE((SELECT SUM(a.quantity) FROM allocations a WHERE a.po_line_id = p.id), 0)"
            )
        ).all()
    problems += [
        f"PO line {r[0]}:{r[1]}: allocated {r[2]}, sellable {r[3]}, sum of allocations {r[4]}"
        for r in over
    ]
    stored = {(x.order, x.line): x for x in e.order_lines(db, list(posted))}
    states: Counter[str] = Counter()
    for number, lines in posted.items():
        for ln, sku, quantity in lines:
            found = stored.get((number, ln))
            if found is None:
                problems.append(f"{number}:{ln} was accepted but is not stored")
                continue
            states[found.state] += 1
            if (found.sku, found.quantity) != (sku, quantity):
                problems.append(f"{number}:{ln} stored as {found.sku} x{found.quantity}")
            if found.state not in ("allocated", "queued"):
                problems.append(f"{number}:{ln} is {found.state}, neither allocated nor queued")
    try:
        check_invariants(db)
    except AssertionError as exc:
        problems.append(f"invariants: {exc}")
    db.dispose()
    c.say(
        f"  end state: {sum(states.values()):,} lines of {len(posted):,} accepted orders: "
        f"{states['allocated']:,} allocated, {states['queued']:,} queued; "
        f"{len(over)} PO lines over-allocated or miscounted"
    )
    return problems


# --- where the CPU goes --------------------------------------------------------------------------


Calls = list[tuple[float, float, int]]


@dataclass
class Mark:
    """CPU seconds of each part at one instant (the servers' workers apart), and the
    servers' intake transactions since the last mark (wall s, the batcher thread's CPU s,
    orders)."""

    at: float
    senders: float
    servers: list[float]
    workers: list[float]
    postgres: float | None
    calls: Calls


def marks(pipes: list[Connection]) -> Mark:
    for pipe in pipes:
        pipe.send("mark")
    answers = [pipe.recv() for pipe in pipes]
    return Mark(
        time.perf_counter(),
        time.process_time(),
        [cpu for cpu, _, _ in answers],
        [worker for _, _, worker in answers],
        postgres_cpu(),
        [call for _, calls, _ in answers for call in calls],
    )


@dataclass
class Usage:
    """The CPU each part used over the timed window, and the intake transactions in it."""

    seconds: float
    senders: float
    servers: float
    workers: float
    postgres: float | None
    calls: Calls

    @classmethod
    def between(cls, first: Mark, last: Mark) -> Usage:
        pg = None
        if first.postgres is not None and last.postgres is not None:
            pg = last.postgres - first.postgres
        return cls(
            last.at - first.at,
            last.senders - first.senders,
            sum(last.servers) - sum(first.servers),
            sum(last.workers) - sum(first.workers),
            pg,
            last.calls,
        )

    def say(self, orders: int) -> None:
        if not orders or not self.calls:
            return
        per = 1000 / orders
        pg = self.postgres
        server = self.servers + self.workers
        parts = [server, self.senders] + ([pg] if pg is not None else [])
        total = sum(parts)
        walls = [w for w, _, _ in self.calls]
        # The transactions' own CPU: the workers' (all of theirs is transactions), or the
        # batcher threads' when the transactions run there.
        cpus = self.workers if self.workers else sum(cpu for _, cpu, _ in self.calls)
        stored = sum(n for _, _, n in self.calls)
        cores = os.cpu_count() or 1
        c.say(
            f"  CPU an order (timed window): server {server * per:.2f} ms (its intake "
            f"transactions {cpus * 1000 / max(stored, 1):.2f} ms of it"
            + (", in the worker process" if self.workers else "")
            + "), PostgreSQL "
            + (f"{pg * per:.2f} ms (all of its processes)" if pg is not None else "unknown")
            + f", senders {self.senders * per:.2f} ms; {total * per:.2f} ms in all "
            f"({100 * total / self.seconds:.0f}% of one core): {cores} cores would take at most "
            f"{cores / (total / orders):.0f} orders/s at this CPU an order"
        )
        c.say(
            f"  intake transactions: {len(self.calls):,}, {stored / len(self.calls):.1f} orders "
            f"each, {1000 * sum(walls) / len(walls):.1f} ms each "
            f"({1000 * cpus / len(walls):.1f} ms of it their own CPU; the longest "
            f"{1000 * max(walls):.0f} ms); "
            "the batchers busy "
            f"{100 * sum(walls) / self.seconds:.0f}% of the window"
        )


# --- main ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    rows, _ = steady_state(
        args.history, args.skus, args.seed, sold_out=args.scarce, headroom=HEADROOM
    )
    c.say(
        f"  data: {len(rows['so_lines']):,} existing SO lines in {len(rows['sales_orders']):,} "
        f"orders, {len(rows['allocations']):,} allocated; {len(rows['po_lines']):,} PO lines; "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    skus = [r["sku"] for r in rows["products"]]
    launch = queue_for_launch(rows, args.during_sweep, args.seed)
    # PostgreSQL only: the folder (for SQLite files) is not used.
    with c.open_store("postgresql", args, Path("."), "intake_http", rows) as store:
        url = store.fresh()
        # One server process per replica, each with its own sweeper, on the one database.
        pipes, servers = [], []
        for _ in range(args.replicas):
            pipe, child_end = get_context("spawn").Pipe()
            server = get_context("spawn").Process(
                target=serve_child,
                args=(
                    url,
                    args.threads,
                    args.sweep_every,
                    child_end,
                    args.profile,
                    not (args.in_thread or args.profile),
                ),
            )
            server.start()
            pipes.append(pipe)
            servers.append(server)
        try:
            ports = [pipe.recv() for pipe in pipes]
            # The baseline: one sender alone, the latency with nothing to wait for.
            start = time.perf_counter()
            lone = send(args.senders, ports, skus, start + 1, start + 1 + args.baseline, args.seed)
            start = time.perf_counter()
            clock_on = start + args.warmup
            end = clock_on + args.seconds
            results: list[Sent] = []
            senders = [
                threading.Thread(
                    target=lambda i=i: results.append(
                        send(i, ports, skus, clock_on, end, args.seed)
                    )
                )
                for i in range(args.senders)
            ]
            for t in senders:
                t.start()
            time.sleep(max(0.0, clock_on - time.perf_counter()))
            first = marks(pipes)
            launched: dict[str, Any] = {}
            if launch:
                time.sleep(max(0.0, clock_on + LAUNCH_AFTER - time.perf_counter()))
                told, import_end = get_context("spawn").Pipe()
                importer = get_context("spawn").Process(
                    target=import_child, args=(url, launch, import_end)
                )
                importer.start()
            for t in senders:
                t.join()
            usage = Usage.between(first, marks(pipes))
            if launch:
                launched = told.recv()
                importer.join()
            sweeps: list[tuple[float, int]] = []
            for n, pipe in enumerate(pipes, start=1):
                pipe.send("stop")
                theirs, profile = pipe.recv()
                sweeps += theirs
                if profile:
                    c.say(f"  profile of the intake transactions of server {n} (cProfile):")
                    c.say(profile)
        finally:
            for server in servers:
                server.join(timeout=30)
                if server.is_alive():
                    server.terminate()
        return report(args, url, results, lone, sweeps, clock_on, launched, usage)


def queue_for_launch(rows: dict[str, list[dict[str, Any]]], n: int, seed: int) -> list[Any]:
    """Add ``n`` queued one-line orders (1-3 units) on the sold-out SKUs, placed after every
    line there is, to ``rows``; returns the launch PO's lines: (sku, units) bringing each SKU's
    queued units and some more."""
    if not n:
        return []
    rng = random.Random(seed + 7)
    sold_out = sorted(
        {
            p["sku"]
            for p in rows["po_lines"]
            if p["quantity"] - p["store_hold"] - p["allocated"] <= 0
        }
        - {
            p["sku"]
            for p in rows["po_lines"]
            if p["quantity"] - p["store_hold"] - p["allocated"] > 0
        }
    )
    orders, lines = rows["sales_orders"], rows["so_lines"]
    placed = max(o["placed_at"] for o in orders)
    units: Counter[str] = Counter()
    for i in range(n):
        so_id = len(orders) + 1
        number = f"Q-{i:08d}"
        placed += timedelta(milliseconds=rng.choice((0, 1, 5)))
        orders.append(
            {
                "id": so_id,
                "order_number": number,
                "customer": f"customer-{rng.randrange(100_000)}",
                "placed_at": placed,
                "created_at": placed,
            }
        )
        sku = rng.choice(sold_out)
        quantity = rng.choice((1, 1, 2, 3))
        units[sku] += quantity
        lines.append(
            {
                "id": len(lines) + 1,
                "so_id": so_id,
                "order_number": number,
                "placed_at": placed,
                "line": 1,
                "sku": sku,
                "quantity": quantity,
                "status": "open",
                "parked": False,
                "po_line_id": None,
                "promised_date": None,
            }
        )
    return [(sku, units[sku] + 500) for sku in sorted(units)]


def report(
    args: argparse.Namespace,
    url: str,
    results: list[Sent],
    lone: Sent,
    sweeps: list[tuple[float, int]],
    clock_on: float,
    launched: dict[str, Any],
    usage: Usage,
) -> int:
    latencies = [x * 1000 for s in results for x in s.latencies]
    timed = sum(s.timed_orders for s in results)
    window = max((s.last_done for s in results), default=clock_on) - clock_on
    everyone = [*results, lone]
    statuses: Counter[int] = sum((s.statuses for s in everyone), Counter())
    errors: Counter[str] = sum((s.errors for s in everyone), Counter())
    reported: Counter[str] = sum((s.reported for s in everyone), Counter())
    posted: dict[str, list[tuple[int, str, int]]] = {}
    for s in everyone:
        posted.update(s.accepted)
    if not latencies or not lone.latencies:
        c.say("no order was accepted in a timed window")
        return 1
    alone = [x * 1000 for x in lone.latencies]
    alone_p50, alone_p99 = c.percentile(alone, 50), c.percentile(alone, 99)
    rate = timed / window
    p50, p99 = c.percentile(latencies, 50), c.percentile(latencies, 99)
    lines = sum(len(v) for v in posted.values())
    c.say(
        f"  answers: {', '.join(f'{n:,} x {code}' for code, n in sorted(statuses.items()))}"
        + (f"; connection errors: {dict(errors)}" if errors else "")
    )
    c.say(
        f"  lines as answered: {', '.join(f'{n:,} {k}' for k, n in reported.most_common())} "
        f"({lines:,} lines in {len(posted):,} orders, warm-up and baseline included)"
    )
    if sweeps:
        took = [t * 1000 for t, _ in sweeps]
        c.say(
            f"  sweeps: {len(sweeps)}, allocated {sum(n for _, n in sweeps):,} lines, "
            f"median {c.median(took):.0f} ms, max {max(took):.0f} ms"
        )
    during_verdict = True
    if args.during_sweep:
        during_verdict = report_launch(args, results, launched, clock_on)
    problems = check_end_state(url, posted)
    for problem in problems[:20]:
        c.say(f"  PROBLEM {problem}")
    c.say("\nsummary")
    c.say(
        f"  {timed:,} orders in {window:.1f} s from {args.senders} senders: "
        f"{rate:.0f} orders/s; target >= {TARGET_RATE:.0f}: {c.verdict(rate >= TARGET_RATE)}"
    )
    c.say(
        f"  latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms; "
        f"p99 target < {TARGET_P99_MS:.0f} ms: {c.verdict(p99 < TARGET_P99_MS)}"
    )
    c.say(
        f"  baseline, one sender alone ({len(alone):,} orders): p50 {alone_p50:.1f} ms, "
        f"p99 {alone_p99:.1f} ms; p99 with {args.senders} senders / alone: "
        f"{p99 / alone_p99:.1f}"
    )
    usage.say(timed)
    c.say(
        "  end state: "
        + (
            "no PO line over-allocated, every accepted line allocated or queued"
            if not problems
            else f"{len(problems)} PROBLEMS"
        )
    )
    return 1 if problems or statuses.keys() - {200} or errors or not during_verdict else 0


def report_launch(
    args: argparse.Namespace, results: list[Sent], launched: dict[str, Any], clock_on: float
) -> bool:
    """The orders answered while the launch import and its sweep ran, against those before."""
    if "end" not in launched:
        c.say("  launch: the import did not finish within the run")
        return False
    start, end = launched["start"], launched["end"]
    timed = [(b, x * 1000) for s in results for b, x in zip(s.began, s.latencies, strict=True)]
    before = [x for b, x in timed if clock_on <= b < start]
    during = [x for b, x in timed if start <= b and b + x / 1000 <= end]
    overlapping = [x for b, x in timed if b < end and b + x / 1000 > start]
    after = [x for b, x in timed if b > end]
    c.say(
        f"  launch: PO import of supply for {args.during_sweep:,} queued lines at "
        f"{start - clock_on:.1f} s: import and sweep took {end - start:.1f} s, "
        f"{launched['batches']} transactions, {launched['allocated']:,} lines allocated, "
        f"{launched['waiting']:,} lines of those SKUs waiting after it"
    )
    if not before or not during:
        c.say("  launch: no orders answered before or during the sweep")
        return False
    p99_before = c.percentile(before, 99)
    p99_during = c.percentile(during, 99)
    ok = p99_during <= 2 * p99_before and p99_during < TARGET_P99_MS
    c.say(
        f"  before the import ({len(before):,} orders): p50 {c.percentile(before, 50):.1f} ms, "
        f"p99 {p99_before:.1f} ms"
    )
    c.say(
        f"  during its sweep ({len(during):,} orders): p50 {c.percentile(during, 50):.1f} ms, "
        f"p99 {p99_during:.1f} ms, max {max(during):.1f} ms; "
        f"p99 during / before: {p99_during / p99_before:.2f}"
    )
    c.say(
        f"  every order in flight at any moment of it ({len(overlapping):,}): "
        f"p99 {c.percentile(overlapping, 99):.1f} ms, max {max(overlapping):.1f} ms"
        + (f"; after it ({len(after):,}): p99 {c.percentile(after, 99):.1f} ms" if after else "")
    )
    c.say(f"  target p99 during <= 2x before and < {TARGET_P99_MS:.0f} ms: {c.verdict(ok)}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/intake_http.py",
        description="Order intake over HTTP on loopback with PostgreSQL: concurrent senders "
        "posting signed orders to POST /orders while the sweep runs; throughput, latency, and "
        "a check of the end state.",
    )
    c.add_pg_url(parser)
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed run (default: 30)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="untimed seconds first (default: 2)"
    )
    parser.add_argument(
        "--baseline",
        type=float,
        default=5.0,
        help="seconds of one sender alone before the run, the baseline latency (default: 5)",
    )
    parser.add_argument("--senders", type=int, default=20, help="sender threads (default: 20)")
    parser.add_argument(
        "--threads", type=int, default=24, help="waitress worker threads (default: 24)"
    )
    parser.add_argument("--skus", type=int, default=200, help="SKUs (default: 200)")
    parser.add_argument(
        "--scarce",
        type=int,
        default=20,
        help="SKUs sold out, on which new orders queue (default: 20)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="SO lines stored before the run, most of them allocated, as after a season of "
        "orders; 0 starts from an empty order book (default: 100000)",
    )
    parser.add_argument(
        "--sweep-every", type=float, default=2.0, help="seconds between sweeps (default: 2)"
    )
    parser.add_argument(
        "--during-sweep",
        type=int,
        nargs="?",
        const=200_000,
        default=0,
        metavar="N",
        help="also hold N queued lines (default 200000 when given without N) on the sold-out "
        f"SKUs, whose supply a PO import brings {LAUNCH_AFTER:g} s into the timed run; report "
        "the latency while its sweep ran against the latency before it (default: off)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="server processes on the one database, each on its own port, the senders "
        "posting to each in turn, as behind one address (default: 1)",
    )
    parser.add_argument(
        "--in-thread",
        action="store_true",
        help="run the intake's transactions in the server's batcher thread, as "
        "PREORDER_INTAKE_PROCESS=0 does, rather than in its worker process (default: off)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the engine's intake transactions in the server (cProfile, which slows "
        "them: not for the figures) and print the functions taking the most time; implies "
        "--in-thread",
    )
    args = parser.parse_args(argv)
    if min(args.seconds, args.baseline) <= 0 or min(args.senders, args.threads) < 1:
        parser.error("need --seconds and --baseline > 0, --senders and --threads >= 1")
    if args.replicas < 1:
        parser.error("need --replicas >= 1")
    if args.skus < 3:
        parser.error("need --skus >= 3")
    if not 0 <= args.scarce < args.skus:
        parser.error("--scarce must be at least 0 and below --skus")
    if args.history < 0:
        parser.error("--history must be at least 0")
    if args.during_sweep < 0 or (args.during_sweep and not args.scarce):
        parser.error("--during-sweep needs N >= 0 and sold-out SKUs (--scarce) to queue on")
    c.say(
        f"intake over HTTP: {args.senders} senders for {args.seconds:.0f} s (after "
        f"{args.warmup:.0f} s warm-up), orders of 1-3 lines over {args.skus} SKUs "
        f"({args.scarce} sold out), {args.history:,} SO lines stored before, waitress with "
        f"{args.threads} threads"
        + (f" in each of {args.replicas} replicas" if args.replicas > 1 else "")
        + (
            ", transactions in the server's thread"
            if args.in_thread or args.profile
            else ", transactions in the intake's worker process"
        )
        + ", a sweep every "
        f"{args.sweep_every:g} s; PostgreSQL; {c.python_info()}"
    )
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
