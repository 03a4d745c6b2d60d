"""Rule 1: FIFO auto-allocation of the unallocated queue to the earliest PO line with ATP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import engine as e
from tests.helpers import T0, allocation_map, po, so
from tests.history import queue, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]


def test_earliest_arriving_po_line_goes_to_the_earliest_placed_order(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-LATE", (1, "A", 2, "2027-02-01")),
        po("PO-EARLY", (1, "A", 2, "2027-01-10")),
    )
    outcome = load(
        so("SO-3", 3, (1, "A", 1)),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 2)),
    )

    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-EARLY", 1),
        ("SO-2", 1): ("PO-LATE", 1),
    }
    assert queue(db) == [("SO-3", 1)]
    assert [(p.order, p.po, p.promised_date) for p in outcome.allocated] == [
        ("SO-1", "PO-EARLY", date(2027, 1, 10)),
        ("SO-2", "PO-LATE", date(2027, 2, 1)),
    ]
    assert (outcome.allocated_count, outcome.allocated_units) == (2, 4)
    assert so_line_state(db, "SO-1") == ("open", False, date(2027, 1, 10))
    assert so_line_state(db, "SO-2") == ("open", False, date(2027, 2, 1))
    assert so_line_state(db, "SO-3") == ("open", False, None)


def test_arrival_date_tie_is_broken_by_po_number_then_line(db: e.Database, load: Load) -> None:
    # Line 10 sorts after line 2 as a number (as text it would come first).
    load(
        po("PO-B", (1, "A", 1, "2027-01-10")),
        po("PO-A", (10, "A", 1, "2027-01-10"), (2, "A", 1, "2027-01-10")),
        so("SO-1", 1, (1, "A", 1)),
        so("SO-2", 2, (1, "A", 1)),
        so("SO-3", 3, (1, "A", 1)),
    )

    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-A", 2),
        ("SO-2", 1): ("PO-A", 10),
        ("SO-3", 1): ("PO-B", 1),
    }


def test_placed_at_tie_is_broken_by_order_number_then_line(db: e.Database, load: Load) -> None:
    load(
        po("PO-1", (1, "A", 1, "2027-01-10")),
        po("PO-2", (1, "A", 1, "2027-02-10")),
        so("SO-B", 5, (1, "A", 1)),
        so("SO-A", 5, (10, "A", 1), (2, "A", 1)),
    )

    assert allocation_map(db) == {("SO-A", 2): ("PO-1", 1), ("SO-A", 10): ("PO-2", 1)}
    assert queue(db) == [("SO-B", 1)]


def test_fifo_compares_instants_not_local_times_across_utc_offsets(
    db: e.Database, load: Load
) -> None:
    # 10:00+02:00 is 08:00 UTC: before 09:30+00:00, though its wall-clock time and its order
    # number both come later.
    load(
        so("SO-1", datetime.fromisoformat("2026-11-02T09:30:00+00:00"), (1, "A", 1)),
        so("SO-2", datetime.fromisoformat("2026-11-02T10:00:00+02:00"), (1, "A", 1)),
    )
    assert queue(db) == [("SO-2", 1), ("SO-1", 1)]
    assert [q.placed_at for q in e.unallocated(db)] == [
        datetime.fromisoformat("2026-11-02T08:00:00+00:00"),
        datetime.fromisoformat("2026-11-02T09:30:00+00:00"),
    ]

    load(po("PO-1", (1, "A", 1, "2027-01-10")))

    assert allocation_map(db) == {("SO-2", 1): ("PO-1", 1)}
    assert queue(db) == [("SO-1", 1)]


def test_line_that_fits_nowhere_keeps_its_place_while_a_later_smaller_line_fits(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 5, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 4)),
        so("SO-3", 3, (1, "A", 3)),
    )
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-3", 1): ("PO-1", 1)}
    assert queue(db) == [("SO-2", 1)]

    # A later order of the same size queues behind SO-2; new supply for one of them goes to SO-2.
    load(so("SO-4", 4, (1, "A", 4)))
    assert queue(db) == [("SO-2", 1), ("SO-4", 1)]
    load(po("PO-2", (1, "A", 4, "2027-03-01")))

    assert allocation_map(db)[("SO-2", 1)] == ("PO-2", 1)
    assert queue(db) == [("SO-4", 1)]


def test_an_order_line_may_go_to_a_later_po_line_when_the_earliest_is_too_small(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 2, "2027-01-10")),
        po("PO-2", (1, "A", 5, "2027-02-10")),
        so("SO-1", 1, (1, "A", 3)),
        so("SO-2", 2, (1, "A", 2)),
    )

    assert allocation_map(db) == {("SO-1", 1): ("PO-2", 1), ("SO-2", 1): ("PO-1", 1)}


def test_zero_atp_leaves_orders_queued(db: e.Database, actor: e.Actor, load: Load) -> None:
    load(po("PO-EMPTY", (1, "A", 0, "2027-01-10")), po("PO-HELD", (1, "A", 2, "2027-01-12")))
    e.set_store_hold(db, actor, "PO-HELD", 1, 2)
    outcome = load(so("SO-1", 1, (1, "A", 1)))

    assert outcome.allocated == []
    assert allocation_map(db) == {}
    assert queue(db) == [("SO-1", 1)]
    swept = e.auto_allocate(db, actor)
    assert (swept.allocated_count, swept.changed) == (0, False)
    assert queue(db) == [("SO-1", 1)]


def test_order_lines_only_take_po_lines_of_their_own_sku(db: e.Database, load: Load) -> None:
    load(
        po("PO-1", (1, "A", 5, "2027-01-10")),
        so("SO-1", 1, (1, "B", 1), (2, "A", 1)),
    )

    assert allocation_map(db) == {("SO-1", 2): ("PO-1", 1)}
    assert queue(db) == [("SO-1", 1)]


def test_cancelled_po_lines_and_cancelled_pos_supply_nothing(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 5, "2027-01-01"), (2, "B", 5, "2027-01-01")),
        po("PO-2", (1, "A", 5, "2027-01-02")),
        po("PO-3", (1, "A", 5, "2027-03-01")),
    )
    e.cancel_po(db, actor, "PO-1", line=1)
    e.cancel_po(db, actor, "PO-2")
    load(so("SO-1", 1, (1, "A", 1)))

    assert allocation_map(db) == {("SO-1", 1): ("PO-3", 1)}


def test_auto_allocate_sweeps_the_queue_in_fifo_order_limited_to_given_skus(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 5, "2027-01-10"), (2, "B", 5, "2027-01-10")),
        po("PO-2", (1, "A", 3, "2027-02-10"), (2, "B", 1, "2027-02-10")),
        so("SO-1", 1, (1, "A", 2), (2, "B", 1)),
        so("SO-2", 2, (1, "A", 2)),
        so("SO-3", 3, (1, "B", 1)),
    )
    # Cancelling PO-1 puts its orders back in the queue, unparked, to wait for the sweep.
    e.cancel_po(db, actor, "PO-1")
    assert queue(db) == [("SO-1", 1), ("SO-1", 2), ("SO-2", 1), ("SO-3", 1)]

    only_a = e.auto_allocate(db, actor, skus=["A"])
    check_invariants(db)
    assert [(p.order, p.line, p.po, p.po_line) for p in only_a.allocated] == [
        ("SO-1", 1, "PO-2", 1)
    ]
    assert queue(db) == [("SO-1", 2), ("SO-2", 1), ("SO-3", 1)]

    everything = e.auto_allocate(db, actor)
    check_invariants(db)
    assert [(p.order, p.line, p.po, p.po_line) for p in everything.allocated] == [
        ("SO-1", 2, "PO-2", 2)
    ]
    assert queue(db) == [("SO-2", 1), ("SO-3", 1)]
    assert e.auto_allocate(db, actor).changed is False


def test_parked_line_is_skipped_by_the_sweep_and_by_allocation_after_import(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 2, "2027-01-10")), so("SO-1", 1, (1, "A", 2)))
    e.remove(db, actor, "PO-1", 1, [e.LineRef("SO-1", 1)])
    load(so("SO-2", 2, (1, "A", 1)))
    assert allocation_map(db) == {("SO-2", 1): ("PO-1", 1)}

    assert e.auto_allocate(db, actor).allocated_count == 0
    outcome = load(po("PO-2", (1, "A", 5, "2027-01-05")), so("SO-3", 3, (1, "A", 1)))

    assert [(p.order, p.po) for p in outcome.allocated] == [("SO-3", "PO-2")]
    assert allocation_map(db) == {("SO-2", 1): ("PO-1", 1), ("SO-3", 1): ("PO-2", 1)}
    assert [(q.order, q.parked) for q in e.unallocated(db)] == [("SO-1", True)]


def test_new_order_lines_are_allocated_at_import_and_promised_the_arrival_date(
    db: e.Database, load: Load
) -> None:
    load(po("PO-1", (1, "A", 5, "2027-01-10")))
    outcome = load(so("SO-1", T0, (1, "A", 2)))

    assert outcome.allocated == [
        e.Placement("SO-1", 1, "A", 2, "PO-1", 1, T0, date(2027, 1, 10)),
    ]
    assert e.review(db, "PO-1", 1).allocations[0].in_sync is True


def test_order_number_ties_compare_byte_by_byte_whatever_the_database_locale(
    db: e.Database, load: Load
) -> None:
    # A language collation would put "a-2" before "B-1"; byte order puts "B" (0x42) first.
    load(
        po("PO-1", (1, "A", 1, "2027-01-10")), so("a-2", 0, (1, "A", 1)), so("B-1", 0, (1, "A", 1))
    )
    assert allocation_map(db) == {("B-1", 1): ("PO-1", 1)}
