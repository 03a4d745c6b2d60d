"""Undo: every kind of operation set back as a new, audited operation, all or nothing, at most
once; an undo of an undo redoes (on both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

import engine as e
from tests.helpers import allocation_map, dump, po, so
from tests.history import events, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
JAN10, FEB01, MAR01 = date(2027, 1, 10), date(2027, 2, 1), date(2027, 3, 1)
MIA = e.Actor("U-mia", e.Source.SLACK)


@pytest.fixture
def held(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (A, 10, Jan 10) holds SO-1 (4), SO-2 (3); PO-2:1 (A, 10, Feb 1) is empty;
    PO-3:1 (B, 5, Jan 10) holds SO-3 (2)."""
    load(
        po("PO-1", (1, "A", 10, "2027-01-10")),
        po("PO-2", (1, "A", 10, "2027-02-01")),
        po("PO-3", (1, "B", 5, "2027-01-10")),
        so("SO-1", 1, (1, "A", 4)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "B", 2)),
    )
    return db


def undone(db: e.Database, outcome: e.Outcome) -> e.Outcome:
    """Undo ``outcome``'s operation as another person on Slack, checking the invariants; the
    dry run first reports the same and changes nothing."""
    before = dump(db)
    preview = e.undo(db, outcome.operation_id, MIA, dry_run=True)
    assert dump(db) == before
    result = e.undo(db, outcome.operation_id, MIA)
    check_invariants(db)
    assert result.undid == outcome.operation_id
    assert (preview.released, preview.moved, preview.po_changes) == (
        result.released,
        result.moved,
        result.po_changes,
    )
    written = events(db, result.operation_id)
    assert written and {(ev.operation, ev.actor, ev.source) for ev in written} == {
        ("undo", "U-mia", "slack")
    }
    return result


def test_undo_of_remove_puts_the_lines_back_unparked_with_their_promise_and_lowers_the_hold(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.set_arrival(db, actor, "PO-1", 1, FEB01)  # SO-1 and SO-2 still promised Jan 10
    state = dump(db)["so_lines"]
    removed = e.remove(db, actor, "PO-1", 1, [R("SO-1")], hold_for_store=True)
    assert so_line_state(db, "SO-1") == ("open", True, None)
    back = undone(db, removed)
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    assert so_line_state(db, "SO-1") == ("open", False, JAN10)
    head = e.po_line(db, "PO-1", 1)
    assert (head.store_hold, head.allocated, head.out_of_sync) == (0, 7, 2)
    assert dump(db)["so_lines"] == state
    assert [(p.order, p.old, p.new) for p in back.promises][-1] == ("SO-1", FEB01, JAN10)


def test_undo_of_a_forced_removal_from_a_received_line_is_refused_naming_the_closed_line(
    held: e.Database, actor: e.Actor
) -> None:
    """A received line takes no allocation back (rule 11), nor a store hold lowered."""
    db = held
    e.receive(db, actor, "PO-1", 1, 10)
    assert e.po_line(db, "PO-1", 1).status == "received"
    removed = e.remove(db, actor, "PO-1", 1, [R("SO-1")], hold_for_store=True, force=True)
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.undo(db, removed.operation_id, MIA)
    assert "PO-1:1 is received" in refused.value.problems
    assert dump(db) == before


def test_undo_of_allocate_releases_without_parking_and_parks_again_what_it_unparked(
    held: e.Database, load: Load, actor: e.Actor
) -> None:
    db = held
    load(so("SO-4", 4, (1, "A", 20)), so("SO-5", 5, (1, "A", 2)))  # SO-5 to PO-1:1
    e.remove(db, actor, "PO-1", 1, [R("SO-5")])  # parked
    placed = e.allocate(db, actor, "PO-2", 1, [R("SO-5")])
    undone(db, placed)
    assert ("SO-5", 1) not in allocation_map(db)
    assert so_line_state(db, "SO-5") == ("open", True, None)  # parked, as before
    e.cancel_po(db, actor, "PO-3")
    e.set_quantity(db, actor, "PO-2", 1, 30)  # SO-4 (20) goes to PO-2:1 by the sweep
    unparked = e.unpark(db, actor, [R("SO-5")])  # and SO-5 onto PO-1:1 (ATP 3)
    assert allocation_map(db)[("SO-5", 1)] == ("PO-1", 1)
    undone(db, unparked)
    assert so_line_state(db, "SO-5") == ("open", True, None)


def test_undo_of_sync_date_and_set_arrival_restores_the_dates(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    moved = e.set_arrival(db, actor, "PO-1", 1, MAR01, sync=True)
    assert so_line_state(db, "SO-1")[2] == MAR01
    undone(db, moved)
    head = e.po_line(db, "PO-1", 1)
    assert (head.arrival_date, head.out_of_sync) == (JAN10, 0)
    assert so_line_state(db, "SO-1")[2] == JAN10
    e.set_arrival(db, actor, "PO-1", 1, FEB01)
    synced = e.sync_date(db, actor, "PO-1", 1)
    back = undone(db, synced)
    assert so_line_state(db, "SO-2")[2] == JAN10
    assert e.po_line(db, "PO-1", 1).out_of_sync == 2
    assert {(p.order, p.old, p.new) for p in back.promises} == {
        ("SO-1", FEB01, JAN10),
        ("SO-2", FEB01, JAN10),
    }


def test_undo_of_move_moves_back(held: e.Database, actor: e.Actor) -> None:
    db = held
    moved = e.move(db, actor, [R("SO-1"), R("SO-2")], "PO-2", 1)
    undone(db, moved)
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    assert allocation_map(db)[("SO-2", 1)] == ("PO-1", 1)
    assert e.po_line(db, "PO-2", 1).allocated == 0


def test_undo_of_a_move_is_refused_once_the_moved_line_is_ready_where_it_went(
    held: e.Database, actor: e.Actor
) -> None:
    """A line moved, then covered by a receipt where it went, stays where its stock is: the
    undo moving it back (to a line with nothing received) is refused."""
    db = held
    moved = e.move(db, actor, [R("SO-1")], "PO-2", 1)
    e.receive(db, actor, "PO-2", 1, 4)
    before = dump(db)
    with pytest.raises(e.Refused, match=r"SO-1:1 is ready \(its stock is in on PO-2:1\)"):
        e.undo(db, moved.operation_id, actor)
    assert dump(db) == before
    check_invariants(db)


def test_undo_of_a_removal_is_refused_once_the_line_changed_sku(
    held: e.Database, load: Load, actor: e.Actor
) -> None:
    """Putting a line back on its PO line of another SKU than it has now is refused by name
    (it used to fail on the allocation's foreign key)."""
    db = held
    removed = e.remove(db, actor, "PO-1", 1, [R("SO-1")])
    load(so("SO-1", 1, (1, "B", 4)))
    before = dump(db)
    with pytest.raises(e.Refused, match="SO-1:1 is SKU B now, not A"):
        e.undo(db, removed.operation_id, actor)
    assert dump(db) == before


def test_undo_of_cancel_po_reopens_the_lines_and_runs_rule_1(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    cancelled = e.cancel_po(db, actor, "PO-1")
    assert e.purchase_order(db, "PO-1").status == "cancelled"
    back = undone(db, cancelled)
    assert e.purchase_order(db, "PO-1").status == "open"
    assert e.po_line(db, "PO-1", 1).status == "open"
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    assert back.allocated_count == 2


def test_undo_of_set_quantity_and_set_store_hold_is_exact(
    held: e.Database, load: Load, actor: e.Actor
) -> None:
    db = held
    load(so("SO-4", 4, (1, "A", 12)))  # waits: no line has 12
    state = dump(db)["so_lines"]
    cut = e.set_quantity(db, actor, "PO-1", 1, 5)  # releases SO-2 (placed last), keeps SO-1
    assert cut.released
    undone(db, cut)
    assert dump(db)["so_lines"] == state
    grown = e.set_quantity(db, actor, "PO-2", 1, 12)  # sweeps SO-4 onto PO-2:1
    assert allocation_map(db)[("SO-4", 1)] == ("PO-2", 1)
    undone(db, grown)
    assert dump(db)["so_lines"] == state
    assert e.po_line(db, "PO-2", 1).quantity == 10
    hold = e.set_store_hold(db, actor, "PO-1", 1, 8)  # releases SO-2 and SO-1
    undone(db, hold)
    assert dump(db)["so_lines"] == state


def test_undo_of_the_sweep_and_of_a_rebalance(held: e.Database, load: Load, actor: e.Actor) -> None:
    db = held
    load(so("SO-4", 4, (1, "A", 3)))  # onto PO-1:1 (ATP 3)
    e.cancel_po(db, actor, "PO-1")
    swept = e.auto_allocate(db, actor)  # SO-1, SO-2, SO-4 onto PO-2:1 (10)
    assert swept.allocated_count == 3
    undone(db, swept)
    assert [(q.order, q.parked) for q in e.unallocated(db)] == [
        ("SO-1", False),
        ("SO-2", False),
        ("SO-4", False),
    ]
    e.auto_allocate(db, actor)
    e.set_store_hold(db, actor, "PO-2", 1, 3)  # releases SO-4, then the sweep has no room
    e.set_store_hold(db, actor, "PO-2", 1, 0)  # SO-4 back on PO-2:1
    load(po("PO-0", (1, "A", 5, "2027-01-05")))  # earlier: takes nothing, all is placed
    state = dump(db)["so_lines"]
    rebalanced = e.rebalance(db, actor, sku="A")  # SO-1 (4) moves to PO-0:1
    assert [(m.order, m.to_po) for m in rebalanced.moved] == [("SO-1", "PO-0")]
    undone(db, rebalanced)
    assert dump(db)["so_lines"] == state


def test_refused_after_the_state_moved_on_names_each_conflict_and_changes_nothing(
    held: e.Database, load: Load, actor: e.Actor
) -> None:
    db = held
    removed = e.remove(db, actor, "PO-1", 1, [R("SO-1"), R("SO-2")])
    load(so("SO-4", 4, (1, "A", 8)))  # takes PO-1:1's freed ATP (8 of 10)
    e.cancel_order(db, actor, [R("SO-2")])
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.undo(db, removed.operation_id, MIA)
    assert dump(db) == before
    assert refused.value.problems == [
        "SO-2:1 is cancelled",
        "4 units to put back on PO-1:1, 2 ATP left (short by 2)",
    ]
    assert "the state has moved on" in str(refused.value)


def test_undo_twice_is_refused_and_an_undo_of_the_undo_redoes(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    moved = e.move(db, actor, [R("SO-1")], "PO-2", 1)
    first = undone(db, moved)
    before = dump(db)
    with pytest.raises(e.Refused, match=f"already undone by {first.operation_id}"):
        e.undo(db, moved.operation_id, MIA)
    assert dump(db) == before
    redo = undone(db, first)
    assert allocation_map(db)[("SO-1", 1)] == ("PO-2", 1)
    again = undone(db, redo)
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    assert again.undid == redo.operation_id


def test_undo_of_a_cancel_po_undone_redoes_the_cancellation(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    cancelled = e.cancel_po(db, actor, "PO-3")
    back = undone(db, cancelled)
    assert allocation_map(db)[("SO-3", 1)] == ("PO-3", 1)
    undone(db, back)
    assert e.purchase_order(db, "PO-3").status == "cancelled"
    assert so_line_state(db, "SO-3") == ("open", False, None)


def test_import_intake_and_customer_cancellations_are_refused_with_the_reason(
    held: e.Database, load: Load, actor: e.Actor
) -> None:
    db = held
    imported = load(so("SO-9", 9, (1, "A", 1)))
    with pytest.raises(e.Refused, match="an import is not undone"):
        e.undo(db, imported.operation_id, actor)
    cancelled = e.cancel_order(db, actor, [R("SO-9")])
    with pytest.raises(e.Refused, match="a customer's cancellation is not undone"):
        e.undo(db, cancelled.operation_id, actor)


def test_operation_ids_whole_or_by_their_start(held: e.Database, actor: e.Actor) -> None:
    db = held
    moved = e.move(db, actor, [R("SO-1")], "PO-2", 1)
    with pytest.raises(e.NotFound, match="unknown operation"):
        e.undo(db, "00000000-0000", actor)
    with pytest.raises(e.InvalidInput, match="too short"):
        e.undo(db, moved.operation_id[:4], actor)
    dry = e.move(db, actor, [R("SO-2")], "PO-2", 1, dry_run=True)
    with pytest.raises(e.NotFound):
        e.undo(db, dry.operation_id, actor)
    back = e.undo(db, moved.operation_id[:8].upper(), actor)
    assert back.undid == moved.operation_id
    assert back.to_dict()["operation"] == back.operation_id
    assert back.to_dict()["operation_name"] == "undo"


def test_a_change_that_marked_lines_ready_is_not_undone(
    held: e.Database, load: Load, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-2", 1, 5)  # 5 of PO-2:1 came in: what it takes is ready at once
    moved = e.move(db, actor, [R("SO-1")], "PO-2", 1)
    before = dump(db)
    with pytest.raises(e.Refused, match="marked order lines ready"):
        e.undo(db, moved.operation_id, MIA)
    assert dump(db) == before
