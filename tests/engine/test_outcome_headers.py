"""An operation's outcome ends with the header (rule 2) of each PO line it addressed or changed,
read in its own transaction after every change, so a face shows the state after a change
without reading again: equal to ``engine.po_line`` read afterwards, for every operation; as
the line would be for a dry run; none for a replay, which runs nothing. They cost one statement
per operation however many lines it touched, and an operation that touches more than
``PO_LINE_LIMIT`` lines carries the first of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event

import engine as e
from engine.results import PO_LINE_LIMIT
from tests.helpers import po, so
from tests.invariants import check_invariants

Op = Callable[[e.Database, e.Actor], e.Outcome]
LATE = date(2027, 4, 1)
EARLY = date(2027, 1, 5)


def ref(order: str, line: int | None = None) -> e.LineRef:
    return e.LineRef(order, line)


@pytest.fixture
def supplied(db: e.Database, actor: e.Actor) -> e.Database:
    """PO-1:1 (A, 12, Jan 10) holds SO-1:1 (4) and SO-2 (5), ATP 3; PO-1:2 (B, 5) holds SO-1:2
    (2); PO-2:1 (A, 20, Mar 1) holds SO-3 (4), which did not fit PO-1:1."""
    e.apply_records(
        db,
        actor,
        [
            po("PO-1", (1, "A", 12, "2027-01-10"), (2, "B", 5, "2027-02-01")),
            po("PO-2", (1, "A", 20, "2027-03-01")),
        ],
        [
            so("SO-1", 1, (1, "A", 4), (2, "B", 2)),
            so("SO-2", 2, (1, "A", 5)),
            so("SO-3", 3, (1, "A", 4)),
        ],
    )
    return db


# (what was done before, if anything; the operation; the PO lines it touched)
CASES: dict[str, tuple[Op | None, Op, list[tuple[str, int]]]] = {
    "allocate": (
        lambda db, a: e.remove(db, a, "PO-1", 1, [ref("SO-2")]),
        lambda db, a: e.allocate(db, a, "PO-2", 1, [ref("SO-2")]),
        [("PO-2", 1)],
    ),
    "remove": (None, lambda db, a: e.remove(db, a, "PO-1", 1, [ref("SO-2")]), [("PO-1", 1)]),
    "remove for the store": (
        None,
        lambda db, a: e.remove(db, a, "PO-1", 1, [ref("SO-2")], hold_for_store=True),
        [("PO-1", 1)],
    ),
    "sync-date with nothing to sync": (
        None,
        lambda db, a: e.sync_date(db, a, "PO-1", 1),
        [("PO-1", 1)],
    ),
    "set-arrival": (None, lambda db, a: e.set_arrival(db, a, "PO-1", 1, LATE), [("PO-1", 1)]),
    "set-arrival earlier, rebalancing": (
        None,
        lambda db, a: e.set_arrival(db, a, "PO-2", 1, EARLY, rebalance=True),
        [("PO-1", 1), ("PO-2", 1)],
    ),
    "set-quantity cut": (None, lambda db, a: e.set_quantity(db, a, "PO-1", 1, 4), [("PO-1", 1)]),
    "set-store-hold": (None, lambda db, a: e.set_store_hold(db, a, "PO-2", 1, 10), [("PO-2", 1)]),
    "cancel-po": (None, lambda db, a: e.cancel_po(db, a, "PO-1"), [("PO-1", 1), ("PO-1", 2)]),
    "cancel-order": (
        None,
        lambda db, a: e.cancel_order(db, a, [ref("SO-1")]),
        [("PO-1", 1), ("PO-1", 2)],
    ),
    "move": (
        None,
        lambda db, a: e.move(db, a, [ref("SO-2")], "PO-2", 1),
        [("PO-1", 1), ("PO-2", 1)],
    ),
    "unpark": (
        lambda db, a: e.remove(db, a, "PO-1", 1, [ref("SO-2")]),
        lambda db, a: e.unpark(db, a, [ref("SO-2")]),
        [("PO-1", 1)],
    ),
    "auto-allocate": (
        lambda db, a: e.cancel_po(db, a, "PO-1", line=1),
        lambda db, a: e.auto_allocate(db, a),
        [("PO-2", 1)],
    ),
    "rebalance": (
        lambda db, a: e.set_arrival(db, a, "PO-2", 1, EARLY),
        lambda db, a: e.rebalance(db, a, sku="A"),
        [("PO-1", 1), ("PO-2", 1)],
    ),
    "import": (
        None,
        lambda db, a: e.apply_records(
            db, a, [po("PO-1", (2, "B", 8, "2027-02-01")), po("PO-3", (1, "C", 5, "2027-02-01"))]
        ),
        [("PO-1", 2), ("PO-3", 1)],
    ),
    "order intake": (
        None,
        lambda db, a: e.apply_orders(db, a, [so("SO-9", 9, (1, "A", 1))])[0],
        [("PO-1", 1)],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_operation_carries_the_headers_of_the_po_lines_it_touched(
    supplied: e.Database, actor: e.Actor, case: str
) -> None:
    before, operation, touched = CASES[case]
    if before is not None:
        before(supplied, actor)

    outcome = operation(supplied, actor)

    assert outcome.po_lines == [e.po_line(supplied, p, n) for p, n in sorted(touched)]
    assert not outcome.po_lines_truncated
    head = outcome.po_line(*touched[0])
    assert head is not None and head == e.po_line(supplied, *touched[0])
    assert outcome.po_line("PO-9", 1) is None
    check_invariants(supplied)


def test_the_headers_are_in_the_outcome_as_json(supplied: e.Database, actor: e.Actor) -> None:
    data = e.remove(supplied, actor, "PO-1", 1, [ref("SO-2")]).to_dict()

    assert data["po_lines"] == [
        {"po": "PO-1", "line": 1, "sku": "A", "status": "open", "arrival_date": "2027-01-10",
         "quantity": 12, "store_hold": 0, "allocated": 4, "atp": 8, "orders": 1,
         "out_of_sync": 0, "received": 0}
    ]  # fmt: skip
    assert data["po_lines_truncated"] is False


def test_a_dry_run_carries_the_headers_as_they_would_be_and_changes_nothing(
    supplied: e.Database, actor: e.Actor
) -> None:
    e.remove(supplied, actor, "PO-1", 1, [ref("SO-2")])
    before = e.po_line(supplied, "PO-1", 1)

    preview = e.allocate(supplied, actor, "PO-1", 1, [ref("SO-2")], dry_run=True)

    head = preview.po_line("PO-1", 1)
    assert head is not None
    assert (head.allocated, head.atp, head.orders) == (before.allocated + 5, before.atp - 5, 2)
    assert e.po_line(supplied, "PO-1", 1) == before


def test_a_replay_runs_nothing_and_carries_no_headers(supplied: e.Database, actor: e.Actor) -> None:
    first = e.set_store_hold(supplied, actor, "PO-2", 1, 2, key="once")
    again = e.set_store_hold(supplied, actor, "PO-2", 1, 2, key="once")

    assert [h.store_hold for h in first.po_lines] == [2]
    assert again.replayed and again.po_lines == []


@contextmanager
def header_reads(db: e.Database) -> Iterator[list[str]]:
    """The statements that read PO line headers (the line's tallies beside its PO's status)
    while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "po_lines.allocated_lines" in statement and "purchase_orders.status" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_headers_cost_one_statement_however_many_lines_were_touched(
    db: e.Database, actor: e.Actor
) -> None:
    lines = [(n, f"SKU-{n}", 5, "2027-02-01") for n in range(1, 41)]
    e.apply_records(
        db,
        actor,
        [po("PO-1", *lines)],
        [so(f"SO-{n}", n, (1, f"SKU-{n}", 2)) for n in range(1, 41)],
    )

    with header_reads(db) as reads:
        outcome = e.cancel_po(db, actor, "PO-1")

    assert len(outcome.po_lines) == 40
    assert all(h.status == "cancelled" and h.allocated == 0 for h in outcome.po_lines)
    assert len(reads) == 1


def test_an_operation_touching_more_lines_than_the_limit_carries_the_first_of_them(
    db: e.Database, actor: e.Actor
) -> None:
    many = PO_LINE_LIMIT + 5
    lines = [(n, "A", 1, "2027-02-01") for n in range(1, many + 1)]

    with header_reads(db) as reads:
        outcome = e.apply_records(db, actor, [po("PO-1", *lines)])

    assert outcome.created["po_lines"] == many
    assert outcome.po_lines_truncated
    assert [h.line for h in outcome.po_lines] == list(range(1, PO_LINE_LIMIT + 1))
    assert len(reads) == 1
