"""Review allocations (rule 2) as a modal, paged with Previous / Next.

Each page is one keyset query for ``PAGE_SIZE + 1`` rows after (or ``PAGE_SIZE`` before) the
cursor a pager button carries, so a line with 50,000 allocations opens and pages as fast as one
with ten. When the line changed since the page was shown, the new page says so on top.
"""

from __future__ import annotations

from slack_bolt import App

import engine as e
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req, state_of
from bot.ids import ActionId
from bot.views.blocks import stale_modal
from bot.views.review import PAGE_SIZE, TITLE, review_modal
from bot.views.state import ViewState, engine_key


def page(db: e.Database, state: ViewState, size: int) -> tuple[e.Review, bool]:
    """The page ``state`` names (its ``after`` or ``before`` cursor, else the first) and
    whether another page follows it."""
    if state.before is not None:
        data = e.review(db, state.po, state.line, limit=size, before=engine_key(state.before))
        return data, True
    after = engine_key(state.after) if state.after is not None else None
    data = e.review(db, state.po, state.line, limit=size + 1, after=after)
    return data, len(data.allocations) > size


def start(req: Req, po: str, line: int, *, channel: str = "") -> None:
    """Open the review of ``po``:``line`` at its first page (anyone may look)."""
    req.ack()
    screen = req.open(TITLE)
    data, has_next = page(req.db, ViewState(po=po, line=line), PAGE_SIZE)
    screen.show(
        review_modal(data, has_next=has_next, channel=channel or req.channel, zone=req.zone)
    )


def on_button(req: Req) -> None:
    """Review Allocation, on a PO message or the Home tab."""
    state = state_of(req.body["actions"][0].get("value"))
    start(req, state.po, state.line, channel=state.channel or req.channel)


def on_page(req: Req) -> None:
    """Previous / Next: the page the button names, in place of the one shown."""
    req.ack()
    state = state_of(req.body["actions"][0].get("value"))
    data, has_next = page(req.db, state, PAGE_SIZE)
    view = review_modal(
        data,
        page=state.page,
        after=state.after,
        before=state.before,
        has_next=has_next,
        channel=state.channel,
        zone=req.zone,
    )
    req.current().show(stale_modal(view) if state.is_stale(data.head) else view)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.REVIEW), ctx, on_button)
    wire(app.action(ActionId.REVIEW_NEXT), ctx, on_page)
    wire(app.action(ActionId.REVIEW_PREVIOUS), ctx, on_page)
