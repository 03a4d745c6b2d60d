"""Rule 10: split lines. A line no single PO line can hold takes ATP from several PO lines of
its SKU in arrival order, when PREORDER_SPLIT_LINES is on or its order allows it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select, text

import engine as e
from engine import fifo
from engine.ledger import Demand, Supply
from engine.models import po_lines, so_lines
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
    load(splittable("SO-1", 1, (1, "A", 15)), so("SO-2", 2, (1, "A", 3)), so("SO-3", 3, (1, "A", 1)))
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
