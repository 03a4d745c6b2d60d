"""The view builders of the actions added beside allocate and remove (set arrival, move,
unpark, cancel): within Slack's limits however large or long the data, the ids their handlers
read, and what they say."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.ids import ActionId, BlockId, CallbackId
from bot.views import cancel, move, set_arrival, unpark
from bot.views.blocks import CHECKBOX_OPTIONS_MAX
from bot.views.state import QueueState, StateError, ViewState
from engine import (
    DateChange,
    FieldChange,
    Outcome,
    Placement,
    Review,
    ReviewLine,
)
from tests.slack.test_views import (
    ARRIVAL,
    T0,
    allocations,
    assert_within_limits,
    elements,
    queued,
    summary_line,
    texts,
)

LONG = "X" * 64  # the longest order or PO number a key may be


def outcome(**changes: object) -> Outcome:
    return Outcome(**({"operation": "t", "operation_id": "op", "actor": "U1", "source": "slack"}
                      | changes))  # type: ignore[arg-type]  # fmt: skip


def released(n: int, *, order: str = "SO") -> list[Placement]:
    return [
        Placement(f"{order}-{i}", 1, "SKU-1", 2, "PO-1001", 1 + i % 3, T0, ARRIVAL)
        for i in range(n)
    ]


# --- cancel -----------------------------------------------------------------------------------


def test_the_cancel_confirmation_counts_what_it_releases_and_fits_however_many() -> None:
    preview = outcome(
        dry_run=True,
        released=released(3),
        po_changes=[FieldChange("PO-1001", 1, "status", "open", "cancelled")],
        notified=3,
    )
    heads = [summary_line(1)]
    view = cancel.cancel_modal("PO-1001", 1, preview, heads, channel="C1")
    data = assert_within_limits(view, "modal")
    said = texts(data)
    assert "Cancel *PO-1001:1*? It releases 3 order lines (6 units) of 3 orders" in said
    assert "3 customers will be told" in said
    assert data["callback_id"] == CallbackId.CANCEL_CONFIRM and data["submit"]["text"]
    state = ViewState.from_json(data["private_metadata"])
    assert (state.po, state.line, state.whole_po, state.channel) == ("PO-1001", 1, False, "C1")
    assert state.fingerprint == cancel.supply_print(heads)

    huge = outcome(
        dry_run=True,
        released=released(20_000, order=LONG),
        po_changes=[FieldChange("PO-1", n, "status", "open", "cancelled") for n in range(1, 900)],
    )
    many = [summary_line(n, po=LONG) for n in range(1, 900)]
    data = assert_within_limits(cancel.cancel_modal(LONG, None, huge, many), "modal")
    assert ViewState.from_json(data["private_metadata"]).whole_po
    said = texts(data)
    assert "(899 open lines: 1, 2, 3, 4, 5, 6, 7, 8 and 891 more)?" in said
    assert "Customers may need telling" in said


def test_nothing_allocated_says_nothing_is_released() -> None:
    preview = outcome(dry_run=True)
    data = assert_within_limits(cancel.cancel_modal("PO-1", 2, preview, []), "modal")
    assert "No order line is allocated to it: nothing is released." in texts(data)


def test_the_fingerprint_tells_a_changed_po() -> None:
    heads = [summary_line(1), summary_line(2)]
    assert cancel.supply_print(heads) == cancel.supply_print(heads[::-1])
    assert cancel.supply_print(heads) != cancel.supply_print([summary_line(1)])
    changed = [summary_line(1), summary_line(2, allocated=61, atp=39, orders=13)]
    assert cancel.supply_print(heads) != cancel.supply_print(changed)


# --- set arrival ------------------------------------------------------------------------------


def test_the_set_arrival_modal_presets_the_date_and_tells_the_dry_run() -> None:
    head = summary_line(orders=2)
    preview = outcome(
        dry_run=True,
        promises=[DateChange(f"SO-{i}", 1, ARRIVAL, date(2027, 2, 1), "sync") for i in (1, 2)],
        notified=2,
    )
    chosen = date(2027, 2, 1)
    view = set_arrival.set_arrival_modal(head, chosen, preview, today=date(2026, 12, 5))
    data = assert_within_limits(view, "modal")
    (picker,) = elements(data, "action_id", ActionId.ARRIVAL_DATE)
    assert picker["initial_date"] == "2027-02-01"
    (options,) = elements(data, "action_id", ActionId.ARRIVAL_OPTIONS)
    assert len(options["options"]) <= CHECKBOX_OPTIONS_MAX and "initial_options" not in options
    said = texts(data)
    assert "affects 2 order lines of 2 orders" in said and "2 customers will be told" in said
    assert "before today" not in said

    past = set_arrival.set_arrival_modal(
        head, date(2026, 12, 1), preview, today=date(2026, 12, 5), sync=True, allow_past=True
    )
    data = assert_within_limits(past, "modal")
    assert "A date before today (2026-12-05, UTC) is refused" in texts(data)
    (options,) = elements(data, "action_id", ActionId.ARRIVAL_OPTIONS)
    ticked = [o["value"] for o in options["initial_options"]]
    assert ticked == [set_arrival.SYNC_VALUE, set_arrival.PAST_VALUE]


def test_the_set_arrival_answers_are_read_back() -> None:
    values: dict[str, dict[str, Any]] = {
        BlockId.ARRIVAL_DATE: {ActionId.ARRIVAL_DATE: {"selected_date": "2027-02-01"}},
        BlockId.ARRIVAL_OPTIONS: {
            ActionId.ARRIVAL_OPTIONS: {"selected_options": [{"value": set_arrival.PAST_VALUE}]}
        },
    }
    assert set_arrival.chosen_date(values) == "2027-02-01"
    assert set_arrival.chosen_options(values) == (False, True)
    assert set_arrival.chosen_date({}) is None and set_arrival.chosen_options({}) == (False, False)


# --- move -------------------------------------------------------------------------------------


def test_the_move_modal_offers_the_page_and_the_lines_with_atp_within_limits() -> None:
    head = summary_line(1, po=LONG)
    rows = [
        ReviewLine(f"{LONG[:-3]}{i:03d}", 1, "C" * 200, T0 + timedelta(minutes=i), 3, ARRIVAL, True)
        for i in range(40)
    ]
    targets = [
        head,
        summary_line(2, po=LONG, atp=0),
        *(summary_line(n, po=LONG, atp=n) for n in range(3, 300)),
    ]
    zone = ZoneInfo("America/New_York")
    view = move.move_modal(Review(head, rows), targets, channel="C1", zone=zone)
    data = assert_within_limits(view, "modal")
    (orders,) = elements(data, "action_id", ActionId.MOVE_ORDERS)
    assert orders["type"] == "multi_static_select" and len(orders["options"]) == 20
    assert "EST" in orders["options"][0]["description"]["text"]
    (target,) = elements(data, "action_id", ActionId.MOVE_TARGET)
    assert len(target["options"]) == 100
    assert target["options"][0]["value"] == f"{LONG}:3"  # not itself, not one without ATP
    assert "1 other open line without ATP left not offered" in texts(data)
    assert move.chosen_target(
        {BlockId.MOVE_TARGET: {ActionId.MOVE_TARGET: {"selected_option": {"value": "P:O:7"}}}}
    ) == ("P:O", 7)
    for forged in ("PO-1", "PO-1:0", "PO-1:x", ":3"):
        with pytest.raises(StateError):
            move.chosen_target(
                {
                    BlockId.MOVE_TARGET: {
                        ActionId.MOVE_TARGET: {"selected_option": {"value": forged}}
                    }
                }
            )


def test_the_move_modal_without_a_target_says_so() -> None:
    head = summary_line(1)
    data = assert_within_limits(move.move_modal(Review(head, allocations(3)), [head]), "modal")
    assert "nowhere to move" in texts(data) and "submit" not in data


# --- unpark -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "kind"), [(100, "multi_static_select"), (101, "multi_external_select")]
)
def test_the_unpark_modal_is_static_up_to_100_then_searched(count: int, kind: str) -> None:
    lines = queued(count, parked_every=1)
    view = unpark.unpark_modal("SKU-A", lines[:100], total=count, channel="C1")
    data = assert_within_limits(view, "modal")
    (select,) = elements(data, "action_id", ActionId.UNPARK_ORDERS)
    assert select["type"] == kind
    assert QueueState.from_json(data["private_metadata"]) == QueueState("SKU-A", "C1")


def test_the_queue_state_refuses_what_the_app_did_not_make() -> None:
    assert QueueState.from_json(QueueState("A-1", "C").to_json()) == QueueState("A-1", "C")
    for forged in ('{"queue": "bad sku"}', '{"queue": 3}', "[]", '{"po": "P", "line": 1}'):
        with pytest.raises(ValueError):
            QueueState.from_json(forged)


def test_a_move_is_said_to_go_to_earlier_lines_only_when_it_did() -> None:
    from bot.text import describe
    from engine import Move

    move_back = Move("SO-1", 1, "SKU-1", 2, "PO-1", 1, "PO-2", 1)
    early, late = summary_line(1, po="PO-1"), summary_line(1, po="PO-2")
    earlier = [early, replace(late, arrival_date=date(2026, 12, 20))]
    rebalanced = outcome(moved=[move_back], po_lines=earlier)
    assert "to earlier PO lines: PO-1:1 → PO-2:1 (1)" in describe(rebalanced)[0]
    manual = outcome(moved=[move_back], po_lines=[early, late])  # the same date: not earlier
    assert "to another PO line: PO-1:1 → PO-2:1 (1)" in describe(manual)[0]
    unknown = outcome(moved=[move_back, Move("SO-2", 1, "SKU-1", 1, "PO-1", 1, "PO-3", 1)])
    assert "to other PO lines: " in describe(unknown)[0]  # no headers: nothing claimed
