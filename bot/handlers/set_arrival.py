"""``/preorder set-arrival PO LINE`` and Set Arrival Date: a modal with a date picker, a
"sync promised dates now" choice and the dry run of the picked date; then one
``engine.set_arrival`` and a summary in the channel.

Picking a date reruns the dry run and updates the modal in place. A date before today is
refused as on the command line, unless the user ticks that it is in the past on purpose (the
command line's ``--allow-past``); the refusal comes back under the date picker. If the line
changed between opening and submitting, the modal is shown again from fresh data with a notice.
"""

from __future__ import annotations

from datetime import date

from slack_bolt import App
from slack_sdk.models.views import View

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId, CallbackId
from bot.text import day
from bot.views.blocks import stale_modal
from bot.views.set_arrival import (
    TITLE,
    arrival_errors,
    arrival_summary,
    chosen_date,
    chosen_options,
    set_arrival_modal,
)


def _view(
    req: Req, head: e.POLineHeader, chosen: date, *, sync: bool, allow_past: bool, channel: str
) -> View:
    """The modal for ``chosen``, with the dry run of moving the line there (synced, so that
    it tells how many customers a sync would tell)."""
    preview = None
    if chosen != head.arrival_date and head.status == "open":
        preview = e.set_arrival(
            req.db, req.actor, head.po, head.line, chosen, sync=True, allow_past=True, dry_run=True
        )
    return set_arrival_modal(
        head,
        chosen,
        preview,
        today=req.db.clock().date(),
        sync=sync,
        allow_past=allow_past,
        channel=channel,
    )


def start(req: Req, po: str, line: int, *, channel: str = "") -> None:
    req.ack()
    if not req.may_change():
        return
    screen = req.open(TITLE)
    head = e.po_line(req.db, po, line)
    channel = channel or req.channel
    screen.show(_view(req, head, head.arrival_date, sync=False, allow_past=False, channel=channel))


def on_button(req: Req) -> None:
    """Set Arrival Date, on a PO message or in the review modal."""
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, state.line, channel=state.channel or req.channel)


def _parse(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


def on_date(req: Req) -> None:
    """A date picked: the dry run for it, in place of the modal shown (a fresh one, with a
    notice, if the line changed since)."""
    req.ack()
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    values = req.view.get("state", {}).get("values", {})
    chosen = _parse(req.body["actions"][0].get("selected_date")) or _parse(chosen_date(values))
    head = e.po_line(req.db, state.po, state.line)
    sync, allow_past = chosen_options(values)
    view = _view(
        req,
        head,
        chosen or head.arrival_date,
        sync=sync,
        allow_past=allow_past,
        channel=state.channel,
    )
    req.current().show(stale_modal(view) if state.is_stale(head) else view)


def on_submit(req: Req) -> None:
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    values = req.view.get("state", {}).get("values", {})
    chosen = _parse(chosen_date(values))
    if chosen is None:
        req.ack(**arrival_errors("Pick a date (YYYY-MM-DD)."))
        return
    sync, allow_past = chosen_options(values)
    if req.done_before():
        req.ack(response_action="clear")
        return
    head = e.po_line(req.db, state.po, state.line)
    if state.is_stale(head):
        view = _view(req, head, chosen, sync=sync, allow_past=allow_past, channel=state.channel)
        req.ack(response_action="update", view=stale_modal(view))
        return
    if chosen == head.arrival_date and not sync:
        req.ack(**arrival_errors(f"{day(chosen)} is its arrival date already."))
        return
    try:
        outcome = e.set_arrival(
            req.db,
            req.actor,
            state.po,
            state.line,
            chosen,
            sync=sync,
            allow_past=allow_past,
            key=req.once_key,
        )
    except e.EngineError as exc:
        why = str(exc)
        if chosen < req.db.clock().date() and not allow_past:
            why += ": tick 'The date is in the past on purpose' to record it anyway"
        req.ack(**arrival_errors(why))
        return
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    blocks = arrival_summary(outcome, state.po, state.line, chosen, by=f"<@{req.user}>")
    req.post(blocks, state.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.SET_ARRIVAL), ctx, on_button)
    wire(app.action(ActionId.ARRIVAL_DATE), ctx, on_date)
    wire(app.view(CallbackId.SET_ARRIVAL), ctx, on_submit)
