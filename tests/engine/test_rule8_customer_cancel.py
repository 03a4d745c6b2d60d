"""Rule 8: a customer cancels; the allocation is released and the queue gets the units at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

import engine as e
from tests.helpers import allocation_map, po, so
from tests.history import actions, dump, promises, promises_since, queue, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
JAN10 = date(2027, 1, 10)


@pytest.fixture
def full(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (4 units) holds SO-1 (3) and SO-3:1 (1); SO-2 (3), SO-3:2 (SKU B) and SO-4 (1)
    wait in the queue, in that order."""
    load(
        po("PO-1", (1, "A", 4, "2027-01-10")),
        so("SO-1", 1, (1, "A", 3)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "A", 1), (2, "B", 1)),
        so("SO-4", 4, (1, "A", 1)),
    )
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-3", 1): ("PO-1", 1)}
    assert queue(db) == [("SO-2", 1), ("SO-3", 2), ("SO-4", 1)]
    return db


def test_cancelling_an_allocated_line_gives_the_freed_units_to_the_next_order_at_once(
    full: e.Database, actor: e.Actor
) -> None:
    db = full
    before = promises(db)
    outcome = e.cancel_order(db, actor, [R("SO-1", 1)])
    check_invariants(db)

    assert outcome.cancelled == [R("SO-1", 1)]
    assert [(p.order, p.quantity, p.po, p.promised_date) for p in outcome.released] == [
        ("SO-1", 3, "PO-1", JAN10)
    ]
    assert outcome.parked == []
    # The 3 freed units go to SO-2, first in the queue, not to the smaller SO-4 behind it.
    assert [(p.order, p.po, p.promised_date) for p in outcome.allocated] == [
        ("SO-2", "PO-1", JAN10)
    ]
    assert allocation_map(db) == {("SO-2", 1): ("PO-1", 1), ("SO-3", 1): ("PO-1", 1)}
    assert queue(db) == [("SO-3", 2), ("SO-4", 1)]
    assert so_line_state(db, "SO-1") == ("cancelled", False, None)
    assert so_line_state(db, "SO-2") == ("open", False, JAN10)
    # SO-1's promise is withdrawn, then SO-2 gets its first one.
    assert [(r.order, r.old, r.new, r.reason) for r in promises_since(db, before)] == [
        ("SO-1", JAN10, None, "customer cancelled"),
        ("SO-2", None, JAN10, "fifo"),
    ]
    assert actions(db, outcome.operation_id) == [
        ("release", "SO-1", 1),
        ("order-line-cancelled", "SO-1", 1),
        ("allocate", "SO-2", 1),
    ]


def test_cancelling_a_whole_order_cancels_each_open_line_allocated_or_not(
    full: e.Database, actor: e.Actor
) -> None:
    db = full
    outcome = e.cancel_order(db, actor, [R("SO-3")])
    check_invariants(db)

    assert outcome.cancelled == [R("SO-3", 1), R("SO-3", 2)]
    assert [(p.order, p.line) for p in outcome.released] == [("SO-3", 1)]
    assert so_line_state(db, "SO-3", 1) == ("cancelled", False, None)
    assert so_line_state(db, "SO-3", 2) == ("cancelled", False, None)
    # One unit freed: SO-2 (3) still does not fit and keeps its place; SO-4 (1) takes it.
    assert [(p.order, p.po) for p in outcome.allocated] == [("SO-4", "PO-1")]
    assert queue(db) == [("SO-2", 1)]
    assert e.po_line(db, "PO-1", 1).atp == 0


def test_cancelling_an_unallocated_line_takes_it_out_of_the_queue(
    full: e.Database, actor: e.Actor
) -> None:
    db = full
    outcome = e.cancel_order(db, actor, [R("SO-2", 1)])
    check_invariants(db)

    assert (outcome.cancelled, outcome.released, outcome.allocated) == ([R("SO-2", 1)], [], [])
    assert queue(db) == [("SO-3", 2), ("SO-4", 1)]
    assert actions(db, outcome.operation_id) == [("order-line-cancelled", "SO-2", 1)]


def test_cancelling_a_parked_line_clears_its_park(full: e.Database, actor: e.Actor) -> None:
    db = full
    e.remove(db, actor, "PO-1", 1, [R("SO-3")])
    assert so_line_state(db, "SO-3", 1) == ("open", True, None)

    e.cancel_order(db, actor, [R("SO-3", 1)])
    check_invariants(db)

    assert so_line_state(db, "SO-3", 1) == ("cancelled", False, None)
    assert ("SO-3", 1) not in queue(db)


def test_cancelled_lines_cannot_be_cancelled_again_or_allocated(
    full: e.Database, actor: e.Actor
) -> None:
    db = full
    e.cancel_order(db, actor, [R("SO-1")])
    before = dump(db)

    with pytest.raises(e.Refused) as refused:
        e.cancel_order(db, actor, [R("SO-1", 1), R("SO-2", 1)])
    assert refused.value.problems == ["SO-1:1 is already cancelled"]
    with pytest.raises(e.Refused) as refused:
        e.cancel_order(db, actor, [R("SO-1")])
    assert refused.value.problems == ["order SO-1 has no open lines"]
    with pytest.raises(e.NotFound, match=r"^unknown order SO-9$"):
        e.cancel_order(db, actor, [R("SO-9")])
    with pytest.raises(e.Refused, match="at least one"):
        e.cancel_order(db, actor, [])
    assert dump(db) == before
