"""Remove allocations (rule 5): the PO line's allocated order lines as checkboxes, a choice to
keep the freed units for in-store sales, then a confirmation that states what will happen.

Slack allows at most 10 options in one checkboxes element (slack_sdk does not check it), so a
page is several checkbox groups of ``GROUP`` each. A page is ``PAGE_SIZE`` rows, paged by
keyset like the review, and small enough that the confirmation can carry every chosen
``ORDER:LINE`` in its 3000-character metadata even with 64-character order numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId, number_of, numbered
from bot.text import day, plural
from bot.views.blocks import (
    CHECKBOX_OPTIONS_MAX,
    OPTION_TEXT_MAX,
    at,
    button,
    context,
    errors_response,
    escape,
    line_name,
    modal,
    pack,
    plain,
    section,
)
from bot.views.parts import elsewhere, removal_note
from bot.views.state import FifoKey, ViewState, fifo_key, ref_value
from engine import POLineHeader, Review, ReviewLine, parts_text

PAGE_SIZE = 30
GROUP = CHECKBOX_OPTIONS_MAX
TITLE = "Remove allocations"
CONFIRM_TITLE = "Confirm removal"
HOLD_VALUE = "hold_for_store"


def remove_modal(
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
    """One page (the first ``page_size`` of ``review.allocations``) to choose from."""
    head = review.head
    rows = review.allocations[:page_size]
    if has_next is None:
        has_next = len(review.allocations) > page_size
    state = ViewState.of(head, page=page, after=after, before=before, channel=channel)
    where = line_name(head.po, head.line)
    if not rows:
        text = f"No order lines are allocated to *{where}*: nothing to remove."
        return modal(TITLE, [section(text)], callback_id=CallbackId.REMOVE_CHOOSE)
    first = (page - 1) * page_size + 1
    blocks: list[Block] = [
        section(
            f"*{where}* · `{escape(head.sku)}` · {plural(head.orders, 'order')}, "
            f"{plural(head.allocated, 'unit')} allocated · ATP {head.atp}\n"
            f"Order lines {first}–{first + len(rows) - 1}, first in first out. Removed lines "
            "are parked: automatic allocation leaves them alone until someone allocates them."
        )
    ]
    for n, start in enumerate(range(0, len(rows), GROUP)):
        group = rows[start : start + GROUP]
        blocks.append(
            InputBlock(
                block_id=numbered(BlockId.REMOVE_PICK, n),
                label=plain(f"Order lines {first + start}–{first + start + len(group) - 1}", 2000),
                element=CheckboxesElement(
                    action_id=ActionId.REMOVE_PICK, options=[_option(r, head, zone) for r in group]
                ),
                optional=True,
            )
        )
    blocks.append(
        InputBlock(
            block_id=BlockId.REMOVE_HOLD,
            label=plain("Freed units", 2000),
            element=CheckboxesElement(
                action_id=ActionId.REMOVE_HOLD,
                options=[
                    Option(
                        value=HOLD_VALUE,
                        text=plain("Keep the freed units for in-store sales", OPTION_TEXT_MAX),
                        description=plain("Otherwise they return to ATP", OPTION_TEXT_MAX),
                    )
                ],
            ),
            optional=True,
        )
    )
    pager = []
    if page > 1:
        back = ViewState.of(head, page=page - 1, before=fifo_key(rows[0]), channel=channel)
        pager.append(button("Previous", ActionId.REMOVE_PREVIOUS, back.to_json()))
    if has_next:
        on = ViewState.of(head, page=page + 1, after=fifo_key(rows[-1]), channel=channel)
        pager.append(button("Next", ActionId.REMOVE_NEXT, on.to_json()))
    if pager:
        blocks.append(context("What you tick applies to this page; turning the page clears it."))
        blocks.append(ActionsBlock(block_id=BlockId.PAGER, elements=pager))
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.REMOVE_CHOOSE,
        metadata=state.to_json(),
        submit="Continue",
        close="Cancel",
    )


def confirm_text(head: POLineHeader, lines: int, units: int, *, hold_for_store: bool) -> str:
    """``Remove 7 allocations (12 units) from PO-1001:1? They will be parked.``"""
    where = line_name(head.po, head.line)
    freed = (
        "The freed units go to the store hold for in-store sales."
        if hold_for_store
        else "The freed units return to ATP."
    )
    return (
        f"Remove {plural(lines, 'allocation')} ({plural(units, 'unit')}) from {where}? "
        f"They will be parked. {freed}"
    )


def remove_confirm_modal(
    head: POLineHeader,
    chosen: Sequence[ReviewLine],
    *,
    hold_for_store: bool,
    channel: str = "",
    page: int = 1,
    after: FifoKey | None = None,
    before: FifoKey | None = None,
) -> View:
    """The second step: the count and units in words and the chosen lines; its metadata
    carries the choice to the handler that calls ``engine.remove``, and the page it was chosen
    from (``page``/``after``/``before``) so that a stale confirmation can be shown afresh."""
    units = sum(r.quantity for r in chosen)
    state = ViewState.of(
        head,
        picked=tuple(ref_value(r) for r in chosen),
        hold_for_store=hold_for_store,
        channel=channel,
        page=page,
        after=after,
        before=before,
    )
    rows = [
        f"`{escape(ref_value(r))}` {escape(r.customer)} · {r.quantity}"
        + (f" of {r.line_quantity} (split)" if r.split else "")
        for r in chosen
    ]
    blocks: list[Block] = [
        section(confirm_text(head, len(chosen), units, hold_for_store=hold_for_store)),
        *pack(rows, max_blocks=5),
    ]
    note = removal_note(list(chosen), head, hold_for_store=hold_for_store)
    if note:
        blocks.append(section(note))
    return modal(
        CONFIRM_TITLE,
        blocks,
        callback_id=CallbackId.REMOVE_CONFIRM,
        metadata=state.to_json(),
        submit="Remove",
        close="Back",
    )


def chosen_refs(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ``ORDER:LINE`` values ticked in all checkbox groups of a submitted remove view."""
    refs: list[str] = []
    for block_id in sorted(
        (b for b in values if number_of(b, BlockId.REMOVE_PICK) is not None),
        key=lambda b: number_of(b, BlockId.REMOVE_PICK) or 0,
    ):
        picked = values[block_id].get(ActionId.REMOVE_PICK, {})
        refs += [o["value"] for o in picked.get("selected_options") or []]
    return refs


def hold_chosen(values: Mapping[str, Mapping[str, Any]]) -> bool:
    picked = values.get(BlockId.REMOVE_HOLD, {}).get(ActionId.REMOVE_HOLD, {})
    return any(o["value"] == HOLD_VALUE for o in picked.get("selected_options") or [])


def remove_errors(message: str) -> dict[str, Any]:
    """Shown under the first checkbox group (``Choose at least one order line``, a refusal)."""
    return errors_response({numbered(BlockId.REMOVE_PICK, 0): message})


def _option(r: ReviewLine, head: POLineHeader, zone: tzinfo) -> Option:
    sync = "" if r.in_sync else " (out of sync)"
    about = f"placed {at(r.placed_at, zone)} · promised {day(r.promised_date)}{sync}"
    quantity = plural(r.quantity, "unit")
    if r.split:
        # Rule 10: ticking a split line releases all of it, here and on its other PO lines.
        quantity = f"{r.quantity} of {plural(r.line_quantity or r.quantity, 'unit')}"
        rest = elsewhere(r, head)
        about = f"split: removes the whole line, also {parts_text(rest)}" if rest else about
    return Option(
        value=ref_value(r),
        text=plain(f"{ref_value(r)} · {quantity} · {r.customer}", OPTION_TEXT_MAX),
        description=plain(about, OPTION_TEXT_MAX),
    )
