"""``/preorder help`` and usage errors: the exact usage of each subcommand, sent ephemeral.

``USAGE`` is the one list of subcommands; the command handler can take its names from it so
that help never offers a subcommand the parser does not know, nor misses one it does.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.views.blocks import context, escape, section

COMMAND = "/preorder"

USAGE: tuple[tuple[str, str], ...] = (
    ("po PO-NUMBER", "A purchase order's lines with their ATP, and buttons to review, "
     "allocate, sync dates, remove allocations, set arrival dates and cancel."),
    ("review PO-NUMBER LINE", "A PO line's allocated orders, first in first out, page by "
     "page, with ways to remove them or move them to another PO line."),
    ("allocate PO-NUMBER LINE", "Choose unallocated orders of the line's SKU to allocate to "
     "it."),
    ("remove PO-NUMBER LINE", "Choose allocated orders to take off the line (they are parked)."),
    ("sync-date PO-NUMBER LINE", "Set the line's promised dates to its arrival date."),
    ("set-arrival PO-NUMBER LINE", "Move the line's arrival date (a date picker), syncing "
     "promised dates now or later; shows how many orders it affects."),
    ("cancel-po PO-NUMBER [LINE]", "Cancel a purchase order or one line, after a "
     "confirmation saying how many orders it releases."),
    ("unallocated [SKU]", "Order lines waiting for stock, first in first out (all SKUs, "
     "or one), with a way to unpark parked ones."),
    ("help", "This list."),
)  # fmt: skip


def usage_lines(command: str = COMMAND) -> list[str]:
    return [f"`{command} {syntax}`  {text}" for syntax, text in USAGE]


def help_blocks(problem: str | None = None, *, command: str = COMMAND) -> list[Block]:
    """The usage of every subcommand; ``problem`` (what was wrong with what the user typed)
    comes first when this answers a usage error."""
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f":x: {escape(problem)}"))
    blocks.append(section("*Usage*\n" + "\n".join(usage_lines(command))))
    blocks.append(
        context("The App Home tab lists open PO lines, the unallocated queue and late promises.")
    )
    return blocks
