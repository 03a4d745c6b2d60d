"""Rule 10: split lines. A line no single PO line can hold takes ATP from several PO lines of
its SKU in arrival order, when PREORDER_SPLIT_LINES is on or its order allows it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

import engine as e
from engine import fifo
from engine.importer import parse_files, staged_files
from engine.ledger import Demand, Supply
from engine.models import po_lines, so_lines
from tests.cli.helpers import write
from tests.helpers import allocation_map, po, so
from tests.history import queue
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
JAN, FEB, MAR = "2027-01-10", "2027-02-01", "2027-03-01"


def parts(db: e.Database) -> dict[tuple[str, int], list[tuple[str, int, int]]]:
    """``{(order, line): [(po, po_line, units), ...]}`` of every split line, earliest first."""
    with db.read() as conn:
        rows = conn.execute(
            text(
                "SELECT s.order_number, s.line, p.po_number, p.line, t.quantity "
                "FROM allocation_parts t JOIN so_lines s ON s.id = t.so_line_id "
                "JOIN po_lines p ON p.id = t.po_line_id "
                "ORDER BY s.order_number, s.line, p.arrival_date, p.po_number, p.line"
            )
        ).all()
    found: dict[tuple[str, int], list[tuple[str, int, int]]] = {}
    for o, ln, p, pl, q in rows:
        found.setdefault((o, ln), []).append((p, pl, q))
    return found


def line_row(db: e.Database, order: str, line: int = 1) -> tuple[bool, str | None, date | None]:
    """(split, anchor PO, promised date) of an SO line."""
    with db.read() as conn:
        r = conn.execute(
            select(so_lines.c.split, po_lines.c.po_number, so_lines.c.promised_date)
            .select_from(so_lines.outerjoin(po_lines, po_lines.c.id == so_lines.c.po_line_id))
            .where(so_lines.c.order_number == order, so_lines.c.line == line)
        ).one()
    return bool(r[0]), r[1], r[2]


def splittable(number: str, placed: int, *lines: tuple[int, str, int]) -> e.SORecord:
    return so(number, placed, *lines).model_copy(update={"allow_split": True})


def two_lines(load: Load) -> None:
    load(po("PO-1", (1, "A", 10, JAN)), po("PO-2", (1, "A", 8, FEB)))


# --- the planner ------------------------------------------------------------------------------


def _supply(*atps: int) -> list[Supply]:
    return [
        Supply(i, f"PO-{i}", 1, "A", date(2027, 1, i), atp, 0, 0) for i, atp in enumerate(atps, 1)
    ]


def _demand(i: int, quantity: int) -> Demand:
    return Demand(i, f"SO-{i}", 1, "A", quantity)


def test_plan_split_takes_the_earliest_lines_first_and_a_whole_fit_wins() -> None:
    supply = _supply(10, 8, 20)
    queue_ = [_demand(1, 25), _demand(2, 15), _demand(3, 3)]
    pairs, splits = fifo.plan_split(supply, queue_, lambda d: True)
    # SO-1 fits no line: 10 + 8 + 7; SO-2 then fits nothing whole (13 left on PO-3) nor in
    # parts; SO-3 fits PO-3 whole.
    assert [(d.order, [(s.po, n) for s, n in p]) for d, p in splits] == [
        ("SO-1", [("PO-1", 10), ("PO-2", 8), ("PO-3", 7)])
    ]
    assert [(d.order, s.po) for d, s in pairs] == [("SO-3", "PO-3")]
    # A whole fit wins over a split.
    pairs, splits = fifo.plan_split(_supply(5, 20), [_demand(1, 15)], lambda d: True)
    assert [(d.order, s.po) for d, s in pairs] == [("SO-1", "PO-2")] and not splits


def test_plan_split_never_places_part_of_a_line_and_asks_may_split() -> None:
    pairs, splits = fifo.plan_split(_supply(10, 8), [_demand(1, 19), _demand(2, 4)], lambda d: True)
    assert not splits and [(d.order, s.po) for d, s in pairs] == [("SO-2", "PO-1")]
    pairs, splits = fifo.plan_split(_supply(10, 8), [_demand(1, 15)], lambda d: d.id != 1)
    assert not pairs and not splits
    # plan_split without splitting is plan.
    queue_ = [_demand(1, 9), _demand(2, 15), _demand(3, 8), _demand(4, 1)]
    assert fifo.plan_split(_supply(10, 8), queue_, lambda d: False) == (
        fifo.plan(_supply(10, 8), queue_),
        [],
    )


# --- allocation -------------------------------------------------------------------------------


def test_a_line_no_po_line_holds_is_split_earliest_first_promised_the_latest_date(
    db: e.Database, load: Load
) -> None:
    db.split_lines = True
    two_lines(load)
    outcome = load(so("SO-1", 1, (1, "A", 15)))

    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert line_row(db, "SO-1") == (True, "PO-2", date(2027, 2, 1))
    assert allocation_map(db) == {}
    assert [(p.order, p.po, p.promised_date) for p in outcome.allocated] == [
        ("SO-1", "PO-2", date(2027, 2, 1))
    ]
    assert (outcome.allocated_count, outcome.allocated_units) == (1, 15)
    assert e.po_line(db, "PO-1", 1).atp == 0
    assert e.po_line(db, "PO-2", 1).atp == 3


def test_without_the_setting_or_the_orders_flag_the_line_stays_queued(
    db: e.Database, load: Load
) -> None:
    two_lines(load)
    load(so("SO-1", 1, (1, "A", 15)))
    assert parts(db) == {} and queue(db) == [("SO-1", 1)]


def test_an_order_that_allows_splitting_is_split_with_the_setting_off(
    db: e.Database, load: Load
) -> None:
    two_lines(load)
    load(splittable("SO-1", 1, (1, "A", 15)), so("SO-2", 2, (1, "A", 15)))
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert queue(db) == [("SO-2", 1)]


def test_an_earlier_splittable_line_is_served_before_later_whole_lines(
    db: e.Database, load: Load
) -> None:
    two_lines(load)
    load(
        splittable("SO-1", 1, (1, "A", 15)), so("SO-2", 2, (1, "A", 3)), so("SO-3", 3, (1, "A", 1))
    )
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert allocation_map(db) == {("SO-2", 1): ("PO-2", 1)}
    assert queue(db) == [("SO-3", 1)]


def test_a_split_line_waits_whole_until_the_supply_covers_it(db: e.Database, load: Load) -> None:
    db.split_lines = True
    two_lines(load)
    load(so("SO-1", 1, (1, "A", 20)), so("SO-2", 2, (1, "A", 4)))
    # 18 units cannot cover 20: nothing partial; the later line still fits.
    assert parts(db) == {} and queue(db) == [("SO-1", 1)]
    assert allocation_map(db) == {("SO-2", 1): ("PO-1", 1)}
    load(po("PO-3", (1, "A", 6, MAR)))
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 6), ("PO-2", 1, 8), ("PO-3", 1, 6)]}
    assert line_row(db, "SO-1") == (True, "PO-3", date(2027, 3, 1))


def test_a_whole_fit_wins_over_a_split(db: e.Database, load: Load) -> None:
    db.split_lines = True
    load(po("PO-1", (1, "A", 5, JAN)), po("PO-2", (1, "A", 20, FEB)), so("SO-1", 1, (1, "A", 15)))
    assert parts(db) == {} and allocation_map(db) == {("SO-1", 1): ("PO-2", 1)}


# --- operations on parts ----------------------------------------------------------------------

ACTOR = e.Actor("tester", e.Source.CLI)


def split_one(db: e.Database, load: Load) -> None:
    """SO-1 of 15 split 10 on PO-1 (January) and 5 on PO-2 (February); PO-2 has 3 ATP left."""
    two_lines(load)
    load(splittable("SO-1", 1, (1, "A", 15)))
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}


def test_review_shows_the_part_on_each_po_line(db: e.Database, load: Load) -> None:
    split_one(db, load)
    load(so("SO-2", 2, (1, "A", 2)))
    early, late = e.review(db, "PO-1", 1), e.review(db, "PO-2", 1)
    assert [
        (a.order, a.quantity, a.split, a.line_quantity, a.in_sync) for a in early.allocations
    ] == [("SO-1", 10, True, 15, True)]
    assert [(a.order, a.quantity, a.split) for a in late.allocations] == [
        ("SO-1", 5, True),
        ("SO-2", 2, False),
    ]
    shown = late.to_dict()["allocations"]
    assert shown[0]["split"] is True and shown[0]["line_quantity"] == 15
    assert "split" not in shown[1] and "line_quantity" not in shown[1]
    assert (early.head.allocated, early.head.orders, late.head.allocated, late.head.orders) == (
        10,
        1,
        7,
        2,
    )


def test_remove_from_either_po_line_releases_the_whole_line_and_parks_it(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    outcome = e.remove(db, ACTOR, "PO-1", 1, [e.LineRef("SO-1", 1)])
    check_invariants(db)
    assert parts(db) == {} and line_row(db, "SO-1") == (False, None, None)
    assert [p.order for p in outcome.released] == ["SO-1"] and outcome.parked
    assert e.po_line(db, "PO-1", 1).atp == 10 and e.po_line(db, "PO-2", 1).atp == 8


def test_remove_holding_for_store_holds_only_the_part_on_that_line(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    e.remove(db, ACTOR, "PO-2", 1, [e.LineRef("SO-1", 1)], hold_for_store=True)
    check_invariants(db)
    late = e.po_line(db, "PO-2", 1)
    assert (late.store_hold, late.atp) == (5, 3)
    assert e.po_line(db, "PO-1", 1).atp == 10


def test_remove_refuses_a_po_line_the_split_line_has_no_part_on(db: e.Database, load: Load) -> None:
    split_one(db, load)
    load(po("PO-3", (1, "A", 4, MAR)))
    with pytest.raises(e.Refused, match="SO-1:1 is not allocated to PO-3:1"):
        e.remove(db, ACTOR, "PO-3", 1, [e.LineRef("SO-1", 1)])


def test_cancelling_a_po_line_with_a_part_releases_the_whole_line(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    e.cancel_po(db, ACTOR, "PO-1", line=1)
    check_invariants(db)
    assert parts(db) == {} and queue(db) == [("SO-1", 1)]
    assert e.po_line(db, "PO-2", 1).atp == 8


def test_a_customer_cancel_releases_every_part(db: e.Database, load: Load) -> None:
    split_one(db, load)
    e.cancel_order(db, ACTOR, [e.LineRef("SO-1", 1)])
    check_invariants(db)
    assert parts(db) == {}
    assert e.po_line(db, "PO-1", 1).atp == 10 and e.po_line(db, "PO-2", 1).atp == 8


def test_a_quantity_cut_releases_the_split_line_whole_and_rule_1_runs(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    load(so("SO-2", 2, (1, "A", 6)))
    # PO-2 (8) holds SO-1's 5; SO-2 (6) waits. Cut PO-1 to 4: SO-1 goes whole, and SO-2 (6)
    # takes PO-2.
    e.set_quantity(db, ACTOR, "PO-1", 1, 4)
    check_invariants(db)
    assert parts(db) == {}
    assert allocation_map(db) == {("SO-2", 1): ("PO-2", 1)}
    assert queue(db) == [("SO-1", 1)]


def test_moving_a_split_line_puts_it_whole_on_a_line_that_holds_it(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    load(po("PO-3", (1, "A", 15, MAR)))
    outcome = e.move(db, ACTOR, [e.LineRef("SO-1", 1)], "PO-3", 1)
    check_invariants(db)
    assert parts(db) == {} and allocation_map(db) == {("SO-1", 1): ("PO-3", 1)}
    # Its promise stays (out of sync until synced), as any moved line's.
    assert line_row(db, "SO-1") == (False, "PO-3", date(2027, 2, 1))
    assert [(m.from_po, m.to_po) for m in outcome.moved] == [("PO-2", "PO-3")]
    undone = e.undo(db, outcome.operation_id, ACTOR)
    check_invariants(db)
    assert undone.undid == outcome.operation_id
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert line_row(db, "SO-1") == (True, "PO-2", date(2027, 2, 1))


def test_moving_a_split_line_where_it_does_not_fit_whole_is_refused(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    # PO-2 has 3 ATP and SO-1's 5 units: 8 of 15.
    with pytest.raises(e.Refused, match="short by 7"):
        e.move(db, ACTOR, [e.LineRef("SO-1", 1)], "PO-2", 1)
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}


def test_rebalance_moves_a_split_line_whole_onto_an_earlier_line_that_holds_it(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    load(po("PO-0", (1, "A", 20, "2026-12-20")), rebalance=True)
    assert parts(db) == {} and allocation_map(db) == {("SO-1", 1): ("PO-0", 1)}
    assert e.po_line(db, "PO-1", 1).atp == 10 and e.po_line(db, "PO-2", 1).atp == 8


def test_a_rebalance_writes_its_moves_in_the_order_it_planned_them(
    db: e.Database, load: Load
) -> None:
    """A split line merged onto a new, earliest line frees its part on a later line, which a
    whole line then moves onto: written in that order, no PO line is over-allocated on the way
    (each PO line's counter is checked as it is written)."""
    load(po("PO-1", (1, "A", 2, JAN)))
    load(splittable("SO-1", 1, (1, "A", 3)))
    load(po("PO-2", (1, "A", 1, "2027-01-05")))
    assert parts(db) == {("SO-1", 1): [("PO-2", 1, 1), ("PO-1", 1, 2)]}
    e.set_quantity(db, ACTOR, "PO-1", 1, 3)  # one unit left there: too few for SO-2
    load(po("PO-3", (1, "A", 2, "2027-01-31")), so("SO-2", 2, (1, "A", 2)))
    assert allocation_map(db)[("SO-2", 1)] == ("PO-3", 1)
    load(po("PO-0", (1, "A", 3, "2027-01-03")), rebalance=True)
    check_invariants(db)
    assert parts(db) == {}
    assert allocation_map(db) == {("SO-1", 1): ("PO-0", 1), ("SO-2", 1): ("PO-1", 1)}


def test_receiving_covers_each_part_and_the_line_is_ready_when_all_are(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    first = e.receive(db, ACTOR, "PO-1", 1, 10)
    check_invariants(db)
    assert first.ready_count == 0
    assert [a.ready for a in e.review(db, "PO-1", 1).allocations] == [True]
    second = e.receive(db, ACTOR, "PO-2", 1, 8)
    check_invariants(db)
    assert second.ready_count == 1 and [r.order for r in second.ready] == ["SO-1"]
    e.fulfil(db, ACTOR, [e.LineRef("SO-1", 1)])
    check_invariants(db)


def test_a_ready_split_line_is_removed_only_with_force_and_a_shipped_one_never(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    e.receive(db, ACTOR, "PO-1", 1, 10)
    e.receive(db, ACTOR, "PO-2", 1, 8)
    before = parts(db)
    with pytest.raises(e.Refused) as refused:
        e.remove(db, ACTOR, "PO-2", 1, [e.LineRef("SO-1", 1)])
    assert "SO-1:1 is ready (its stock is in): use force" in refused.value.problems
    assert parts(db) == before
    forced = e.remove(db, ACTOR, "PO-2", 1, [e.LineRef("SO-1", 1)], force=True, dry_run=True)
    assert [p.order for p in forced.released] == ["SO-1"] and parts(db) == before
    e.fulfil(db, ACTOR, [e.LineRef("SO-1", 1)])
    with pytest.raises(e.Refused) as shipped:
        e.remove(db, ACTOR, "PO-1", 1, [e.LineRef("SO-1", 1)], force=True)
    assert "SO-1:1 is fulfilled" in shipped.value.problems
    check_invariants(db)


def test_a_final_short_receipt_releases_an_uncovered_split_line_whole(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    e.receive(db, ACTOR, "PO-2", 1, 4, final=True)
    check_invariants(db)
    assert parts(db) == {} and queue(db) == [("SO-1", 1)]


def split_by_a_sweep(db: e.Database, load: Load) -> e.Outcome:
    """SO-1 split as in ``split_one``, by a sweep (an import is not undone)."""
    two_lines(load)
    load(so("SO-1", 1, (1, "A", 15)))
    db.split_lines = True
    placed = e.auto_allocate(db, ACTOR)
    check_invariants(db)
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    return placed


def test_undo_of_a_split_allocation_releases_its_parts_and_of_a_release_restores_them(
    db: e.Database, load: Load
) -> None:
    placed = split_by_a_sweep(db, load)
    removed = e.remove(db, ACTOR, "PO-1", 1, [e.LineRef("SO-1", 1)])
    e.undo(db, removed.operation_id, ACTOR)
    check_invariants(db)
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert line_row(db, "SO-1") == (True, "PO-2", date(2027, 2, 1))
    e.undo(db, placed.operation_id, ACTOR)
    check_invariants(db)
    assert parts(db) == {} and queue(db) == [("SO-1", 1)]


def test_undo_is_refused_when_the_parts_moved_on(db: e.Database, load: Load) -> None:
    placed = split_by_a_sweep(db, load)
    e.remove(db, ACTOR, "PO-1", 1, [e.LineRef("SO-1", 1)])
    with pytest.raises(e.Refused, match="SO-1:1 is no longer split across PO-1:1 \\(10\\)"):
        e.undo(db, placed.operation_id, ACTOR)


# --- allow_split in the import and the intake -------------------------------------------------


def import_files(db: e.Database, *paths: str | Path) -> e.Outcome:
    with staged_files(paths) as staged:
        outcome = e.apply_import(db, ACTOR, staged)
    check_invariants(db)
    return outcome


def test_allow_split_in_a_json_import_is_stored_and_a_reimport_updates_it(
    db: e.Database, load: Load, tmp_path: Path
) -> None:
    two_lines(load)
    order = {
        "order": "SO-1",
        "placed_at": "2026-11-02T09:00:00Z",
        "lines": [{"line": 1, "sku": "A", "quantity": 15}],
    }
    path = write(tmp_path, "o.json", json.dumps({"sales_orders": [order]}))
    import_files(db, path)
    assert queue(db) == [("SO-1", 1)]
    path = write(tmp_path, "o.json", json.dumps({"sales_orders": [{**order, "allow_split": True}]}))
    outcome = import_files(db, path)
    assert outcome.updated["sales_orders"] == 1
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}


def test_allow_split_that_is_not_a_boolean_is_refused_with_the_row_named(tmp_path: Path) -> None:
    order = {
        "order": "SO-1",
        "placed_at": "2026-11-02T09:00:00Z",
        "lines": [{"line": 1, "sku": "A", "quantity": 15}],
        "allow_split": "yes",
    }
    path = write(tmp_path, "o.json", json.dumps({"sales_orders": [order]}))
    with pytest.raises(e.InvalidInput) as caught:
        parse_files([path])
    assert any("allow_split must be true or false" in p for p in caught.value.problems)


def test_allow_split_in_a_csv_import(db: e.Database, load: Load, tmp_path: Path) -> None:
    two_lines(load)
    path = write(
        tmp_path,
        "o.csv",
        "order,line,sku,quantity,placed_at,allow_split\n"
        "SO-1,1,A,15,2026-11-02T09:00:00Z,yes\n"
        "SO-2,1,A,15,2026-11-02T10:00:00Z,\n",
    )
    import_files(db, path)
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert queue(db) == [("SO-2", 1)]


def test_a_csv_allow_split_that_is_no_flag_is_a_bad_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "o.csv",
        "order,line,sku,quantity,placed_at,allow_split\nSO-1,1,A,15,2026-11-02T09:00:00Z,maybe\n",
    )
    with pytest.raises(e.InvalidInput) as caught:
        parse_files([path])
    assert caught.value.problems == [
        f"{path} row 2: allow_split must be true or false (or 1/0, yes/no), not 'maybe'"
    ]


def test_the_intake_stores_allow_split_and_a_repost_with_another_is_a_conflict(
    db: e.Database, load: Load
) -> None:
    two_lines(load)
    order = splittable("SO-1", 1, (1, "A", 15))
    _, lines = e.apply_orders(db, ACTOR, [order])
    check_invariants(db)
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 5)]}
    assert [(ln.po, ln.po_line) for ln in lines] == [("PO-2", 1)]
    again, _ = e.apply_orders(db, ACTOR, [order])
    assert again.unchanged["sales_orders"] == 1
    with pytest.raises(e.Conflict) as caught:
        e.apply_orders(db, ACTOR, [order.model_copy(update={"allow_split": False})])
    assert [(d.field, d.stored, d.sent) for d in caught.value.differences] == [
        ("allow_split", True, False)
    ]


def test_a_moved_arrival_date_re_anchors_the_line_on_its_latest_part_keeping_its_promise(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    e.set_arrival(db, ACTOR, "PO-1", 1, date(2027, 3, 1))
    check_invariants(db)
    # PO-1's part is now the latest: the line is anchored there, still promised February,
    # out of sync (rule 4) until synced.
    assert line_row(db, "SO-1") == (True, "PO-1", date(2027, 2, 1))
    assert (e.po_line(db, "PO-1", 1).out_of_sync, e.po_line(db, "PO-2", 1).out_of_sync) == (1, 0)
    e.sync_date(db, ACTOR, "PO-1", 1)
    check_invariants(db)
    assert line_row(db, "SO-1") == (True, "PO-1", date(2027, 3, 1))


def test_syncing_a_po_line_that_holds_an_earlier_part_leaves_the_promise_alone(
    db: e.Database, load: Load
) -> None:
    split_one(db, load)
    e.sync_date(db, ACTOR, "PO-1", 1)
    check_invariants(db)
    assert line_row(db, "SO-1") == (True, "PO-2", date(2027, 2, 1))


def test_a_part_placed_where_stock_is_in_is_covered_at_once(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 12, JAN)), po("PO-2", (1, "A", 8, FEB)))
    e.set_store_hold(db, ACTOR, "PO-1", 1, 2)
    e.receive(db, ACTOR, "PO-1", 1, 10)
    e.receive(db, ACTOR, "PO-2", 1, 3)
    load(splittable("SO-1", 1, (1, "A", 13)))
    assert parts(db) == {("SO-1", 1): [("PO-1", 1, 10), ("PO-2", 1, 3)]}
    # Both parts' stock is in: the line is ready.
    assert [r.order for r in e.ready(db)] == ["SO-1"]
