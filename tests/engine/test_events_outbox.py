"""The outbox (DESIGN.md section 5): every change to what a customer was promised writes one
event per order per operation, in the operation's own transaction, listing each changed line
with its date before and after. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

import engine as e
from engine.models import outbox_events, po_lines, promise_changes, sales_orders, so_lines
from engine.outbox import Event
from engine.outbox import write as outbox_write
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


# --- an order intake's events, written from what it placed ------------------------------------


def history_events(db: e.Database, operation_id: str) -> list[tuple[str, str, Any]]:
    """The events of ``operation_id`` as the outbox statement reads them back from the promise
    history (written here under ids of their own, then compared and rolled back)."""
    with db.engine.connect() as conn:
        mark = conn.execute(
            select(func.min(promise_changes.c.id) - 1).where(
                promise_changes.c.operation_id == operation_id
            )
        ).scalar_one()
        before = conn.execute(select(func.max(outbox_events.c.id))).scalar_one()
        written = outbox_write(
            conn,
            postgres=db.is_postgres,
            mark=mark,
            operation_id=operation_id,
            at=datetime.now(UTC),
            part=99,
        )
        rows = conn.execute(
            select(outbox_events.c.event_id, outbox_events.c.type, outbox_events.c.data)
            .where(outbox_events.c.id > before)
            .order_by(outbox_events.c.id)
        ).all()
        conn.rollback()
    assert written == len(rows)
    # Lines in line order, as events leave the system (SQLite aggregates them as they come).
    return [
        (str(i).rsplit("_", 1)[1], t, Event(i, t, datetime.now(UTC), d).to_dict()["data"])
        for i, t, d in rows
    ]


def test_an_intake_of_new_orders_writes_the_events_its_promise_history_gives(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        po("PO-1", (1, "A", 4, D1), (2, "B", 3, D2)),
        po("PO-2", (1, "A", 20, D3)),
        so("SO-0", 0, (1, "A", 4)),  # PO-1:1 is full: A's new lines go to PO-2
    )
    orders = [
        e.SORecord(
            order=number,
            customer=customer,
            email=email,
            placed_at=T0,
            lines=[e.SOLineRecord(line=ln, sku=sku, quantity=q) for ln, sku, q in lines],
        )
        for number, customer, email, lines in (
            ("SO-Z", "Zoë", "zoe@example.com", [(2, "A", 1), (1, "B", 2)]),
            ("so-1", None, None, [(1, "A", 3)]),  # after SO-Z in code point order
            ("SO-B", "Bo", None, [(1, "C", 1)]),  # no supply: queued, no event
            ("SO-A", "Al", "al@example.com", [(3, "B", 1), (1, "C", 5), (2, "A", 2)]),
        )
    ]
    before = len(outbox(db))
    outcome, _ = e.apply_orders(db, actor, orders)
    check_invariants(db)
    assert outcome.notified == 3
    events = new_events(db, before)
    got = [(str(ev["id"]).rsplit("_", 1)[1], ev["type"], ev["data"]) for ev in events]
    assert got == history_events(db, outcome.operation_id)
    assert [ev["data"]["order"] for ev in events] == ["SO-A", "SO-Z", "so-1"]
    assert events[1]["data"]["customer"] == "Zoë" and events[2]["data"]["customer"] == ""
    assert lines_of(events[0]) == [(2, "allocated", None, D3), (3, "allocated", None, D2)]
    # Written from what the intake placed (JSON as Python writes it), not read back.
    with db.read() as conn:
        stored = conn.execute(select(outbox_events.c.data).where(outbox_events.c.id > before))
        assert all(d == json.dumps(json.loads(d), ensure_ascii=False) for (d,) in stored)


def test_an_intake_on_stock_already_in_tells_its_lines_ready_as_the_history_does(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(po("PO-1", (1, "A", 10, D1)))
    e.receive(db, actor, "PO-1", 1, 5)  # part of it in: the line stays open
    before = len(outbox(db))
    outcome, _ = e.apply_orders(db, actor, [so("SO-1", 1, (1, "A", 2))])
    check_invariants(db)
    events = new_events(db, before)
    assert sorted(ev["type"] for ev in events) == ["order.promise_changed", "order.ready"]
    promised = next(ev for ev in events if ev["type"] == "order.promise_changed")
    assert lines_of(promised) == [(1, "ready", None, D1)]
    assert [(t, d) for _, t, d in history_events(db, outcome.operation_id)] == [
        ("order.promise_changed", promised["data"])
    ]


def test_an_intake_whose_sweep_places_an_older_queued_line_tells_that_order_too(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(po("PO-1", (1, "A", 2, D1)), so("SO-1", 1, (1, "A", 5)))  # too big: queued
    # A PO line changed outside any sweep (as a sheet edit stores it, swept later).
    with db.engine.begin() as conn:
        conn.execute(po_lines.update().values(quantity=10))
    before = len(outbox(db))
    outcome, _ = e.apply_orders(db, actor, [so("SO-2", 2, (1, "A", 1))])
    check_invariants(db)
    events = new_events(db, before)
    assert [ev["data"]["order"] for ev in events] == ["SO-1", "SO-2"]
    got = [(str(ev["id"]).rsplit("_", 1)[1], ev["type"], ev["data"]) for ev in events]
    assert got == history_events(db, outcome.operation_id)


def test_a_sweep_tells_the_lines_it_placed_as_the_promise_history_does(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        po("PO-1", (1, "A", 2, D1), (2, "B", 1, D2), (3, "C", 1, D1)),
        po("PO-2", (1, "C", 1, D3)),
        so("SO-1", 1, (1, "A", 4), (2, "B", 2)),
        so("SO-2", 2, (1, "A", 3), (2, "C", 2)),
        so("SO-3", 3, (1, "B", 9)),  # fits nowhere: queued, not told
    )
    e.receive(db, actor, "PO-1", 1, 1)  # A's stock is coming in: lines placed there are ready
    # More units ordered and received, stored without a sweep (as a sheet edit leaves them for
    # the next one); SO-2's line of C may take units of both of C's PO lines (rule 10).
    with db.engine.begin() as conn:
        conn.execute(po_lines.update().where(po_lines.c.sku != "C").values(quantity=8))
        conn.execute(po_lines.update().where(po_lines.c.sku == "A").values(received=5))
        conn.execute(
            sales_orders.update()
            .where(sales_orders.c.order_number == "SO-2")
            .values(allow_split=True)
        )
        conn.execute(
            so_lines.update().where(so_lines.c.order_number == "SO-2").values(allow_split=True)
        )
    before = len(outbox(db))
    outcome = e.auto_allocate(db, actor)
    check_invariants(db)
    assert outcome.allocated_count == 4
    events = new_events(db, before)
    got = [
        (str(ev["id"]).rsplit("_", 1)[1], ev["type"], ev["data"])
        for ev in events
        if ev["type"] != "order.ready"
    ]
    assert got == history_events(db, outcome.operation_id)
    states = {ev["data"]["order"]: lines_of(ev) for ev in events if ev["type"] != "order.ready"}
    assert states == {
        "SO-1": [(1, "ready", None, D1), (2, "allocated", None, D2)],
        "SO-2": [(1, "allocated", None, D1), (2, "allocated", None, D3)],
    }
