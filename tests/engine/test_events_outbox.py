"""The outbox (DESIGN.md section 5): every change to what a customer was promised writes one
event per order per operation, in the operation's own transaction, listing each changed line
with its date before and after. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

import engine as e
from tests.fixtures.events import lines_of, outbox
from tests.helpers import T0, allocation_map, po, so
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
D1, D2, D3 = "2027-01-10", "2027-02-10", "2027-03-01"
ID = re.compile(r"^evt_[0-9a-f]{24}_[0-9]+$")
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def new_events(db: e.Database, before: int) -> list[dict[str, Any]]:
    return outbox(db)[before:]


def test_an_allocation_writes_one_event_per_order_in_the_design_shape(
    db: e.Database, load: Load
) -> None:
    placed = load(
        po("PO-1", (1, "MUG", 10, D1)),
        e.SORecord(
            order="SO-77",
            customer="Ada",
            email="ada@example.com",
            placed_at=T0,
            lines=[
                e.SOLineRecord(line=2, sku="MUG", quantity=2),
                e.SOLineRecord(line=1, sku="MUG", quantity=1),
            ],
        ),
        so("SO-78", 5, (1, "MUG", 50)),  # fits nowhere: no promise, no event
    )
    assert placed.notified == 1
    [event] = outbox(db)
    assert set(event) == {"id", "type", "created_at", "data"}
    assert ID.match(str(event["id"])) and STAMP.match(str(event["created_at"]))
    assert event["type"] == "order.promise_changed"
    assert event["data"] == {
        "order": "SO-77",
        "customer": "Ada",
        "email": "ada@example.com",
        "lines": [
            {"line": 1, "sku": "MUG", "quantity": 1, "state": "allocated", "po": "PO-1",
             "po_line": 1, "previous_promised_date": None, "promised_date": D1},
            {"line": 2, "sku": "MUG", "quantity": 2, "state": "allocated", "po": "PO-1",
             "po_line": 1, "previous_promised_date": None, "promised_date": D1},
        ],
    }  # fmt: skip


def test_a_sync_writes_the_old_and_new_date_of_each_line_and_a_date_move_alone_none(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 10, D1)),
        so("SO-1", 1, (1, "A", 2), (2, "A", 1)),
        so("SO-2", 2, (1, "A", 3)),
    )
    before = len(outbox(db))
    moved = e.set_arrival(db, e.Actor("t", e.Source.CLI), "PO-1", 1, date(2027, 3, 1))
    assert moved.notified == 0 and new_events(db, before) == []  # out of sync, not changed
    synced = e.sync_date(db, e.Actor("t", e.Source.CLI), "PO-1", 1)
    assert synced.notified == 2
    got = {ev["data"]["order"]: lines_of(ev) for ev in new_events(db, before)}
    assert got == {
        "SO-1": [(1, "allocated", D1, D3), (2, "allocated", D1, D3)],
        "SO-2": [(1, "allocated", D1, D3)],
    }


def test_set_arrival_with_sync_writes_events_in_that_operation(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    before = len(outbox(db))
    e.set_arrival(db, e.Actor("t", e.Source.CLI), "PO-1", 1, date(2027, 2, 10), sync=True)
    [event] = new_events(db, before)
    assert lines_of(event) == [(1, "allocated", D1, D2)]


def test_a_removal_parks_the_line_and_clears_its_date(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    before = len(outbox(db))
    e.remove(db, e.Actor("t", e.Source.CLI), "PO-1", 1, [e.LineRef("SO-1", 1)])
    [event] = new_events(db, before)
    assert event["type"] == "order.promise_changed"
    assert lines_of(event) == [(1, "parked", D1, None)]
    assert event["data"]["lines"][0]["po"] is None


def test_a_cancelled_po_sends_its_orders_back_to_the_queue(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)))
    before = len(outbox(db))
    outcome = e.cancel_po(db, e.Actor("t", e.Source.CLI), "PO-1")
    assert outcome.notified == 2
    assert [lines_of(ev) for ev in new_events(db, before)] == [
        [(1, "queued", D1, None)],
        [(1, "queued", D1, None)],
    ]


def test_a_quantity_cut_tells_only_the_latest_placed_orders_it_released(
    db: e.Database, load: Load
) -> None:
    load(po("PO-1", (1, "A", 4, D1)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)))
    before = len(outbox(db))
    e.set_quantity(db, e.Actor("t", e.Source.CLI), "PO-1", 1, 2)
    [event] = new_events(db, before)
    assert event["data"]["order"] == "SO-2"
    assert lines_of(event) == [(1, "queued", D1, None)]


def test_new_supply_gives_queued_lines_their_first_date(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 2, D1)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)))
    before = len(outbox(db))
    load(po("PO-2", (1, "A", 5, D2)))
    [event] = new_events(db, before)
    assert event["data"]["order"] == "SO-2"
    assert lines_of(event) == [(1, "allocated", None, D2)]
    assert event["data"]["lines"][0]["po"] == "PO-2"


def test_a_manual_allocation_and_an_unpark_each_write_the_new_date(
    db: e.Database, load: Load
) -> None:
    actor = e.Actor("t", e.Source.CLI)
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)))
    e.remove(db, actor, "PO-1", 1, [e.LineRef("SO-1", 1), e.LineRef("SO-2", 1)])
    before = len(outbox(db))
    e.allocate(db, actor, "PO-1", 1, [e.LineRef("SO-1", 1)])
    e.unpark(db, actor, [e.LineRef("SO-2", 1)])
    assert [(ev["data"]["order"], lines_of(ev)) for ev in new_events(db, before)] == [
        ("SO-1", [(1, "allocated", None, D1)]),
        ("SO-2", [(1, "allocated", None, D1)]),
    ]


def test_a_customer_cancellation_is_an_order_cancelled_event_allocated_or_queued(
    db: e.Database, load: Load
) -> None:
    actor = e.Actor("t", e.Source.CLI)
    load(
        po("PO-1", (1, "A", 2, D1)),
        so("SO-1", 1, (1, "A", 2), (2, "B", 1)),
        so("SO-2", 2, (1, "A", 2)),
    )
    before = len(outbox(db))
    outcome = e.cancel_order(db, actor, [e.LineRef("SO-1")])
    # SO-1's allocated line 1 and queued line 2 are cancelled; the freed units go to SO-2.
    events = {ev["data"]["order"]: ev for ev in new_events(db, before)}
    assert outcome.notified == 2
    assert events["SO-1"]["type"] == "order.cancelled"
    assert lines_of(events["SO-1"]) == [(1, "cancelled", D1, None), (2, "cancelled", None, None)]
    assert events["SO-2"]["type"] == "order.promise_changed"
    assert lines_of(events["SO-2"]) == [(1, "allocated", None, D1)]


def test_a_rebalance_moves_orders_without_changing_promises_so_writes_nothing(
    db: e.Database, load: Load
) -> None:
    load(po("PO-2", (1, "A", 4, D2)), so("SO-1", 1, (1, "A", 2)))
    load(po("PO-1", (1, "A", 4, D1)))
    before = len(outbox(db))
    moved = e.rebalance(db, e.Actor("t", e.Source.CLI))
    assert len(moved.moved) == 1
    assert new_events(db, before) == []


def test_a_line_released_and_placed_again_on_the_same_date_in_one_operation_is_no_news(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 4, D1), (2, "A", 0, D1)),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 2)),
    )
    before = len(outbox(db))
    # One import cuts line 1 (SO-2, the latest placed, is released) and gives line 2, which
    # arrives the same day, room: the sweep at its end places SO-2 there, on the same date.
    load(po("PO-1", (1, "A", 2, D1), (2, "A", 2, D1)))
    assert allocation_map(db)[("SO-2", 1)] == ("PO-1", 2)
    assert new_events(db, before) == []


def test_an_operation_refused_or_dry_run_leaves_no_event(db: e.Database, load: Load) -> None:
    actor = e.Actor("t", e.Source.CLI)
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    before = len(outbox(db))
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 3, 1))
    preview = e.sync_date(db, actor, "PO-1", 1, dry_run=True)
    assert preview.notified == 1  # what a confirmation tells: one customer
    with pytest.raises(e.Refused):
        e.allocate(db, actor, "PO-1", 1, [e.LineRef("SO-1", 1)])
    assert new_events(db, before) == []
    check_invariants(db)


def test_with_events_off_nothing_is_written(db: e.Database, load: Load) -> None:
    db.events = False
    outcome = load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    assert outcome.notified == 0 and outbox(db) == []


def test_event_ids_are_unique_and_in_order_within_an_operation(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 100, D1)), *[so(f"SO-{i:02d}", i, (1, "A", 1)) for i in range(12)])
    events = outbox(db)
    assert len({ev["id"] for ev in events}) == 12
    assert [ev["data"]["order"] for ev in events] == [f"SO-{i:02d}" for i in range(12)]
    numbers = [int(str(ev["id"]).rsplit("_", 1)[1]) for ev in events]
    assert numbers == list(range(1, 13))
