"""Remove allocations (rule 5): tick allocated order lines page by page (checkbox groups of at
most 10), choose whether the freed units stay for in-store sales, confirm the count, and one
``engine.remove`` parks them; the summary goes to the channel.

Both submissions check that the rows the user saw are still the rows there (the line's
fingerprint, and every ticked line still on the page); if not, the step is shown again from
fresh data with a notice, and nothing is removed.
"""

from __future__ import annotations

from slack_bolt import App
from slack_sdk.models.views import View

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.handlers.review import page
from bot.ids import ActionId, CallbackId
from bot.views.blocks import escape, line_name, notice_modal, stale_modal
from bot.views.remove import (
    CONFIRM_TITLE,
    PAGE_SIZE,
    TITLE,
    chosen_refs,
    hold_chosen,
    remove_confirm_modal,
    remove_errors,
    remove_modal,
)
from bot.views.state import ViewState, parse_ref, ref_value
from bot.views.summary import outcome_blocks


def start(req: Req, po: str, line: int, *, channel: str = "") -> None:
    req.ack()
    if not req.may_change():
        return
    screen = req.open(TITLE)
    data, has_next = page(req.db, ViewState(po=po, line=line), PAGE_SIZE)
    screen.show(
        remove_modal(data, has_next=has_next, channel=channel or req.channel, zone=req.zone)
    )


def on_button(req: Req) -> None:
    """Remove Allocation on a PO message, or "Remove allocations…" in the review modal (then
    the choice is pushed on top of the review)."""
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, state.line, channel=state.channel or req.channel)


def _choose_view(req: Req, data: e.Review, state: ViewState, has_next: bool) -> View:
    return remove_modal(
        data,
        page=state.page,
        after=state.after,
        before=state.before,
        has_next=has_next,
        channel=state.channel,
        zone=req.zone,
    )


def on_page(req: Req) -> None:
    req.ack()
    state = state_of(req.body["actions"][0].get("value"))
    data, has_next = page(req.db, state, PAGE_SIZE)
    view = _choose_view(req, data, state, has_next)
    req.current().show(stale_modal(view) if state.is_stale(data.head) else view)


def on_choose(req: Req) -> None:
    """Continue: push the confirmation, or show the page afresh if it changed."""
    req.title = TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    values = req.view.get("state", {}).get("values", {})
    picked = chosen_refs(values)
    if not picked:
        req.ack(**remove_errors("Choose at least one order line to remove."))
        return
    data, has_next = page(req.db, state, PAGE_SIZE)
    rows = {ref_value(r): r for r in data.allocations[:PAGE_SIZE]}
    if state.is_stale(data.head) or any(p not in rows for p in picked):
        view = stale_modal(_choose_view(req, data, state, has_next))
        req.ack(response_action="update", view=view)
        return
    confirm = remove_confirm_modal(
        data.head,
        [rows[p] for p in picked],
        hold_for_store=hold_chosen(values),
        channel=state.channel,
        page=state.page,
        after=state.after,
        before=state.before,
    )
    req.ack(response_action="push", view=confirm)


def on_confirm(req: Req) -> None:
    """Remove: the ticked lines are unallocated and parked, all or nothing."""
    req.title = CONFIRM_TITLE
    if not req.may_change():
        return
    state = state_of(req.view.get("private_metadata"))
    if req.done_before():
        req.ack(response_action="clear")
        return
    where = line_name(state.po, state.line)
    head = e.po_line(req.db, state.po, state.line)
    if state.is_stale(head):
        data, _ = page(req.db, state, PAGE_SIZE)
        rows = [r for r in data.allocations[:PAGE_SIZE] if ref_value(r) in state.picked]
        view = (
            remove_confirm_modal(
                data.head,
                rows,
                hold_for_store=state.hold_for_store,
                channel=state.channel,
                page=state.page,
                after=state.after,
                before=state.before,
            )
            if rows
            else notice_modal(
                CONFIRM_TITLE, f"None of the chosen order lines is allocated to {where} any more."
            )
        )
        req.ack(response_action="update", view=stale_modal(view))
        return
    refs = [parse_ref(p) for p in state.picked]
    try:
        outcome = e.remove(
            req.db,
            req.actor,
            state.po,
            state.line,
            refs,
            hold_for_store=state.hold_for_store,
            key=req.once_key,
        )
    except e.EngineError as exc:
        view = notice_modal(CONFIRM_TITLE, f":x: {escape(str(exc))}")
        req.ack(response_action="update", view=view)
        return
    req.ack(response_action="clear")
    if outcome.replayed:
        return
    blocks = outcome_blocks(
        outcome,
        atp_of=[(state.po, state.line)],
        heading=f"Removed from {where}",
        by=f"<@{req.user}>",
    )
    req.post(blocks, state.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.REMOVE), ctx, on_button)
    wire(app.action(ActionId.REVIEW_REMOVE), ctx, on_button)
    wire(app.action(ActionId.REMOVE_NEXT), ctx, on_page)
    wire(app.action(ActionId.REMOVE_PREVIOUS), ctx, on_page)
    wire(app.view(CallbackId.REMOVE_CHOOSE), ctx, on_choose)
    wire(app.view(CallbackId.REMOVE_CONFIRM), ctx, on_confirm)
