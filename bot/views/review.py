"""Review allocations (rule 2) as a modal: the PO line's totals and one page of its allocated
order lines in FIFO order, with Previous / Next and a way on to removing allocations.

A line may hold tens of thousands of orders; a modal holds 100 blocks, and fetching them all to
show twenty would make every page cost what the whole line costs. So a page is at most
``PAGE_SIZE`` rows and the pager buttons carry keyset cursors (the FIFO key of the last row for
Next, of the first row for Previous) in their value: the handler asks the engine for the rows
after (or before) that key with ``limit=PAGE_SIZE + 1``, the extra row telling that a next
page exists.
"""

from __future__ import annotations

from datetime import UTC, tzinfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.text import day, plural
from bot.views.blocks import at, button, escape, line_name, modal, section
from bot.views.parts import units
from bot.views.state import FifoKey, ViewState, fifo_key
from engine import POLineHeader, Review, ReviewLine

PAGE_SIZE = 20
TITLE = "Review allocations"


def review_modal(
    review: Review,
    *,
    page: int = 1,
    after: FifoKey | None = None,
    before: FifoKey | None = None,
    has_next: bool | None = None,
    page_size: int = PAGE_SIZE,
    channel: str = "",
    zone: tzinfo = UTC,
) -> View:
    """One page of ``review.allocations`` (the first ``page_size`` of them: the handler fetches
    one more to learn ``has_next`` unless it passes it). ``after``/``before`` is how the page
    was fetched, kept in the metadata so the handler can fetch the same page again."""
    head = review.head
    rows = review.allocations[:page_size]
    if has_next is None:
        has_next = len(review.allocations) > page_size
    state = ViewState.of(head, page=page, after=after, before=before, channel=channel)
    blocks: list[Block] = [*head_blocks(head, review.supplier), DividerBlock()]
    if not rows:
        blocks.append(section("No order lines are allocated to this PO line."))
    else:
        first = (page - 1) * page_size + 1
        blocks.append(
            section(
                f"*Allocated order lines, first in first out* · "
                f"{first}–{first + len(rows) - 1} ({plural(head.orders, 'order line')} in all)"
            )
        )
        blocks += [section(row_text(r, head, zone)) for r in rows]
    actions = []
    if page > 1 and rows:
        back = ViewState.of(head, page=page - 1, before=fifo_key(rows[0]), channel=channel)
        actions.append(button("Previous", ActionId.REVIEW_PREVIOUS, back.to_json()))
    if has_next and rows:
        on = ViewState.of(head, page=page + 1, after=fifo_key(rows[-1]), channel=channel)
        actions.append(button("Next", ActionId.REVIEW_NEXT, on.to_json()))
    if head.allocated and rows:
        start = ViewState.of(head, channel=channel)
        actions.append(
            button("Remove allocations…", ActionId.REVIEW_REMOVE, start.to_json(), style="danger")
        )
        # The move offers the page shown, so its button carries this page's cursor.
        here = ViewState.of(head, page=page, after=after, before=before, channel=channel)
        actions.append(button("Move allocations…", ActionId.REVIEW_MOVE, here.to_json()))
    if head.status == "open":
        line = ViewState.of(head, channel=channel)
        actions.append(button("Set arrival date…", ActionId.SET_ARRIVAL, line.to_json()))
    if actions:
        blocks.append(ActionsBlock(block_id=BlockId.PAGER, elements=actions))
    return modal(TITLE, blocks, callback_id=CallbackId.REVIEW, metadata=state.to_json())


def head_blocks(head: POLineHeader, supplier: str = "") -> list[Block]:
    """The PO line's totals: what was ordered against it, what is left, and its state; and its
    PO's ``supplier``."""
    source = f" from {escape(supplier)}" if supplier else ""
    sync = (
        "all in sync"
        if not head.out_of_sync
        else f":warning: {head.out_of_sync} out of sync with the arrival date"
    )
    figures = {
        "Order lines": str(head.orders),
        "Units ordered (consumed ATP)": str(head.allocated),
        "ATP left": str(head.atp),
        "Arrival": day(head.arrival_date),
        "Store hold": f"{head.store_hold} of {head.quantity}",
        "Status": head.status,
        "Promised dates": sync,
    }
    if head.received:
        figures["Received"] = f"{head.received} of {head.quantity}"
    return [
        section(f"*{line_name(head.po, head.line)}*{source} · `{escape(head.sku)}`"),
        SectionBlock(fields=[MarkdownTextObject(text=f"*{k}*\n{v}") for k, v in figures.items()]),
    ]


def row_text(r: ReviewLine, head: POLineHeader, zone: tzinfo = UTC) -> str:
    promise = (
        f"promised {day(r.promised_date)}"
        if r.in_sync
        else f":warning: promised {day(r.promised_date)} (arrives {day(head.arrival_date)})"
    )
    ready = " · :package: ready to ship" if r.ready else ""
    if r.split and r.ready and not all(p.ready for p in r.parts):
        # Rule 10: this part's stock is in, not yet every part's; the line ships whole.
        ready = " · :package: this part's stock is in (it ships when every part's is)"
    return (
        f"`{escape(r.order)}:{r.line}` {escape(r.customer)}\n"
        f"{escape(units(r, head))} · placed {at(r.placed_at, zone)} · {promise}{ready}"
    )
