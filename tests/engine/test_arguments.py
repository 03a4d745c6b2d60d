"""Every engine operation and query refuses a line number, quantity or store hold that its
32-bit INTEGER column cannot hold, by name, before any statement runs: no face can turn it into
a crash, a failed statement or "database unavailable" (both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

import engine as e
from tests.helpers import T0, dump, po, so

TOO_BIG = 2**31  # INT_MAX + 1
HUGE = 99_999_999_999
REF = e.LineRef("SO-1", 1)

Call = Callable[[e.Database, e.Actor], Any]

CALLS: list[tuple[str, Call, str]] = [
    ("review", lambda db, a: e.review(db, "PO-1", HUGE), "line 99999999999"),
    ("review page", lambda db, a: e.review(db, "PO-1", 1, after=(T0, "SO-1", HUGE)), "page line"),
    ("allocate", lambda db, a: e.allocate(db, a, "PO-1", HUGE, [REF]), "line 99999999999"),
    (
        "allocate ref",
        lambda db, a: e.allocate(db, a, "PO-1", 1, [e.LineRef("SO-2", TOO_BIG)]),
        "SO-2 line 2147483648",
    ),
    ("remove", lambda db, a: e.remove(db, a, "PO-1", TOO_BIG, [REF]), "line 2147483648"),
    ("remove ref", lambda db, a: e.remove(db, a, "PO-1", 1, [e.LineRef("SO-1", 0)]), "SO-1 line 0"),
    ("move", lambda db, a: e.move(db, a, [REF], "PO-1", HUGE), "line 99999999999"),
    ("sync_date", lambda db, a: e.sync_date(db, a, "PO-1", HUGE), "line 99999999999"),
    ("unpark", lambda db, a: e.unpark(db, a, [e.LineRef("SO-1", HUGE)]), "SO-1 line"),
    ("cancel_order", lambda db, a: e.cancel_order(db, a, [e.LineRef("SO-1", HUGE)]), "SO-1 line"),
    (
        "set_arrival",
        lambda db, a: e.set_arrival(db, a, "PO-1", HUGE, date(2027, 2, 1)),
        "line 99999999999",
    ),
    ("set_quantity line", lambda db, a: e.set_quantity(db, a, "PO-1", HUGE, 5), "line"),
    (
        "set_quantity",
        lambda db, a: e.set_quantity(db, a, "PO-1", 1, HUGE),
        "quantity 99999999999 must be at most 2,147,483,647",
    ),
    (
        "set_quantity negative",
        lambda db, a: e.set_quantity(db, a, "PO-1", 1, -5),
        "quantity -5 must be at least 0",
    ),
    (
        "set_store_hold",
        lambda db, a: e.set_store_hold(db, a, "PO-1", 1, TOO_BIG),
        "store hold 2147483648 must be at most 2,147,483,647",
    ),
    ("set_store_hold line", lambda db, a: e.set_store_hold(db, a, "PO-1", HUGE, 1), "line"),
    ("cancel_po", lambda db, a: e.cancel_po(db, a, "PO-1", line=HUGE), "line 99999999999"),
    ("unallocated", lambda db, a: e.unallocated(db, limit=2**64), "limit"),
    ("open_po_lines", lambda db, a: e.open_po_lines(db, limit=-1), "limit -1 must be at least 0"),
]


@pytest.mark.parametrize(("name", "call", "says"), CALLS, ids=[c[0] for c in CALLS])
def test_a_number_that_does_not_fit_its_column_is_refused_by_name(
    db: e.Database, actor: e.Actor, name: str, call: Call, says: str
) -> None:
    e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "A", 10, "2027-01-10"))],
        [so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 20))],
    )
    before = dump(db)
    with pytest.raises(e.InvalidInput) as refused:
        call(db, actor)
    assert says in str(refused.value)
    assert dump(db) == before
