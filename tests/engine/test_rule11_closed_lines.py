"""Rule 11: a cancelled or fully received PO line has ATP 0 everywhere, takes no new allocation
and refuses quantity, date and store-hold changes; a cancelled line can be reopened."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

import engine as e
from tests.helpers import allocation_map, dump, po, so
from tests.history import queue
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
D1, D2 = "2027-01-10", "2027-03-01"


@pytest.fixture
def closed(db: e.Database, actor: e.Actor, load: Load) -> e.Database:
    """PO-1:1 (A) cancelled, PO-1:2 (A) fully received (4 units, nothing allocated); PO-2:1
    (A, 2 units) open; SO-1 (2) and SO-9 (1) wait (nothing runs rule 1 after those changes)."""
    load(
        po("PO-1", (1, "A", 5, D1), (2, "A", 4, D1)),
        po("PO-2", (1, "A", 2, D2)),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-9", 9, (1, "A", 1)),
    )
    e.cancel_po(db, actor, "PO-1", line=1)
    e.receive(db, actor, "PO-1", 2, 4)
    return db


def test_closed_lines_show_atp_zero_in_every_read(closed: e.Database) -> None:
    db = closed
    cancelled, received = e.po_line(db, "PO-1", 1), e.po_line(db, "PO-1", 2)
    assert (cancelled.status, cancelled.atp) == ("cancelled", 0)
    assert (received.status, received.atp, received.received) == ("received", 0, 4)
    assert [h.atp for h in e.purchase_order(db, "PO-1").lines] == [0, 0]
    assert e.review(db, "PO-1", 2).head.atp == 0
    # Only the open line is offered anywhere supply is listed.
    assert [(h.po, h.line) for h in e.open_po_lines(db)] == [("PO-2", 1)]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda db, a, ln: e.set_quantity(db, a, "PO-1", ln, 9), "cannot change its quantity"),
        (
            lambda db, a, ln: e.set_arrival(db, a, "PO-1", ln, date(2027, 2, 1)),
            "cannot change its arrival date",
        ),
        (lambda db, a, ln: e.set_store_hold(db, a, "PO-1", ln, 0), "cannot change its store hold"),
        (lambda db, a, ln: e.allocate(db, a, "PO-1", ln, [R("SO-9")]), "cannot allocate"),
        (lambda db, a, ln: e.move(db, a, [R("SO-1")], "PO-1", ln), "cannot move"),
        (lambda db, a, ln: e.receive(db, a, "PO-1", ln, 1), "cannot receive"),
    ],
)
@pytest.mark.parametrize("line", [1, 2])
def test_closed_lines_refuse_changes_naming_the_reason(
    closed: e.Database, actor: e.Actor, change: Callable[..., e.Outcome], words: str, line: int
) -> None:
    db = closed
    before = dump(db)
    with pytest.raises(e.Refused) as refused:
        change(db, actor, line)
    status = "cancelled" if line == 1 else "received"
    assert f"PO PO-1 line {line} is {status}" in str(refused.value)
    assert words in str(refused.value)
    assert dump(db) == before


def test_reopen_a_cancelled_line_runs_rule_1(closed: e.Database, actor: e.Actor) -> None:
    db = closed
    assert queue(db) == [("SO-1", 1), ("SO-9", 1)]  # the cancellation released SO-1
    out = e.reopen_po(db, actor, "PO-1", line=1)
    check_invariants(db)
    assert e.FieldChange("PO-1", 1, "status", "cancelled", "open") in out.po_changes
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-9", 1): ("PO-1", 1)}
    assert e.po_line(db, "PO-1", 1).atp == 2
    before = dump(db)
    with pytest.raises(e.Refused, match="is open, not cancelled"):
        e.reopen_po(db, actor, "PO-1", line=1)
    with pytest.raises(e.Refused, match="is received, not cancelled"):
        e.reopen_po(db, actor, "PO-1", line=2)
    with pytest.raises(e.Refused, match="no cancelled line"):
        e.reopen_po(db, actor, "PO-1")
    with pytest.raises(e.NotFound):
        e.reopen_po(db, actor, "PO-7")
    assert dump(db) == before


def test_reopening_a_cancelled_po_opens_the_po_and_its_lines(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 5, D1), (2, "B", 4, D1)), so("SO-1", 1, (1, "B", 2)))
    e.cancel_po(db, actor, "PO-1")
    assert e.purchase_order(db, "PO-1").status == "cancelled"
    out = e.reopen_po(db, actor, "PO-1")
    check_invariants(db)
    assert e.purchase_order(db, "PO-1").status == "open"
    assert [p.order for p in out.allocated] == ["SO-1"]


def test_a_line_with_stock_in_cannot_be_cancelled(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 5, D1)), so("SO-1", 1, (1, "A", 2)))
    e.receive(db, actor, "PO-1", 1, 2)
    before = dump(db)
    with pytest.raises(e.Refused, match="final receipt"):
        e.cancel_po(db, actor, "PO-1", line=1)
    with pytest.raises(e.Refused, match="final receipt"):
        e.cancel_po(db, actor, "PO-1")
    assert dump(db) == before
