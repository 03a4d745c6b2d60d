"""Rule 10 in the command line's tables: ``review`` shows a split line's part of its whole and
where the rest is, ``order`` each part, ``ready`` a split line once every part's stock is in, and a
remove names every part it released; the line goes back to ``unallocated`` whole."""

from __future__ import annotations

from collections.abc import Callable

import engine as e
from tests.cli.helpers import said
from tests.helpers import po, so

Load = Callable[..., e.Outcome]


def seed(load: Load) -> None:
    """SO-1 (15, may split): 10 on PO-1:1 (January), 5 on PO-2:1 (February); SO-2 (2) whole
    on PO-2:1."""
    load(po("PO-1", (1, "A", 10, "2027-01-10")), po("PO-2", (1, "A", 8, "2027-02-01")))
    load(so("SO-1", 1, (1, "A", 15), customer="Ada").model_copy(update={"allow_split": True}))
    load(so("SO-2", 2, (1, "A", 2), customer="Bob"))


def test_review_and_order_show_the_parts(db: e.Database, load: Load) -> None:
    seed(load)
    review = said(db, "review", "PO-2", "1")
    assert "Ada 2026-11-02 09:01 5 of 15 2027-02-01" in review
    assert "Bob 2026-11-02 09:02 2 2027-02-01" in review
    assert "SO-1:1 is split (10 on PO-1:1, 5 on PO-2:1): removed or moved whole" in review
    order = said(db, "order", "SO-1")
    assert "PO-1:1 (10) + PO-2:1 (5)" in order


def test_a_split_line_is_ready_once_every_part_is(db: e.Database, load: Load) -> None:
    seed(load)
    said(db, "receive", "PO-1", "1", "10")
    assert "No order lines ready to ship." in said(db, "ready")
    # The review marks the part whose stock is in, not the line.
    assert "10 of 15 2027-02-01 ✓ part in" in said(db, "review", "PO-1", "1")
    received = said(db, "receive", "PO-2", "1", "8")
    assert "2 order lines now ready to ship (stock in): SO-2:1, SO-1:1" in received
    ready = said(db, "ready", "--json")
    assert '"order": "SO-1"' in ready and '"quantity": 15' in ready


def test_a_remove_names_the_parts_and_the_line_waits_whole(db: e.Database, load: Load) -> None:
    seed(load)
    removed = said(db, "remove", "PO-1", "1", "SO-1:1")
    assert (
        "Released 1 split order line whole, from every PO line it was on: "
        "SO-1:1 (10 on PO-1:1, 5 on PO-2:1)" in removed
    )
    waiting = said(db, "unallocated")
    assert "SO-1 1 A 15 2026-11-02 09:01 Ada parked" in waiting
    assert e.po_line(db, "PO-1", 1).atp == 10 and e.po_line(db, "PO-2", 1).atp == 6


def test_the_digest_says_how_many_lines_are_allocated_in_parts(db: e.Database, load: Load) -> None:
    seed(load)
    load(so("SO-3", 3, (1, "A", 20)))  # waits: the digest has something to say
    assert "1 order line allocated in parts across PO lines (rule 10)" in said(db, "digest")
    assert '"split_lines": 1' in said(db, "digest", "--json")
