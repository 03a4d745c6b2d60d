"""Cancel a PO or one line (rule 6): a confirmation built from the engine's dry run (how many
order lines it releases, how many customers will be told), then ``engine.cancel_po`` and a
summary in the channel.

If the PO changed between the two (an order allocated to the line meanwhile), the confirmation
is rebuilt from a fresh dry run with a notice instead of releasing what the user did not see.
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk.models.views import View

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId, CallbackId
from bot.views.blocks import escape, line_name, notice_modal, stale_modal
from bot.views.cancel import cancel_modal, cancel_title, supply_print
from bot.views.summary import outcome_blocks


def start(req: Req, po: str, line: int | None, *, channel: str = "") -> None:
    """Open the confirmation of cancelling ``po`` (``line``: only that line)."""
    req.ack()
    if not req.may_change():
        return
    screen = req.open(cancel_title(line))
    screen.show(_confirmation(req, po, line, channel=channel or req.channel))


def _heads(req: Req, po: str, line: int | None) -> list[e.POLineHeader]:
    """The PO lines a cancellation of ``po`` (``line``: that line) addresses, as they stand."""
    if line is not None:
        return [e.po_line(req.db, po, line)]
    return e.purchase_order(req.db, po).lines


def _confirmation(req: Req, po: str, line: int | None, *, channel: str) -> View:
    # The headers before the dry run: a change between the two leaves an older fingerprint,
    # which the submission then finds stale (never a newer one beside an older count).
    heads = _heads(req, po, line)
    preview = e.cancel_po(req.db, req.actor, po, line=line, dry_run=True)
    return cancel_modal(po, line, preview, heads, channel=channel)


def on_line_button(req: Req) -> None:
    """Cancel line…, on a PO message."""
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, state.line, channel=state.channel or req.channel)


def on_po_button(req: Req) -> None:
    """Cancel PO…, on a PO message."""
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, None, channel=state.channel or req.channel)


def on_submit(req: Req) -> None:
    state = state_of(req.view.get("private_metadata"))
    line = None if state.whole_po else state.line
    req.title = cancel_title(line)
    if not req.may_change():
        return
    if req.done_before():
        req.ack(response_action="clear")
        return
    if supply_print(_heads(req, state.po, line)) != state.fingerprint:
        try:
            view = stale_modal(_confirmation(req, state.po, line, channel=state.channel))
        except e.EngineError as exc:
            # Cancelled by someone else meanwhile (or gone): nothing left to confirm.
            view = notice_modal(req.title, f":x: {escape(str(exc))}")
        req.ack(response_action="update", view=view)
        return
    outcome = e.cancel_po(req.db, req.actor, state.po, line=line, key=req.once_key)
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    where = state.po if line is None else line_name(state.po, line)
    req.post(
        outcome_blocks(outcome, heading=f"Cancelled {where}", by=f"<@{req.user}>"), state.channel
    )


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.CANCEL_LINE), ctx, on_line_button)
    wire(app.action(ActionId.CANCEL_PO), ctx, on_po_button)
    wire(app.view(CallbackId.CANCEL_CONFIRM), ctx, on_submit)
