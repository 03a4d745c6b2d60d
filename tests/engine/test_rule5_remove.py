"""Rule 5: removal unallocates, clears the promise and parks the lines; unpark undoes the park."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

import engine as e
from tests.helpers import T0, allocation_map, po, so
from tests.history import actions, dump, events, promises, promises_since, queue, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
JAN10 = date(2027, 1, 10)


@pytest.fixture
def allocated(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (6 units) holds SO-1 (2), SO-2 (1, 2 lines) and SO-3 (3); SO-4 (2) waits."""
    load(
        po("PO-1", (1, "A", 6, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 1)),
        so("SO-3", 3, (1, "A", 3)),
        so("SO-4", 4, (1, "A", 2)),
    )
    assert queue(db) == [("SO-4", 1)]
    return db


def test_removal_unallocates_clears_the_promise_and_parks_the_lines(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    before = promises(db)
    outcome = e.remove(db, actor, "PO-1", 1, [R("SO-3"), R("SO-1", 1)])
    check_invariants(db)

    placed = T0 + timedelta(minutes=3), T0 + timedelta(minutes=1)
    assert outcome.released == [
        e.Placement("SO-3", 1, "A", 3, "PO-1", 1, placed[0], JAN10),
        e.Placement("SO-1", 1, "A", 2, "PO-1", 1, placed[1], JAN10),
    ]
    assert outcome.parked == [R("SO-3", 1), R("SO-1", 1)]
    assert outcome.po_changes == []
    assert allocation_map(db) == {("SO-2", 1): ("PO-1", 1)}
    assert so_line_state(db, "SO-1") == ("open", True, None)
    assert so_line_state(db, "SO-3") == ("open", True, None)
    head = e.po_line(db, "PO-1", 1)
    assert (head.allocated, head.store_hold, head.atp) == (1, 0, 5)
    assert [(q.order, q.parked) for q in e.unallocated(db)] == [
        ("SO-1", True),
        ("SO-3", True),
        ("SO-4", False),
    ]
    assert [(r.order, r.old, r.new, r.reason) for r in promises_since(db, before)] == [
        ("SO-3", JAN10, None, "removed"),
        ("SO-1", JAN10, None, "removed"),
    ]
    assert [
        (ev.action, ev.order, ev.before, ev.after) for ev in events(db, outcome.operation_id)
    ] == [
        (
            "release",
            "SO-3",
            {"po": "PO-1", "line": 1, "promised_date": "2027-01-10"},
            {"po": None, "line": None, "promised_date": None, "parked": True},
        ),
        (
            "release",
            "SO-1",
            {"po": "PO-1", "line": 1, "promised_date": "2027-01-10"},
            {"po": None, "line": None, "promised_date": None, "parked": True},
        ),
    ]


def test_removed_lines_stay_off_while_the_freed_units_go_to_the_queue_on_a_sweep(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    e.remove(db, actor, "PO-1", 1, [R("SO-1")])
    swept = e.auto_allocate(db, actor)
    check_invariants(db)

    assert [(p.order, p.po) for p in swept.allocated] == [("SO-4", "PO-1")]
    assert ("SO-1", 1) not in allocation_map(db)
    assert so_line_state(db, "SO-1") == ("open", True, None)


def test_removal_for_the_store_moves_the_freed_units_to_the_store_hold(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    outcome = e.remove(db, actor, "PO-1", 1, [R("SO-1"), R("SO-3")], hold_for_store=True)
    check_invariants(db)

    assert [p.order for p in outcome.released] == ["SO-1", "SO-3"]
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "store_hold", 0, 5)]
    head = e.po_line(db, "PO-1", 1)
    assert (head.quantity, head.store_hold, head.allocated, head.atp) == (6, 5, 1, 0)
    assert e.auto_allocate(db, actor).allocated_count == 0
    assert actions(db, outcome.operation_id) == [
        ("release", "SO-1", 1),
        ("release", "SO-3", 1),
        ("po-line", "PO-1", 1),
    ]


def test_removal_refuses_lines_not_allocated_to_that_po_line_and_changes_nothing(
    allocated: e.Database, actor: e.Actor, load: Load
) -> None:
    db = allocated
    load(po("PO-2", (1, "A", 1, "2027-03-01"), (2, "B", 1, "2027-03-01")))
    load(so("SO-5", 5, (1, "B", 1)))
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.remove(
            db,
            actor,
            "PO-1",
            1,
            [R("SO-1"), R("SO-4"), R("SO-5", 1), R("SO-9"), R("SO-2", 2)],
        )

    assert refused.value.message == "cannot remove allocations from PO-1:1"
    assert refused.value.problems == [
        "unknown order SO-9",
        "order SO-2 has no line 2",
        "SO-4:1 is not allocated to PO-1:1",
        "SO-5:1 is not allocated to PO-1:1",
    ]
    assert dump(db) == before
    with pytest.raises(e.Refused, match="at least one"):
        e.remove(db, actor, "PO-1", 1, [])


def test_unpark_returns_parked_lines_to_the_queue_and_sweeps_them_at_once(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    e.remove(db, actor, "PO-1", 1, [R("SO-1"), R("SO-3")])
    # SO-4 (2 units, next in the queue) takes 2 of the 5 freed units on the next sweep...
    e.auto_allocate(db, actor)
    assert e.po_line(db, "PO-1", 1).atp == 3

    outcome = e.unpark(db, actor, [R("SO-3"), R("SO-1", 1)])
    check_invariants(db)

    # ... and the unparked lines queue again in FIFO order: SO-1 (2) fits, SO-3 (3) no longer.
    assert outcome.unparked == [R("SO-3", 1), R("SO-1", 1)]
    assert [(p.order, p.po) for p in outcome.allocated] == [("SO-1", "PO-1")]
    assert so_line_state(db, "SO-1") == ("open", False, JAN10)
    assert [(q.order, q.parked) for q in e.unallocated(db)] == [("SO-3", False)]
    assert actions(db, outcome.operation_id) == [
        ("unpark", "SO-3", 1),
        ("unpark", "SO-1", 1),
        ("allocate", "SO-1", 1),
    ]


def test_unpark_refuses_lines_that_are_not_parked(allocated: e.Database, actor: e.Actor) -> None:
    db = allocated
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.unpark(db, actor, [R("SO-4"), R("SO-2"), R("SO-8")])

    assert refused.value.problems == [
        "unknown order SO-8",
        "SO-4:1 is not parked",
        "SO-2:1 is not parked",
    ]
    assert dump(db) == before
