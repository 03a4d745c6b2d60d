"""The App Home tab (``app_home_opened`` -> ``views.publish``): open PO lines with ATP, the
unallocated queue by SKU and the out-of-sync promises, read afresh each time it is opened.

Its buttons (Review, Sync dates…) are the same action ids as on a PO message and are handled
by review and sync_date.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req
from bot.views.home import BUTTON_ROWS, TEXT_BLOCKS, home_view
from engine.digest import digest

# Open lines read for the tab: the buttoned rows plus what fits in the packed text blocks.
OPEN_LINES = BUTTON_ROWS + TEXT_BLOCKS * 30


def on_home_opened(req: Req) -> None:
    req.ack()
    event = req.body.get("event") or {}
    if event.get("tab", "home") != "home":
        return
    data = digest(req.db)
    lines = e.open_po_lines(req.db, with_atp=True, limit=OPEN_LINES)
    view = home_view(data, lines, as_of=datetime.now(UTC), zone=req.zone)
    req.client.views_publish(user_id=req.user, view=view)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.event("app_home_opened"), ctx, on_home_opened)
