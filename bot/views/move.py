"""Move chosen allocations of a PO line to another open PO line of its SKU, from the review.

The choice is the review page the user was on (at most ``review.PAGE_SIZE`` order lines, in a
multi-select: checkboxes would allow only 10) and the target among the SKU's other open PO
lines, each with its ATP and arrival date (a static select holds 100: the earliest 100). The
engine moves all or nothing: a choice over the target's ATP is refused under the select.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.text import day, plural
from bot.views.blocks import (
    OPTION_TEXT_MAX,
    STATIC_OPTIONS_MAX,
    at,
    context,
    errors_response,
    escape,
    line_name,
    modal,
    plain,
    section,
    truncate,
)
from bot.views.parts import move_note
from bot.views.review import PAGE_SIZE
from bot.views.state import FifoKey, StateError, ViewState, ref_value
from engine import POLineHeader, Review, ReviewLine, parts_text

TITLE = "Move allocations"
SUBMIT = "Move"


def move_modal(
    review: Review,
    targets: Sequence[POLineHeader],
    *,
    page: int = 1,
    after: FifoKey | None = None,
    before: FifoKey | None = None,
    channel: str = "",
    zone: tzinfo = UTC,
) -> View:
    """The page of ``review`` (its first ``PAGE_SIZE`` allocations) to choose from, and
    ``targets`` (the SKU's open PO lines, in arrival order) to move them to."""
    head = review.head
    rows = review.allocations[:PAGE_SIZE]
    where = line_name(head.po, head.line)
    state = ViewState.of(head, page=page, after=after, before=before, channel=channel)
    others = [t for t in targets if (t.po, t.line) != (head.po, head.line)]
    takers = [t for t in others if t.status == "open" and t.atp > 0]
    if not rows or not takers:
        text = (
            f"No order lines are allocated to *{escape(where)}* here: nothing to move."
            if not rows
            else f"No other open PO line of `{escape(head.sku)}` has ATP left: nowhere to move "
            f"allocations of *{escape(where)}* to."
        )
        return modal(TITLE, [section(text)], callback_id=CallbackId.MOVE_CHOOSE)
    first = (page - 1) * PAGE_SIZE + 1
    full = len(others) - len(takers)
    blocks: list[Block] = [
        section(
            f"From *{escape(where)}* · `{escape(head.sku)}` · arrives {day(head.arrival_date)}\n"
            f"Order lines {first}–{first + len(rows) - 1} of {head.orders}, first in first "
            f"out (the review's page)."
            + (f" {plural(full, 'other open line')} without ATP left not offered." if full else "")
        ),
        InputBlock(
            block_id=BlockId.MOVE_ORDERS,
            label=plain("Order lines to move", 2000),
            element=StaticMultiSelectElement(
                action_id=ActionId.MOVE_ORDERS,
                placeholder=plain("Choose order lines", 150),
                options=[order_option(r, zone) for r in rows],
            ),
        ),
        InputBlock(
            block_id=BlockId.MOVE_TARGET,
            label=plain("To the PO line", 2000),
            element=StaticSelectElement(
                action_id=ActionId.MOVE_TARGET,
                placeholder=plain("Choose a PO line", 150),
                options=[target_option(t) for t in takers[:STATIC_OPTIONS_MAX]],
            ),
        ),
        context(
            "All or nothing: if the chosen lines do not fit the target's ATP, nothing moves. "
            "Moved lines keep their promised dates and show as out of sync until synced."
        ),
    ]
    note = move_note(list(rows))
    if note:
        blocks.append(context(note))
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.MOVE_CHOOSE,
        metadata=state.to_json(),
        submit=SUBMIT,
        close="Cancel",
    )


def order_option(r: ReviewLine, zone: tzinfo = UTC) -> Option:
    """``SO-1:1 · 2 units · Customer``, placed and promised below. A split line (rule 10)
    shows its whole quantity, which is what a move takes to the target, and its parts."""
    about = f"placed {at(r.placed_at, zone)} · promised {day(r.promised_date)}"
    quantity = plural(r.quantity, "unit")
    if r.split:
        quantity = f"{plural(r.line_quantity or r.quantity, 'unit')}, split"
        about = f"moves whole: {parts_text(r.parts)}"
    fixed = f"{ref_value(r)} · {quantity} · "
    return Option(
        value=ref_value(r),
        text=plain(fixed + truncate(r.customer, max(OPTION_TEXT_MAX - len(fixed), 4)), 75),
        description=plain(about, OPTION_TEXT_MAX),
    )


def target_option(t: POLineHeader) -> Option:
    """``PO-2:1 · ATP 12 · arrives 2027-02-01``; the value ``PO:LINE`` (PO numbers hold no
    ``:``)."""
    text = f"{line_name(t.po, t.line)} · ATP {t.atp} · arrives {day(t.arrival_date)}"
    return Option(value=line_name(t.po, t.line), text=plain(text, OPTION_TEXT_MAX))


def chosen_lines(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ``ORDER:LINE`` values chosen, from a submitted view's ``state.values``."""
    chosen = values.get(BlockId.MOVE_ORDERS, {}).get(ActionId.MOVE_ORDERS, {})
    return [o["value"] for o in chosen.get("selected_options") or []]


def chosen_target(values: Mapping[str, Mapping[str, Any]]) -> tuple[str, int] | None:
    """The (PO, line) chosen as the target; None if none; StateError if not one we offered."""
    chosen = values.get(BlockId.MOVE_TARGET, {}).get(ActionId.MOVE_TARGET, {})
    value = (chosen.get("selected_option") or {}).get("value")
    if not value:
        return None
    po, sep, line = str(value).rpartition(":")
    if not sep or not po or not re.fullmatch(r"[0-9]{1,9}", line) or not int(line):
        raise StateError(f"not a PO line: {str(value)[:24]!r}")
    return po, int(line)


def move_errors(message: str, block: BlockId = BlockId.MOVE_TARGET) -> dict[str, Any]:
    """A refusal shown under the target select (or the order lines' select)."""
    return errors_response({block: message})
