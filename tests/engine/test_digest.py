"""The digest (``engine.digest``): what needs attention, part by part, on a fixed clock, on
both databases. Its Slack message and posting are tested in ``tests/slack/test_digest.py``,
its terminal form in ``tests/cli/test_cli.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import engine as e
from engine.digest import (
    ArrivingLine,
    ATPLine,
    OutOfSyncLine,
    ParkedBySku,
    QueueBySku,
    StrandedByPO,
    digest,
)
from tests.helpers import T0, po, so

Load = Callable[..., e.Outcome]
R = e.LineRef
TODAY = T0.date()  # 2026-11-02
NOW = T0 + timedelta(days=3, hours=2)


# --- the engine: each part on a fixed clock ---------------------------------------------------


def test_nothing_needs_attention_when_all_is_well(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    assert digest(db, today=TODAY).is_empty  # an empty database
    load(
        # Fully allocated within the week, ATP left only beyond it, and a cancelled PO whose
        # one order found another line.
        po("PO-1", (1, "A", 5, "2026-11-04"), (2, "B", 9, "2026-11-10")),
        po("PO-2", (1, "C", 2, "2026-11-05")),
        po("PO-3", (1, "C", 4, "2027-01-10")),
        so("SO-1", 1, (1, "A", 5)),
        so("SO-2", 2, (1, "B", 3)),
        so("SO-3", 3, (1, "C", 2)),
    )
    e.cancel_po(db, actor, "PO-2")
    e.auto_allocate(db, actor)
    data = digest(db, today=TODAY)
    assert data.is_empty, data
    assert data.to_dict() == {
        "today": "2026-11-02",
        "nothing_needs_attention": True,
        "unallocated": [],
        "parked": {"lines": 0, "units": 0, "by_sku": []},
        "out_of_sync": [],
        "arriving_until": "2026-11-09",
        "arriving": [],
        "stranded": [],
        "dead_letters": [],
        "ready": {"lines": 0, "units": 0, "by_sku": []},
    }


def test_unallocated_by_sku_counts_parked_apart_and_shows_the_atp_still_open(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        po("PO-1", (1, "A", 10, "2026-12-01"), (2, "B", 4, "2026-12-05")),
        po("PO-2", (1, "A", 6, "2027-01-10")),
        po("PO-3", (1, "A", 50, "2027-02-01")),
        so("SO-1", 1, (1, "A", 8)),  # PO-1:1, which keeps ATP 2
        so("SO-2", 2, (1, "A", 7)),  # PO-3:1, then cancelled: waits (PO-2:1 has 6)
        so("SO-3", 3, (1, "A", 3)),  # PO-2:1, then removed: parked
        so("SO-4", 4, (1, "B", 3)),  # PO-1:2, which keeps ATP 1
        so("SO-5", 5, (1, "B", 2)),  # too big for the 1 left: waits
        so("SO-6", 6, (1, "C", 1)),  # no PO at all
    )
    e.cancel_po(db, actor, "PO-3")  # its ATP is not open any more
    e.remove(db, actor, "PO-2", 1, [R("SO-3", 1)])
    data = digest(db, today=TODAY)
    a, b, c = data.unallocated
    assert a == QueueBySku(
        "A", 2, 10, 1, T0 + timedelta(minutes=2),
        parked_units=3, atp_open=8, atp_line=ATPLine("PO-2", 1, date(2027, 1, 10), 6),
    )  # fmt: skip
    assert (a.waiting, a.waiting_units) == (1, 7)
    assert a.age(NOW) == NOW - (T0 + timedelta(minutes=2))
    assert b == QueueBySku(
        "B", 1, 2, 0, T0 + timedelta(minutes=5),
        atp_open=1, atp_line=ATPLine("PO-1", 2, date(2026, 12, 5), 1),
    )  # fmt: skip
    assert c == QueueBySku("C", 1, 1, 0, T0 + timedelta(minutes=6))
    assert data.parked == [ParkedBySku("A", 1, 3)]
    # Two lines with the same ATP: the earlier arrival is offered (rule 1's order).
    load(po("PO-4", (1, "C", 3, "2027-03-01")), po("PO-5", (1, "C", 3, "2027-02-01")))
    e.remove(db, actor, "PO-5", 1, [R("SO-6", 1)])
    (_, _, c) = digest(db, today=TODAY).unallocated
    assert c.atp_line == ATPLine("PO-5", 1, date(2027, 2, 1), 3) and c.atp_open == 6
    json_a = digest(db, today=TODAY).to_dict()["unallocated"][0]
    assert json_a["atp_line"] == {"po": "PO-2", "line": 1, "arrival_date": "2027-01-10", "atp": 6}
    assert json_a["oldest_placed_at"] == "2026-11-02T09:02:00+00:00"


def test_parked_lines_by_sku_with_their_totals(db: e.Database, load: Load, actor: e.Actor) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10"), (2, "B", 10, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2), (2, "B", 4)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "B", 1)),
    )
    e.remove(db, actor, "PO-1", 1, [R("SO-1", 1), R("SO-2", 1)])
    e.remove(db, actor, "PO-1", 2, [R("SO-3", 1)])
    data = digest(db, today=TODAY)
    assert data.parked == [ParkedBySku("A", 2, 5), ParkedBySku("B", 1, 1)]
    assert data.to_dict()["parked"] == {
        "lines": 3,
        "units": 6,
        "by_sku": [{"sku": "A", "lines": 2, "units": 5}, {"sku": "B", "lines": 1, "units": 1}],
    }
    assert data.stranded == []  # removed by a person: parked, not stranded
    e.unpark(db, actor, [R("SO-3", 1)])  # swept straight back
    assert digest(db, today=TODAY).parked == [ParkedBySku("A", 2, 5)]


def test_out_of_sync_lines_by_po_line_until_synced(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10"), (2, "B", 5, "2027-01-20")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3), (2, "B", 1)),
    )
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 2, 1))
    (line,) = digest(db, today=TODAY).out_of_sync
    assert line == OutOfSyncLine(
        "PO-1", 1, "A", date(2027, 2, 1), 2, 5, date(2027, 1, 10), date(2027, 1, 10)
    )
    load(so("SO-3", 3, (1, "A", 1)))  # promised the new date: in sync, not counted
    assert digest(db, today=TODAY).out_of_sync == [line]
    e.sync_date(db, actor, "PO-1", 1)
    assert digest(db, today=TODAY).out_of_sync == []


def test_po_lines_arriving_in_the_next_seven_days_with_atp_left(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        po("PO-1", (1, "A", 5, "2026-11-02"), (2, "B", 5, "2026-11-09"), (3, "C", 5, "2026-11-10")),
        po("PO-2", (1, "A", 5, "2026-11-01"), (2, "D", 2, "2026-11-04")),
        po("PO-3", (1, "E", 5, "2026-11-03")),
        so("SO-1", 1, (1, "A", 2), (2, "D", 2)),
    )
    e.cancel_po(db, actor, "PO-3")
    data = digest(db, today=TODAY)
    # Today and today + 7 are in; yesterday, day 8, no ATP left (D) and cancelled (E) are not.
    # SO-1:1 went to PO-2:1 (the earliest), so PO-1:1 keeps its 5.
    assert data.arriving == [
        ArrivingLine("PO-1", 1, "A", date(2026, 11, 2), 5),
        ArrivingLine("PO-1", 2, "B", date(2026, 11, 9), 5),
    ]
    assert data.arriving_until == date(2026, 11, 9)
    later = digest(db, today=date(2026, 11, 3))
    assert [(a.po, a.line) for a in later.arriving] == [("PO-1", 2), ("PO-1", 3)]
    # Without ``today``, the database's clock says which day it is.
    db.clock = lambda: datetime(2026, 11, 9, 23, 0, tzinfo=UTC)
    assert [(a.po, a.line) for a in digest(db).arriving] == [("PO-1", 2), ("PO-1", 3)]


def test_cancelled_pos_whose_orders_still_wait(db: e.Database, load: Load, actor: e.Actor) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10"), (2, "B", 10, "2027-01-10")),
        po("PO-2", (1, "A", 4, "2027-01-20"), (2, "C", 4, "2027-01-20")),
        so("SO-1", 1, (1, "A", 2), (2, "B", 3)),
        so("SO-2", 2, (1, "A", 4)),
        so("SO-3", 3, (1, "B", 1)),
        so("SO-4", 4, (1, "C", 2)),
        so("SO-5", 5, (1, "D", 1)),  # never had a PO: waiting, not stranded
    )
    e.cancel_po(db, actor, "PO-1")
    data = digest(db, today=TODAY)
    assert data.stranded == [StrandedByPO("PO-1", "cancelled", 4, 10, 2, T0 + timedelta(minutes=1))]
    # A sweep places what fits elsewhere (SO-1:1 on PO-2:1): it is no longer stranded.
    e.auto_allocate(db, actor)
    assert digest(db, today=TODAY).stranded == [
        StrandedByPO("PO-1", "cancelled", 3, 8, 2, T0 + timedelta(minutes=1))
    ]
    # A line cancelled on its own: the PO stays open. The customer cancels SO-3; SO-2 is
    # allocated by hand then removed (parked): a person's choice, no longer the cancellation's.
    e.cancel_po(db, actor, "PO-2", line=2)
    e.cancel_order(db, actor, [R("SO-3", 1)])
    load(po("PO-3", (1, "A", 9, "2027-03-01")))  # the sweep it triggers places SO-2
    e.remove(db, actor, "PO-3", 1, [R("SO-2", 1)])
    data = digest(db, today=TODAY)
    assert data.stranded == [
        StrandedByPO("PO-1", "cancelled", 1, 3, 1, T0 + timedelta(minutes=1)),
        StrandedByPO("PO-2", "open", 1, 2, 1, T0 + timedelta(minutes=4)),
    ]
    assert data.to_dict()["stranded"][1] == {
        "po": "PO-2", "status": "open", "lines": 1, "units": 2, "skus": 1,
        "oldest_placed_at": "2026-11-02T09:04:00+00:00",
    }  # fmt: skip
    # Released by a quantity cut, not a cancellation: waiting, but not stranded by a PO.
    load(po("PO-4", (1, "E", 3, "2027-01-10")), so("SO-6", 6, (1, "E", 3)))
    e.set_quantity(db, actor, "PO-4", 1, 1)
    assert [s.po for s in digest(db, today=TODAY).stranded] == ["PO-1", "PO-2"]
