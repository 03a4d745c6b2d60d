"""The App Home tab: what needs a merchandiser's attention, from ``engine.digest``'s data.

Three parts: open PO lines with their ATP, the unallocated queue by SKU, and PO lines whose
promises are out of sync. The tab holds 100 blocks; each part has a block budget, the first
lines of the actionable parts get a button, and whatever does not fit is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.ids import ActionId
from bot.text import day, plural
from bot.views.blocks import (
    at,
    button,
    context,
    escape,
    header,
    line_name,
    pack,
    promise_range,
    section,
)
from bot.views.state import ViewState
from engine import POLineHeader
from engine.digest import Digest, OutOfSyncLine

BUTTON_ROWS = 15  # per actionable part: one section with a button each
TEXT_BLOCKS = 8  # per part: packed rows beyond the buttoned ones


def home_view(
    data: Digest,
    open_lines: Sequence[POLineHeader],
    *,
    as_of: datetime | None = None,
    zone: tzinfo = UTC,
) -> View:
    """``open_lines``: the open PO lines to show (the handler chooses, e.g. those with ATP),
    in the order to show them; ``as_of``: when the data was read; times in ``zone``."""
    blocks: list[Block] = [header("Pre-orders")]
    if as_of is not None:
        blocks.append(context(f"As of {at(as_of, zone)} · `/preorder help` for commands"))
    blocks += _open_lines(open_lines)
    blocks += [DividerBlock(), header("Unallocated orders by SKU")]
    if not data.unallocated:
        blocks.append(section("Nothing is waiting: every open order line is allocated."))
    else:
        rows = [
            f"`{escape(q.sku)}` · {plural(q.lines, 'line')}, {plural(q.units, 'unit')}"
            + (f", {q.parked} parked" if q.parked else "")
            + f" · oldest {at(q.oldest_placed_at, zone)}"
            for q in data.unallocated
        ]
        blocks += pack(rows, max_blocks=TEXT_BLOCKS)
    blocks += [DividerBlock(), header("Out-of-sync promises")]
    blocks += _out_of_sync(data.out_of_sync)
    return View(type="home", blocks=blocks)


def _open_lines(lines: Sequence[POLineHeader]) -> list[Block]:
    blocks: list[Block] = [header("Open PO lines")]
    if not lines:
        return [*blocks, section("No open PO lines.")]
    for s in lines[:BUTTON_ROWS]:
        text = (
            f"*{line_name(s.po, s.line)}* `{escape(s.sku)}` · *ATP {s.atp}* of "
            f"{s.quantity - s.store_hold} · {plural(s.orders, 'order line')} · "
            f"arrives {day(s.arrival_date)}"
        )
        value = ViewState.of(s).to_json()
        blocks.append(section(text, accessory=button("Review", ActionId.REVIEW, value)))
    rest = [
        f"{line_name(s.po, s.line)} `{escape(s.sku)}` · ATP {s.atp} · {day(s.arrival_date)}"
        for s in lines[BUTTON_ROWS:]
    ]
    return blocks + pack(rest, max_blocks=TEXT_BLOCKS)


def _out_of_sync(lines: Sequence[OutOfSyncLine]) -> list[Block]:
    if not lines:
        return [section("Every promised date matches its PO line's arrival date.")]
    blocks: list[Block] = []
    for o in lines[:BUTTON_ROWS]:
        value = ViewState(po=o.po, line=o.line, sku=o.sku).to_json()
        blocks.append(
            section(
                _sync_row(o, bold=True),
                accessory=button("Sync dates…", ActionId.SYNC_DATE, value),
            )
        )
    return blocks + pack([_sync_row(o) for o in lines[BUTTON_ROWS:]], max_blocks=TEXT_BLOCKS)


def _sync_row(o: OutOfSyncLine, *, bold: bool = False) -> str:
    name = line_name(o.po, o.line)
    promised = promise_range(o)
    return (
        f"{f'*{name}*' if bold else name} `{escape(o.sku)}` · arrives {day(o.arrival_date)} · "
        f"{plural(o.lines, 'line')} ({plural(o.units, 'unit')}) promised {promised}"
    )
