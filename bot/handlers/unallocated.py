"""``/preorder unallocated [SKU]``: the unallocated queue (rule 1), FIFO within each SKU.

The counts come from the digest's aggregates and the rows from one indexed query per SKU shown,
so a queue of a million lines answers as fast as a short one. The command router calls
``show`` and nothing registers with the app here: the list's only buttons (Unpark…, beside a
SKU with parked lines) are ``bot.handlers.unpark``'s.
"""

from __future__ import annotations

import engine as e
from bot.handlers.request import Req
from bot.views.unallocated import ROWS_PER_SKU, SKU_ROWS, SKU_SECTIONS, unallocated_message
from engine.digest import queue_by_sku


def show(req: Req, sku: str | None) -> None:
    req.ack()
    totals = queue_by_sku(req.db)
    if sku is not None:
        totals = [t for t in totals if t.sku == sku]
        lines = e.unallocated(req.db, sku=sku, limit=SKU_ROWS)
    else:
        lines = [
            q
            for t in totals[:SKU_SECTIONS]
            for q in e.unallocated(req.db, sku=t.sku, limit=ROWS_PER_SKU)
        ]
    title = f"Unallocated order lines of {sku}" if sku else "Unallocated order lines"
    req.tell(
        title,
        unallocated_message(lines, sku=sku, totals=totals, zone=req.zone, channel=req.channel),
    )
