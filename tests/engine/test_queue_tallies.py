"""The queue's tallies by SKU and hour: a queued line's place in its queue summed from them
equals the count of the lines ahead, across hours, parked and allocated lines and every kind of
change; on PostgreSQL the writers only append deltas, so an intake never waits for a writer
holding its SKU's lines, and a fold neither waits for one nor folds what it has not committed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select, text

import engine as e
from bot.service.jobs import FOLD
from bot.service.metrics import Metrics
from bot.service.scheduler import build_scheduler
from bot.service.settings import ServiceSettings
from engine.models import queue_tally_deltas
from tests.helpers import T0, po, so
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef


def places(db: e.Database) -> dict[tuple[str, int], tuple[int, int]]:
    """Each queued line's place as ``preorder order`` tells it."""
    found = {}
    for q in e.unallocated(db):
        view = e.order(db, q.order)
        for ln in view.lines:
            if ln.ahead is not None:
                found[(view.order, ln.line)] = ln.ahead
    return found


def counted(db: e.Database) -> dict[tuple[str, int], tuple[int, int]]:
    """Each queued line's place counted the long way: the unparked lines of the unallocated
    list (FIFO order) of its SKU before it."""
    queue = [q for q in e.unallocated(db) if not q.parked]
    return {
        (q.order, q.line): (
            len(before := [b for b in queue[:i] if b.sku == q.sku]),
            sum(b.quantity for b in before),
        )
        for i, q in enumerate(queue)
    }


def deltas(db: e.Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(queue_tally_deltas)).scalar_one())


def test_a_place_sums_the_earlier_hours_and_counts_inside_its_own(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    # Orders every 25 minutes over six hours, some written with other offsets (the same
    # instant, another wall clock), two SKUs, several lines each.
    records = []
    for n in range(16):
        zone = timezone(timedelta(hours=(n % 3) - 1))
        placed = (T0 + timedelta(minutes=25 * n)).astimezone(zone)
        records.append(so(f"SO-{n:02d}", placed, (1, "A", 1 + n % 3), (2, "B", 2)))
    load(*records)
    assert places(db) == counted(db)
    # Some lines placed, one removed (parked), a PO cancelled (its lines back in the queue).
    load(po("PO-1", (1, "A", 6, "2027-01-10"), (2, "B", 4, "2027-01-12")))
    e.remove(db, actor, "PO-1", 1, [R("SO-01", 1)])
    check_invariants(db)
    assert places(db) == counted(db)
    e.fold_queue_tallies(db)
    assert deltas(db) == 0
    check_invariants(db)
    assert places(db) == counted(db)
    e.cancel_po(db, actor, "PO-1")
    e.unpark(db, actor, [R("SO-01", 1)])
    e.cancel_order(db, actor, [R("SO-07", 1), R("SO-07", 2)])
    check_invariants(db)
    assert places(db) == counted(db)
    e.fold_queue_tallies(db)
    check_invariants(db)
    assert places(db) == counted(db)
    last = e.order(db, "SO-15").lines[0]
    assert last.ahead == counted(db)[("SO-15", 1)] and last.ahead[0] > 10


def test_an_order_placed_again_at_another_hour_moves_its_tally(db: e.Database, load: Load) -> None:
    load(so("SO-1", 0, (1, "A", 2)), so("SO-2", 90, (1, "A", 3)), so("SO-3", 200, (1, "A", 1)))
    load(so("SO-1", 150, (1, "A", 4)))  # an update: later, and more units
    check_invariants(db)
    assert places(db) == counted(db) and places(db)[("SO-3", 1)] == (2, 7)


@pytest.mark.postgres
def test_an_uncommitted_queue_change_holds_up_neither_an_intake_nor_a_fold(
    pg_db: e.Database, actor: e.Actor
) -> None:
    db = pg_db
    e.apply_records(db, actor, [], [so("SO-1", 0, (1, "A", 2)), so("SO-2", 1, (1, "A", 3))])
    e.fold_queue_tallies(db)
    # A writer (as a sweep batch would) takes SO-1 out of SKU A's queue, in the hour new
    # orders arrive in, and has not committed.
    holder = db.engine.connect()
    held = holder.begin()
    holder.execute(text("UPDATE so_lines SET parked = true WHERE order_number = 'SO-1'"))
    try:
        done: list[e.Outcome] = []
        intake = threading.Thread(
            target=lambda: done.append(e.apply_records(db, actor, [], [so("SO-3", 2, (1, "A", 1))]))
        )
        intake.start()
        intake.join(timeout=10)
        assert done, "the intake waited for the uncommitted change"
        assert e.fold_queue_tallies(db) >= 1  # SO-3's delta, not the holder's
        assert line_ahead(db, "SO-3") == (2, 5)  # SO-1 still queued as far as anyone sees
    finally:
        held.commit()
        holder.close()
    check_invariants(db)
    assert line_ahead(db, "SO-3") == (1, 3)
    e.fold_queue_tallies(db)
    assert deltas(db) == 0
    check_invariants(db)
    assert line_ahead(db, "SO-3") == (1, 3)


def line_ahead(db: e.Database, number: str) -> tuple[int, int] | None:
    return e.order(db, number).lines[0].ahead


@pytest.mark.postgres
def test_the_fold_job_folds_what_writers_appended(pg_db: e.Database, actor: e.Actor) -> None:
    e.apply_records(pg_db, actor, [], [so("SO-1", 0, (1, "A", 2)), so("SO-2", 70, (1, "A", 1))])
    assert deltas(pg_db) > 0
    metrics = Metrics()
    settings = ServiceSettings(sweep_minutes=0)
    scheduler = build_scheduler(settings, pg_db, None, metrics, slack=False)
    assert FOLD in [j.id for j in scheduler.get_jobs()]
    scheduler.jobs.run(FOLD)
    assert deltas(pg_db) == 0
    assert metrics.registry.get_sample_value(
        "preorder_job_runs_total", {"job": FOLD, "result": "done"}
    )
    check_invariants(pg_db)
    assert line_ahead(pg_db, "SO-2") == (1, 2)
