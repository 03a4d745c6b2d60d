"""An order intake on PostgreSQL writes each new line once: held back until its sweep has
placed it among the queued lines, first in, first out, then written at its PO line or queued
(engine.held_lines). What is stored is what writing them first gave: the same allocations,
the same audit trail, the same queue."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event, select, text

import engine as e
from engine.models import so_lines
from tests.helpers import allocation_map, po, so
from tests.invariants import check_invariants

HELD = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':sku:' || :sku, 0))"
)


def queue_behind_a_held_sku(db: e.Database, actor: e.Actor, order: e.SORecord) -> None:
    """Store ``order`` while another transaction holds its SKU: it is stored queued, unswept."""
    with db.engine.begin() as other:
        other.execute(HELD, {"sku": "A"})
        other.execute(text("SELECT sku FROM products WHERE sku = 'A' FOR NO KEY UPDATE")).all()
        outcome, _ = e.apply_orders(db, actor, [order])
    assert outcome.awaiting_sweep == ["A"]


def statements(db: e.Database) -> Counter[str]:
    """The statements run on ``db`` from now on, by their first words."""
    seen: Counter[str] = Counter()

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(*args: Any) -> None:
        seen[" ".join(args[2].split()[:3])] += 1

    return seen


def queued_with_units_free(db: e.Database, actor: e.Actor, queued: e.SORecord) -> None:
    """SKU A sold out with ``queued`` (2 units) waiting in its queue, unswept, then 2 more units
    of A (unswept too: the moment before the next intake's sweep)."""
    e.apply_records(db, actor, [po("PO-1", (1, "A", 2, "2027-01-30"))])
    e.apply_orders(db, actor, [so("SO-0", 1, (1, "A", 2))])  # takes both units
    queue_behind_a_held_sku(db, actor, queued)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE po_lines SET quantity = quantity + 2 WHERE po_number = 'PO-1'"))


@pytest.mark.postgres
def test_a_new_line_placed_earlier_goes_ahead_of_a_queued_line(
    pg_db: e.Database, actor: e.Actor
) -> None:
    queued_with_units_free(pg_db, actor, so("SO-LATE", 20, (1, "A", 2)))

    _outcome, lines = e.apply_orders(pg_db, actor, [so("SO-EARLY", 10, (1, "A", 2))])

    assert [(ln.order, ln.po) for ln in lines] == [("SO-EARLY", "PO-1")]
    placed = allocation_map(pg_db)
    assert placed[("SO-EARLY", 1)] == ("PO-1", 1)
    assert ("SO-LATE", 1) not in placed  # still queued, after SO-EARLY
    check_invariants(pg_db)


@pytest.mark.postgres
def test_a_queued_line_placed_earlier_keeps_its_place_ahead_of_a_new_one(
    pg_db: e.Database, actor: e.Actor
) -> None:
    queued_with_units_free(pg_db, actor, so("SO-EARLY", 10, (1, "A", 2)))

    _outcome, lines = e.apply_orders(pg_db, actor, [so("SO-LATE", 20, (1, "A", 2))])

    assert [(ln.order, ln.status, ln.po) for ln in lines] == [("SO-LATE", "open", None)]
    placed = allocation_map(pg_db)
    assert placed[("SO-EARLY", 1)] == ("PO-1", 1)  # placed by the later order's sweep, first
    assert ("SO-LATE", 1) not in placed
    check_invariants(pg_db)


@pytest.mark.postgres
def test_new_lines_are_written_once_and_only_queued_lines_are_updated(
    pg_db: e.Database, actor: e.Actor
) -> None:
    e.apply_records(
        pg_db, actor, [po("PO-1", (1, "A", 10, "2027-01-30"), (2, "B", 10, "2027-01-30"))]
    )
    seen = statements(pg_db)
    _outcome, lines = e.apply_orders(
        pg_db,
        actor,
        [so("SO-1", 1, (1, "A", 2), (2, "B", 20)), so("SO-2", 2, (1, "B", 3))],
    )

    assert [(ln.order, ln.line, ln.po) for ln in lines] == [
        ("SO-1", 1, "PO-1"),
        ("SO-1", 2, None),  # 20 fit nowhere: written queued
        ("SO-2", 1, "PO-1"),
    ]
    assert seen["INSERT INTO so_lines"] == 1
    assert seen["UPDATE so_lines SET"] == 0  # nothing written queued was placed afterwards
    with pg_db.read() as conn:
        rows = conn.execute(
            select(so_lines.c.order_number, so_lines.c.line, so_lines.c.promised_date).order_by(
                so_lines.c.order_number, so_lines.c.line
            )
        ).all()
    assert [(o, ln, str(d) if d else None) for o, ln, d in rows] == [
        ("SO-1", 1, "2027-01-30"),
        ("SO-1", 2, None),
        ("SO-2", 1, "2027-01-30"),
    ]
    check_invariants(pg_db)


@pytest.mark.postgres
def test_a_line_that_may_split_is_written_first_and_split_by_the_sweep(
    pg_db: e.Database, actor: e.Actor
) -> None:
    e.apply_records(
        pg_db, actor, [po("PO-1", (1, "A", 3, "2027-01-30")), po("PO-2", (1, "A", 3, "2027-02-10"))]
    )
    order = so("SO-1", 1, (1, "A", 5)).model_copy(update={"allow_split": True})
    seen = statements(pg_db)

    outcome, _lines = e.apply_orders(pg_db, actor, [order])

    assert outcome.allocated_count == 1
    assert seen["INSERT INTO so_lines"] == 1
    assert seen["UPDATE so_lines SET"] >= 1  # written queued first, then split by its sweep
    check_invariants(pg_db)


@pytest.mark.postgres
def test_lines_of_a_sku_another_operation_holds_are_written_queued(
    pg_db: e.Database, actor: e.Actor
) -> None:
    e.apply_records(
        pg_db, actor, [po("PO-1", (1, "A", 10, "2027-01-30"), (2, "B", 10, "2027-01-30"))]
    )
    with pg_db.engine.begin() as other:
        other.execute(HELD, {"sku": "A"})
        other.execute(text("SELECT sku FROM products WHERE sku = 'A' FOR NO KEY UPDATE")).all()
        outcome, lines = e.apply_orders(pg_db, actor, [so("SO-1", 1, (1, "A", 1), (2, "B", 1))])

    assert outcome.awaiting_sweep == ["A"]
    assert [(ln.line, ln.status, ln.po) for ln in lines] == [(1, "open", None), (2, "open", "PO-1")]
    e.auto_allocate(pg_db, actor, skus=["A"])
    assert allocation_map(pg_db)[("SO-1", 1)] == ("PO-1", 1)
    check_invariants(pg_db)
