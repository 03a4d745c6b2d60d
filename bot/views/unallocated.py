"""``/preorder unallocated [SKU]``: the unallocated queue (rule 1) by SKU, FIFO within each.

A message holds 50 blocks and a section 3000 characters, while a queue can hold a million
lines; so each SKU gets one section with its totals and its first lines, a single SKU gets
its first ``SKU_ROWS`` lines, and the rest is counted, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, tzinfo
from itertools import groupby

from slack_sdk.models.blocks import Block

from bot.text import plural
from bot.views.blocks import (
    ELLIPSIS,
    MESSAGE_BLOCKS,
    at,
    context,
    escape,
    header,
    pack,
    section,
)
from bot.views.unpark import unpark_button
from engine import QueuedLine
from engine.digest import QueueBySku

ROWS_PER_SKU = 5  # in the all-SKU listing
SKU_ROWS = 200  # when one SKU was asked for
SKU_SECTIONS = MESSAGE_BLOCKS - 4  # header, context, closing note, spare


def unallocated_message(
    lines: Sequence[QueuedLine],
    *,
    sku: str | None = None,
    totals: Sequence[QueueBySku] | None = None,
    zone: tzinfo = UTC,
    channel: str = "",
) -> list[Block]:
    """``lines`` in FIFO order (all SKUs, or ``sku``'s). ``totals`` (``engine.digest``'s
    per-SKU counts) gives true counts when ``lines`` is only the start of a long queue. A SKU
    with parked lines gets an Unpark… button (its summary goes to ``channel``)."""
    counts = {t.sku: t for t in totals or ()}
    title = f"Unallocated order lines of {sku}" if sku else "Unallocated order lines"
    blocks: list[Block] = [header(title)]
    if not lines and not any(t.lines for t in counts.values()):
        nothing = f"of `{escape(sku)}` " if sku else ""
        blocks.append(section(f"No open order line {nothing}is waiting: all are allocated."))
        return blocks
    by_sku = {k: list(g) for k, g in groupby(sorted(lines, key=lambda q: q.sku), key=_sku)}
    skus = sorted(set(by_sku) | set(counts))
    if sku is not None:
        skus = [sku]
    blocks.append(context(_totals(skus, by_sku, counts)))
    if sku is not None:
        parked = counts[sku].parked if sku in counts else sum(q.parked for q in by_sku.get(sku, []))
        if parked:
            text = f"{plural(parked, 'parked line')}: automatic allocation leaves them alone."
            blocks.append(section(text, accessory=unpark_button(sku, channel)))
        rows = [row(q, zone) for q in by_sku.get(sku, [])[:SKU_ROWS]]
        total = counts[sku].lines if sku in counts else len(by_sku.get(sku, []))
        blocks += pack(rows, max_blocks=SKU_SECTIONS, total=total)
        return blocks
    for s in skus[:SKU_SECTIONS]:
        queued = by_sku.get(s, [])
        total = counts[s].lines if s in counts else len(queued)
        units = counts[s].units if s in counts else sum(q.quantity for q in queued)
        parked = counts[s].parked if s in counts else sum(q.parked for q in queued)
        text = f"*`{escape(s)}`* · {plural(total, 'line')}, {plural(units, 'unit')}"
        text += f", {parked} parked" if parked else ""
        shown = [row(q, zone) for q in queued[:ROWS_PER_SKU]]
        if total > len(shown):
            shown.append(f"{ELLIPSIS} and {total - len(shown)} more: /preorder unallocated {s}")
        accessory = unpark_button(s, channel) if parked else None
        blocks.append(section("\n".join([text, *shown]), accessory=accessory))
    if len(skus) > SKU_SECTIONS:
        blocks.append(context(f"{ELLIPSIS} and {plural(len(skus) - SKU_SECTIONS, 'more SKU')}"))
    return blocks


def row(q: QueuedLine, zone: tzinfo = UTC) -> str:
    parked = " · _parked_" if q.parked else ""
    return (
        f"`{escape(q.order)}:{q.line}` {plural(q.quantity, 'unit')} · {escape(q.customer)} · "
        f"{at(q.placed_at, zone)}{parked}"
    )


def _sku(q: QueuedLine) -> str:
    return q.sku


def _totals(
    skus: Sequence[str], by_sku: dict[str, list[QueuedLine]], counts: dict[str, QueueBySku]
) -> str:
    lines = units = 0
    for s in skus:
        if s in counts:
            lines += counts[s].lines
            units += counts[s].units
        else:
            lines += len(by_sku.get(s, []))
            units += sum(q.quantity for q in by_sku.get(s, []))
    return (
        f"{plural(lines, 'line')}, {plural(units, 'unit')} across {plural(len(skus), 'SKU')}, "
        "first in first out"
    )
