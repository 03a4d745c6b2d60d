"""Sync date with SO (rule 4): a confirmation built from the engine's dry run (how many promised
dates change, from what, to what), then the sync itself and a summary in the channel.

If the line changed between the two (an arrival date moved, orders allocated), the confirmation
is rebuilt from a fresh dry run with a notice instead of syncing what the user did not see.
"""

from __future__ import annotations

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId, CallbackId
from bot.views.blocks import line_name, stale_modal
from bot.views.summary import outcome_blocks
from bot.views.sync_date import TITLE, sync_date_modal


def start(req: Req, po: str, line: int, *, channel: str = "") -> None:
    req.ack()
    if not req.may_change():
        return
    screen = req.open(TITLE)
    head = e.po_line(req.db, po, line)
    preview = e.sync_date(req.db, req.actor, po, line, dry_run=True)
    screen.show(sync_date_modal(head, preview, channel=channel or req.channel))


def on_button(req: Req) -> None:
    """Sync Date with SO, on a PO message or the Home tab's out-of-sync list."""
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, state.line, channel=state.channel or req.channel)


def on_submit(req: Req) -> None:
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    if req.done_before():
        req.ack(response_action="clear")
        return
    head = e.po_line(req.db, state.po, state.line)
    if state.is_stale(head):
        preview = e.sync_date(req.db, req.actor, state.po, state.line, dry_run=True)
        view = stale_modal(sync_date_modal(head, preview, channel=state.channel))
        req.ack(response_action="update", view=view)
        return
    outcome = e.sync_date(req.db, req.actor, state.po, state.line, key=req.once_key)
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    heading = f"Synced promised dates on {line_name(state.po, state.line)}"
    req.post(outcome_blocks(outcome, heading=heading, by=f"<@{req.user}>"), state.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.SYNC_DATE), ctx, on_button)
    wire(app.view(CallbackId.SYNC_DATE_CONFIRM), ctx, on_submit)
