"""Rule 9: receipts cover a PO line's allocations in FIFO order; covered lines are ready (not
moved by rebalance or cuts, removed only by force); a final short receipt releases the latest
placed; an over-receipt places the queue; fulfilment closes ready lines. On both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

import engine as e
from tests.fixtures.events import lines_of, outbox
from tests.helpers import allocation_map, dump, po, so
from tests.history import queue
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
D1, D2 = "2027-01-10", "2027-03-01"


def states(db: e.Database, *orders: str) -> list[str]:
    return [ln.state for ln in e.order_lines(db, orders)]


@pytest.fixture
def held(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (A, 10 units) holds SO-1 (3), SO-2 (4), SO-3 (2) in that FIFO order; SO-4 (5)
    waits in the queue."""
    load(
        po("PO-1", (1, "A", 10, D1)),
        so("SO-1", 1, (1, "A", 3)),
        so("SO-2", 2, (1, "A", 4)),
        so("SO-3", 3, (1, "A", 2)),
        so("SO-4", 4, (1, "A", 5)),
    )
    assert queue(db) == [("SO-4", 1)]
    return db


def test_a_receipt_covers_allocations_in_fifo_order_whole_lines_only(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    outcome = e.receive(db, actor, "PO-1", 1, 5)
    check_invariants(db)

    # 5 units: SO-1 (3) is covered; SO-2 (4) is not, and FIFO stops there (SO-3 waits too).
    assert outcome.ready == [R("SO-1", 1)] and outcome.ready_count == 1
    assert states(db, "SO-1", "SO-2", "SO-3") == ["ready", "allocated", "allocated"]
    head = outcome.po_line("PO-1", 1)
    assert head is not None and (head.received, head.status, head.atp) == (5, "open", 1)

    e.receive(db, actor, "PO-1", 1, 2)  # 7 received: SO-2 now fits
    assert states(db, "SO-1", "SO-2", "SO-3") == ["ready", "ready", "allocated"]
    assert [r.order for r in e.ready(db)] == ["SO-1", "SO-2"]
    assert [r.order for r in e.ready(db, sku="B")] == []
    check_invariants(db)


def test_receiving_the_whole_quantity_closes_the_line_with_atp_zero(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    outcome = e.receive(db, actor, "PO-1", 1, 10)
    check_invariants(db)
    head = outcome.po_line("PO-1", 1)
    assert head is not None
    # 9 allocated, 1 unit unpromised: but a closed line promises nothing more (rule 11).
    assert (head.received, head.status, head.allocated, head.atp) == (10, "received", 9, 0)
    assert states(db, "SO-1", "SO-2", "SO-3") == ["ready"] * 3
    assert e.purchase_order(db, "PO-1").status == "received"
    with pytest.raises(e.Refused, match="is received"):
        e.receive(db, actor, "PO-1", 1, 1)


def test_a_final_short_receipt_releases_the_latest_placed_to_the_queue(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    outcome = e.receive(db, actor, "PO-1", 1, 6, final=True)
    check_invariants(db)

    # 6 units hold SO-1 (3); SO-3 (2, latest placed) goes first, then SO-2 (4): rule 6's order.
    assert [(p.order, p.promised_date) for p in outcome.released] == [
        ("SO-3", date(2027, 1, 10)),
        ("SO-2", date(2027, 1, 10)),
    ]
    assert outcome.parked == []
    assert states(db, "SO-1", "SO-2", "SO-3") == ["ready", "queued", "queued"]
    head = outcome.po_line("PO-1", 1)
    assert head is not None and (head.status, head.atp, head.received) == ("received", 0, 6)
    # Nothing more goes to a closed line: the sweep leaves the queue where it is.
    e.auto_allocate(db, actor)
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1)}
    promised = [
        ev for ev in outbox(db) if ev["type"] == "order.promise_changed" and ev["data"]["order"] in
        ("SO-2", "SO-3") and lines_of(ev)[0][3] is None
    ]  # fmt: skip
    assert sorted(ev["data"]["order"] for ev in promised) == ["SO-2", "SO-3"]


def test_a_final_receipt_of_nothing_closes_the_line_and_releases_every_waiting_line(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 3)
    e.receive(db, actor, "PO-1", 1, 0, final=True)
    check_invariants(db)
    assert states(db, "SO-1", "SO-2", "SO-3") == ["ready", "queued", "queued"]


def test_an_over_receipt_adds_supply_and_places_the_queue_ready_at_once(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    outcome = e.receive(db, actor, "PO-1", 1, 14)
    check_invariants(db)

    # 14 received of 10 ordered: the quantity grows to 14, rule 1 places SO-4 (5) on the 5 free
    # units, and every line is ready.
    assert [p.order for p in outcome.allocated] == ["SO-4"]
    assert states(db, "SO-1", "SO-2", "SO-3", "SO-4") == ["ready"] * 4
    head = outcome.po_line("PO-1", 1)
    assert head is not None
    assert (head.quantity, head.received, head.allocated, head.status) == (14, 14, 14, "received")


def test_order_ready_events_one_per_order_in_the_design_shape(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2), (2, "A", 1)))
    before = len(outbox(db))
    outcome = e.receive(db, actor, "PO-1", 1, 3)
    [event] = outbox(db)[before:]
    assert outcome.notified == 1
    assert event["type"] == "order.ready"
    assert event["data"]["order"] == "SO-1"
    assert lines_of(event) == [
        (1, "ready", "2027-01-10", "2027-01-10"),
        (2, "ready", "2027-01-10", "2027-01-10"),
    ]
    assert event["data"]["lines"][0]["po"] == "PO-1"


def test_a_receipt_is_idempotent_on_its_key_and_refuses_bad_input(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    first = e.receive(db, actor, "PO-1", 1, 3, key="receipt:R-1")
    again = e.receive(db, actor, "PO-1", 1, 3, key="receipt:R-1")
    assert again.replayed and again.operation_id == first.operation_id
    assert e.po_line(db, "PO-1", 1).received == 3
    before = dump(db)
    with pytest.raises(e.InvalidInput):
        e.receive(db, actor, "PO-1", 1, -1)
    with pytest.raises(e.Refused, match="0 units"):
        e.receive(db, actor, "PO-1", 1, 0)
    with pytest.raises(e.Refused, match="future"):
        e.receive(db, actor, "PO-1", 1, 1, received_on=date.today() + timedelta(days=2))
    with pytest.raises(e.NotFound):
        e.receive(db, actor, "PO-9", 1, 1)
    dry = e.receive(db, actor, "PO-1", 1, 4, dry_run=True)
    assert dry.ready == [R("SO-2", 1)]
    assert dump(db) == before


def test_ready_lines_are_not_moved_by_rebalance(db: e.Database, actor: e.Actor, load: Load) -> None:
    load(po("PO-2", (1, "A", 5, D2)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)))
    e.receive(db, actor, "PO-2", 1, 2)  # SO-1 is ready on PO-2
    load(po("PO-1", (1, "A", 10, D1)), rebalance=True)
    check_invariants(db)
    # The earlier PO takes SO-2 (not ready); SO-1 stays where its stock is.
    assert allocation_map(db) == {("SO-1", 1): ("PO-2", 1), ("SO-2", 1): ("PO-1", 1)}
    with pytest.raises(e.Refused, match="ready"):
        e.move(db, actor, [R("SO-1", 1)], "PO-1", 1)


def test_a_quantity_cut_releases_only_lines_not_ready_and_refuses_below_the_ready(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 3)  # SO-1 (3) ready
    out = e.set_quantity(db, actor, "PO-1", 1, 4)
    check_invariants(db)
    # The cut to 4 releases SO-3 and SO-2 (latest placed, not ready); SO-1 stays.
    assert [p.order for p in out.released] == ["SO-3", "SO-2"]
    before = dump(db)
    with pytest.raises(e.Refused, match="3 units ready to ship"):
        e.set_quantity(db, actor, "PO-1", 1, 2)
    with pytest.raises(e.Refused, match="3 units ready to ship"):
        e.set_store_hold(db, actor, "PO-1", 1, 2)
    assert dump(db) == before


def test_remove_refuses_a_ready_line_unless_forced_and_audits_the_force(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 4)  # SO-1 (3) ready; 1 unit in waits for SO-2 (4)
    before = dump(db)
    with pytest.raises(e.Refused, match="SO-1:1 is ready"):
        e.remove(db, actor, "PO-1", 1, [R("SO-1", 1)])
    assert dump(db) == before
    out = e.remove(db, actor, "PO-1", 1, [R("SO-1", 1)], force=True)
    check_invariants(db)
    assert out.parked == [R("SO-1", 1)]
    # Its 3 received units now cover SO-2 (4 received in all).
    assert out.ready == [R("SO-2", 1)]
    assert states(db, "SO-1", "SO-2") == ["parked", "ready"]
    with db.read() as conn:
        from sqlalchemy import text

        reasons = conn.execute(
            text(
                "SELECT reason FROM audit_events WHERE action = 'release' AND order_number = 'SO-1'"
            )
        ).scalars()
        assert list(reasons) == ["removed, forced (ready)"]


def test_fulfil_closes_ready_lines_and_refuses_the_others_all_or_nothing(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 3)
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        e.fulfil(db, actor, [R("SO-1"), R("SO-2"), R("SO-4")])
    assert "SO-2:1 is not ready" in str(refused.value)
    assert "SO-4:1 is not allocated" in str(refused.value)
    assert dump(db) == before

    out = e.fulfil(db, actor, [R("SO-1")])
    check_invariants(db)
    assert out.fulfilled == [R("SO-1", 1)]
    assert states(db, "SO-1") == ["fulfilled"]
    assert [r.order for r in e.ready(db)] == []
    # Its units left from PO-1:1: they never count as ATP again.
    assert e.po_line(db, "PO-1", 1).allocated == 9
    with pytest.raises(e.Refused, match="is fulfilled"):
        e.fulfil(db, actor, [R("SO-1")])
    with pytest.raises(e.Refused, match="is fulfilled"):
        e.remove(db, actor, "PO-1", 1, [R("SO-1", 1)], force=True)
    with pytest.raises(e.Refused):
        e.cancel_order(db, actor, [R("SO-1", 1)])


def test_a_line_placed_where_stock_is_already_in_is_ready_at_once(
    held: e.Database, actor: e.Actor, load: Load
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 9)  # all three ready, nothing left over
    e.cancel_order(db, actor, [R("SO-3")])  # 2 units in and free; SO-4 (5) does not fit
    load(so("SO-5", 9, (1, "A", 2)))
    check_invariants(db)
    assert states(db, "SO-4", "SO-5") == ["queued", "ready"]
    e.cancel_order(db, actor, [R("SO-2")])  # 4 in and free, 5 ATP: SO-4 fits, 1 unit short
    assert states(db, "SO-4") == ["allocated"]
    e.receive(db, actor, "PO-1", 1, 1)
    assert states(db, "SO-4") == ["ready"]
    assert e.po_line(db, "PO-1", 1).status == "received"
    check_invariants(db)


def received_po(number: str, line: int, sku: str, qty: int, when: str, received: int) -> e.PORecord:
    return e.PORecord(
        po=number,
        supplier="Acme",
        lines=[
            e.POLineRecord(
                line=line,
                sku=sku,
                quantity=qty,
                arrival_date=date.fromisoformat(when),
                received_quantity=received,
            )
        ],
    )


def test_an_import_records_the_received_total_as_a_receipt_once(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    out = e.apply_records(db, actor, [received_po("PO-1", 1, "A", 10, D1, 7)], [])
    check_invariants(db)
    assert out.ready_count == 2  # SO-1 (3) and SO-2 (4)
    before = dump(db)
    again = e.apply_records(db, actor, [received_po("PO-1", 1, "A", 10, D1, 7)], [])
    assert again.unchanged == {"purchase_orders": 1, "sales_orders": 0}
    assert dump(db)["po_lines"] == before["po_lines"]
    assert dump(db)["so_lines"] == before["so_lines"]
    assert e.po_line(db, "PO-1", 1).received == 7
    with pytest.raises(e.Refused, match="cannot lower it to 5"):
        e.apply_records(db, actor, [received_po("PO-1", 1, "A", 10, D1, 5)], [])
    # The whole quantity: the line closes; the file's quantity again is no change after that.
    e.apply_records(db, actor, [received_po("PO-1", 1, "A", 10, D1, 12)], [])
    head = e.po_line(db, "PO-1", 1)
    assert (head.status, head.quantity, head.received) == ("received", 12, 12)
    e.apply_records(db, actor, [received_po("PO-1", 1, "A", 10, D1, 12)], [])
    with pytest.raises(e.Refused, match="is received: it cannot change"):
        e.apply_records(db, actor, [received_po("PO-1", 1, "A", 10, "2027-02-01", 12)], [])
    check_invariants(db)


def test_a_new_po_line_given_with_stock_in_places_the_queue_ready(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)))
    out = e.apply_records(db, actor, [received_po("PO-1", 1, "A", 4, D1, 3)], [])
    check_invariants(db)
    # The sweep at the end of the import places both; 3 units in cover SO-1 only.
    assert [p.order for p in out.allocated] == ["SO-1", "SO-2"]
    assert states(db, "SO-1", "SO-2") == ["ready", "allocated"]


def test_an_order_import_with_status_fulfilled_closes_ready_lines(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 3)
    shipped = e.SORecord(
        order="SO-1",
        customer="customer of SO-1",
        placed_at=so("SO-1", 1, (1, "A", 3)).placed_at,
        lines=[e.SOLineRecord(line=1, sku="A", quantity=3, status="fulfilled")],
    )
    out = e.apply_records(db, actor, [], [shipped])
    assert out.fulfilled == [R("SO-1", 1)]
    assert states(db, "SO-1") == ["fulfilled"]
    again = e.apply_records(db, actor, [], [shipped])  # the same file again: no change
    assert again.fulfilled == []
    not_ready = e.SORecord(
        order="SO-2",
        customer="customer of SO-2",
        placed_at=so("SO-2", 2, (1, "A", 4)).placed_at,
        lines=[e.SOLineRecord(line=1, sku="A", quantity=4, status="fulfilled")],
    )
    before = dump(db)
    with pytest.raises(e.Refused, match="SO-2:1 is not ready"):
        e.apply_records(db, actor, [], [not_ready])
    assert dump(db) == before
    with pytest.raises(ValueError, match="status 'shipped' is not one of open, fulfilled"):
        e.SOLineRecord.model_validate({"line": 1, "sku": "A", "quantity": 1, "status": "shipped"})
    check_invariants(db)


def test_a_receipt_covering_many_lines_writes_each_ones_events_in_fifo_order(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    """Past 500 lines the ready marks and their audit events are written set-based."""
    load(po("PO-1", (1, "A", 700, D1)), *[so(f"SO-{i:04d}", i, (1, "A", 1)) for i in range(650)])
    before = len(outbox(db))
    out = e.receive(db, actor, "PO-1", 1, 640)
    check_invariants(db)
    assert out.ready_count == 640 and len(out.ready) == 640
    assert len(e.ready(db)) == 640
    assert len(outbox(db)) - before == 640 == out.notified
    with db.read() as conn:
        from sqlalchemy import text

        rows = conn.execute(
            text(
                "SELECT order_number, before, after, reason, po_number, po_line FROM audit_events "
                "WHERE action = 'ready' ORDER BY id"
            )
        ).all()
    assert [r[0] for r in rows] == [f"SO-{i:04d}" for i in range(640)]
    first = rows[0]
    assert (first[3], first[4], first[5]) == ("received", "PO-1", 1)
    assert first[1] in ({"ready": False}, '{"ready": false}')


def test_a_ready_line_cancelled_leaves_its_stock_to_the_next_lines(
    held: e.Database, actor: e.Actor
) -> None:
    db = held
    e.receive(db, actor, "PO-1", 1, 4)  # SO-1 (3) ready, 1 unit in over
    assert states(db, "SO-2") == ["allocated"]
    out = e.cancel_order(db, actor, [R("SO-1")])
    check_invariants(db)
    # 4 units in, none held: SO-2 (4) is covered now.
    assert out.ready == [R("SO-2", 1)]
    assert states(db, "SO-1", "SO-2", "SO-3") == ["cancelled", "ready", "allocated"]


def test_a_received_po_given_a_new_line_is_open_again(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 2, D1)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 3)))
    e.receive(db, actor, "PO-1", 1, 2)
    assert e.purchase_order(db, "PO-1").status == "received"
    load(po("PO-1", (2, "A", 5, D2)))
    assert e.purchase_order(db, "PO-1").status == "open"
    assert allocation_map(db)[("SO-2", 1)] == ("PO-1", 2)
    check_invariants(db)


def test_a_batched_sweep_placing_lines_on_stock_writes_ready_events_of_its_own_per_batch(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    """Each batch of a sweep is a transaction of its own under the sweep's one operation id:
    the order.ready events of each carry the batch's number, so none collide."""
    load(
        *[po(f"PO-{s}", (1, s, 10, D1)) for s in "ABC"],
        *[so(f"SO-{s}{i}", i, (1, s, 1)) for s in "ABC" for i in range(3)],
    )
    for s in "ABC":
        e.set_store_hold(db, actor, f"PO-{s}", 1, 10)  # every line back to the queue
        e.receive(db, actor, f"PO-{s}", 1, 4)  # stock in, nothing allocated to cover
    # The holds given up where no operation sweeps (as a person's edit made elsewhere would).
    with db.write() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE po_lines SET store_hold = 0"))
    before = len(outbox(db))
    done = list(e.sweep_batches(db, actor, batch_lines=1))
    assert len(done) == 3 and done[-1].allocated_count == 9
    check_invariants(db)
    assert len(e.ready(db)) == 9
    ready = [ev for ev in outbox(db)[before:] if ev["type"] == "order.ready"]
    assert len(ready) == 9 and len({ev["id"] for ev in ready}) == 9
