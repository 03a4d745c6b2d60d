"""Rule 4: arrival-date changes never silently change promises; sync-date does, and records it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

import engine as e
from tests.helpers import allocation_map, dump, po, so
from tests.history import PromiseRow, actions, events, promises, promises_since, so_line_state
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
JAN10, JAN20, FEB01 = date(2027, 1, 10), date(2027, 1, 20), date(2027, 2, 1)


@pytest.fixture
def allocated(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (arriving Jan 10, ATP 1) holds SO-1 and SO-2; PO-1:2 (Feb 1) holds SO-3 (3 units)."""
    load(
        po("PO-1", (1, "A", 6, "2027-01-10"), (2, "A", 5, "2027-02-01")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "A", 3)),
    )
    assert allocation_map(db)[("SO-3", 1)] == ("PO-1", 2)
    return db


def test_every_allocation_records_its_first_promise_and_a_reallocation_records_it_again(
    db: e.Database, load: Load
) -> None:
    # PO-1:1 (Jan 10) has room for SO-1 (2) only; SO-2 (3) goes to PO-2:1 (Feb 1, 5 units).
    intake = load(
        po("PO-1", (1, "A", 2, "2027-01-10")),
        po("PO-2", (1, "A", 5, "2027-02-01")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3)),
    )
    # The import's sweep promises each line its PO line's arrival date: no date -> arrival.
    first = [
        PromiseRow("SO-1", 1, None, JAN10, "tester", "cli", "fifo", intake.operation_id),
        PromiseRow("SO-2", 1, None, FEB01, "tester", "cli", "fifo", intake.operation_id),
    ]
    assert promises(db) == first

    # Mia takes SO-1 off PO-1 and allocates it by hand to PO-2: released, then promised again.
    mia = e.Actor("U-mia", e.Source.SLACK)
    removed = e.remove(db, mia, "PO-1", 1, [R("SO-1")])
    placed = e.allocate(db, mia, "PO-2", 1, [R("SO-1")])
    # PO-2 is cancelled: both lines go back to the queue, and the next sweep places SO-1 (2)
    # on PO-1 again; SO-2 (3) does not fit the 2 units there and waits without a promise.
    ann = e.Actor("ann", e.Source.SHEET)
    cancelled = e.cancel_po(db, ann, "PO-2")
    bot = e.Actor("scheduler", e.Source.SCHEDULER)
    swept = e.auto_allocate(db, bot)
    check_invariants(db)

    assert [(p.order, p.po) for p in swept.allocated] == [("SO-1", "PO-1")]
    assert so_line_state(db, "SO-1") == ("open", False, JAN10)
    assert so_line_state(db, "SO-2") == ("open", False, None)
    assert promises_since(db, first) == [
        PromiseRow("SO-1", 1, JAN10, None, "U-mia", "slack", "removed", removed.operation_id),
        PromiseRow("SO-1", 1, None, FEB01, "U-mia", "slack", "manual", placed.operation_id),
        PromiseRow("SO-1", 1, FEB01, None, "ann", "sheet", "PO cancelled", cancelled.operation_id),
        PromiseRow("SO-2", 1, FEB01, None, "ann", "sheet", "PO cancelled", cancelled.operation_id),
        PromiseRow("SO-1", 1, None, JAN10, "scheduler", "scheduler", "fifo", swept.operation_id),
    ]


def test_moving_the_arrival_date_leaves_promises_unchanged_and_out_of_sync(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    before = promises(db)
    outcome = e.set_arrival(db, actor, "PO-1", 1, JAN20)
    check_invariants(db)

    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "arrival_date", JAN10, JAN20)]
    assert (outcome.promises, outcome.moved, outcome.released) == ([], [], [])
    review = e.review(db, "PO-1", 1)
    assert (review.head.arrival_date, review.head.out_of_sync) == (JAN20, 2)
    assert [(a.order, a.promised_date, a.in_sync) for a in review.allocations] == [
        ("SO-1", JAN10, False),
        ("SO-2", JAN10, False),
    ]
    assert e.po_line(db, "PO-1", 2).out_of_sync == 0
    assert promises(db) == before
    assert [(ev.action, ev.before, ev.after) for ev in events(db, outcome.operation_id)] == [
        ("po-line", {"arrival_date": "2027-01-10"}, {"arrival_date": "2027-01-20"})
    ]


def test_sync_date_promises_the_arrival_date_and_records_old_new_who_and_why(
    allocated: e.Database,
) -> None:
    db = allocated
    mia = e.Actor("U-mia", e.Source.SLACK)
    before = promises(db)
    e.set_arrival(db, mia, "PO-1", 1, JAN20)
    outcome = e.sync_date(db, mia, "PO-1", 1)
    check_invariants(db)

    assert outcome.promises == [
        e.DateChange("SO-1", 1, JAN10, JAN20, "sync"),
        e.DateChange("SO-2", 1, JAN10, JAN20, "sync"),
    ]
    assert promises_since(db, before) == [
        PromiseRow("SO-1", 1, JAN10, JAN20, "U-mia", "slack", "sync", outcome.operation_id),
        PromiseRow("SO-2", 1, JAN10, JAN20, "U-mia", "slack", "sync", outcome.operation_id),
    ]
    review = e.review(db, "PO-1", 1)
    assert review.head.out_of_sync == 0
    assert all(a.in_sync and a.promised_date == JAN20 for a in review.allocations)
    assert so_line_state(db, "SO-3") == ("open", False, FEB01)
    assert [
        (ev.action, ev.order, ev.before, ev.after) for ev in events(db, outcome.operation_id)
    ] == [
        ("promise", "SO-1", {"promised_date": "2027-01-10"}, {"promised_date": "2027-01-20"}),
        ("promise", "SO-2", {"promised_date": "2027-01-10"}, {"promised_date": "2027-01-20"}),
    ]


def test_set_arrival_with_sync_changes_date_and_promises_in_one_operation(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    before = promises(db)
    outcome = e.set_arrival(db, actor, "PO-1", 1, JAN20, sync=True)
    check_invariants(db)

    assert outcome.po_changes == [e.FieldChange("PO-1", 1, "arrival_date", JAN10, JAN20)]
    assert [(c.order, c.old, c.new) for c in outcome.promises] == [
        ("SO-1", JAN10, JAN20),
        ("SO-2", JAN10, JAN20),
    ]
    assert e.po_line(db, "PO-1", 1).out_of_sync == 0
    assert actions(db, outcome.operation_id) == [
        ("po-line", "PO-1", 1),
        ("promise", "SO-1", 1),
        ("promise", "SO-2", 1),
    ]
    assert {r.operation_id for r in promises_since(db, before)} == {outcome.operation_id}


def test_sync_date_on_lines_already_in_sync_changes_nothing(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    before = promises(db)
    outcome = e.sync_date(db, actor, "PO-1", 1)

    assert outcome.changed is False
    assert promises(db) == before
    assert events(db, outcome.operation_id) == []


def test_sync_date_only_resyncs_the_lines_that_differ(
    allocated: e.Database, actor: e.Actor, load: Load
) -> None:
    db = allocated
    e.set_arrival(db, actor, "PO-1", 1, JAN20)
    load(so("SO-4", 4, (1, "A", 1)))  # allocated after the move: promised Jan 20
    assert [(a.order, a.in_sync) for a in e.review(db, "PO-1", 1).allocations] == [
        ("SO-1", False),
        ("SO-2", False),
        ("SO-4", True),
    ]
    outcome = e.sync_date(db, actor, "PO-1", 1)

    assert [c.order for c in outcome.promises] == ["SO-1", "SO-2"]
    assert e.po_line(db, "PO-1", 1).out_of_sync == 0


def test_moving_an_arrival_date_twice_and_syncing_records_each_promise_change(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    e.set_arrival(db, actor, "PO-1", 2, JAN20, sync=True)
    e.set_arrival(db, actor, "PO-1", 2, FEB01)
    e.sync_date(db, actor, "PO-1", 2)

    # The first promises of the import come first, then SO-3's two synced changes.
    assert [(r.order, r.old, r.new, r.reason) for r in promises(db)] == [
        ("SO-1", None, JAN10, "fifo"),
        ("SO-2", None, JAN10, "fifo"),
        ("SO-3", None, FEB01, "fifo"),
        ("SO-3", FEB01, JAN20, "sync"),
        ("SO-3", JAN20, FEB01, "sync"),
    ]


def test_setting_the_same_arrival_date_changes_nothing(
    allocated: e.Database, actor: e.Actor
) -> None:
    outcome = e.set_arrival(allocated, actor, "PO-1", 1, JAN10, sync=True)

    assert outcome.changed is False
    assert events(allocated, outcome.operation_id) == []


def test_sync_date_and_set_arrival_name_an_unknown_po_line(
    allocated: e.Database, actor: e.Actor
) -> None:
    with pytest.raises(e.NotFound, match=r"^PO PO-1 has no line 3$"):
        e.sync_date(allocated, actor, "PO-1", 3)
    with pytest.raises(e.NotFound, match=r"^unknown PO PO-7$"):
        e.set_arrival(allocated, actor, "PO-7", 1, JAN20)


def test_an_arrival_date_in_the_past_is_refused_unless_allowed(
    allocated: e.Database, actor: e.Actor
) -> None:
    db = allocated
    db.clock = lambda: datetime(2027, 1, 15, 23, 30, tzinfo=UTC)  # today is Jan 15 (UTC)
    before = dump(db)
    for dry_run in (False, True):
        with pytest.raises(e.Refused, match=r"^arrival date 2027-01-14 is in the past$"):
            e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 14), dry_run=dry_run)
    assert dump(db) == before
    assert e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 15)).po_changes  # today will do
    late = e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 12), allow_past=True)
    assert late.po_changes == [
        e.FieldChange("PO-1", 1, "arrival_date", date(2027, 1, 15), date(2027, 1, 12))
    ]
    check_invariants(db)
