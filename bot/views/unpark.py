"""Unpark (from the unallocated list): a SKU's parked order lines to choose from, in FIFO
order, returned to the automatic queue at once (and swept, so those that fit are placed).

A static multi-select holds 100 options; a SKU with more parked lines gets an external select
whose options handler answers with the first 100 parked lines matching what the user typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, tzinfo
from itertools import islice
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    InputBlock,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.text import plural
from bot.views.allocate import matches, order_lines_select, order_option
from bot.views.blocks import (
    STATIC_OPTIONS_MAX,
    button,
    context,
    errors_response,
    escape,
    modal,
    plain,
    section,
)
from bot.views.state import QueueState
from engine import QueuedLine

TITLE = "Unpark order lines"
SUBMIT = "Unpark"
BUTTON = "Unpark…"


def unpark_button(sku: str, channel: str = "") -> ButtonElement:
    """The button that opens the choice of ``sku``'s parked lines."""
    return button(BUTTON, ActionId.UNPARK, QueueState(sku, channel).to_json())


def unpark_modal(
    sku: str,
    parked: Sequence[QueuedLine],
    *,
    total: int | None = None,
    channel: str = "",
    zone: tzinfo = UTC,
) -> View:
    """``parked``: the SKU's parked lines in FIFO order (the first 100 of ``total``)."""
    total = len(parked) if total is None else total
    state = QueueState(sku, channel).to_json()
    if not total:
        text = f"No order line of `{escape(sku)}` is parked: nothing to unpark."
        return modal(TITLE, [section(text)], callback_id=CallbackId.UNPARK_CHOOSE, metadata=state)
    element, hint = order_lines_select(ActionId.UNPARK_ORDERS, parked, total, zone)
    blocks: list[Block] = [
        section(
            f"`{escape(sku)}` · {plural(total, 'parked order line')}: a person took them off a "
            "PO line, so automatic allocation leaves them alone until they are unparked."
        ),
        InputBlock(
            block_id=BlockId.UNPARK_ORDERS,
            label=plain("Order lines to unpark", 2000),
            element=element,
            hint=plain(hint, 2000),
        ),
        context(
            "Unparked lines go back to the queue in their first-in-first-out place and are "
            "allocated at once where a PO line has ATP for them."
        ),
    ]
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.UNPARK_CHOOSE,
        metadata=state,
        submit=SUBMIT,
        close="Cancel",
    )


def options_response(lines: Iterable[QueuedLine], query: str, zone: tzinfo = UTC) -> dict[str, Any]:
    """The external select's options: at most 100 parked lines matching ``query``, FIFO."""
    found = islice((q for q in lines if q.parked and matches(q, query)), STATIC_OPTIONS_MAX)
    return {"options": [order_option(q, zone).to_dict() for q in found]}


def chosen_lines(values: Mapping[str, Mapping[str, Any]]) -> list[str]:
    chosen = values.get(BlockId.UNPARK_ORDERS, {}).get(ActionId.UNPARK_ORDERS, {})
    return [o["value"] for o in chosen.get("selected_options") or []]


def unpark_errors(message: str) -> dict[str, Any]:
    return errors_response({BlockId.UNPARK_ORDERS: message})
