"""Cancel a PO or one of its lines (rule 6) as a confirmation modal built from a dry run.

Cancelling releases every allocation of what it cancels, so the modal states how many order
lines (and units, and orders) go back to the queue and how many customers will be told before
anyone confirms. The fingerprint of what it cancels (the PO lines' headers as the dry run saw
them) travels in the metadata: if the PO changed before the confirmation (an order allocated
to it meanwhile), the handler shows the new count instead of cancelling what the user did not
see. Comparing headers costs one indexed read, where a second dry run of a line holding 50,000
orders would cost seconds of the 3 a submission's answer may take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.ids import CallbackId
from bot.text import names, plural
from bot.views.blocks import context, escape, line_name, modal, pack, section
from bot.views.state import ViewState, fingerprint
from bot.views.sync_date import told
from engine import Outcome, POLineHeader

LINE_TITLE = "Cancel PO line"
PO_TITLE = "Cancel purchase order"
SUBMIT = "Cancel it"
CLOSE = "Keep it"
REFS_SHOWN = 200  # released lines named before "and N more" (3 sections at most)


def cancel_title(line: int | None) -> str:
    return PO_TITLE if line is None else LINE_TITLE


def supply_print(heads: Sequence[POLineHeader]) -> str:
    """A short digest of the PO lines a cancellation addresses: equal while none of them
    changed (status, allocations, quantities, dates), different after any change."""
    parts = sorted((h.po, h.line, fingerprint(h)) for h in heads)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def cancel_text(po: str, line: int | None, preview: Outcome) -> str:
    """``Cancel PO-1001:1? It releases 3 order lines (5 units) of 3 orders: ...``"""
    lines = sorted({c.line for c in preview.po_changes if c.field == "status" and c.line})
    if line is not None:
        what = f"*{escape(line_name(po, line))}*"
    else:
        which = f" ({plural(len(lines), 'open line')}: {names(lines)})"
        what = f"purchase order *{escape(po)}*" + (which if lines else "")
    released = preview.released
    if not released:
        return f"Cancel {what}? No order line is allocated to it: nothing is released."
    orders = len({p.order for p in released})
    return (
        f"Cancel {what}? It releases {plural(len(released), 'order line')} "
        f"({plural(preview.released_units, 'unit')}) of {plural(orders, 'order')}: they go "
        "back to the unallocated queue, not parked, and wait for the sweep or a person.\n"
        f"{told(preview)}"
    )


def cancel_modal(
    po: str,
    line: int | None,
    preview: Outcome,
    heads: Sequence[POLineHeader],
    *,
    channel: str = "",
) -> View:
    """``preview``: the dry run of ``engine.cancel_po`` for ``po`` (``line``: one line);
    ``heads``: the headers of the PO lines it addresses, read with it."""
    blocks: list[Block] = [section(cancel_text(po, line, preview))]
    refs = [
        f"`{escape(p.order)}:{p.line}` {plural(p.quantity, 'unit')} from "
        f"{escape(line_name(p.po, p.po_line))}"
        for p in preview.released
    ]
    if refs:
        blocks += pack(refs[:REFS_SHOWN], max_blocks=3, total=len(refs))
    blocks.append(
        context(
            "A cancelled line takes no more allocations. The change is recorded with who made it."
        )
    )
    state = ViewState(
        po=po,
        line=line or _first_line(preview),
        fingerprint=supply_print(heads),
        channel=channel,
        whole_po=line is None,
    )
    return modal(
        cancel_title(line),
        blocks,
        callback_id=CallbackId.CANCEL_CONFIRM,
        metadata=state.to_json(),
        submit=SUBMIT,
        close=CLOSE,
    )


def _first_line(preview: Outcome) -> int:
    # A whole PO's state still names a line (ViewState needs one): the first it cancels.
    lines = [c.line for c in preview.po_changes if c.line]
    return min(lines) if lines else 1
