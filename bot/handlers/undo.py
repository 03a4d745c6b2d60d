"""Undo… on a change's summary: merchandisers only; a confirmation built from the undo's dry
run, then ``engine.undo`` and a summary of what it set back in the channel (with its own Undo…,
which does the change again). A refusal (the state moved on, undone already) names each
conflict where the user is looking."""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req
from bot.ids import ActionId, CallbackId
from bot.views.state import StateError
from bot.views.summary import outcome_blocks
from bot.views.undo import TITLE, operation_of, undo_metadata, undo_modal


def on_button(req: Req) -> None:
    req.ack()
    req.title = TITLE
    if not req.may_change():
        return
    operation = _checked(lambda: (operation_of(req.body["actions"][0].get("value")), ""))[0]
    screen = req.open(TITLE)
    preview = e.undo(req.db, operation, req.actor, dry_run=True)
    screen.show(undo_modal(operation, preview, channel=req.channel))


def on_submit(req: Req) -> None:
    req.title = TITLE
    if not req.may_change():
        return
    operation, channel = _checked(lambda: undo_metadata(req.view.get("private_metadata")))
    if req.done_before():
        req.ack(response_action="clear")
        return
    outcome = e.undo(req.db, operation, req.actor, key=req.once_key)
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    heading = f"Undid operation {operation}"
    req.post(outcome_blocks(outcome, heading=heading, by=f"<@{req.user}>"), channel)


def _checked(read: Callable[[], tuple[str, str]]) -> tuple[str, str]:
    """What a button or the confirmation carries, or the refusal of a forged or mangled one."""
    try:
        return read()
    except StateError as exc:
        raise e.EngineError(f"this button or form is not one this app made ({exc})") from exc


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.UNDO), ctx, on_button)
    wire(app.view(CallbackId.UNDO_CONFIRM), ctx, on_submit)
