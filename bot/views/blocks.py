"""Pieces every view shares: Slack's limits, safe text, packing rows, and the small modals
(loading, notice, stale) that any flow may show.

Slack refuses a whole view or message when one text is a character too long, and slack_sdk
checks only some limits, so every text that comes from data (customers, SKUs, counts) passes
through ``truncate`` here, and long lists go through ``pack`` which stops at a block budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
    TextObject,
)
from slack_sdk.models.views import View

from bot.ids import BlockId, CallbackId
from bot.text import day
from engine.digest import OutOfSyncLine

MODAL_BLOCKS = 100  # per modal or Home tab
MESSAGE_BLOCKS = 50
TITLE_MAX = 24  # view title, submit and close
TEXT_MAX = 3000  # section text
HEADER_MAX = 150
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
STATIC_OPTIONS_MAX = 100
CHECKBOX_OPTIONS_MAX = 10  # checkboxes and radio buttons; slack_sdk does not check it
ERROR_TEXT_MAX = 1000  # our own cap on an inline error: Slack documents none, nobody reads more
ELLIPSIS = "…"

STALE_NOTICE = (
    ":warning: *This changed since you opened it.* Here is what it looks like now; "
    "check it and try again."
)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut; never splits an
    ``&amp;``-style entity that ``escape`` made, since Slack would show half of it."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def escape(text: str) -> str:
    """Data made safe for mrkdwn: the three characters Slack reserves for its own markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, limit: int = TEXT_MAX) -> PlainTextObject:
    return PlainTextObject(text=truncate(text, limit), emoji=True)


def section(text: str, **kwargs: Any) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, TEXT_MAX)), **kwargs)


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=plain(text, HEADER_MAX))


def context(text: str, **kwargs: Any) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(text, TEXT_MAX))], **kwargs)


def button(
    text: str, action_id: str, value: str = "", *, style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=plain(text, 75), action_id=action_id, value=value or None, style=style
    )


def at(moment: datetime, zone: tzinfo = UTC) -> str:
    """An instant as people in the team read it: to the minute in ``zone`` (PREORDER_TIMEZONE),
    with the zone's abbreviation, so that nobody takes a New York time for UTC or the other
    way round (``2026-11-02 04:00 EST``)."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or zone}"


def line_name(po: str, line: int) -> str:
    return f"{po}:{line}"


def pack(
    rows: Sequence[str],
    *,
    max_blocks: int | None,
    total: int | None = None,
    closing: Callable[[int], str] | None = None,
    closing_room: int = 40,
) -> list[SectionBlock]:
    """Rows (one line of mrkdwn each) in as few sections as fit 3000 characters, at most
    ``max_blocks`` of them (None: as many as needed); what does not fit is counted in a closing
    line, ``closing(rows shown)`` or "… and N more", for which each section keeps
    ``closing_room`` characters free. ``total`` is the full count when the caller passed only
    the first rows of a long list."""
    total = len(rows) if total is None else total
    room = TEXT_MAX - closing_room
    chunks: list[list[str]] = [[]]
    size = 0
    shown = 0
    for row in rows:
        row = truncate(row, room)
        if chunks[-1] and size + len(row) + 1 > room:
            if max_blocks is not None and len(chunks) >= max_blocks:
                break
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += len(row) + 1
        shown += 1
    if shown < total:
        said = closing(shown) if closing is not None else f"{ELLIPSIS} and {total - shown} more"
        chunks[-1].append(truncate(said, closing_room - 1))
    return [section("\n".join(chunk)) for chunk in chunks if chunk]


def modal(
    title: str,
    blocks: Sequence[Block],
    *,
    callback_id: str,
    metadata: str | None = None,
    submit: str | None = None,
    close: str = "Close",
) -> View:
    return View(
        type="modal",
        callback_id=callback_id,
        title=plain(title, TITLE_MAX),
        submit=plain(submit, TITLE_MAX) if submit else None,
        close=plain(close, TITLE_MAX),
        private_metadata=metadata,
        blocks=list(blocks),
    )


def loading_modal(title: str = "Pre-orders") -> View:
    """Opened right after ``ack``, while the trigger_id is still valid (3 s), and replaced with
    ``views.update`` once the engine has answered."""
    return modal(
        title, [section(":hourglass_flowing_sand: Loading…")], callback_id=CallbackId.LOADING
    )


def notice_modal(title: str, text: str) -> View:
    """A modal that only tells something (a refused operation, an unknown PO): nothing to submit."""
    return modal(title, [section(text, block_id=BlockId.NOTICE)], callback_id=CallbackId.NOTICE)


def stale_modal(fresh: View, note: str = STALE_NOTICE) -> View:
    """``fresh`` (the view rebuilt from current data) with a notice on top saying the data
    changed since the user opened it, so that they check before submitting again."""
    blocks = [section(note, block_id=BlockId.NOTICE), *(fresh.blocks or [])]
    return View(
        type=fresh.type,
        callback_id=fresh.callback_id,
        title=_plain_text(fresh.title),
        submit=_plain_text(fresh.submit),
        close=_plain_text(fresh.close),
        private_metadata=fresh.private_metadata,
        blocks=blocks[:MODAL_BLOCKS],
    )


def _plain_text(text: TextObject | None) -> PlainTextObject | None:
    # View keeps its title and buttons typed as any TextObject, but it parses them as plain
    # text, and View() accepts only plain text back.
    assert text is None or isinstance(text, PlainTextObject)
    return text


def error_blocks(text: str) -> list[Block]:
    """A refused operation or a usage error as a message (sent ephemeral by the handler)."""
    return [section(f":x: {escape(text)}", block_id=BlockId.NOTICE)]


def errors_response(errors: Mapping[str, str]) -> dict[str, Any]:
    """The ``ack`` body that shows errors under the named input blocks of a submitted modal
    (``ack(**errors_response(...))``)."""
    return {
        "response_action": "errors",
        "errors": {str(k): truncate(v, ERROR_TEXT_MAX) for k, v in errors.items()},
    }


def fallback_text(blocks: Sequence[Block]) -> str:
    """The notification text of a message (``text=`` beside ``blocks=``): its first words."""
    for block in blocks:
        text = getattr(block, "text", None)
        if text is not None and getattr(text, "text", None):
            return truncate(str(text.text), 300)
    return "Pre-orders"


def promise_range(o: OutOfSyncLine) -> str:
    """The promised dates of an out-of-sync PO line's orders: one date, or "from to"."""
    if o.earliest_promise == o.latest_promise:
        return day(o.earliest_promise)
    return f"{day(o.earliest_promise)} to {day(o.latest_promise)}"
