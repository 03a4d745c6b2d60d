"""The sweep in SKU batches (engine.sweep): each batch its own transaction, all of them one
operation and one outcome; a sweep stopped or killed between batches leaves every committed batch
whole and the next sweep finishes the rest; two sweeps never run at once; an order intake never
waits for a SKU a batch (or any other operation) holds, and its lines then wait in FIFO order.

Every SO line here has quantity 1 and every SKU one PO line, so rule 1's answer is plain: the
first ``supply`` lines of each SKU's queue in FIFO order are allocated, the others queued.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import engine as e
import engine.sweep
from tests.fixtures.databases import fresh_postgres
from tests.helpers import T0, allocation_map, po, so
from tests.invariants import check_invariants

SKUS = ("A", "B", "C", "D", "E", "F")
ROOT = Path(__file__).resolve().parents[2]


def queue_orders(db: e.Database, actor: e.Actor, per_sku: int, *, prefix: str = "SO") -> None:
    """``per_sku`` one-line orders of each SKU, a minute apart, none with supply yet."""
    orders = [so(f"{prefix}-{sku}-{n:03d}", n, (1, sku, 1)) for n in range(per_sku) for sku in SKUS]
    e.apply_records(db, actor, [], orders)


def supply_records(units: int, skus: tuple[str, ...] = SKUS) -> list[e.PORecord]:
    return [po(f"PO-{sku}", (1, sku, units, "2027-01-10")) for sku in skus]


def allocated_flags(db: e.Database) -> dict[str, list[bool]]:
    """Per SKU, its open lines in FIFO order: allocated or not."""
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT sku, po_line_id IS NOT NULL FROM so_lines WHERE status = 'open' "
                "ORDER BY sku, placed_at, order_number, line"
            )
        ).all()
    by_sku: dict[str, list[bool]] = defaultdict(list)
    for sku, allocated in rows:
        by_sku[sku].append(bool(allocated))
    return by_sku


def fifo_prefixes(db: e.Database) -> dict[str, tuple[int, int]]:
    """Per SKU: (allocated lines, open lines); asserts the allocated ones are the first in FIFO
    order (rule 1 with quantities of 1 and one PO line a SKU)."""
    found = {}
    for sku, flags in allocated_flags(db).items():
        n = sum(flags)
        assert flags == [True] * n + [False] * (len(flags) - n), f"{sku} not allocated FIFO"
        found[sku] = (n, len(flags))
    return found


def operation_ids(db: e.Database, action: str = "allocate") -> list[tuple[str, str, int]]:
    """(operation id, operation, audit event id) of every ``action`` event, by id."""
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT operation_id, operation, id FROM audit_events WHERE action = :a ORDER BY id"
            ),
            {"a": action},
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def test_batches_place_what_one_transaction_would(
    db: e.Database, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_orders(db, actor, 10)
    _supply_without_sweep(db, actor, monkeypatch, units=7, per_sku=10)
    # A SKU a batch (10 lines each); the outcome so far after each batch.
    seen = []
    for total in e.sweep_batches(db, actor, batch_lines=4):
        seen.append((total.batches, total.allocated_count))
    assert fifo_prefixes(db) == dict.fromkeys(SKUS, (7, 10))
    # One outcome for the whole sweep, its batches added up, under one operation id.
    assert seen == [(n, 7 * n) for n in range(1, len(SKUS) + 1)]
    assert total.allocated_units == 7 * len(SKUS)
    assert {(op, name) for op, name, _ in operation_ids(db)} == {
        (total.operation_id, "auto-allocate")
    }
    assert len(total.po_lines) == len(SKUS)
    check_invariants(db)
    # Nothing left to do: one empty outcome.
    nothing = list(e.sweep_batches(db, actor, batch_lines=1))
    assert len(nothing) == 1 and nothing[0].allocated_count == 0


def test_a_sweep_stopped_between_batches_leaves_them_whole(
    db: e.Database, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_orders(db, actor, 6)
    _supply_without_sweep(db, actor, monkeypatch, units=4)
    steps = e.sweep_batches(db, actor, batch_lines=1)  # one SKU a batch
    first = next(steps)
    steps.close()  # stopped (or killed) between batches
    assert first.batches == 1 and first.allocated_count == 4
    assert fifo_prefixes(db) == {"A": (4, 6), **{s: (0, 6) for s in SKUS[1:]}}
    check_invariants(db)
    rest = e.auto_allocate(db, actor)  # the next sweep finishes the rest
    assert rest.allocated_count == 4 * (len(SKUS) - 1)
    assert fifo_prefixes(db) == dict.fromkeys(SKUS, (4, 6))
    check_invariants(db)


@pytest.mark.postgres
def test_an_undo_of_a_sweep_still_committing_waits_for_its_last_batch_and_undoes_all(
    pg_db: e.Database, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pg_db
    queue_orders(db, actor, 6)
    _supply_without_sweep(db, actor, monkeypatch, units=4)
    steps = e.sweep_batches(db, actor, batch_lines=1)  # one SKU a batch
    first = next(steps)  # one batch committed; the sweep goes on
    done: dict[str, object] = {}

    def undo() -> None:
        try:
            done["outcome"] = e.undo(db, first.operation_id, actor)
        except Exception as exc:  # reported below
            done["error"] = exc

    thread = threading.Thread(target=undo)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), f"the undo did not wait for the sweep: {done}"
    total = engine.sweep.whole(steps)  # the sweep's other batches commit
    assert total.allocated_count == 4 * len(SKUS)
    thread.join(timeout=30)
    assert not thread.is_alive() and "error" not in done, done
    assert fifo_prefixes(db) == dict.fromkeys(SKUS, (0, 6))  # every batch undone
    check_invariants(db)


def _supply_without_sweep(
    db: e.Database,
    actor: e.Actor,
    monkeypatch: pytest.MonkeyPatch,
    *,
    units: int,
    per_sku: int = 6,
) -> None:
    """Give each SKU ``units`` of ATP and leave its queue unswept (as a crash right after an
    import's commit would): the import's own sweep is switched off for the call."""
    monkeypatch.setattr("engine.intake.sweep", lambda unit, skus: None)
    e.apply_records(db, actor, supply_records(units))
    monkeypatch.undo()
    assert fifo_prefixes(db) == dict.fromkeys(SKUS, (0, per_sku))


@pytest.mark.postgres
def test_a_killed_sweep_leaves_committed_batches_whole(
    pg_db: e.Database, pg_url: str, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep process killed (SIGKILL) between two batches: its committed batch stays, nothing
    else changed, its lock went with its connection, and the next sweep finishes the work."""
    queue_orders(pg_db, actor, 6)
    _supply_without_sweep(pg_db, actor, monkeypatch, units=4)
    script = (
        "import sys, time\n"
        "import engine as e\n"
        "db = e.Database(sys.argv[1])\n"
        "for step in e.sweep_batches(db, e.Actor('killed', e.Source.CLI), batch_lines=1):\n"
        "    print(step.batches, flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, pg_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "1"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert fifo_prefixes(pg_db) == {"A": (4, 6), **{s: (0, 6) for s in SKUS[1:]}}
    check_invariants(pg_db)
    started = time.monotonic()
    rest = e.auto_allocate(pg_db, actor)
    assert time.monotonic() - started < 20, "the killed sweep's lock outlived it"
    assert rest.allocated_count == 4 * (len(SKUS) - 1)
    assert fifo_prefixes(pg_db) == dict.fromkeys(SKUS, (4, 6))
    check_invariants(pg_db)


@pytest.mark.postgres
def test_two_sweeps_never_run_at_once(
    pg_db: e.Database, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_orders(pg_db, actor, 6)
    _supply_without_sweep(pg_db, actor, monkeypatch, units=5)
    outcomes: list[e.Outcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(skus: tuple[str, ...]) -> None:
        try:
            barrier.wait()
            steps: Iterator[e.Outcome] = e.sweep_batches(pg_db, actor, skus, batch_lines=1)
            done = []
            for step in steps:
                done.append(step)
                time.sleep(0.05)  # room for the other sweep to cut in, if it could
            outcomes.append(done[-1])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(half,)) for half in (SKUS[:3], SKUS[3:])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(o.batches for o in outcomes) == [3, 3]
    # The audit trail shows one sweep's batches, then the other's: never interleaved.
    order = [op for op, _, _ in operation_ids(pg_db) if op in {o.operation_id for o in outcomes}]
    first = order[0]
    assert order == [first] * order.count(first) + [op for op in order if op != first]
    assert len(set(order)) == 2
    assert fifo_prefixes(pg_db) == dict.fromkeys(SKUS, (5, 6))
    check_invariants(pg_db)


HELD = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':sku:' || :sku, 0))"
)


@pytest.mark.postgres
def test_an_order_does_not_wait_for_a_sku_a_sweep_holds(pg_db: e.Database, actor: e.Actor) -> None:
    """While a sweep batch holds SKU A (its advisory lock and its product row), an order for A
    and B is answered at once: B allocated, A queued behind A's queue and named for a sweep."""
    queue_orders(pg_db, actor, 2)
    e.apply_records(pg_db, actor, supply_records(5))
    assert fifo_prefixes(pg_db) == dict.fromkeys(SKUS, (2, 2))
    with pg_db.engine.begin() as batch:
        batch.execute(HELD, {"sku": "A"})
        batch.execute(text("SELECT sku FROM products WHERE sku = 'A' FOR NO KEY UPDATE")).all()
        started = time.monotonic()
        outcome, lines = e.apply_orders(pg_db, actor, [so("NEW-1", 60, (1, "A", 1), (2, "B", 1))])
        took = time.monotonic() - started
    assert took < 2, f"the order waited {took:.1f} s for the held SKU"
    assert outcome.awaiting_sweep == ["A"]
    assert [(ln.line, ln.po) for ln in lines] == [(1, None), (2, "PO-B")]
    check_invariants(pg_db)
    e.auto_allocate(pg_db, actor, skus=outcome.awaiting_sweep)
    assert allocation_map(pg_db)[("NEW-1", 1)] == ("PO-A", 1)
    check_invariants(pg_db)


@pytest.mark.postgres
def test_intake_interleaved_with_a_batched_sweep(
    pg_db: e.Database, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders pour in while a sweep of many batches runs: every order is stored and answered,
    nothing is over-allocated, no new line gets ahead of the lines queued before it (they are
    all placed), the supply left goes to new lines once the sweeps the intakes asked for have
    run, and the audit trail accounts for all. (Which new lines get it depends on when each
    arrived, concurrent arrivals being in no order: not checked.)"""
    # Queues longer than an intake reads (engine.sweep.INTAKE_QUEUE): a sweep's work.
    queue_orders(pg_db, actor, 120)
    _supply_without_sweep(pg_db, actor, monkeypatch, units=130, per_sku=120)
    awaiting: set[str] = set()
    posted: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def intake(worker: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                number = f"W{worker}-{n:04d}"
                # Placed after every queued line: rule 1 puts them behind the queue.
                placed = T0 + timedelta(days=1, seconds=worker * 1000 + n)
                skus = (SKUS[(worker + n) % len(SKUS)], SKUS[(worker + 2 * n) % len(SKUS)])
                lines = [(i, s, 1) for i, s in enumerate(dict.fromkeys(skus), 1)]
                outcome, _ = e.apply_orders(pg_db, actor, [so(number, placed, *lines)])
                awaiting.update(outcome.awaiting_sweep)
                posted.append(number)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=intake, args=(w,)) for w in range(3)]
    for t in workers:
        t.start()
    try:
        time.sleep(0.1)
        sweep = engine.sweep.whole(e.sweep_batches(pg_db, actor, batch_lines=100))
    finally:
        stop.set()
        for t in workers:
            t.join()
    assert not errors, errors
    assert sweep.batches == len(SKUS)
    assert awaiting, "no intake met a long queue or a held SKU: nothing was interleaved"
    # The sweeps the intakes asked for (the service runs them at once).
    e.auto_allocate(pg_db, actor, skus=sorted(awaiting))
    check_invariants(pg_db)
    for sku, flags in allocated_flags(pg_db).items():
        assert all(flags[:120]), f"a new line of {sku} got ahead of the queue"
        assert sum(flags) == min(130, len(flags)), (sku, sum(flags), len(flags))
    stored = {x.order for x in e.order_lines(pg_db, posted)}
    assert stored == set(posted)
    # The big sweep's allocations are all under its one operation id.
    ids = {op for op, name, _ in operation_ids(pg_db) if name == "auto-allocate"}
    assert sweep.operation_id in ids


@pytest.mark.postgres
def test_an_import_sweeps_a_long_queue_after_its_commit(
    pg_db: e.Database, actor: e.Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import that frees supply for a long queue commits first, then sweeps it in batches,
    all as the import's one operation and one outcome."""
    monkeypatch.setattr(engine.sweep, "LONG_QUEUE", 5)
    monkeypatch.setattr(engine.sweep, "BATCH_LINES", 8)
    queue_orders(pg_db, actor, 8)
    outcome = e.apply_records(pg_db, actor, supply_records(6))
    assert outcome.batches == 1 + len(SKUS)
    assert outcome.allocated_count == 6 * len(SKUS)
    assert outcome.created["po_lines"] == len(SKUS)
    assert fifo_prefixes(pg_db) == dict.fromkeys(SKUS, (6, 8))
    events = operation_ids(pg_db)
    assert {(op, name) for op, name, _ in events[-6 * len(SKUS) :]} == {
        (outcome.operation_id, "import")
    }
    check_invariants(pg_db)


@pytest.mark.postgres
def test_a_sweep_waits_out_the_lock_timeout_for_a_long_sweep(pg_url: str, actor: e.Actor) -> None:
    """``serve`` bounds every lock wait (lock_timeout); a sweep waiting for a longer one to
    finish waits again rather than failing."""
    assert pg_url.split("?")[-1].split("&")[-1].startswith("options="), pg_url
    db = fresh_postgres(f"{pg_url}%20-clock_timeout%3D200")
    try:
        queue_orders(db, actor, 2)
        done: list[e.Outcome] = []
        errors: list[BaseException] = []

        def sweep() -> None:
            try:
                done.append(e.auto_allocate(db, actor))
            except BaseException as exc:
                errors.append(exc)

        with engine.sweep.sweep_lock(db) as held:
            assert held
            waiter = threading.Thread(target=sweep)
            waiter.start()
            time.sleep(1.0)  # five lock timeouts
            assert not done and not errors
        waiter.join(timeout=10)
        assert not errors, errors
        assert done and done[0].allocated_count == 0
    finally:
        db.dispose()
