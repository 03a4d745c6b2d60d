"""Where is my order, and why: each line's state and reason, its place in the queue, the
order's history, and lookups by number, customer and email (on both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

import engine as e
from tests.helpers import T0, po, so

Load = Callable[..., e.Outcome]
R = e.LineRef
JAN10, FEB01, MAR01 = date(2027, 1, 10), date(2027, 2, 1), date(2027, 3, 1)


def line(view: e.OrderView, number: int = 1) -> e.OrderLineView:
    return next(ln for ln in view.lines if ln.line == number)


def test_queued_with_no_open_po_line_says_so_and_counts_the_lines_ahead(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 3)),
        so("SO-3", 3, (1, "A", 1)),
        so("SO-4", 4, (1, "A", 4), (2, "B", 1)),
    )
    # A parked line is not in the queue the sweep walks: it is not ahead of anyone.
    load(po("PO-9", (1, "A", 3, "2027-01-10")))  # takes SO-1 (2) and SO-3 (1)
    e.remove(db, actor, "PO-9", 1, [R("SO-3")])
    e.cancel_po(db, actor, "PO-9")  # SO-1 back in the queue, unparked; SO-3 stays parked
    view = e.order(db, "SO-4")
    first, second = line(view, 1), line(view, 2)
    assert (first.state, first.ahead) == ("queued", (2, 5))  # SO-1 (2) and SO-2 (3)
    assert first.reason == {"reason": "no-po-line", "po_lines": []}
    assert first.why == "2 lines (5 units) ahead of it; no open PO line of SKU A"
    assert (second.state, second.ahead) == ("queued", (0, 0))
    assert second.why == "first in its SKU's queue; no open PO line of SKU B"
    assert (first.po, first.po_line, first.promised_date, first.in_sync) == (None, None, None, None)
    assert line(e.order(db, "SO-1")).ahead == (0, 0)
    assert line(e.order(db, "SO-3")).state == "parked"
    assert view.to_dict()["lines"][0]["ahead"] == {"lines": 2, "units": 5}


def test_queued_too_big_for_every_po_line_names_the_largest_atp(db: e.Database, load: Load) -> None:
    load(
        po("PO-1", (1, "A", 3, "2027-01-10")),
        po("PO-2", (1, "A", 4, "2027-02-01")),
        so("SO-1", 1, (1, "A", 5)),
    )
    got = line(e.order(db, "SO-1"))
    assert got.state == "queued"
    assert got.why == (
        "first in its SKU's queue; needs 5 units; every open PO line of A has less ATP, "
        "the most 4 on PO-2:1"
    )
    assert got.reason["reason"] == "atp-short"
    assert got.reason["largest"] == {"po": "PO-2", "line": 1, "atp": 4}
    assert [(p["po"], p["atp"]) for p in got.reason["po_lines"]] == [("PO-1", 3), ("PO-2", 4)]


def test_queued_that_fits_waits_for_the_next_sweep(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(
        po("PO-1", (1, "A", 4, "2027-01-10")),
        po("PO-2", (1, "A", 10, "2027-02-01")),
        so("SO-1", 1, (1, "A", 4)),
    )
    e.cancel_po(db, actor, "PO-1")  # releases SO-1, not parked, and leaves it for the sweep
    got = line(e.order(db, "SO-1"))
    assert got.state == "queued"
    assert got.reason["reason"] == "next-sweep"
    assert got.reason["fits"] == {"po": "PO-2", "line": 1}
    assert "PO-2:1 has 10 ATP for its 4 units: the next sweep places it" in got.why


def test_parked_says_who_when_and_from_where_in_the_teams_zone(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 4, "2027-01-10")), so("SO-1", 1, (1, "A", 4)))
    mia = e.Actor("U-mia", e.Source.SLACK)
    removed = e.remove(db, mia, "PO-1", 1, [R("SO-1")])
    zone = ZoneInfo("America/New_York")
    got = line(e.order(db, "SO-1", zone=zone))
    assert got.state == "parked"
    assert got.reason["from"] == "PO-1:1"
    assert (got.reason["actor"], got.reason["source"]) == ("U-mia", "slack")
    assert got.reason["operation"] == removed.operation_id
    at = got.reason["at"].astimezone(zone).strftime("%Y-%m-%d %H:%M")
    assert got.why.startswith(
        f"parked when U-mia (slack, {at} America/New_York) removed it from PO-1:1"
    )


def test_allocated_says_by_what(db: e.Database, load: Load, actor: e.Actor) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10"), (2, "A", 10, "2027-03-01")),
        so("SO-1", 1, (1, "A", 2)),  # placed as it arrives
        so("SO-2", 2, (1, "A", 20)),  # too big for now
    )
    assert line(e.order(db, "SO-1")).reason["by"] == "fifo-on-arrival"
    e.remove(db, actor, "PO-1", 1, [R("SO-1")])
    e.allocate(db, actor, "PO-1", 2, [R("SO-1")])
    manual = line(e.order(db, "SO-1"))
    assert (manual.state, manual.po, manual.po_line, manual.in_sync) == (
        "allocated",
        "PO-1",
        2,
        True,
    )
    assert manual.reason["by"] == "manual"
    assert manual.why.startswith("allocated to PO-1:2 by hand by tester (cli")
    e.move(db, actor, [R("SO-1")], "PO-1", 1)
    moved = line(e.order(db, "SO-1"))
    assert moved.reason["by"] == "moved"
    assert moved.in_sync is False
    assert "out of sync" in moved.why
    e.set_store_hold(db, actor, "PO-1", 1, 10)  # SO-1 released to the queue, unparked
    e.set_store_hold(db, actor, "PO-1", 2, 10)
    e.set_store_hold(db, actor, "PO-1", 1, 0)  # sweeps SO-1 back onto PO-1:1
    assert line(e.order(db, "SO-1")).reason["by"] == "fifo"
    load(po("PO-3", (1, "A", 20, "2027-02-15")))  # takes SO-2 as it arrives
    e.set_store_hold(db, actor, "PO-1", 2, 0)
    e.set_quantity(db, actor, "PO-1", 2, 30)
    e.cancel_po(db, actor, "PO-3")  # SO-2 waits for the sweep
    e.auto_allocate(db, actor)
    swept = line(e.order(db, "SO-2"))
    assert (swept.reason["by"], swept.po_line) == ("sweep", 2)


def test_allocated_by_the_rebalance(db: e.Database, load: Load, actor: e.Actor) -> None:
    load(po("PO-2", (1, "A", 5, "2027-03-01")), so("SO-1", 1, (1, "A", 2)))
    load(po("PO-1", (1, "A", 5, "2027-01-10")))
    e.rebalance(db, actor, sku="A")
    got = line(e.order(db, "SO-1"))
    assert (got.po, got.reason["by"]) == ("PO-1", "rebalanced")


def test_cancelled_line_says_by_whom(db: e.Database, load: Load, actor: e.Actor) -> None:
    load(po("PO-1", (1, "A", 4, "2027-01-10")), so("SO-1", 1, (1, "A", 4)))
    e.cancel_order(db, actor, [R("SO-1")])
    got = line(e.order(db, "SO-1"))
    assert got.state == "cancelled"
    assert got.why.startswith("cancelled by tester (cli")


def test_history_through_import_sweep_remove_allocate_date_change_sync_and_cancel(
    db: e.Database, load: Load, actor: e.Actor
) -> None:
    load(po("PO-1", (1, "A", 4, "2027-01-10"), (2, "A", 4, "2027-02-01")))
    load(so("SO-1", 1, (1, "A", 4)))
    ann = e.Actor("ann", e.Source.SHEET)
    e.remove(db, ann, "PO-1", 1, [R("SO-1")])
    e.unpark(db, actor, [R("SO-1")])  # swept straight back onto PO-1:1
    e.remove(db, ann, "PO-1", 1, [R("SO-1")])
    e.allocate(db, actor, "PO-1", 2, [R("SO-1")])
    e.set_arrival(db, actor, "PO-1", 2, MAR01)
    e.sync_date(db, actor, "PO-1", 2)
    e.cancel_po(db, actor, "PO-1", line=2)
    history = e.order(db, "SO-1").history
    assert [(h.kind, h.what, h.line, h.promised_before, h.promised_after) for h in history] == [
        ("import", "line 1 created: 4 units of A", 1, None, None),
        ("import", "allocated to PO-1:1 (fifo)", 1, None, JAN10),
        ("remove", "released from PO-1:1 (removed); parked", 1, JAN10, None),
        ("unpark", "unparked", 1, None, None),
        ("unpark", "allocated to PO-1:1 (fifo)", 1, None, JAN10),
        ("remove", "released from PO-1:1 (removed); parked", 1, JAN10, None),
        ("allocate", "unparked", 1, None, None),
        ("allocate", "allocated to PO-1:2 (manual)", 1, None, FEB01),
        ("set-arrival", "PO-1:2 arrival date 2027-02-01 -> 2027-03-01 (arrival date)", 1, None,
         None),
        ("sync-date", "promised date changed (sync)", 1, FEB01, MAR01),
        ("cancel-po", "released from PO-1:2 (PO cancelled)", 1, MAR01, None),
    ]  # fmt: skip
    assert [(h.actor, h.source) for h in history][2] == ("ann", "sheet")
    assert all(h.at.tzinfo is not None for h in history)
    data = e.order(db, "SO-1").to_dict()
    assert list(data) == ["order", "customer", "email", "placed_at", "lines", "history"]
    assert list(data["history"][1]) == [
        "at", "operation", "kind", "actor", "source", "what", "line", "promised_before",
        "promised_after",
    ]  # fmt: skip
    assert data["history"][1]["promised_after"] == "2027-01-10"
    assert data["placed_at"] == (T0 + timedelta(minutes=1)).isoformat()
    final = data["lines"][0]
    assert (final["state"], final["po"], final["ahead"]) == (
        "queued",
        None,
        {"lines": 0, "units": 0},
    )


def test_lookup_by_customer_and_email_newest_first(db: e.Database, load: Load) -> None:
    ada = [
        so("SO-1", 1, (1, "A", 1), customer="Ada Lovelace"),
        so("SO-3", 3, (1, "A", 1), customer="Ada Lovelace"),
        so("SO-2", 2, (1, "A", 1), customer="Grace Hopper"),
    ]
    ada[1] = ada[1].model_copy(update={"email": "ada@example.com"})
    load(*ada)
    assert [v.order for v in e.orders_of(db, customer=" Ada Lovelace ")] == ["SO-3", "SO-1"]
    assert [v.order for v in e.orders_of(db, email="ada@example.com")] == ["SO-3"]
    assert e.orders_of(db, customer="Nobody") == []
    with pytest.raises(e.NotFound, match="unknown order SO-9"):
        e.order(db, "SO-9")
    with pytest.raises(e.InvalidInput):
        e.orders_of(db, customer="a", email="b")
    with pytest.raises(e.InvalidInput):
        e.orders_of(db, customer="  ")


def test_a_line_whose_stock_came_in_is_ready(db: e.Database, load: Load, actor: e.Actor) -> None:
    load(po("PO-1", (1, "A", 4, "2027-01-10")), so("SO-1", 1, (1, "A", 4)))
    e.receive(db, actor, "PO-1", 1, 4)
    got = line(e.order(db, "SO-1"))
    assert (got.state, got.po, got.po_line) == ("ready", "PO-1", 1)
    assert got.why.startswith("stock in since ")
    assert got.to_dict()["state"] == "ready"
