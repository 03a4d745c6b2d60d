"""What an operation changed, as a message, in the words the CLI already uses.

The sentences come from ``bot.text.describe`` so that Slack and the terminal never tell the
same change two ways ("Allocated 3 order lines (7 units) to PO-1001:1; ATP left 33").
"""

from __future__ import annotations

from collections.abc import Collection

from slack_sdk.models.blocks import Block

from bot import text
from bot.views.blocks import MESSAGE_BLOCKS, context, escape, pack, section
from engine import Outcome

SENTENCE_BLOCKS = MESSAGE_BLOCKS - 5  # what the sentences may take, whatever surrounds them


def outcome_blocks(
    outcome: Outcome,
    *,
    atp_of: Collection[tuple[str, int]] = (),
    heading: str | None = None,
    by: str | None = None,
) -> list[Block]:
    """``heading`` (e.g. "Removed from PO-1001:1") in bold, one bullet per sentence, who did
    it (``by``: already mrkdwn, e.g. ``<@U123>``) and the operation's id, which is what a
    person quotes to undo the change later (a dry run changed nothing: it has none to quote);
    ``atp_of``: the PO lines whose ATP left the allocation sentence tells (``text.describe``)."""
    sentences = [escape(s) for s in text.describe(outcome, atp_of)]
    blocks: list[Block] = []
    if heading:
        blocks.append(section(f"*{escape(heading)}*"))
    if outcome.dry_run:
        # describe() puts the dry-run warning first; it stands apart so nobody misses it.
        blocks.append(section(f":information_source: {sentences.pop(0)}"))
    blocks += pack([f"• {s}" for s in sentences], max_blocks=SENTENCE_BLOCKS)
    said = [f"by {by}"] if by else []
    if not outcome.dry_run and outcome.operation_id:
        said.append(f"operation `{escape(outcome.operation_id)}`")
    if said:
        blocks.append(context(" · ".join(said)))
    return blocks
