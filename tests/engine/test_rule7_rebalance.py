"""Rule 7: orders move to an earlier-arriving PO line in FIFO order while it has ATP (opt-in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

import engine as e
from tests.helpers import allocation_map, po, so
from tests.history import PromiseRow, events, promises, promises_since, queue
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
JAN10, FEB01, MAR01 = date(2027, 1, 10), date(2027, 2, 1), date(2027, 3, 1)


@pytest.fixture
def late(db: e.Database, load: Load) -> e.Database:
    """PO-LATE:1 (March, 10 units) holds SO-1 (2), SO-2 (3), SO-3 (1), SO-4 (1); SO-5 (5) waits."""
    load(
        po("PO-LATE", (1, "A", 10, "2027-03-01")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "A", 1)),
        so("SO-4", 4, (1, "A", 1)),
        so("SO-5", 5, (1, "A", 5)),
    )
    assert queue(db) == [("SO-5", 1)]
    return db


def test_a_new_earlier_po_imported_with_rebalance_takes_orders_in_fifo_order(
    late: e.Database, load: Load
) -> None:
    db = late
    before = promises(db)
    outcome = load(po("PO-EARLY", (1, "A", 4, "2027-01-10")), rebalance=True)

    # SO-1 (2) fits, SO-2 (3) does not fit the 2 units left, SO-3 and SO-4 take them.
    assert outcome.moved == [
        e.Move("SO-1", 1, "A", 2, "PO-LATE", 1, "PO-EARLY", 1),
        e.Move("SO-3", 1, "A", 1, "PO-LATE", 1, "PO-EARLY", 1),
        e.Move("SO-4", 1, "A", 1, "PO-LATE", 1, "PO-EARLY", 1),
    ]
    # The 4 units they freed on PO-LATE (7 free now) go to the waiting SO-5 at once.
    assert [(p.order, p.po) for p in outcome.allocated] == [("SO-5", "PO-LATE")]
    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-EARLY", 1),
        ("SO-2", 1): ("PO-LATE", 1),
        ("SO-3", 1): ("PO-EARLY", 1),
        ("SO-4", 1): ("PO-EARLY", 1),
        ("SO-5", 1): ("PO-LATE", 1),
    }
    # Moved lines keep their promise and show out of sync until someone syncs.
    early = e.review(db, "PO-EARLY", 1)
    assert (early.head.allocated, early.head.atp, early.head.out_of_sync) == (4, 0, 3)
    assert [(a.order, a.promised_date, a.in_sync) for a in early.allocations] == [
        ("SO-1", MAR01, False),
        ("SO-3", MAR01, False),
        ("SO-4", MAR01, False),
    ]
    # The only promise recorded is SO-5's first one; the moves change no promise.
    assert outcome.promises == [e.DateChange("SO-5", 1, None, MAR01, "fifo")]
    assert promises_since(db, before) == [
        PromiseRow("SO-5", 1, None, MAR01, "tester", "cli", "fifo", outcome.operation_id)
    ]
    move_events = [ev for ev in events(db, outcome.operation_id) if ev.action == "move"]
    assert [(ev.order, ev.po, ev.before, ev.after) for ev in move_events] == [
        (
            order,
            "PO-EARLY",
            {"po": "PO-LATE", "line": 1, "promised_date": "2027-03-01"},
            {"po": "PO-EARLY", "line": 1, "promised_date": "2027-03-01"},
        )
        for order in ("SO-1", "SO-3", "SO-4")
    ]


def test_syncing_the_earlier_line_after_a_rebalance_promises_its_date(
    late: e.Database, actor: e.Actor, load: Load
) -> None:
    db = late
    load(po("PO-EARLY", (1, "A", 4, "2027-01-10")), rebalance=True)
    outcome = e.sync_date(db, actor, "PO-EARLY", 1)
    check_invariants(db)

    assert [(c.order, c.old, c.new) for c in outcome.promises] == [
        ("SO-1", MAR01, JAN10),
        ("SO-3", MAR01, JAN10),
        ("SO-4", MAR01, JAN10),
    ]
    assert e.po_line(db, "PO-EARLY", 1).out_of_sync == 0


def test_a_new_earlier_po_without_rebalance_only_serves_the_queue(
    late: e.Database, load: Load
) -> None:
    db = late
    outcome = load(po("PO-EARLY", (1, "A", 6, "2027-01-10")))

    assert outcome.moved == []
    assert [(p.order, p.po, p.promised_date) for p in outcome.allocated] == [
        ("SO-5", "PO-EARLY", JAN10)
    ]
    assert e.po_line(db, "PO-LATE", 1).allocated == 7


def test_moving_an_arrival_date_earlier_with_rebalance_moves_orders_to_it(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 3, "2027-02-01")),
        po("PO-2", (1, "A", 4, "2027-03-01")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 1)),
        so("SO-3", 3, (1, "A", 1)),
    )
    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-1", 1),
        ("SO-2", 1): ("PO-1", 1),
        ("SO-3", 1): ("PO-2", 1),
    }

    outcome = e.set_arrival(db, actor, "PO-2", 1, JAN10, rebalance=True)
    check_invariants(db)

    # PO-2 now arrives first: with 3 units free it takes SO-1 (2) and SO-2 (1) from PO-1.
    assert outcome.po_changes == [e.FieldChange("PO-2", 1, "arrival_date", MAR01, JAN10)]
    assert outcome.moved == [
        e.Move("SO-1", 1, "A", 2, "PO-1", 1, "PO-2", 1),
        e.Move("SO-2", 1, "A", 1, "PO-1", 1, "PO-2", 1),
    ]
    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-2", 1),
        ("SO-2", 1): ("PO-2", 1),
        ("SO-3", 1): ("PO-2", 1),
    }
    review = e.review(db, "PO-2", 1)
    assert [(a.order, a.promised_date, a.in_sync) for a in review.allocations] == [
        ("SO-1", FEB01, False),
        ("SO-2", FEB01, False),
        ("SO-3", MAR01, False),
    ]
    assert review.head.out_of_sync == 3
    assert e.po_line(db, "PO-1", 1).atp == 3


def test_moving_an_arrival_date_earlier_with_rebalance_and_sync_promises_the_new_date(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 3, "2027-02-01")),
        po("PO-2", (1, "A", 5, "2027-03-01")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3)),
    )
    outcome = e.set_arrival(db, actor, "PO-2", 1, JAN10, rebalance=True, sync=True)
    check_invariants(db)

    assert [(m.order, m.to_po) for m in outcome.moved] == [("SO-1", "PO-2")]
    assert sorted((c.order, c.old, c.new) for c in outcome.promises) == [
        ("SO-1", FEB01, JAN10),
        ("SO-2", MAR01, JAN10),
    ]
    assert e.po_line(db, "PO-2", 1).out_of_sync == 0


def test_without_rebalance_or_moved_later_an_arrival_change_moves_nothing(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 3, "2027-02-01")),
        po("PO-2", (1, "A", 4, "2027-03-01")),
        so("SO-1", 1, (1, "A", 2)),
    )
    assert e.set_arrival(db, actor, "PO-2", 1, JAN10).moved == []
    assert e.set_arrival(db, actor, "PO-1", 1, date(2027, 4, 1), rebalance=True).moved == []
    check_invariants(db)
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1)}


def test_rebalance_job_moves_orders_for_one_sku_or_all(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-LATE", (1, "A", 5, "2027-03-01"), (2, "B", 5, "2027-03-01")),
        so("SO-1", 1, (1, "A", 1), (2, "B", 1)),
    )
    # Imported without rebalance: the earlier lines have ATP, the orders stay where they are.
    load(po("PO-EARLY", (1, "A", 5, "2027-01-10"), (2, "B", 5, "2027-01-10")))
    assert allocation_map(db) == {("SO-1", 1): ("PO-LATE", 1), ("SO-1", 2): ("PO-LATE", 2)}

    only_b = e.rebalance(db, actor, sku="B")
    check_invariants(db)
    assert only_b.moved == [e.Move("SO-1", 2, "B", 1, "PO-LATE", 2, "PO-EARLY", 2)]

    everything = e.rebalance(db, e.Actor("scheduler", e.Source.SCHEDULER))
    check_invariants(db)
    assert everything.moved == [e.Move("SO-1", 1, "A", 1, "PO-LATE", 1, "PO-EARLY", 1)]
    assert {(ev.actor, ev.source) for ev in events(db, everything.operation_id)} == {
        ("scheduler", "scheduler")
    }
    assert e.rebalance(db, actor).changed is False


def test_rebalance_moves_nothing_between_lines_arriving_the_same_day(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-2", (1, "A", 5, "2027-01-10")), so("SO-1", 1, (1, "A", 1)))
    load(po("PO-1", (1, "A", 5, "2027-01-10")), rebalance=True)

    assert allocation_map(db) == {("SO-1", 1): ("PO-2", 1)}
    assert e.rebalance(db, actor).moved == []


def test_rebalance_moves_to_the_earliest_line_first_then_the_next(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-3", (1, "A", 4, "2027-03-01")),
        so("SO-1", 1, (1, "A", 1)),
        so("SO-2", 2, (1, "A", 1)),
        so("SO-3", 3, (1, "A", 1)),
    )
    load(po("PO-1", (1, "A", 1, "2027-01-10")), po("PO-2", (1, "A", 1, "2027-02-01")))
    outcome = e.rebalance(db, actor, sku="A")
    check_invariants(db)

    assert [(m.order, m.from_po, m.to_po) for m in outcome.moved] == [
        ("SO-1", "PO-3", "PO-1"),
        ("SO-2", "PO-3", "PO-2"),
    ]
    assert allocation_map(db)[("SO-3", 1)] == ("PO-3", 1)
