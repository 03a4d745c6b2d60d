"""``/preorder order ORDER``: the order view as a modal (anyone may look). Reached only through
the command router; its Review buttons are the review handler's."""

from __future__ import annotations

import engine as e
from bot.handlers.request import Req
from bot.views.order import TITLE, order_modal


def show(req: Req, number: str) -> None:
    req.ack()
    screen = req.open(TITLE)
    view = e.order(req.db, number, zone=req.zone)
    screen.show(order_modal(view, zone=req.zone, channel=req.channel))
