"""Slack entry points, one module per use: each module's ``register(app, ctx)`` wires its
buttons, modals and events; ``command`` routes ``/preorder`` to the uses (``help`` and
``unallocated`` are reached only through it). Handlers parse and authorize, call one engine
operation and render with ``bot.views``; they hold no SQL. What they share: ``request`` (the
request, its context and the ways to answer it) and ``listener`` (``wire``, which registers a
handler so that every request is acked and answered).
"""

from __future__ import annotations

from slack_bolt import App

from bot.handlers import (
    allocate,
    cancel,
    command,
    home,
    links,
    move,
    po,
    receive,
    remove,
    review,
    set_arrival,
    sync_date,
    unpark,
)
from bot.handlers.request import HandlerContext

__all__ = ["HandlerContext", "register_all"]


def register_all(app: App, ctx: HandlerContext) -> None:
    uses = (command, po, review, allocate, remove, sync_date, set_arrival, move, cancel, unpark)
    for module in (*uses, receive, home, links):
        module.register(app, ctx)
