"""Buttons that only open a link (the digest's "Open the sheet"). Slack opens the URL in the
browser and still sends the click to the app; a click left unanswered shows the user a warning
on the button, so it is acked and nothing else happens."""

from __future__ import annotations

from slack_bolt import App

from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req
from bot.ids import ActionId


def on_link(req: Req) -> None:
    req.ack()


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.action(ActionId.OPEN_SHEET), ctx, on_link)
