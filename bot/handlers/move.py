"""Move allocations (from the review modal): choose order lines on the review's page and an
open PO line of the same SKU with its ATP, then one ``engine.move``, all or nothing, and a
summary in the channel. A refusal (over the target's ATP, a line no longer there) comes back
under the select; if the PO line changed since the page was shown, the page is shown again
from fresh data with a notice and nothing moves.
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk.models.views import View

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.handlers.review import page
from bot.ids import ActionId, BlockId, CallbackId
from bot.views.blocks import line_name, stale_modal
from bot.views.move import TITLE, chosen_lines, chosen_target, move_errors, move_modal
from bot.views.review import PAGE_SIZE
from bot.views.state import StateError, ViewState, parse_ref, ref_value
from bot.views.summary import outcome_blocks


def _view(req: Req, state: ViewState) -> tuple[View, e.Review]:
    data, _ = page(req.db, state, PAGE_SIZE)
    targets = e.po_lines_of_sku(req.db, data.head.sku)
    view = move_modal(
        data,
        targets,
        page=state.page,
        after=state.after,
        before=state.before,
        channel=state.channel,
        zone=req.zone,
    )
    return view, data


def on_button(req: Req) -> None:
    """Move allocations… in the review modal: the choice, pushed on top of the review, for
    the page the review shows."""
    req.ack()
    if not req.may_change():
        return
    state = state_of(req.body["actions"][0].get("value"))
    screen = req.open(TITLE)
    view, _ = _view(req, state)
    screen.show(view)


def on_submit(req: Req) -> None:
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    values = req.view.get("state", {}).get("values", {})
    picked = chosen_lines(values)
    if not picked:
        req.ack(**move_errors("Choose at least one order line.", BlockId.MOVE_ORDERS))
        return
    try:
        target = chosen_target(values)
        refs = [parse_ref(p) for p in picked]
    except StateError as exc:
        req.ack(**move_errors(str(exc)))
        return
    if target is None:
        req.ack(**move_errors("Choose the PO line to move them to."))
        return
    if req.done_before():
        req.ack(response_action="clear")
        return
    head = e.po_line(req.db, state.po, state.line)
    if state.is_stale(head):
        view, data = _view(req, state)
        rows = {ref_value(r) for r in data.allocations[:PAGE_SIZE]}
        if any(p not in rows for p in picked) or head.status != "open":
            req.ack(response_action="update", view=stale_modal(view))
            return
    try:
        outcome = e.move(req.db, req.actor, refs, target[0], target[1], key=req.once_key)
    except e.EngineError as exc:
        req.ack(**move_errors(str(exc)))
        return
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    heading = f"Moved from {line_name(state.po, state.line)} to {line_name(*target)}"
    blocks = outcome_blocks(outcome, heading=heading, by=f"<@{req.user}>")
    req.post(blocks, state.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.REVIEW_MOVE), ctx, on_button)
    wire(app.view(CallbackId.MOVE_CHOOSE), ctx, on_submit)
