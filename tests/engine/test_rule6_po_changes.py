"""Rule 6: cancelled POs release their orders; cut supply releases the latest placed first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest

import engine as e
from tests.helpers import allocation_map, po, so
from tests.history import actions, dump, promises, promises_since, queue, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
JAN10, JAN20, MAR01 = date(2027, 1, 10), date(2027, 1, 20), date(2027, 3, 1)


@pytest.fixture
def two_pos(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (A) holds SO-1, SO-2; PO-1:2 (B) holds SO-3; PO-2:1 (A, March) has 5 units free."""
    load(
        po("PO-1", (1, "A", 4, "2027-01-10"), (2, "B", 4, "2027-01-20")),
        po("PO-2", (1, "A", 5, "2027-03-01")),
        so("SO-1", 1, (1, "A", 1)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "B", 2)),
    )
    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-1", 1),
        ("SO-2", 1): ("PO-1", 1),
        ("SO-3", 1): ("PO-1", 2),
    }
    return db


def test_cancelling_a_po_releases_every_allocation_to_the_queue_unparked(
    two_pos: e.Database, actor: e.Actor
) -> None:
    db = two_pos
    before = promises(db)
    outcome = e.cancel_po(db, actor, "PO-1")
    check_invariants(db)

    assert [(p.order, p.po, p.po_line, p.promised_date) for p in outcome.released] == [
        ("SO-1", "PO-1", 1, JAN10),
        ("SO-2", "PO-1", 1, JAN10),
        ("SO-3", "PO-1", 2, JAN20),
    ]
    assert outcome.parked == []
    assert outcome.po_changes == [
        e.FieldChange("PO-1", 1, "status", "open", "cancelled"),
        e.FieldChange("PO-1", 2, "status", "open", "cancelled"),
        e.FieldChange("PO-1", None, "status", None, "cancelled"),
    ]
    assert allocation_map(db) == {}
    for order in ("SO-1", "SO-2", "SO-3"):
        assert so_line_state(db, order) == ("open", False, None)
    assert [(q.order, q.parked) for q in e.unallocated(db)] == [
        ("SO-1", False),
        ("SO-2", False),
        ("SO-3", False),
    ]
    assert [(r.order, r.old, r.new, r.reason) for r in promises_since(db, before)] == [
        ("SO-1", JAN10, None, "PO cancelled"),
        ("SO-2", JAN10, None, "PO cancelled"),
        ("SO-3", JAN20, None, "PO cancelled"),
    ]
    head = e.po_line(db, "PO-1", 1)
    assert (head.status, head.allocated, head.orders) == ("cancelled", 0, 0)
    assert e.purchase_order(db, "PO-1").status == "cancelled"
    assert actions(db, outcome.operation_id) == [
        ("release", "SO-1", 1),
        ("release", "SO-2", 1),
        ("release", "SO-3", 1),
        ("po-line", "PO-1", 1),
        ("po-line", "PO-1", 2),
        ("po", "PO-1", None),
    ]

    # The released lines wait for the sweep (or a person); the sweep places them in FIFO order.
    swept = e.auto_allocate(db, actor)
    check_invariants(db)
    assert [(p.order, p.po, p.promised_date) for p in swept.allocated] == [
        ("SO-1", "PO-2", MAR01),
        ("SO-2", "PO-2", MAR01),
    ]
    assert queue(db) == [("SO-3", 1)]


def test_cancelling_one_line_releases_only_its_orders_and_leaves_the_po_open(
    two_pos: e.Database, actor: e.Actor
) -> None:
    db = two_pos
    outcome = e.cancel_po(db, actor, "PO-1", line=1)
    check_invariants(db)

    assert [p.order for p in outcome.released] == ["SO-1", "SO-2"]
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "status", "open", "cancelled")]
    assert allocation_map(db) == {("SO-3", 1): ("PO-1", 2)}
    detail = e.purchase_order(db, "PO-1")
    assert (detail.status, [s.status for s in detail.lines]) == ("open", ["cancelled", "open"])

    last = e.cancel_po(db, actor, "PO-1", line=2)
    check_invariants(db)
    assert last.po_changes == [
        e.FieldChange("PO-1", 2, "status", "open", "cancelled"),
        e.FieldChange("PO-1", None, "status", None, "cancelled"),
    ]
    assert e.purchase_order(db, "PO-1").status == "cancelled"


def test_cancelling_twice_or_an_unknown_po_is_refused(two_pos: e.Database, actor: e.Actor) -> None:
    db = two_pos
    e.cancel_po(db, actor, "PO-1", line=1)
    with pytest.raises(e.Refused, match=r"^PO PO-1 line 1 is already cancelled$"):
        e.cancel_po(db, actor, "PO-1", line=1)
    e.cancel_po(db, actor, "PO-1")
    with pytest.raises(e.Refused, match=r"^PO PO-1 is already cancelled$"):
        e.cancel_po(db, actor, "PO-1")
    with pytest.raises(e.NotFound, match=r"^unknown PO PO-9$"):
        e.cancel_po(db, actor, "PO-9")


@pytest.fixture
def four_on_one(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (8 units) holds, oldest first, SO-1 (3), SO-2:1 (1), SO-2:2 (1), SO-3 (2)."""
    load(
        po("PO-1", (1, "A", 8, "2027-01-10")),
        so("SO-3", 3, (1, "A", 2)),
        so("SO-1", 1, (1, "A", 3)),
        so("SO-2", 2, (2, "A", 1), (1, "A", 1)),
    )
    assert e.po_line(db, "PO-1", 1).atp == 1
    return db


def test_quantity_cut_releases_the_latest_placed_first_until_it_fits(
    four_on_one: e.Database, actor: e.Actor
) -> None:
    db = four_on_one
    before = promises(db)
    # 7 allocated, 4 sellable: SO-3 (2) goes, then SO-2:2 (1) -- it fits; SO-2:1 stays.
    outcome = e.set_quantity(db, actor, "PO-1", 1, 4)
    check_invariants(db)

    assert [(p.order, p.line) for p in outcome.released] == [("SO-3", 1), ("SO-2", 2)]
    assert outcome.parked == []
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "quantity", 8, 4)]
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-2", 1): ("PO-1", 1)}
    assert queue(db) == [("SO-2", 2), ("SO-3", 1)]
    assert all(not q.parked for q in e.unallocated(db))
    head = e.po_line(db, "PO-1", 1)
    assert (head.quantity, head.allocated, head.atp) == (4, 4, 0)
    assert [(r.order, r.line, r.old, r.new, r.reason) for r in promises_since(db, before)] == [
        ("SO-3", 1, JAN10, None, "supply cut"),
        ("SO-2", 2, JAN10, None, "supply cut"),
    ]


def test_quantity_cut_stops_as_soon_as_the_allocations_fit_even_if_it_overshoots(
    four_on_one: e.Database, actor: e.Actor
) -> None:
    db = four_on_one
    # 7 allocated, 6 sellable: releasing SO-3 (2 units) is enough, and leaves 1 unit free.
    outcome = e.set_quantity(db, actor, "PO-1", 1, 6)
    check_invariants(db)

    assert [p.order for p in outcome.released] == ["SO-3"]
    assert e.po_line(db, "PO-1", 1).atp == 1
    assert queue(db) == [("SO-3", 1)]


def test_quantity_cut_within_the_atp_releases_nothing(
    four_on_one: e.Database, actor: e.Actor
) -> None:
    db = four_on_one
    outcome = e.set_quantity(db, actor, "PO-1", 1, 7)
    check_invariants(db)

    assert outcome.released == []
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "quantity", 8, 7)]
    assert e.po_line(db, "PO-1", 1).atp == 0


def test_raising_the_store_hold_releases_the_latest_placed_first(
    four_on_one: e.Database, actor: e.Actor
) -> None:
    db = four_on_one
    outcome = e.set_store_hold(db, actor, "PO-1", 1, 3)
    check_invariants(db)

    assert [(p.order, p.line) for p in outcome.released] == [("SO-3", 1)]
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "store_hold", 0, 3)]
    head = e.po_line(db, "PO-1", 1)
    assert (head.quantity, head.store_hold, head.allocated, head.atp) == (8, 3, 5, 0)


def test_lowering_the_store_hold_sweeps_the_queue_at_once(
    four_on_one: e.Database, actor: e.Actor
) -> None:
    db = four_on_one
    e.set_store_hold(db, actor, "PO-1", 1, 4)  # releases SO-3 and SO-2:2
    assert queue(db) == [("SO-2", 2), ("SO-3", 1)]

    # 2 units free again: SO-2:2 (1) takes one; SO-3 (2) does not fit the other and waits.
    outcome = e.set_store_hold(db, actor, "PO-1", 1, 2)
    check_invariants(db)

    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "store_hold", 4, 2)]
    assert [(p.order, p.line) for p in outcome.allocated] == [("SO-2", 2)]
    assert queue(db) == [("SO-3", 1)]
    assert e.po_line(db, "PO-1", 1).atp == 1


def test_raising_the_quantity_sweeps_the_queue_at_once(
    four_on_one: e.Database, actor: e.Actor, load: Load
) -> None:
    db = four_on_one
    load(so("SO-4", 4, (1, "A", 3)))
    assert queue(db) == [("SO-4", 1)]

    outcome = e.set_quantity(db, actor, "PO-1", 1, 10)
    check_invariants(db)

    assert [(p.order, p.po) for p in outcome.allocated] == [("SO-4", "PO-1")]
    assert queue(db) == []


def test_supply_changes_refuse_impossible_values(four_on_one: e.Database, actor: e.Actor) -> None:
    db = four_on_one
    before = dump(db)
    with pytest.raises(e.Refused, match=r"^store hold 9 exceeds the quantity 8 of PO-1:1$"):
        e.set_store_hold(db, actor, "PO-1", 1, 9)
    with pytest.raises(e.InvalidInput, match=r"^quantity -1 must be at least 0$"):
        e.set_quantity(db, actor, "PO-1", 1, -1)
    with pytest.raises(e.InvalidInput, match=r"^store hold -2 must be at least 0$"):
        e.set_store_hold(db, actor, "PO-1", 1, -2)
    e.set_store_hold(db, actor, "PO-1", 1, 1)
    with pytest.raises(e.Refused, match=r"^store hold 1 exceeds the quantity 0 of PO-1:1$"):
        e.set_quantity(db, actor, "PO-1", 1, 0)
    assert dump(db)["allocations"] == before["allocations"]


def test_reimport_is_an_update_not_a_duplicate(db: e.Database, load: Load) -> None:
    records = (
        po("PO-1", (1, "A", 5, "2027-01-10"), (2, "B", 2, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2), (2, "B", 1)),
    )
    first = load(*records)
    assert first.created == {"purchase_orders": 1, "po_lines": 2, "sales_orders": 1, "so_lines": 2}
    assert first.updated == {"purchase_orders": 0, "po_lines": 0, "sales_orders": 0, "so_lines": 0}
    before = dump(db)

    again = load(*records)

    assert again.created == {"purchase_orders": 0, "po_lines": 0, "sales_orders": 0, "so_lines": 0}
    assert again.updated == again.created
    assert again.changed is False
    assert dump(db) == before
    # The same instant written with another UTC offset is the same order, unchanged.
    offset = so(
        "SO-1", datetime.fromisoformat("2026-11-02T11:01:00+02:00"), (1, "A", 2), (2, "B", 1)
    )
    assert load(offset).changed is False
    assert dump(db) == before

    changed = load(
        po("PO-1", (1, "A", 5, "2027-01-10"), (2, "B", 2, "2027-01-10"), supplier="Bolt"),
        so("SO-1", 1, (1, "A", 2), (2, "B", 1), (3, "A", 1)),
    )
    assert changed.created == {
        "purchase_orders": 0,
        "po_lines": 0,
        "sales_orders": 0,
        "so_lines": 1,
    }
    assert changed.updated == {
        "purchase_orders": 1,
        "po_lines": 0,
        "sales_orders": 0,
        "so_lines": 0,
    }
    assert allocation_map(db)[("SO-1", 3)] == ("PO-1", 1)
    assert e.purchase_order(db, "PO-1").supplier == "Bolt"


def test_reimport_with_a_lower_po_quantity_releases_the_latest_placed_first(
    four_on_one: e.Database, load: Load
) -> None:
    db = four_on_one
    outcome = load(po("PO-1", (1, "A", 4, "2027-01-10")))

    assert outcome.updated["po_lines"] == 1
    assert outcome.created["po_lines"] == 0
    assert [(p.order, p.line) for p in outcome.released] == [("SO-3", 1), ("SO-2", 2)]
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "quantity", 8, 4)]
    assert queue(db) == [("SO-2", 2), ("SO-3", 1)]
    assert e.po_line(db, "PO-1", 1).atp == 0


def test_reimport_with_a_lower_quantity_keeps_the_store_hold_within_it(
    four_on_one: e.Database, actor: e.Actor, load: Load
) -> None:
    db = four_on_one
    e.set_store_hold(db, actor, "PO-1", 1, 1)
    outcome = load(po("PO-1", (1, "A", 0, "2027-01-10")))

    assert sorted(c.field for c in outcome.po_changes) == ["quantity", "store_hold"]
    head = e.po_line(db, "PO-1", 1)
    assert (head.quantity, head.store_hold, head.allocated, head.orders) == (0, 0, 0, 0)
    assert len(queue(db)) == 4


def test_reimport_with_a_later_arrival_date_leaves_promises_out_of_sync(
    four_on_one: e.Database, load: Load
) -> None:
    db = four_on_one
    outcome = load(po("PO-1", (1, "A", 8, "2027-02-01")))

    assert outcome.updated["po_lines"] == 1
    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "arrival_date", JAN10, date(2027, 2, 1))]
    assert outcome.promises == []
    assert e.po_line(db, "PO-1", 1).out_of_sync == 4


def test_reimport_of_an_order_line_with_a_new_quantity_releases_and_resweeps_it(
    four_on_one: e.Database, load: Load
) -> None:
    db = four_on_one
    load(po("PO-2", (1, "A", 6, "2027-02-01")))
    # SO-1 grows from 3 to 4 units: PO-1 has 1 unit free (4 once SO-1's 3 are back), so
    # SO-1 goes back to PO-1 -- its place in the queue is still the first.
    outcome = load(so("SO-1", 1, (1, "A", 4)))

    assert outcome.updated == {
        "purchase_orders": 0,
        "po_lines": 0,
        "sales_orders": 0,
        "so_lines": 1,
    }
    assert [(p.order, p.quantity, p.po) for p in outcome.released] == [("SO-1", 3, "PO-1")]
    assert [(p.order, p.quantity, p.po) for p in outcome.allocated] == [("SO-1", 4, "PO-1")]
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    assert e.po_line(db, "PO-1", 1).atp == 0

    # Growing again to 6 units: PO-1 cannot hold it any more, the later PO-2 can.
    outcome = load(so("SO-1", 1, (1, "A", 6)))
    assert [(p.order, p.quantity, p.po) for p in outcome.allocated] == [("SO-1", 6, "PO-2")]
    assert allocation_map(db)[("SO-1", 1)] == ("PO-2", 1)
    assert so_line_state(db, "SO-1") == ("open", False, date(2027, 2, 1))
