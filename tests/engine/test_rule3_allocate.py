"""Rule 3: manual allocation of chosen unallocated SO lines to a PO line, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

import engine as e
from tests.helpers import T0, allocation_map, po, so
from tests.history import actions, dump, queue, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef


@pytest.fixture
def waiting(db: e.Database, actor: e.Actor, load: Load) -> e.Database:
    """PO-2:1 (SKU A, ATP 5) and four queued SKU A lines: SO-1..SO-3 (1, 2, 3 units), SO-4
    (1 unit, parked); SO-5 holds PO-2:2 (SKU B); SO-6 is allocated to PO-3:1; SO-7 is cancelled."""
    load(
        po("PO-1", (1, "A", 7, "2027-01-10")),
        po("PO-2", (1, "A", 5, "2027-02-10"), (2, "B", 5, "2027-02-10")),
        po("PO-3", (1, "A", 1, "2027-01-20")),
        so("SO-1", 1, (1, "A", 1)),
        so("SO-2", 2, (1, "A", 2)),
        so("SO-3", 3, (1, "A", 3)),
        so("SO-4", 4, (1, "A", 1)),
        so("SO-5", 5, (1, "B", 2)),
        so("SO-6", 6, (1, "A", 1)),
        so("SO-7", 7, (1, "A", 1)),
    )
    e.remove(db, actor, "PO-1", 1, [R("SO-4")])
    e.cancel_order(db, actor, [R("SO-7")])
    e.cancel_po(db, actor, "PO-1")
    check_invariants(db)
    assert allocation_map(db) == {("SO-5", 1): ("PO-2", 2), ("SO-6", 1): ("PO-3", 1)}
    assert queue(db, "A") == [("SO-1", 1), ("SO-2", 1), ("SO-3", 1), ("SO-4", 1)]
    return db


def test_chosen_lines_are_allocated_whatever_their_place_in_the_queue(
    waiting: e.Database, actor: e.Actor
) -> None:
    db = waiting
    outcome = e.allocate(db, actor, "PO-2", 1, [R("SO-3"), R("SO-1", 1)])
    check_invariants(db)

    assert outcome.allocated == [
        e.Placement("SO-3", 1, "A", 3, "PO-2", 1, T0 + timedelta(minutes=3), date(2027, 2, 10)),
        e.Placement("SO-1", 1, "A", 1, "PO-2", 1, T0 + timedelta(minutes=1), date(2027, 2, 10)),
    ]
    assert (outcome.allocated_count, outcome.allocated_units) == (2, 4)
    assert outcome.unparked == []
    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-2", 1),
        ("SO-3", 1): ("PO-2", 1),
        ("SO-5", 1): ("PO-2", 2),
        ("SO-6", 1): ("PO-3", 1),
    }
    assert so_line_state(db, "SO-3") == ("open", False, date(2027, 2, 10))
    assert e.po_line(db, "PO-2", 1).atp == 1
    assert queue(db, "A") == [("SO-2", 1), ("SO-4", 1)]
    assert sorted(actions(db, outcome.operation_id)) == [
        ("allocate", "SO-1", 1),
        ("allocate", "SO-3", 1),
    ]


def test_allocating_a_parked_line_by_hand_unparks_it(waiting: e.Database, actor: e.Actor) -> None:
    db = waiting
    outcome = e.allocate(db, actor, "PO-2", 1, [R("SO-4", 1)])
    check_invariants(db)

    assert outcome.unparked == [R("SO-4", 1)]
    assert [(p.order, p.po, p.po_line) for p in outcome.allocated] == [("SO-4", "PO-2", 1)]
    assert so_line_state(db, "SO-4") == ("open", False, date(2027, 2, 10))
    assert actions(db, outcome.operation_id) == [("unpark", "SO-4", 1), ("allocate", "SO-4", 1)]


def test_refusal_names_every_offending_line_and_the_shortfall_and_changes_nothing(
    waiting: e.Database, actor: e.Actor
) -> None:
    db = waiting
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.allocate(
            db,
            actor,
            "PO-2",
            1,
            [
                R("SO-1"),
                R("SO-404"),
                R("SO-2", 9),
                R("SO-5", 1),
                R("SO-6"),
                R("SO-7", 1),
                R("SO-3"),
                R("SO-2"),
            ],
        )

    assert refused.value.message == "cannot allocate to PO-2:1"
    assert refused.value.problems == [
        "unknown order SO-404",
        "order SO-2 has no line 9",
        "SO-5:1 is already allocated to PO-2:2",
        "SO-5:1 is SKU B, not A",
        "SO-6:1 is already allocated to PO-3:1",
        "SO-7:1 is cancelled",
        # Only the lines that could be allocated count: SO-1, SO-3 and SO-2 (1 + 3 + 2 units).
        "6 units asked, 5 ATP left on PO-2:1 (short by 1)",
    ]
    assert refused.value.shortfall == 1
    assert dump(db) == before

    with pytest.raises(e.Refused) as refused:
        e.allocate(db, actor, "PO-2", 1, [R("SO-1"), R("SO-5", 1)])
    assert refused.value.problems == [
        "SO-5:1 is already allocated to PO-2:2",
        "SO-5:1 is SKU B, not A",
    ]
    assert refused.value.shortfall == 0
    assert dump(db) == before


def test_refusal_for_a_total_over_the_atp_reports_only_the_shortfall(
    waiting: e.Database, actor: e.Actor
) -> None:
    db = waiting
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.allocate(db, actor, "PO-2", 1, [R("SO-1"), R("SO-2"), R("SO-3")])

    assert refused.value.problems == ["6 units asked, 5 ATP left on PO-2:1 (short by 1)"]
    assert refused.value.shortfall == 1
    assert str(refused.value) == (
        "cannot allocate to PO-2:1: 6 units asked, 5 ATP left on PO-2:1 (short by 1)"
    )
    assert dump(db) == before


def test_a_po_line_with_zero_atp_refuses_with_the_whole_quantity_short(
    waiting: e.Database, actor: e.Actor
) -> None:
    db = waiting
    e.set_store_hold(db, actor, "PO-2", 1, 5)
    with pytest.raises(e.Refused) as refused:
        e.allocate(db, actor, "PO-2", 1, [R("SO-2")])

    assert refused.value.problems == ["2 units asked, 0 ATP left on PO-2:1 (short by 2)"]
    assert refused.value.shortfall == 2


def test_a_cancelled_po_line_refuses_allocation(waiting: e.Database, actor: e.Actor) -> None:
    db = waiting
    with pytest.raises(e.Refused) as refused:
        e.allocate(db, actor, "PO-1", 1, [R("SO-1")])

    assert refused.value.problems == ["PO PO-1 line 1 is cancelled"]
    assert refused.value.shortfall == 0


def test_an_order_named_without_a_line_must_have_exactly_one_line_of_the_sku(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "C", 0, "2027-01-10")),
        so("SO-1", 1, (1, "C", 1), (2, "C", 1), (3, "D", 1)),
        so("SO-2", 2, (1, "D", 1)),
    )
    with pytest.raises(e.Refused) as refused:
        e.allocate(db, actor, "PO-1", 1, [R("SO-1"), R("SO-2")])

    assert refused.value.problems == [
        "order SO-1 has 2 lines of SKU C (lines 1, 2): write SO-1:LINE",
        "order SO-2 has no line of SKU C",
    ]

    e.set_quantity(db, actor, "PO-1", 1, 1)  # the sweep gives it to SO-1:1 at once
    e.set_quantity(db, actor, "PO-1", 1, 2)  # ... and this unit to SO-1:2
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-1", 2): ("PO-1", 1)}


def test_naming_the_same_line_twice_is_refused(waiting: e.Database, actor: e.Actor) -> None:
    with pytest.raises(e.Refused) as refused:
        e.allocate(waiting, actor, "PO-2", 1, [R("SO-1"), R("SO-1", 1)])

    assert refused.value.problems == ["SO-1:1 is named twice"]


def test_allocate_needs_a_known_po_line_and_at_least_one_order_line(
    waiting: e.Database, actor: e.Actor
) -> None:
    with pytest.raises(e.Refused, match="at least one"):
        e.allocate(waiting, actor, "PO-2", 1, [])
    with pytest.raises(e.NotFound, match=r"^PO PO-2 has no line 7$"):
        e.allocate(waiting, actor, "PO-2", 7, [R("SO-1")])
    with pytest.raises(e.NotFound, match=r"^unknown PO PO-404$"):
        e.allocate(waiting, actor, "PO-404", 1, [R("SO-1")])


def test_the_unallocated_list_offered_for_a_product_is_in_fifo_order(
    waiting: e.Database,
) -> None:
    offered = e.unallocated(waiting, sku="A")

    assert [(q.order, q.quantity, q.parked) for q in offered] == [
        ("SO-1", 1, False),
        ("SO-2", 2, False),
        ("SO-3", 3, False),
        ("SO-4", 1, True),
    ]
