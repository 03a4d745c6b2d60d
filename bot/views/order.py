"""``/preorder order ORDER``: where each line of an order is, why, and its history, as a modal
with the content of ``preorder order``. A line a PO line holds links to that line's review."""

from __future__ import annotations

from datetime import UTC, tzinfo

from slack_sdk.models.blocks import Block, SectionBlock
from slack_sdk.models.views import View

from bot.ids import ActionId, CallbackId
from bot.text import day, plural
from bot.views.blocks import (
    HEADER_MAX,
    MODAL_BLOCKS,
    TEXT_MAX,
    at,
    button,
    context,
    escape,
    header,
    modal,
    pack,
    section,
    truncate,
)
from bot.views.state import ViewState
from engine import HistoryEntry, OrderLineView, OrderView

TITLE = "Order"
# Blocks left for the history after the head and the lines (a line is one block).
HISTORY_BLOCKS = 20


def order_modal(view: OrderView, *, zone: tzinfo = UTC, channel: str = "") -> View:
    """The order's head, a block per line (state, PO line, promise and why, with a Review
    button when a PO line holds it), then the history oldest first, within Slack's limits."""
    blocks: list[Block] = [
        header(truncate(f"Order {view.order}", HEADER_MAX)),
        context(
            f"{escape(view.customer or '-')} · {escape(view.email or 'no email')} · placed "
            f"{at(view.placed_at, zone)}"
        ),
    ]
    room = MODAL_BLOCKS - len(blocks) - HISTORY_BLOCKS - 2
    blocks += [line_block(ln, channel) for ln in view.lines[:room]]
    if len(view.lines) > room:
        blocks.append(context(f"… and {len(view.lines) - room} more lines: `preorder order`"))
    blocks.append(section("*History*, oldest first"))
    rows = [history_row(h, zone) for h in view.history]
    budget = MODAL_BLOCKS - len(blocks)
    blocks += pack(rows, max_blocks=budget) if rows else [context("No change recorded.")]
    return modal(TITLE, blocks[:MODAL_BLOCKS], callback_id=CallbackId.NOTICE)


def line_block(ln: OrderLineView, channel: str) -> SectionBlock:
    where = f" on `{escape(ln.po)}:{ln.po_line}`" if ln.po else ""
    promise = ""
    if ln.promised_date is not None:
        sync = "" if ln.in_sync else " :warning: out of sync"
        promise = f" · promised {day(ln.promised_date)}{sync}"
    why = ln.why
    parts = ""
    if ln.parts:
        # Rule 10: each part on a line of its own, with its arrival; the "why" then need not
        # list them again.
        parts = "\n" + "\n".join(
            f":scissors: {plural(p['quantity'], 'unit')} on `{escape(p['po'])}:{p['po_line']}`, "
            f"arrives {day(p['arrival_date'])}"
            for p in ln.parts
        )
        listed = ", ".join(f"{p['quantity']} on {p['po']}:{p['po_line']}" for p in ln.parts)
        why = why.removeprefix(f"split: {listed}; ")
        where = f" in {len(ln.parts)} parts, the latest on `{escape(ln.po or '')}:{ln.po_line}`"
    text = (
        f"*Line {ln.line}* · `{escape(ln.sku)}` × {ln.quantity} · *{ln.state}*{where}{promise}"
        f"{parts}\n{escape(why)}"
    )
    accessory = None
    if ln.po is not None and ln.po_line is not None:
        value = ViewState(po=ln.po, line=ln.po_line, channel=channel).to_json()
        accessory = button("Review", ActionId.REVIEW, value)
    return SectionBlock(text=truncate(text, TEXT_MAX), accessory=accessory)


def history_row(h: HistoryEntry, zone: tzinfo) -> str:
    promised = ""
    if h.promised_before or h.promised_after:
        promised = f" · promised {day(h.promised_before)} → {day(h.promised_after)}"
    line = f" · line {h.line}" if h.line is not None else ""
    return (
        f"{at(h.at, zone)} `{h.operation[:8]}` {escape(h.actor)} ({h.source}){line}: "
        f"{escape(h.kind)}: {escape(h.what)}{promised}"
    )
