"""Idempotency keys, moving allocations between PO lines, the one-read state, mirror snapshots."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest

import engine as e
from engine import mirror
from tests.helpers import allocation_map, po, so
from tests.history import dump, events
from tests.invariants import check_invariants

Load = Callable[..., e.Outcome]
R = e.LineRef


@pytest.fixture
def two_lines(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (A, 4 units, Jan 10) holds SO-1 (2) and SO-2 (1); PO-2:1 (A, 3 units, Feb 1) is
    empty; SO-3 (2) waits: it does not fit on PO-1:1 (1 left) and goes to PO-2:1."""
    load(
        po("PO-1", (1, "A", 4, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 1)),
    )
    load(po("PO-2", (1, "A", 3, "2027-02-01"), (2, "B", 5, "2027-02-01")))
    return db


def test_a_keyed_operation_applies_once_and_replays_after(
    two_lines: e.Database, actor: e.Actor
) -> None:
    db = two_lines
    first = e.remove(db, actor, "PO-1", 1, [R("SO-1")], key="sheet:row-7:remove")
    after_first = dump(db)
    again = e.remove(
        db,
        e.Actor("someone-else", e.Source.SHEET),
        "PO-1",
        1,
        [R("SO-1")],
        key="sheet:row-7:remove",
    )

    assert not first.replayed and [p.order for p in first.released] == ["SO-1"]
    assert again.replayed and not again.changed
    assert (again.operation_id, again.actor) == (first.operation_id, actor.name)
    assert dump(db) == after_first
    # Without the key the same request is judged afresh: SO-1 is no longer there.
    with pytest.raises(e.Refused, match="SO-1:1 is not allocated to PO-1:1"):
        e.remove(db, actor, "PO-1", 1, [R("SO-1")])


def test_a_refused_keyed_operation_leaves_its_key_free(
    two_lines: e.Database, actor: e.Actor
) -> None:
    db = two_lines
    with pytest.raises(e.Refused):
        e.allocate(db, actor, "PO-2", 1, [R("SO-1")], key="k1")
    e.remove(db, actor, "PO-1", 1, [R("SO-1")])
    outcome = e.allocate(db, actor, "PO-2", 1, [R("SO-1")], key="k1")
    assert not outcome.replayed and allocation_map(db)[("SO-1", 1)] == ("PO-2", 1)


def test_a_dry_run_does_not_use_up_its_key(two_lines: e.Database, actor: e.Actor) -> None:
    db = two_lines
    e.sync_date(db, actor, "PO-1", 1, dry_run=True, key="k2")
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 20), key="k3")
    assert not e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 20), key="k3").changed
    synced = e.sync_date(db, actor, "PO-1", 1, key="k2")
    assert not synced.replayed and len(synced.promises) == 2


@pytest.mark.postgres
def test_concurrent_deliveries_of_one_key_apply_once_on_postgres(
    pg_db: e.Database, actor: e.Actor
) -> None:
    db = pg_db
    e.apply_records(db, actor, [po("PO-1", (1, "A", 10, "2027-01-10"))], [])
    e.apply_records(db, actor, [], [so(f"SO-{i}", i, (1, "A", 1)) for i in range(1, 4)])
    e.remove(db, actor, "PO-1", 1, [R("SO-1"), R("SO-2"), R("SO-3")])
    outcomes: list[e.Outcome] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        try:
            outcomes.append(
                e.allocate(db, actor, "PO-1", 1, [R("SO-1"), R("SO-2")], key="slack:abc")
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 7
    assert len({o.operation_id for o in outcomes}) == 1
    assert len([a for a in events(db) if a.action == "allocate"]) == 3 + 2
    check_invariants(db)


def test_move_takes_lines_to_another_line_of_the_sku_keeping_promises(
    two_lines: e.Database, actor: e.Actor
) -> None:
    db = two_lines
    outcome = e.move(db, actor, [R("SO-1"), R("SO-2")], "PO-2", 1)
    check_invariants(db)

    assert [(m.order, m.from_po, m.to_po) for m in outcome.moved] == [
        ("SO-1", "PO-1", "PO-2"),
        ("SO-2", "PO-1", "PO-2"),
    ]
    assert allocation_map(db) == {("SO-1", 1): ("PO-2", 1), ("SO-2", 1): ("PO-2", 1)}
    target = e.review(db, "PO-2", 1)
    assert (target.head.allocated, target.head.orders, target.head.out_of_sync) == (3, 2, 2)
    assert [a.promised_date for a in target.allocations] == [date(2027, 1, 10)] * 2
    source = e.review(db, "PO-1", 1)
    assert (source.head.allocated, source.head.orders, source.head.out_of_sync) == (0, 0, 0)


@pytest.mark.parametrize(
    ("refs", "to", "problem"),
    [
        ([R("SO-1", 1), R("SO-2")], ("PO-2", 2), "SO-1:1 is SKU A, not B"),
        ([R("SO-1")], ("PO-1", 1), "SO-1:1 is already allocated to PO-1:1"),
        ([R("SO-9")], ("PO-2", 1), "unknown order SO-9"),
        ([R("SO-1"), R("SO-2")], ("PO-9", 1), "unknown PO PO-9"),
    ],
)
def test_move_is_all_or_nothing(
    two_lines: e.Database,
    actor: e.Actor,
    refs: list[e.LineRef],
    to: tuple[str, int],
    problem: str,
) -> None:
    db = two_lines
    before = dump(db)
    with pytest.raises(e.EngineError, match=problem):
        e.move(db, actor, refs, *to)
    assert dump(db) == before


def test_move_refuses_past_the_target_atp(two_lines: e.Database, actor: e.Actor) -> None:
    db = two_lines
    e.set_store_hold(db, actor, "PO-2", 1, 1)
    with pytest.raises(e.Refused, match=r"3 units asked, 2 ATP left on PO-2:1 \(short by 1\)"):
        e.move(db, actor, [R("SO-1"), R("SO-2")], "PO-2", 1)


def test_state_reads_lines_allocations_and_queue_together(
    two_lines: e.Database, actor: e.Actor, load: Load
) -> None:
    db = two_lines
    load(so("SO-3", 3, (1, "A", 9)))
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 12))
    got = e.state(db)
    assert [(s.po, s.line, s.orders, s.out_of_sync) for s in got.po_lines] == [
        ("PO-1", 1, 2, 2),
        ("PO-2", 1, 0, 0),
        ("PO-2", 2, 0, 0),
    ]
    assert [(a.po, a.order, a.promised_date, a.in_sync) for a in got.allocations] == [
        ("PO-1", "SO-1", date(2027, 1, 10), False),
        ("PO-1", "SO-2", date(2027, 1, 10), False),
    ]
    assert [(q.order, q.quantity) for q in got.unallocated] == [("SO-3", 9)]


def test_mirror_snapshots_round_trip_per_mirror(db: e.Database) -> None:
    mirror.save(db, "m1", {"t": {"a": [1, "x", None], "b": [2]}, "u": {"c": [True]}})
    mirror.save(db, "m2", {"t": {"a": ["other"]}})
    mirror.save(db, "m1", {"t": {"a": [1, "y", None], "b": None}})
    assert mirror.load(db, "m1") == {"t": {"a": [1, "y", None]}, "u": {"c": [True]}}
    assert mirror.load(db, "m2") == {"t": {"a": ["other"]}}
    assert mirror.forget(db, "m1") == 2
    assert mirror.load(db, "m1") == {}
