"""Allocate sales orders (rule 3): a confirmation naming the SKU, the line and its ATP; then the
SKU's unallocated order lines to choose from (static up to 100, else searched through the
options handler); then one ``engine.allocate``, whose refusal comes back under the select.

The engine decides: a line allocated by someone else meanwhile, or a choice over the ATP, is
refused all or nothing and named in the inline error, so the user can change the choice.
"""

from __future__ import annotations

import logging

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId, CallbackId
from bot.views.allocate import (
    TITLE,
    allocate_confirm_modal,
    allocate_errors,
    allocate_modal,
    chosen_orders,
    options_response,
)
from bot.views.blocks import STATIC_OPTIONS_MAX, line_name, stale_modal
from bot.views.state import parse_ref
from bot.views.summary import outcome_blocks

log = logging.getLogger(__name__)


def start(req: Req, po: str, line: int, *, channel: str = "") -> None:
    """Ack, check the user may change things, open the confirmation."""
    req.ack()
    if not req.may_change():
        return
    screen = req.open(TITLE)
    head = e.po_line(req.db, po, line)
    screen.show(allocate_confirm_modal(head, channel=channel or req.channel))


def on_button(req: Req) -> None:
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, state.line, channel=state.channel or req.channel)


def on_confirm(req: Req) -> None:
    """ "Yes": the choice of order lines replaces the confirmation (two indexed reads, in the
    ack, since Slack must get the next view in the answer to a submission)."""
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    head = e.po_line(req.db, state.po, state.line)
    if state.is_stale(head) and (head.status != "open" or head.atp <= 0):
        view = stale_modal(allocate_confirm_modal(head, channel=state.channel))
        req.ack(response_action="update", view=view)
        return
    lines = e.unallocated(req.db, sku=head.sku, limit=STATIC_OPTIONS_MAX + 1)
    total = len(lines)
    if total > STATIC_OPTIONS_MAX:
        total = e.unallocated_count(req.db, sku=head.sku)
    view = allocate_modal(
        head, lines[:STATIC_OPTIONS_MAX], total=total, channel=state.channel, zone=req.zone
    )
    req.ack(response_action="update", view=view)


def on_options(req: Req) -> None:
    """The external select: the first 100 matches, FIFO, by order number or customer."""
    query = str(req.body.get("value") or "")
    try:
        state = state_of(req.view.get("private_metadata"))
        lines = e.unallocated(
            req.db, sku=state.sku, search=query.strip() or None, limit=STATIC_OPTIONS_MAX
        )
    except e.EngineError as exc:
        log.warning("options for %r: %s", query, exc)
        lines = []
    req.ack(**options_response(lines, query, req.zone))


def on_submit(req: Req) -> None:
    """Allocate the chosen lines, all or nothing; a refusal is shown under the select."""
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    chosen = chosen_orders(req.view.get("state", {}).get("values", {}))
    if not chosen:
        req.ack(**allocate_errors("Choose at least one order line."))
        return
    try:
        refs = [parse_ref(value) for value in chosen]
        outcome = e.allocate(req.db, req.actor, state.po, state.line, refs, key=req.once_key)
    except (ValueError, e.EngineError) as exc:
        req.ack(**allocate_errors(str(exc)))
        return
    req.ack()
    if outcome.replayed:
        return
    heading = f"Allocated to {line_name(state.po, state.line)}"
    blocks = outcome_blocks(
        outcome, atp_of=[(state.po, state.line)], heading=heading, by=f"<@{req.user}>"
    )
    req.post(blocks, state.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.ALLOCATE), ctx, on_button)
    wire(app.view(CallbackId.ALLOCATE_CONFIRM), ctx, on_confirm)
    wire(app.options(ActionId.ALLOCATE_ORDERS), ctx, on_options)
    wire(app.view(CallbackId.ALLOCATE_CHOOSE), ctx, on_submit)
