"""Allocate sales orders (rule 3): a confirmation, then a modal to choose the SKU's unallocated
order lines in FIFO order, then errors inline if the engine refuses.

A static multi-select holds at most 100 options; a SKU with a longer queue gets an external
multi-select instead, whose options handler answers with ``options_response`` (the first 100
lines, in FIFO order, whose order number or customer matches what the user typed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, tzinfo
from itertools import islice
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ExternalDataMultiSelectElement,
    InputBlock,
    Option,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.text import day, plural
from bot.views.blocks import (
    OPTION_TEXT_MAX,
    STATIC_OPTIONS_MAX,
    context,
    errors_response,
    escape,
    line_name,
    modal,
    plain,
    section,
    truncate,
)
from bot.views.state import ViewState, ref_value
from engine import POLineHeader, QueuedLine

TITLE = "Allocate orders"
CONFIRM_SUBMIT = "Yes, choose orders"
SUBMIT = "Allocate"
MIN_QUERY_LENGTH = 0  # the external select lists the first 100 in FIFO order before any typing


def allocate_confirm_modal(head: POLineHeader, *, channel: str = "") -> View:
    """The first step, so that nobody allocates to the wrong line: which SKU, which PO line,
    how much ATP is left. No submit button when nothing could be allocated."""
    where = f"*{line_name(head.po, head.line)}*"
    if head.status != "open":
        text = f"{where} is {head.status}: orders can only be allocated to an open PO line."
    elif head.atp <= 0:
        text = f"{where} has no ATP left: nothing more of `{escape(head.sku)}` can go to it."
    else:
        text = (
            f"Allocate unallocated sales orders of SKU `{escape(head.sku)}` to "
            f"{where} (arriving {day(head.arrival_date)})? ATP left: {head.atp}"
        )
    can = head.status == "open" and head.atp > 0
    return modal(
        TITLE,
        [section(text)],
        callback_id=CallbackId.ALLOCATE_CONFIRM,
        metadata=ViewState.of(head, channel=channel).to_json(),
        submit=CONFIRM_SUBMIT if can else None,
        close="Cancel" if can else "Close",
    )


def allocate_modal(
    head: POLineHeader,
    lines: Sequence[QueuedLine],
    *,
    total: int | None = None,
    channel: str = "",
    zone: tzinfo = UTC,
) -> View:
    """The SKU's unallocated lines (``lines``, FIFO; ``total`` when the caller fetched only the
    first of them) to choose from: a static select up to 100, an external select beyond."""
    total = len(lines) if total is None else total
    state = ViewState.of(head, channel=channel).to_json()
    if not total:
        text = f"No unallocated order lines of `{escape(head.sku)}`: nothing to allocate."
        return modal(TITLE, [section(text)], callback_id=CallbackId.ALLOCATE_CHOOSE, metadata=state)
    units = sum(q.quantity for q in lines)
    parked = sum(q.parked for q in lines)
    held = f"{plural(units, 'unit')}" + (
        f", {parked} parked (a person took them off; choosing one allocates it)" if parked else ""
    )
    if total != len(lines):
        held = f"the first {len(lines)} hold {held}"
    intro = (
        f"To *{line_name(head.po, head.line)}* · `{escape(head.sku)}` · ATP left *{head.atp}*\n"
        f"{plural(total, 'unallocated order line')}: {held}"
    )
    element, hint = order_lines_select(ActionId.ALLOCATE_ORDERS, lines, total, zone)
    blocks: list[Block] = [
        section(intro),
        InputBlock(
            block_id=BlockId.ALLOCATE_ORDERS,
            label=plain("Order lines to allocate", 2000),
            element=element,
            hint=plain(hint, 2000),
        ),
        context("All or nothing: if the chosen lines do not fit the ATP, nothing changes."),
    ]
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.ALLOCATE_CHOOSE,
        metadata=state,
        submit=SUBMIT,
        close="Cancel",
    )


def order_lines_select(
    action_id: str, lines: Sequence[QueuedLine], total: int, zone: tzinfo = UTC
) -> tuple[StaticMultiSelectElement | ExternalDataMultiSelectElement, str]:
    """The multi-select of order lines ``lines`` (the first of ``total``, FIFO) and its hint:
    every line as an option when they fit a static select, else an external select that
    searches them (the first 100 in FIFO order before any typing)."""
    if total <= STATIC_OPTIONS_MAX and len(lines) <= STATIC_OPTIONS_MAX:
        static = StaticMultiSelectElement(
            action_id=action_id,
            placeholder=plain("Choose order lines", 150),
            options=[order_option(q, zone) for q in lines],
        )
        return static, "First in, first out: the earliest orders are at the top."
    search = ExternalDataMultiSelectElement(
        action_id=action_id,
        placeholder=plain("Search by order number or customer", 150),
        min_query_length=MIN_QUERY_LENGTH,
    )
    return search, (
        f"{STATIC_OPTIONS_MAX} lines at a time, first in first out: type an order number "
        "or a customer to find others."
    )


def order_option(q: QueuedLine, zone: tzinfo = UTC) -> Option:
    """``SO-1:1 · 2 units · Customer · 2026-11-02 · parked``, the customer cut to fit 75; the
    day the order was placed in the team's ``zone``."""
    ref = ref_value(q)
    fixed = f"{ref} · {plural(q.quantity, 'unit')} · "
    tail = f" · {day(q.placed_at.astimezone(zone).date())}" + (" · parked" if q.parked else "")
    room = OPTION_TEXT_MAX - len(fixed) - len(tail)
    text = fixed + truncate(q.customer, room) + tail if room >= 4 else fixed + tail.lstrip(" ·")
    return Option(text=plain(text, OPTION_TEXT_MAX), value=ref)


def matches(q: QueuedLine, query: str) -> bool:
    """Whether a queued line answers what the user typed: part of its order number (or
    ``ORDER:LINE``) or of its customer's name, ignoring case."""
    needle = query.strip().casefold()
    return not needle or needle in ref_value(q).casefold() or needle in q.customer.casefold()


def options_response(lines: Iterable[QueuedLine], query: str, zone: tzinfo = UTC) -> dict[str, Any]:
    """The external select's options (``ack(**options_response(...))``): at most 100 matching
    lines in the order given (FIFO). Stops reading ``lines`` once it has 100."""
    found = islice((q for q in lines if matches(q, query)), STATIC_OPTIONS_MAX)
    return {"options": [order_option(q, zone).to_dict() for q in found]}


def chosen_orders(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ``ORDER:LINE`` values chosen, from a submitted view's ``state.values``."""
    chosen = values.get(BlockId.ALLOCATE_ORDERS, {}).get(ActionId.ALLOCATE_ORDERS, {})
    return [o["value"] for o in chosen.get("selected_options") or []]


def allocate_errors(message: str) -> dict[str, Any]:
    """A refusal (none chosen, over the ATP, a line allocated meanwhile) shown under the
    select, so the user can change the choice without starting again."""
    return errors_response({BlockId.ALLOCATE_ORDERS: message})
