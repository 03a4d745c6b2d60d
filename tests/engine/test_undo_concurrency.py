"""Undo under concurrency on PostgreSQL: an undo racing a sweep for the same ATP never
over-allocates (one of them has it, the other sees it gone), and an operation raced to be
undone twice is undone once."""

from __future__ import annotations

from functools import partial

import pytest

import engine as e
from tests.engine.test_concurrency import run_together
from tests.helpers import allocation_map, po, so
from tests.invariants import check_invariants

R = e.LineRef


@pytest.mark.postgres
def test_an_undo_racing_a_sweep_never_over_allocates(pg_db: e.Database, actor: e.Actor) -> None:
    db = pg_db
    for round_ in range(6):
        sku = f"A{round_}"
        e.apply_records(
            db,
            actor,
            [po(f"PO-{round_}", (1, sku, 7, "2027-01-10"))],
            [
                so(f"SO-{round_}-1", 1, (1, sku, 4)),
                so(f"SO-{round_}-2", 2, (1, sku, 3)),
                so(f"SO-{round_}-3", 3, (1, sku, 5)),  # waits: 7 units are taken
            ],
        )
        removed = e.remove(db, actor, f"PO-{round_}", 1, [R(f"SO-{round_}-1"), R(f"SO-{round_}-2")])
        # 7 units free: the undo wants them all back, the sweep would give 5 to SO-3.
        undo = partial(e.undo, db, removed.operation_id, e.Actor("mia", e.Source.SLACK))
        swept = partial(e.auto_allocate, db, e.Actor("scheduler", e.Source.SCHEDULER), skus=[sku])
        calls = [undo, swept] if round_ % 2 else [swept, undo]
        results = run_together(calls)
        check_invariants(db)
        held = {k for k, v in allocation_map(db).items() if v == (f"PO-{round_}", 1)}
        undone = results[calls.index(undo)]
        if isinstance(undone, e.Outcome):
            assert held == {(f"SO-{round_}-1", 1), (f"SO-{round_}-2", 1)}
        else:
            assert isinstance(undone, e.Refused)
            assert "short by" in str(undone)
            assert held == {(f"SO-{round_}-3", 1)}
        assert e.po_line(db, f"PO-{round_}", 1).atp >= 0


@pytest.mark.postgres
def test_an_operation_raced_to_be_undone_twice_is_undone_once(
    pg_db: e.Database, actor: e.Actor
) -> None:
    db = pg_db
    e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "A", 10, "2027-01-10")), po("PO-2", (1, "A", 10, "2027-02-01"))],
        [so("SO-1", 1, (1, "A", 4))],
    )
    moved = e.move(db, actor, [R("SO-1")], "PO-2", 1)
    calls = [
        partial(e.undo, db, moved.operation_id, e.Actor(f"worker-{i}", e.Source.API))
        for i in range(6)
    ]
    results = run_together(calls)
    won = [r for r in results if isinstance(r, e.Outcome)]
    assert len(won) == 1, results
    for r in results:
        if isinstance(r, e.EngineError):
            assert "already undone" in str(r)
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    check_invariants(db)
