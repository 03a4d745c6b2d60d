"""Every mutating operation writes audit events (who, from where, which operation, before and
after) in one transaction; ``dry_run=True`` reports the same Outcome and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

import engine as e
from tests.helpers import allocation_map, po, so
from tests.history import actions, dump, events, promises
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef
Step = tuple[str, str | None, int | None]


@pytest.fixture
def scene(db: e.Database, actor: e.Actor, load: Load) -> e.Database:
    """A database where every operation has something to do:

    * PO-3:1 (A, Jan 1, 2 units free) arrives before PO-1:1 (A, Jan 8), which holds SO-1 (2)
      and SO-2 (3), both promised Jan 10 (out of sync) and has 1 unit free;
    * PO-1:2 (B) holds SO-3; PO-2:1 (A, Feb 10) has 4 units free;
    * SO-4 (A, 2) is parked, SO-5 (A, 9) fits nowhere, SO-6 (C) waits for PO-10:1 since PO-9
      was cancelled.
    """
    load(
        po("PO-1", (1, "A", 6, "2027-01-10"), (2, "B", 4, "2027-01-20")),
        po("PO-2", (1, "A", 4, "2027-02-10")),
        po("PO-9", (1, "C", 1, "2027-01-05")),
        po("PO-10", (1, "C", 1, "2027-02-05")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "B", 1)),
        so("SO-4", 4, (1, "A", 2)),
        so("SO-5", 5, (1, "A", 9)),
        so("SO-6", 6, (1, "C", 1)),
    )
    e.remove(db, actor, "PO-2", 1, [R("SO-4")])
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 8))
    e.cancel_po(db, actor, "PO-9")
    load(po("PO-3", (1, "A", 2, "2027-01-01")))
    assert allocation_map(db) == {
        ("SO-1", 1): ("PO-1", 1),
        ("SO-2", 1): ("PO-1", 1),
        ("SO-3", 1): ("PO-1", 2),
    }
    return db


@dataclass(frozen=True)
class Case:
    """One mutating operation on the scene, and the audit trail it must leave."""

    name: str
    run: Callable[[e.Database, e.Actor, bool], e.Outcome]
    steps: list[Step]


CASES = [
    Case(
        "allocate",
        lambda db, who, dry: e.allocate(db, who, "PO-2", 1, [R("SO-4")], dry_run=dry),
        [("unpark", "SO-4", 1), ("allocate", "SO-4", 1)],
    ),
    Case(
        "remove",
        lambda db, who, dry: e.remove(
            db, who, "PO-1", 1, [R("SO-2")], hold_for_store=True, dry_run=dry
        ),
        [("release", "SO-2", 1), ("po-line", "PO-1", 1)],
    ),
    Case(
        "sync-date",
        lambda db, who, dry: e.sync_date(db, who, "PO-1", 1, dry_run=dry),
        [("promise", "SO-1", 1), ("promise", "SO-2", 1)],
    ),
    Case(
        "set-arrival",
        lambda db, who, dry: e.set_arrival(
            db, who, "PO-2", 1, date(2026, 12, 20), rebalance=True, sync=True, dry_run=dry
        ),
        [("po-line", "PO-2", 1), ("move", "SO-1", 1), ("promise", "SO-1", 1)],
    ),
    Case(
        "set-quantity",
        lambda db, who, dry: e.set_quantity(db, who, "PO-1", 1, 3, dry_run=dry),
        [("release", "SO-2", 1), ("po-line", "PO-1", 1)],
    ),
    Case(
        "set-store-hold",
        lambda db, who, dry: e.set_store_hold(db, who, "PO-1", 1, 2, dry_run=dry),
        [("release", "SO-2", 1), ("po-line", "PO-1", 1)],
    ),
    Case(
        "cancel-po",
        lambda db, who, dry: e.cancel_po(db, who, "PO-1", dry_run=dry),
        [
            ("release", "SO-1", 1),
            ("release", "SO-2", 1),
            ("release", "SO-3", 1),
            ("po-line", "PO-1", 1),
            ("po-line", "PO-1", 2),
            ("po", "PO-1", None),
        ],
    ),
    Case(
        "rebalance",
        lambda db, who, dry: e.rebalance(db, who, dry_run=dry),
        [("move", "SO-1", 1)],
    ),
    Case(
        "unpark",
        lambda db, who, dry: e.unpark(db, who, [R("SO-4")], dry_run=dry),
        [("unpark", "SO-4", 1), ("allocate", "SO-4", 1)],
    ),
    Case(
        "cancel-order",
        lambda db, who, dry: e.cancel_order(db, who, [R("SO-1")], dry_run=dry),
        [("release", "SO-1", 1), ("order-line-cancelled", "SO-1", 1)],
    ),
    Case(
        "auto-allocate",
        lambda db, who, dry: e.auto_allocate(db, who, dry_run=dry),
        [("allocate", "SO-6", 1)],
    ),
    Case(
        "import",
        lambda db, who, dry: e.apply_records(
            db,
            who,
            [po("PO-1", (1, "A", 4, "2027-01-08"), (2, "B", 4, "2027-01-20"))],
            [so("SO-7", 7, (1, "A", 1))],
            dry_run=dry,
        ),
        # The cut releases SO-2 (the latest placed); the sweep then gives it PO-2, the only line
        # with 3 units free, and gives the new SO-7 the earliest line, PO-3.
        [
            ("release", "SO-2", 1),
            ("po-line", "PO-1", 1),
            ("order-line-created", "SO-7", 1),
            ("allocate", "SO-2", 1),
            ("allocate", "SO-7", 1),
        ],
    ),
]
IDS = [c.name for c in CASES]


def comparable(outcome: e.Outcome) -> dict[str, Any]:
    data = outcome.to_dict()
    del data["operation"], data["operation_id"], data["dry_run"]
    return data


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dry_run_reports_the_real_outcome_and_changes_nothing(
    scene: e.Database, actor: e.Actor, case: Case
) -> None:
    db = scene
    before = dump(db)

    dry = case.run(db, actor, True)

    assert dry.dry_run is True
    assert dump(db) == before
    real = case.run(db, actor, False)
    check_invariants(db)
    assert real.dry_run is False
    assert real.changed is True
    assert comparable(dry) == comparable(real)
    assert dump(db) != before


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_change_writes_audit_events_with_actor_source_operation_and_states(
    scene: e.Database, case: Case
) -> None:
    db = scene
    ann = e.Actor("ann@example.com", e.Source.SHEET)
    known = {ev.operation_id for ev in events(db)}

    outcome = case.run(db, ann, False)

    assert (outcome.operation, outcome.actor, outcome.source) == (
        case.name,
        "ann@example.com",
        "sheet",
    )
    assert actions(db, outcome.operation_id) == case.steps
    written = events(db, outcome.operation_id)
    assert outcome.operation_id not in known
    assert {ev.operation_id for ev in events(db)} - known == {outcome.operation_id}
    for ev in written:
        assert (ev.operation, ev.actor, ev.source) == (case.name, "ann@example.com", "sheet")
        assert ev.before is not None or ev.after is not None, ev
    assert len({ev.at for ev in written}) == 1
    for row in promises(db):
        if row.operation_id == outcome.operation_id:
            assert (row.actor, row.source) == ("ann@example.com", "sheet")


def test_allocation_and_release_events_carry_the_po_line_and_promise_before_and_after(
    scene: e.Database,
) -> None:
    db = scene
    bot = e.Actor("U042", e.Source.SLACK)
    placed = e.allocate(db, bot, "PO-2", 1, [R("SO-4")])
    removed = e.remove(db, bot, "PO-2", 1, [R("SO-4")])

    [unpark, allocate] = events(db, placed.operation_id)
    assert (unpark.action, unpark.before, unpark.after) == (
        "unpark",
        {"parked": True},
        {"parked": False},
    )
    assert (allocate.sku, allocate.po, allocate.po_line, allocate.quantity) == ("A", "PO-2", 1, 2)
    assert (allocate.before, allocate.reason) == (None, "manual")
    assert allocate.after == {"po": "PO-2", "line": 1, "promised_date": "2027-02-10"}
    [release] = events(db, removed.operation_id)
    assert (release.before, release.after, release.reason) == (
        {"po": "PO-2", "line": 1, "promised_date": "2027-02-10"},
        {"po": None, "line": None, "promised_date": None, "parked": True},
        "removed",
    )


def test_a_refused_operation_writes_nothing_and_refuses_the_same_way_in_a_dry_run(
    scene: e.Database, actor: e.Actor
) -> None:
    db = scene
    before = dump(db)
    for dry in (True, False):
        with pytest.raises(e.Refused) as refused:
            e.allocate(db, actor, "PO-1", 1, [R("SO-4"), R("SO-5")], dry_run=dry)
        assert refused.value.shortfall == 10
        assert refused.value.problems == ["11 units asked, 1 ATP left on PO-1:1 (short by 10)"]
    assert dump(db) == before


def test_a_dry_run_that_would_change_nothing_reports_no_change(
    scene: e.Database, actor: e.Actor
) -> None:
    db = scene
    e.auto_allocate(db, actor)
    before = dump(db)

    outcome = e.auto_allocate(db, actor, dry_run=True)

    assert (outcome.dry_run, outcome.changed) == (True, False)
    assert dump(db) == before
