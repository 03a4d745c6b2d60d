"""Receive (rule 9), from a PO line's Receive button: a modal asks how many units came, whether
that is all, and when; submitting records the receipt and posts what it made ready."""

from __future__ import annotations

from datetime import date

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId, BlockId, CallbackId
from bot.views.blocks import errors_response, line_name
from bot.views.receive import TITLE, receive_modal, submitted
from bot.views.summary import outcome_blocks

MOST = 2_147_483_647


def on_button(req: Req) -> None:
    req.ack()
    if not req.may_change():
        return
    state = state_of(req.body["actions"][0].get("value"))
    screen = req.open(TITLE)
    head = e.po_line(req.db, state.po, state.line)
    today = req.db.clock().date()
    screen.show(receive_modal(head, today=today, channel=state.channel or req.channel))


def on_submit(req: Req) -> None:
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    typed, final, picked = submitted(req.view.get("state", {}).get("values", {}))
    if not typed.isascii() or not typed.isdigit() or int(typed) > MOST:
        req.ack(
            **errors_response(
                {BlockId.RECEIVE_QUANTITY: "Enter the units received: a whole number, 0 or more."}
            )
        )
        return
    on = date.fromisoformat(picked) if picked else None
    if on is not None and on > req.db.clock().date():
        req.ack(**errors_response({BlockId.RECEIVE_DATE: "Pick today or a day before."}))
        return
    outcome = e.receive(
        req.db,
        req.actor,
        state.po,
        state.line,
        int(typed),
        final=final,
        received_on=on,
        key=req.once_key,
    )
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    heading = f"Received {typed} on {line_name(state.po, state.line)}" + (
        " (final)" if final else ""
    )
    req.post(
        outcome_blocks(outcome, heading=heading, by=f"<@{req.user}>"),
        state.channel,
    )


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.RECEIVE), ctx, on_button)
    wire(app.view(CallbackId.RECEIVE), ctx, on_submit)
