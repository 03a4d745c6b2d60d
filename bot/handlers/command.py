"""``/preorder``: read the text, hand it to the use it names, or answer with the exact usage.

Whatever the user typed, they get a short ephemeral answer in the ack itself when it cannot be
read: which part was wrong and the usage of every subcommand. The usages come from
``bot.views.help.USAGE``, so help and parser never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from slack_bolt import App

from bot.handlers import (
    allocate,
    cancel,
    help,
    po,
    remove,
    review,
    set_arrival,
    sync_date,
    unallocated,
)
from bot.handlers.listener import wire
from bot.handlers.request import HandlerContext, Req
from bot.views.blocks import fallback_text
from bot.views.help import COMMAND, USAGE, help_blocks
from engine.parsing import INT_MAX, KEY_PATTERN

SYNTAX = {syntax.split()[0]: syntax for syntax, _ in USAGE}
EXAMPLES = {
    "po": "po PO-1001",
    "review": "review PO-1001 1",
    "allocate": "allocate PO-1001 1",
    "remove": "remove PO-1001 1",
    "sync-date": "sync-date PO-1001 1",
    "set-arrival": "set-arrival PO-1001 1",
    "cancel-po": "cancel-po PO-1001 2",
    "unallocated": "unallocated SKU-RED-M",
}
ALIASES = {
    "sync": "sync-date",
    "sync_date": "sync-date",
    "syncdate": "sync-date",
    "set_arrival": "set-arrival",
    "arrival": "set-arrival",
    "cancel": "cancel-po",
    "cancel_po": "cancel-po",
}


class UsageError(Exception):
    """What was wrong with the command text, in one sentence for the user."""


def parse_po(word: str) -> str:
    if not KEY_PATTERN.match(word):
        raise UsageError(f"{word!r} is not a PO number (letters, digits and # . _ / -).")
    return word


def parse_line(word: str) -> int:
    # ASCII digits only: \d would take other scripts' digits, which int() reads as numbers.
    if not re.fullmatch(r"[0-9]+", word) or not word.strip("0"):
        raise UsageError(f"{shorten(word)!r} is not a PO line number (a whole number from 1).")
    digits = word.lstrip("0")
    # Compared as text first: int() of thousands of digits is slow, then refused.
    if len(digits) > len(str(INT_MAX)) or int(digits) > INT_MAX:
        raise UsageError(f"PO line number {shorten(word)} is too large: at most {INT_MAX:,}.")
    return int(digits)


def shorten(word: str, most: int = 24) -> str:
    """``word`` as an answer quotes it: a long one cut (the answer's text has a limit)."""
    return word if len(word) <= most else word[: most - 3] + "..."


def parse_sku(word: str) -> str:
    if not KEY_PATTERN.match(word):
        raise UsageError(f"{word!r} is not a SKU (letters, digits and # . _ / -).")
    return word


Run = Callable[[Req], None]
LINE_USES: dict[str, Callable[[Req, str, int], None]] = {
    "review": review.start,
    "allocate": allocate.start,
    "remove": remove.start,
    "sync-date": sync_date.start,
    "set-arrival": set_arrival.start,
}
ARITY = {"help": (0, 0), "po": (1, 1), "unallocated": (0, 1), "cancel-po": (1, 2)} | {
    n: (2, 2) for n in LINE_USES
}


def parse(text: str) -> Run:
    """What to do for the command text, every word checked; UsageError naming what is wrong."""
    words = text.split()
    if not words:
        return help.show
    name = ALIASES.get(words[0].lower(), words[0].lower())
    if name not in ARITY:
        raise UsageError(f"Unknown subcommand {words[0]!r}.")
    args = words[1:]
    least, most = ARITY[name]
    if not least <= len(args) <= most:
        raise UsageError(usage_of(name))
    if name == "help":
        return help.show
    if name == "po":
        number = parse_po(args[0])
        return lambda req: po.show(req, number)
    if name == "cancel-po":
        number = parse_po(args[0])
        which = parse_line(args[1]) if len(args) > 1 else None
        return lambda req: cancel.start(req, number, which)
    if name == "unallocated":
        sku = parse_sku(args[0]) if args else None
        return lambda req: unallocated.show(req, sku)
    target, line = parse_po(args[0]), parse_line(args[1])
    use = LINE_USES[name]
    return lambda req: use(req, target, line)


def usage_of(name: str) -> str:
    example = f", e.g. {COMMAND} {EXAMPLES[name]}" if name in EXAMPLES else ""
    return f"Usage: {COMMAND} {SYNTAX.get(name, name)}{example}"


def on_command(req: Req) -> None:
    text = str(req.body.get("text") or "")
    try:
        run = parse(text)
    except UsageError as exc:
        blocks = help_blocks(str(exc))
        req.ack(response_type="ephemeral", text=fallback_text(blocks), blocks=blocks)
        return
    run(req)


def register(app: App, ctx: HandlerContext) -> None:
    wire(app.command(COMMAND), ctx, on_command)
