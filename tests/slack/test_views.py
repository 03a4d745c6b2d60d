"""The Block Kit builders of bot/views: what they say, the ids they carry, and that every view
and message stays within Slack's limits (checked by tests.standins.slack.limits, as the
stand-in does), however large the data behind it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import text
from bot.ids import ActionId, BlockId, CallbackId, number_of, numbered
from bot.views import allocate, help, home, po, remove, review, summary, sync_date
from bot.views.blocks import (
    ERROR_TEXT_MAX,
    MESSAGE_BLOCKS,
    error_blocks,
    escape,
    fallback_text,
    loading_modal,
    notice_modal,
    pack,
    stale_modal,
    truncate,
)
from bot.views.state import ViewState, engine_key, fifo_key, fingerprint, parse_ref
from bot.views.unallocated import unallocated_message
from engine import (
    DateChange,
    LineRef,
    Outcome,
    Placement,
    PODetail,
    POLineHeader,
    QueuedLine,
    Review,
    ReviewLine,
)
from engine.digest import Digest, OutOfSyncLine, QueueBySku
from tests.standins.slack.limits import Kind, problems

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ARRIVAL = date(2027, 1, 10)


# --- helpers ----------------------------------------------------------------------------------


def payload(view_or_blocks: View | Sequence[Block]) -> Any:
    if isinstance(view_or_blocks, View):
        return view_or_blocks.to_dict()
    return [b.to_dict() for b in view_or_blocks]


def assert_within_limits(view_or_blocks: View | Sequence[Block], kind: Kind) -> Any:
    """The payload as Slack would receive it, after checking it breaks no platform limit."""
    data = payload(view_or_blocks)
    assert problems(data, kind) == []
    return data


def texts(data: Any) -> str:
    """Every text in a payload, one per line, to assert on what the user reads."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return "\n".join(found)


def elements(data: Any, key: str, value: str) -> list[dict[str, Any]]:
    """Every object in a payload whose ``key`` is ``value`` (e.g. all buttons of an action)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get(key) == value:
                found.append(node)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(data)
    return found


def summary_line(n: int = 1, **changes: Any) -> POLineHeader:
    values: dict[str, Any] = dict(
        po="PO-1001", line=n, sku=f"SKU-{n}", status="open", arrival_date=ARRIVAL,
        quantity=100, store_hold=0, allocated=60, atp=40, orders=12, out_of_sync=3,
    )  # fmt: skip
    values.update(changes)
    return POLineHeader(**values)


def allocations(n: int, *, order_width: int = 0) -> list[ReviewLine]:
    return [
        ReviewLine(
            order=f"SO-{i:0{order_width}d}" if order_width else f"SO-{i}",
            line=1,
            customer=f"Customer {i}",
            placed_at=T0 + timedelta(minutes=i),
            quantity=1 + i % 3,
            promised_date=ARRIVAL if i % 7 else date(2027, 1, 5),
            in_sync=bool(i % 7),
        )
        for i in range(1, n + 1)
    ]


def a_review(rows: list[ReviewLine], **changes: Any) -> Review:
    values: dict[str, Any] = dict(
        po="PO-1001", line=1, sku="SKU-A", status="open", arrival_date=ARRIVAL,
        quantity=sum(r.quantity for r in rows) + 40, store_hold=0,
        allocated=sum(r.quantity for r in rows), atp=40, orders=len(rows),
        out_of_sync=sum(not r.in_sync for r in rows),
    )  # fmt: skip
    values.update(changes)
    return Review(head=POLineHeader(**values), allocations=rows, supplier="Acme & Co")


def queued(n: int, *, sku: str = "SKU-A", parked_every: int = 4) -> list[QueuedLine]:
    return [
        QueuedLine(
            order=f"SO-{i}",
            line=1,
            sku=sku,
            quantity=1 + i % 2,
            placed_at=T0 + timedelta(minutes=i),
            customer=f"Customer {i % 50}",
            parked=i % parked_every == 0,
        )
        for i in range(1, n + 1)
    ]


def outcome(**changes: Any) -> Outcome:
    values: dict[str, Any] = dict(operation="test", operation_id="op-1", actor="U1", source="slack")
    return Outcome(**(values | changes))


def placement(order: str, qty: int) -> Placement:
    return Placement(order, 1, "SKU-A", qty, "PO-1001", 1, T0, ARRIVAL)


# --- ids and state ----------------------------------------------------------------------------


def test_ids_are_unique_and_numbered_block_ids_read_back() -> None:
    for enum in (ActionId, BlockId, CallbackId):
        values = [m.value for m in enum]
        assert len(values) == len(set(values)), enum
    block_id = numbered(BlockId.REMOVE_PICK, 3)
    assert number_of(block_id, BlockId.REMOVE_PICK) == 3
    assert number_of(block_id, BlockId.PO_LINE) is None
    assert number_of(BlockId.REMOVE_HOLD, BlockId.REMOVE_PICK) is None


def test_view_state_round_trips_and_detects_a_changed_line() -> None:
    head = summary_line()
    key = fifo_key(allocations(1)[0])
    state = ViewState.of(head, page=3, after=key, picked=("SO-1:1", "A:B:2"), channel="C1")
    again = ViewState.from_json(state.to_json())
    assert again == state
    assert engine_key(key) == (T0 + timedelta(minutes=1), "SO-1", 1)
    assert json.loads(ViewState(po="PO-1", line=2).to_json()) == {"po": "PO-1", "line": 2}
    assert not state.is_stale(head)
    assert state.is_stale(summary_line(allocated=61, atp=39))
    # A review's header and a PO's line of the same line in the same state look alike.
    rev = a_review([], po=head.po, line=head.line, sku=head.sku, quantity=100, allocated=60,
                   atp=40, orders=12, out_of_sync=3)  # fmt: skip
    assert fingerprint(rev.head) == fingerprint(head)
    assert parse_ref("A:B:2") == LineRef("A:B", 2)
    with pytest.raises(ValueError):
        parse_ref("SO-1")
    with pytest.raises(ValueError):
        ViewState.from_json('{"po": "x"}')
    with pytest.raises(ValueError, match="over 3000"):
        ViewState(po="P", line=1, picked=tuple("x" * 80 for _ in range(40))).to_json()


def test_truncate_ends_in_an_ellipsis_and_never_splits_an_entity() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("abcdefghij", 5) == "abcd…"
    cut = truncate(escape("ab & <c>"), 6)
    assert cut == "ab …" and len(cut) <= 6
    assert escape("<@U1> & co") == "&lt;@U1&gt; &amp; co"


def test_pack_fills_sections_and_counts_what_does_not_fit() -> None:
    rows = [f"row {i} " + "x" * 90 for i in range(1000)]
    blocks = pack(rows, max_blocks=3)
    data = assert_within_limits(blocks, "message")
    assert len(blocks) == 3
    shown = sum(t.count("row ") for t in (b["text"]["text"] for b in data))
    assert f"… and {1000 - shown} more" in data[-1]["text"]["text"]
    assert pack([], max_blocks=3) == []
    assert "… and 95 more" in texts(payload(pack(rows[:5], max_blocks=3, total=100)))


# --- small modals and messages ----------------------------------------------------------------


def test_loading_notice_error_and_fallback() -> None:
    loading = assert_within_limits(loading_modal(), "modal")
    assert loading["callback_id"] == CallbackId.LOADING and "Loading" in texts(loading)
    notice = assert_within_limits(notice_modal("A title far too long for Slack", "No PO"), "modal")
    assert notice["title"]["text"] == "A title far too long fo…" and "submit" not in notice
    blocks = error_blocks("unknown PO <PO-9>")
    assert "unknown PO &lt;PO-9&gt;" in texts(assert_within_limits(blocks, "message"))
    assert fallback_text(blocks).startswith(":x: unknown PO")


def test_stale_modal_puts_a_notice_above_the_fresh_view_and_keeps_its_state() -> None:
    fresh = review.review_modal(a_review(allocations(5)))
    data = assert_within_limits(stale_modal(fresh), "modal")
    assert data["blocks"][0]["block_id"] == BlockId.NOTICE
    assert "changed since you opened it" in data["blocks"][0]["text"]["text"]
    assert data["private_metadata"] == fresh.private_metadata
    assert data["callback_id"] == CallbackId.REVIEW
    assert len(data["blocks"]) == len(fresh.blocks or []) + 1


def test_errors_response_names_the_input_block() -> None:
    body = allocate.allocate_errors("SO-1:1 is already allocated; short by 3 units " * 100)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [BlockId.ALLOCATE_ORDERS]
    assert len(body["errors"][BlockId.ALLOCATE_ORDERS]) <= ERROR_TEXT_MAX
    assert remove.remove_errors("Choose one")["errors"] == {
        numbered(BlockId.REMOVE_PICK, 0): "Choose one"
    }


def test_help_lists_every_subcommand_and_the_problem_first() -> None:
    data = assert_within_limits(help.help_blocks("unknown subcommand 'pp'"), "message")
    said = texts(data)
    assert data[0]["text"]["text"] == ":x: unknown subcommand 'pp'"
    for usage in ("/preorder po PO-NUMBER", "/preorder unallocated [SKU]", "/preorder help"):
        assert f"`{usage}`" in said
    assert ":x:" not in texts(payload(help.help_blocks()))


# --- the PO message ---------------------------------------------------------------------------


def test_po_message_shows_each_line_with_the_buttons_that_can_act() -> None:
    detail = PODetail(
        po="PO-1001",
        supplier="Acme",
        status="open",
        lines=[
            summary_line(1),
            summary_line(2, atp=0, out_of_sync=0),
            summary_line(3, status="cancelled", allocated=0, orders=0, out_of_sync=0, atp=100),
        ],
    )
    data = assert_within_limits(po.po_message(detail, channel="C1"), "message")
    said = texts(data)
    assert "Purchase order PO-1001" in said and "Acme · open · 3 lines" in said
    assert "*Line 1* · `SKU-1`" in said and "*ATP 40*" in said and "3 out of sync" in said
    assert "arrives 2027-01-10" in said and "*cancelled*" in said
    by_line = {
        number_of(b["block_id"], BlockId.PO_LINE): [e["action_id"] for e in b["elements"]]
        for b in data
        if b["type"] == "actions" and b["block_id"] != BlockId.PO_ACTIONS
    }
    assert by_line == {
        1: [
            ActionId.REVIEW,
            ActionId.ALLOCATE,
            ActionId.SYNC_DATE,
            ActionId.SET_ARRIVAL,
            ActionId.REMOVE,
            ActionId.RECEIVE,
            ActionId.CANCEL_LINE,
        ],
        2: [
            ActionId.REVIEW,
            ActionId.SET_ARRIVAL,
            ActionId.REMOVE,
            ActionId.RECEIVE,
            ActionId.CANCEL_LINE,
        ],
        3: [ActionId.REVIEW],  # cancelled: nothing to change, nothing to receive
    }
    # The PO's own button, the whole PO in its value.
    (cancel_po,) = elements(data, "action_id", ActionId.CANCEL_PO)
    whole = ViewState.from_json(cancel_po["value"])
    assert (whole.po, whole.whole_po, whole.channel) == ("PO-1001", True, "C1")
    state = ViewState.from_json(elements(data, "action_id", ActionId.ALLOCATE)[0]["value"])
    assert (state.po, state.line, state.sku, state.channel) == ("PO-1001", 1, "SKU-1", "C1")
    assert state.fingerprint == fingerprint(detail.lines[0])
    assert elements(data, "text", "Remove Allocation")


@pytest.mark.parametrize("count", [60, 250])
def test_po_message_with_many_lines_fits_50_blocks(count: int) -> None:
    detail = PODetail("PO-1001", "Acme", "open", [summary_line(n) for n in range(1, count + 1)])
    data = assert_within_limits(po.po_message(detail), "message")
    assert len(data) <= MESSAGE_BLOCKS
    # A row of buttons per buttoned line, the PO's own, and the select of the others.
    assert len([b for b in data if b["type"] == "actions"]) == po.LINES_WITH_BUTTONS + 2
    picker = elements(data, "action_id", ActionId.PICK_LINE)[0]
    assert len(picker["options"]) == min(count - po.LINES_WITH_BUTTONS, 100)
    assert ViewState.from_json(picker["options"][0]["value"]).line == po.LINES_WITH_BUTTONS + 1
    said = texts(data)
    assert f"{count - po.LINES_WITH_BUTTONS} more lines without buttons" in said
    if count == 60:  # every line is in the message, with buttons or listed
        assert all(f"`SKU-{n}`" in said for n in range(1, 61))
    else:
        assert data[-1]["text"]["text"].splitlines()[-1].startswith("… and ")


# --- review -----------------------------------------------------------------------------------


def test_review_of_50000_allocations_renders_one_page_with_a_next_cursor() -> None:
    rows = allocations(50_000)
    data = assert_within_limits(review.review_modal(a_review(rows), channel="C1"), "modal")
    said = texts(data)
    assert (
        data["callback_id"] == CallbackId.REVIEW and data["title"]["text"] == "Review allocations"
    )
    assert "*PO-1001:1* from Acme &amp; Co · `SKU-A`" in said
    for figure in ("*Order lines*\n50000", "*ATP left*\n40", "*Arrival*\n2027-01-10",
                   "*Status*\nopen", "*Units ordered (consumed ATP)*",
                   "*Store hold*\n0 of"):  # fmt: skip
        assert figure in said
    assert said.count("`SO-") == review.PAGE_SIZE
    assert "`SO-20:1`" in said and "`SO-21:1`" not in said
    assert "1–20 (50000 order lines in all)" in said
    assert ":warning: promised 2027-01-05 (arrives 2027-01-10)" in said  # SO-7, out of sync
    assert not elements(data, "action_id", ActionId.REVIEW_PREVIOUS)
    nxt = ViewState.from_json(elements(data, "action_id", ActionId.REVIEW_NEXT)[0]["value"])
    assert nxt.page == 2 and nxt.after == fifo_key(rows[19]) and nxt.channel == "C1"
    assert elements(data, "action_id", ActionId.REVIEW_REMOVE)
    meta = ViewState.from_json(data["private_metadata"])
    assert (meta.po, meta.line, meta.page, meta.after) == ("PO-1001", 1, 1, None)


def test_review_later_page_pages_back_by_the_first_rows_key() -> None:
    rows = allocations(60)[40:]  # page 3 as the engine returns it: 20 rows, no extra
    rev = a_review(rows, orders=60)
    data = assert_within_limits(
        review.review_modal(rev, page=3, after=fifo_key(allocations(40)[-1]), has_next=False),
        "modal",
    )
    assert "41–60 (60 order lines in all)" in texts(data)
    back = ViewState.from_json(elements(data, "action_id", ActionId.REVIEW_PREVIOUS)[0]["value"])
    assert back.page == 2 and back.before == fifo_key(rows[0]) and back.after is None
    assert not elements(data, "action_id", ActionId.REVIEW_NEXT)


def test_review_of_an_empty_line_says_so_without_remove() -> None:
    data = assert_within_limits(review.review_modal(a_review([])), "modal")
    assert "No order lines are allocated" in texts(data)
    assert not elements(data, "action_id", ActionId.REVIEW_REMOVE)


# --- allocate ---------------------------------------------------------------------------------


def test_allocate_confirm_states_sku_line_and_atp() -> None:
    data = assert_within_limits(
        allocate.allocate_confirm_modal(summary_line(), channel="C"), "modal"
    )
    assert "Allocate unallocated sales orders of SKU `SKU-1` to *PO-1001:1*" in texts(data)
    assert "ATP left: 40" in texts(data)
    assert data["submit"]["text"] == "Yes, choose orders"
    assert data["callback_id"] == CallbackId.ALLOCATE_CONFIRM
    assert ViewState.from_json(data["private_metadata"]).channel == "C"
    full = assert_within_limits(allocate.allocate_confirm_modal(summary_line(atp=0)), "modal")
    assert "no ATP left" in texts(full) and "submit" not in full


def test_allocate_with_5_lines_offers_a_static_select_in_fifo_order() -> None:
    lines = queued(5)
    data = assert_within_limits(allocate.allocate_modal(summary_line(), lines), "modal")
    select = elements(data, "action_id", ActionId.ALLOCATE_ORDERS)[0]
    assert select["type"] == "multi_static_select"
    assert [o["value"] for o in select["options"]] == [f"SO-{i}:1" for i in range(1, 6)]
    assert (
        select["options"][3]["text"]["text"] == "SO-4:1 · 1 unit · Customer 4 · 2026-11-02 · parked"
    )
    assert data["blocks"][1]["block_id"] == BlockId.ALLOCATE_ORDERS
    assert (
        data["callback_id"] == CallbackId.ALLOCATE_CHOOSE and data["submit"]["text"] == "Allocate"
    )
    assert "5 unallocated order lines: 8 units, 1 parked" in texts(data)


def test_allocate_with_5000_lines_offers_an_external_select() -> None:
    data = assert_within_limits(allocate.allocate_modal(summary_line(), queued(5000)), "modal")
    select = elements(data, "action_id", ActionId.ALLOCATE_ORDERS)[0]
    assert select["type"] == "multi_external_select" and select["min_query_length"] == 0
    assert "options" not in select
    assert "5000 unallocated order lines: 7500 units, 1250 parked" in texts(data)
    partial = allocate.allocate_modal(summary_line(), queued(100), total=5000)
    assert "5000 unallocated order lines: the first 100 hold 150 units" in texts(payload(partial))
    assert elements(payload(partial), "type", "multi_external_select")
    empty = assert_within_limits(allocate.allocate_modal(summary_line(), []), "modal")
    assert "nothing to allocate" in texts(empty) and "submit" not in empty


def test_options_response_filters_by_order_or_customer_and_stops_at_100() -> None:
    lines = queued(5000)
    everything = allocate.options_response(lines, "")["options"]
    assert [o["value"] for o in everything] == [f"SO-{i}:1" for i in range(1, 101)]
    by_order = allocate.options_response(lines, "so-4999")["options"]
    assert [o["value"] for o in by_order] == ["SO-4999:1"]
    by_customer = allocate.options_response(lines, "customer 7")["options"]
    assert len(by_customer) == 100  # 'Customer 7' and 'Customer 7x' match, FIFO, capped
    assert all("Customer 7" in o["text"]["text"] for o in by_customer)
    assert allocate.options_response(lines, "nobody")["options"] == []
    # Reads no further than it needs: an endless queue answers too.
    endless = (q for _ in iter(int, 1) for q in queued(10))
    assert len(allocate.options_response(endless, "")["options"]) == 100


def test_allocate_option_text_is_cut_to_75_and_chosen_values_read_back() -> None:
    long = QueuedLine("SO-" + "9" * 61, 12, "SKU-A", 3, T0, "Ü" * 200, True)
    option = allocate.order_option(long).to_dict()
    assert len(option["text"]["text"]) <= 75 and option["value"] == f"SO-{'9' * 61}:12"
    values: dict[str, dict[str, Any]] = {
        BlockId.ALLOCATE_ORDERS: {
            ActionId.ALLOCATE_ORDERS: {
                "selected_options": [{"value": "SO-1:1"}, {"value": "SO-2:1"}]
            }
        }
    }
    assert allocate.chosen_orders(values) == ["SO-1:1", "SO-2:1"]
    assert allocate.chosen_orders({}) == []


# --- remove -----------------------------------------------------------------------------------


def test_remove_of_250_lines_pages_checkbox_groups_of_at_most_10() -> None:
    rows = allocations(250)
    data = assert_within_limits(remove.remove_modal(a_review(rows)), "modal")
    groups = [
        b
        for b in data["blocks"]
        if number_of(b.get("block_id", ""), BlockId.REMOVE_PICK) is not None
    ]
    assert len(groups) == remove.PAGE_SIZE // 10
    assert all(len(g["element"]["options"]) <= 10 for g in groups)
    values = [o["value"] for g in groups for o in g["element"]["options"]]
    assert values == [f"SO-{i}:1" for i in range(1, remove.PAGE_SIZE + 1)]
    assert groups[1]["label"]["text"] == "Order lines 11–20"
    hold = elements(data, "action_id", ActionId.REMOVE_HOLD)[0]
    assert hold["options"][0]["text"]["text"] == "Keep the freed units for in-store sales"
    nxt = ViewState.from_json(elements(data, "action_id", ActionId.REMOVE_NEXT)[0]["value"])
    assert nxt.page == 2 and nxt.after == fifo_key(rows[remove.PAGE_SIZE - 1])
    assert data["callback_id"] == CallbackId.REMOVE_CHOOSE and len(data["blocks"]) < 20
    assert "Removed lines are parked" in texts(data)


def test_remove_last_page_has_previous_only_and_an_empty_line_nothing_to_submit() -> None:
    rows = allocations(250)[240:]
    data = assert_within_limits(remove.remove_modal(a_review(rows), page=9), "modal")
    assert elements(data, "action_id", ActionId.REMOVE_PREVIOUS)
    assert not elements(data, "action_id", ActionId.REMOVE_NEXT)
    assert "Order lines 241–250" in texts(data)
    empty = assert_within_limits(remove.remove_modal(a_review([])), "modal")
    assert "nothing to remove" in texts(empty) and "submit" not in empty


def test_remove_confirm_states_count_units_and_parking_and_carries_the_choice() -> None:
    rows = allocations(7)
    rev = a_review(rows)
    data = assert_within_limits(
        remove.remove_confirm_modal(rev.head, rows, hold_for_store=False), "modal"
    )
    units = sum(r.quantity for r in rows)
    assert f"Remove 7 allocations ({units} units) from PO-1001:1? They will be parked." in texts(
        data
    )
    assert "return to ATP" in texts(data)
    state = ViewState.from_json(data["private_metadata"])
    assert state.picked == tuple(f"SO-{i}:1" for i in range(1, 8)) and not state.hold_for_store
    assert data["callback_id"] == CallbackId.REMOVE_CONFIRM
    held = remove.remove_confirm_modal(rev.head, rows[:1], hold_for_store=True)
    assert "Remove 1 allocation (2 units)" in texts(payload(held))
    assert "store hold" in texts(payload(held))


def test_remove_confirm_metadata_fits_a_full_page_of_the_longest_order_numbers() -> None:
    rows = allocations(remove.PAGE_SIZE, order_width=61)  # 'SO-' + 61 digits = 64, the column max
    rev = a_review(rows, po="P" * 64, sku="S" * 64)
    data = assert_within_limits(
        remove.remove_confirm_modal(rev.head, rows, hold_for_store=True, channel="C" * 12),
        "modal",
    )
    assert len(ViewState.from_json(data["private_metadata"]).picked) == remove.PAGE_SIZE


def test_remove_reads_ticks_across_groups_and_the_hold_choice() -> None:
    def ticked(action: str, *values: str) -> dict[str, Any]:
        return {action: {"selected_options": [{"value": v} for v in values] or None}}

    values = {
        numbered(BlockId.REMOVE_PICK, 1): ticked(ActionId.REMOVE_PICK, "SO-12:1"),
        numbered(BlockId.REMOVE_PICK, 0): ticked(ActionId.REMOVE_PICK, "SO-1:1"),
        numbered(BlockId.REMOVE_PICK, 2): ticked(ActionId.REMOVE_PICK),
        BlockId.REMOVE_HOLD: ticked(ActionId.REMOVE_HOLD, remove.HOLD_VALUE),
    }
    assert remove.chosen_refs(values) == ["SO-1:1", "SO-12:1"]
    assert remove.hold_chosen(values)
    assert not remove.hold_chosen(
        {BlockId.REMOVE_HOLD: {ActionId.REMOVE_HOLD: {"selected_options": []}}}
    )


# --- sync date and summaries ------------------------------------------------------------------


def test_sync_date_confirm_says_how_many_dates_change_and_to_what() -> None:
    changes = [DateChange(f"SO-{i}", 1, date(2027, 1, 5) if i < 9 else None, ARRIVAL, "sync")
               for i in range(1, 13)]  # fmt: skip
    preview = outcome(dry_run=True, promises=changes)
    data = assert_within_limits(sync_date.sync_date_modal(summary_line(), preview), "modal")
    said = texts(data)
    assert "Change 12 promised dates on *PO-1001:1* to 2027-01-10 (its arrival date)?" in said
    assert "Now promised: 2027-01-05 (8), no date (4)." in said
    assert "`SO-1:1` 2027-01-05 → 2027-01-10" in said
    assert (
        data["submit"]["text"] == "Sync dates"
        and data["callback_id"] == CallbackId.SYNC_DATE_CONFIRM
    )
    many = outcome(dry_run=True, promises=changes * 500)
    assert_within_limits(sync_date.sync_date_modal(summary_line(), many), "modal")
    none = assert_within_limits(
        sync_date.sync_date_modal(summary_line(), outcome(dry_run=True)), "modal"
    )
    assert "nothing to sync" in texts(none) and "submit" not in none


def test_outcome_summary_uses_the_cli_words() -> None:
    done = outcome(operation="allocate")
    for order, qty in (("SO-1", 2), ("SO-2", 2), ("SO-3", 3)):
        done.note_allocated(1, qty, [placement(order, qty)])
    done.po_lines = [summary_line(atp=33)]
    atp_of = [("PO-1001", 1)]
    data = assert_within_limits(summary.outcome_blocks(done, atp_of=atp_of, by="<@U1>"), "message")
    said = texts(data)
    assert "• Allocated 3 order lines (7 units) to PO-1001:1; ATP left 33" in said
    assert all(s in said for s in text.describe(done, atp_of))
    # The operation's id, which a person quotes to undo the change.
    assert data[-1]["elements"][0]["text"] == "by <@U1> · operation `op-1`"


def test_a_dry_run_summary_gives_no_operation_id_to_undo() -> None:
    preview = outcome(dry_run=True, released=[placement("SO-1", 1)])
    data = assert_within_limits(summary.outcome_blocks(preview, by="<@U1>"), "message")
    assert data[-1]["elements"][0]["text"] == "by <@U1>"


def test_outcome_summary_of_a_dry_run_and_of_a_huge_outcome_fit_a_message() -> None:
    preview = outcome(dry_run=True, released=[placement("SO-1", 1)], parked=[LineRef("SO-1", 1)])
    data = assert_within_limits(summary.outcome_blocks(preview, heading="Preview"), "message")
    assert data[1]["text"]["text"].startswith(":information_source: Dry run")
    assert "Would release 1 order line" in texts(data)
    huge = outcome(released=[placement(f"SO-{i}", 1) for i in range(5000)])
    assert len(assert_within_limits(summary.outcome_blocks(huge), "message")) <= 50


# --- unallocated and home ---------------------------------------------------------------------


def test_unallocated_by_sku_fits_a_message_however_many_skus() -> None:
    lines = [q for s in range(120) for q in queued(12, sku=f"SKU-{s:03d}")]
    data = assert_within_limits(unallocated_message(lines), "message")
    said = texts(data)
    assert "1440 lines" in said and "across 120 SKUs" in said
    assert "*`SKU-000`* · 12 lines, 18 units, 3 parked" in said
    assert "… and 7 more: /preorder unallocated SKU-000" in said
    assert "… and 74 more SKUs" in said
    nothing = assert_within_limits(unallocated_message([]), "message")
    assert "is waiting" in texts(nothing)


def test_unallocated_of_one_sku_lists_fifo_and_counts_the_rest() -> None:
    lines = queued(5000)
    totals = [QueueBySku("SKU-A", 9000, 13500, 2250, T0)]
    data = assert_within_limits(unallocated_message(lines, sku="SKU-A", totals=totals), "message")
    said = texts(data)
    assert "Unallocated order lines of SKU-A" in said and "9000 lines, 13500 units" in said
    assert said.index("`SO-1:1`") < said.index("`SO-2:1`") and "_parked_" in said
    shown = said.count("`SO-")
    assert f"… and {9000 - shown} more" in said


def test_home_tab_with_many_lines_and_skus_stays_under_100_blocks() -> None:
    data = Digest(
        unallocated=[QueueBySku(f"SKU-{i:04d}", 3, 5, 1, T0) for i in range(2000)],
        out_of_sync=[
            OutOfSyncLine(f"PO-{i}", 1, "SKU-A", ARRIVAL, 2, 4, date(2027, 1, 2), date(2027, 1, 5))
            for i in range(300)
        ],
    )
    open_lines = [summary_line(n) for n in range(1, 400)]
    view = assert_within_limits(home.home_view(data, open_lines, as_of=T0), "home")
    said = texts(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    for part in ("Open PO lines", "Unallocated orders by SKU", "Out-of-sync promises"):
        assert part in said
    assert "*PO-1001:1* `SKU-1` · *ATP 40* of 100" in said
    assert "`SKU-0000` · 3 lines, 5 units, 1 parked" in said
    assert "promised 2027-01-02 to 2027-01-05" in said and "more" in said
    assert len(elements(view, "action_id", ActionId.REVIEW)) == home.BUTTON_ROWS
    sync = elements(view, "action_id", ActionId.SYNC_DATE)
    assert len(sync) == home.BUTTON_ROWS and ViewState.from_json(sync[0]["value"]).po == "PO-0"
    quiet = assert_within_limits(home.home_view(Digest([], []), []), "home")
    assert "No open PO lines" in texts(quiet) and "Every promised date matches" in texts(quiet)
