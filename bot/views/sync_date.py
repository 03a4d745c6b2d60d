"""Sync date with SO (rule 4) as a confirmation modal built from a dry run.

The handler runs ``engine.sync_date(..., dry_run=True)`` first, so the modal states exactly how
many promised dates would change and from what to what, and how many customers will be told
(one event per order: the store's webhook and the customers' emails hear of it), so nobody
does it without seeing the count.
"""

from __future__ import annotations

from collections import Counter

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.ids import CallbackId
from bot.text import day, plural
from bot.views.blocks import context, escape, line_name, modal, pack, section
from bot.views.state import ViewState
from engine import Outcome, POLineHeader

TITLE = "Sync promised dates"
SUBMIT = "Sync dates"
FROM_AT_MOST = 5  # old dates named before "and N more"


def sync_text(head: POLineHeader, preview: Outcome) -> str:
    """``Change 12 promised dates on PO-1001:1 to 2027-01-10 (its arrival date)? Now: ...``"""
    where = line_name(head.po, head.line)
    changes = preview.promises
    if not changes:
        return (
            f"Every promised date on *{where}* already matches its arrival date "
            f"{day(head.arrival_date)}: nothing to sync."
        )
    targets = Counter(c.new for c in changes)
    to = ", ".join(
        f"{day(d)}" + ("" if len(targets) == 1 else f" ({n})") for d, n in targets.most_common()
    )
    olds = Counter(c.old for c in changes).most_common()
    now = ", ".join(f"{day(d) if d else 'no date'} ({n})" for d, n in olds[:FROM_AT_MOST])
    if len(olds) > FROM_AT_MOST:
        now += f" and {len(olds) - FROM_AT_MOST} more dates"
    return (
        f"Change {plural(len(changes), 'promised date')} on *{where}* to {to} "
        f"(its arrival date)?\nNow promised: {now}.\n{told(preview)}"
    )


def told(preview: Outcome) -> str:
    """How many customers the change will be told to: one event per order (none are written
    with PREORDER_EVENTS=0, and then nobody is told but by hand)."""
    if not preview.notified:
        return "Customers may need telling: no event is written for them."
    return f"{plural(preview.notified, 'customer')} will be told of the new date."


def sync_date_modal(head: POLineHeader, preview: Outcome, *, channel: str = "") -> View:
    """``preview``: the dry-run Outcome; no submit button when it changes nothing."""
    blocks: list[Block] = [section(sync_text(head, preview))]
    if preview.promises:
        refs = [
            f"`{escape(c.order)}:{c.line}` {day(c.old)} → {day(c.new)}" for c in preview.promises
        ]
        blocks += pack(refs[:200], max_blocks=3, total=len(refs))
        blocks.append(context("Each change is recorded with who made it and why."))
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.SYNC_DATE_CONFIRM,
        metadata=ViewState.of(head, channel=channel).to_json(),
        submit=SUBMIT if preview.promises else None,
        close="Cancel" if preview.promises else "Close",
    )
