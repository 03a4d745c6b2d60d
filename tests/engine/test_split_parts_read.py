"""Rule 10 as the faces read it: a split line's parts in the state the sheet mirrors, in a
review, and in the outcome of an operation that releases or moves the line whole."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import engine as e
from tests.helpers import po, so

Load = Callable[..., e.Outcome]
ACTOR = e.Actor("tester", e.Source.CLI)
JAN, FEB, MAR = date(2027, 1, 10), date(2027, 2, 1), date(2027, 3, 1)


def split_one(load: Load) -> None:
    """SO-1 of 15: 10 on PO-1:1 (January) and 5 on PO-2:1 (February); SO-2 (2) whole on PO-2."""
    load(po("PO-1", (1, "A", 10, JAN.isoformat())), po("PO-2", (1, "A", 8, FEB.isoformat())))
    load(so("SO-1", 1, (1, "A", 15)).model_copy(update={"allow_split": True}))
    load(so("SO-2", 2, (1, "A", 2)))


PARTS = (e.LinePart("PO-1", 1, 10, JAN), e.LinePart("PO-2", 1, 5, FEB))


def test_the_state_gives_a_split_line_one_row_on_its_latest_part_with_its_parts(
    db: e.Database, load: Load
) -> None:
    split_one(load)
    rows = {(a.order, a.line): a for a in e.state(db).allocations}
    assert set(rows) == {("SO-1", 1), ("SO-2", 1)}
    split = rows["SO-1", 1]
    assert (split.po, split.po_line, split.quantity, split.promised_date) == ("PO-2", 1, 15, FEB)
    assert split.parts == PARTS and split.in_sync
    assert rows["SO-2", 1].parts == ()
    assert e.parts_text(split.parts) == "10 on PO-1:1, 5 on PO-2:1"


def test_a_review_entry_carries_every_part_of_its_line(db: e.Database, load: Load) -> None:
    split_one(load)
    early = e.review(db, "PO-1", 1).allocations
    assert [(a.order, a.quantity, a.line_quantity, a.parts) for a in early] == [
        ("SO-1", 10, 15, PARTS)
    ]
    late = e.review(db, "PO-2", 1)
    assert [a.parts for a in late.allocations] == [PARTS, ()]
    shown = late.to_dict()["allocations"]
    assert shown[0]["parts"] == [
        {"po": "PO-1", "po_line": 1, "quantity": 10},
        {"po": "PO-2", "po_line": 1, "quantity": 5},
    ]
    assert "parts" not in shown[1]


def test_a_release_and_a_move_tell_the_parts_they_took_the_line_from(
    db: e.Database, load: Load
) -> None:
    split_one(load)
    removed = e.remove(db, ACTOR, "PO-1", 1, [e.LineRef("SO-1", 1)])
    assert [(p.order, p.po, p.parts) for p in removed.released] == [("SO-1", "PO-2", PARTS)]
    assert removed.to_dict()["released"][0]["parts"][0]["po"] == "PO-1"
    e.undo(db, removed.operation_id, ACTOR)

    load(po("PO-3", (1, "A", 15, MAR.isoformat())))
    moved = e.move(db, ACTOR, [e.LineRef("SO-1", 1)], "PO-3", 1)
    assert [(m.order, m.to_po, m.parts) for m in moved.moved] == [("SO-1", "PO-3", PARTS)]
    # A whole line's entry has no parts key, as before split lines.
    whole = e.remove(db, ACTOR, "PO-2", 1, [e.LineRef("SO-2", 1)])
    assert "parts" not in whole.to_dict()["released"][0]
