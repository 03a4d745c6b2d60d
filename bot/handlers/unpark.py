"""Unpark, from the unallocated list: a SKU's parked order lines to choose from, then one
``engine.unpark`` (which sweeps at once) and a summary in the channel. A refusal (a line no
longer parked: someone allocated or unparked it meanwhile) comes back under the select, all or
nothing.
"""

from __future__ import annotations

import logging

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req
from bot.ids import ActionId, CallbackId
from bot.views.blocks import STATIC_OPTIONS_MAX
from bot.views.state import QueueState, StateError, parse_ref
from bot.views.summary import outcome_blocks
from bot.views.unpark import (
    TITLE,
    chosen_lines,
    options_response,
    unpark_errors,
    unpark_modal,
)

log = logging.getLogger(__name__)


def queue_of(text: str | None) -> QueueState:
    """The QueueState a button value or private_metadata carries (EngineError if not)."""
    try:
        return QueueState.from_json(text or "")
    except (ValueError, TypeError) as exc:
        reason = f" ({exc})" if isinstance(exc, StateError) else ""
        raise e.EngineError(f"this button or form is not one this app made{reason}") from exc


def on_button(req: Req) -> None:
    """Unpark… beside a SKU on the unallocated list."""
    req.ack()
    if not req.may_change():
        return
    state = queue_of(req.body["actions"][0].get("value"))
    screen = req.open(TITLE)
    parked = e.unallocated(req.db, sku=state.sku, parked=True, limit=STATIC_OPTIONS_MAX + 1)
    total = len(parked)
    if total > STATIC_OPTIONS_MAX:
        total = e.unallocated_count(req.db, sku=state.sku, parked=True)
    channel = state.channel or req.channel
    view = unpark_modal(
        state.sku, parked[:STATIC_OPTIONS_MAX], total=total, channel=channel, zone=req.zone
    )
    screen.show(view)


def on_options(req: Req) -> None:
    """The external select: the first 100 parked lines matching, FIFO."""
    query = str(req.body.get("value") or "")
    try:
        state = queue_of(req.view.get("private_metadata"))
        lines = e.unallocated(
            req.db,
            sku=state.sku,
            parked=True,
            search=query.strip() or None,
            limit=STATIC_OPTIONS_MAX,
        )
    except e.EngineError as exc:
        log.warning("options for %r: %s", query, exc)
        lines = []
    req.ack(**options_response(lines, query, req.zone))


def on_submit(req: Req) -> None:
    req.title = TITLE
    if not req.may_change():
        return
    state = queue_of(req.view.get("private_metadata"))
    chosen = chosen_lines(req.view.get("state", {}).get("values", {}))
    if not chosen:
        req.ack(**unpark_errors("Choose at least one order line."))
        return
    try:
        refs = [parse_ref(value) for value in chosen]
        outcome = e.unpark(req.db, req.actor, refs, key=req.once_key)
    except (ValueError, e.EngineError) as exc:
        req.ack(**unpark_errors(str(exc)))
        return
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    blocks = outcome_blocks(
        outcome, heading=f"Unparked {state.sku} order lines", by=f"<@{req.user}>"
    )
    req.post(blocks, state.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.UNPARK), ctx, on_button)
    wire(app.options(ActionId.UNPARK_ORDERS), ctx, on_options)
    wire(app.view(CallbackId.UNPARK_CHOOSE), ctx, on_submit)
