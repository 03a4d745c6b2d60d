"""``/preorder help`` (and an empty ``/preorder``): every subcommand's usage, in the ack itself.

Help has no buttons of its own, so nothing here registers with the app; the command router
calls ``show``.
"""

from __future__ import annotations

from bot.handlers.request import Req
from bot.views.blocks import fallback_text
from bot.views.help import help_blocks


def show(req: Req) -> None:
    blocks = help_blocks()
    req.ack(response_type="ephemeral", text=fallback_text(blocks), blocks=blocks)
