"""``/preorder po PO-1001``: the purchase order as an ephemeral message, like its detail page,
with each line's buttons (the buttons themselves are handled by review, allocate, remove and
sync_date); and the select that opens any line the message had no room to give buttons.
"""

from __future__ import annotations

from slack_bolt import App

import engine as e
from bot.handlers import review
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId
from bot.views.po import po_message


def show(req: Req, number: str) -> None:
    """Ack at once, then read the PO and answer through the response_url."""
    req.ack()
    detail = e.purchase_order(req.db, number)
    blocks = po_message(detail, channel=req.channel)
    req.tell(f"Purchase order {detail.po}", blocks)


def on_pick_line(req: Req) -> None:
    """A line chosen in the select of a long PO: open its review."""
    action = req.body["actions"][0]
    state = state_of((action.get("selected_option") or {}).get("value"))
    review.start(req, state.po, state.line, channel=state.channel or req.channel)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.PICK_LINE), ctx, on_pick_line)
