"""``/preorder po PO-1001``: the purchase order as a message, like the PO detail page.

Each line shows its figures and the buttons that can do something for it. A message holds 50
blocks and a line with buttons takes two, so the first ``LINES_WITH_BUTTONS`` lines get buttons
and the rest are listed compactly with a select that opens any of them for review.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    Option,
    StaticSelectElement,
)

from bot.ids import ActionId, BlockId, numbered
from bot.text import day, plural
from bot.views.blocks import (
    MESSAGE_BLOCKS,
    OPTION_TEXT_MAX,
    STATIC_OPTIONS_MAX,
    button,
    context,
    escape,
    header,
    pack,
    plain,
    section,
)
from bot.views.state import ViewState
from engine import PODetail, POLineHeader

LINES_WITH_BUTTONS = 20

REVIEW = "Review Allocation"
ALLOCATE = "Allocate Sales Order"
SYNC_DATE = "Sync Date with SO"
REMOVE = "Remove Allocation"
RECEIVE = "Receive"
SET_ARRIVAL = "Set Arrival Date"
CANCEL_LINE = "Cancel Line"
CANCEL_PO = "Cancel PO"


def po_message(detail: PODetail, *, channel: str = "") -> list[Block]:
    """The PO's header and its lines in line order, within the 50 blocks of a message."""
    lines = detail.lines
    units = sum(s.allocated for s in lines)
    supplier = f"{escape(detail.supplier)} · " if detail.supplier else ""
    blocks: list[Block] = [
        header(f"Purchase order {detail.po}"),
        context(
            f"{supplier}{detail.status} · {plural(len(lines), 'line')} · "
            f"{plural(units, 'unit')} allocated · ATP {sum(max(s.atp, 0) for s in lines)}"
        ),
    ]
    if detail.status == "open" and any(s.status == "open" for s in lines):
        # The PO's own button: the value names the PO (a state needs a line: its first).
        value = ViewState(po=detail.po, line=lines[0].line, channel=channel, whole_po=True)
        blocks.append(
            ActionsBlock(
                block_id=BlockId.PO_ACTIONS,
                elements=[button(CANCEL_PO, ActionId.CANCEL_PO, value.to_json(), style="danger")],
            )
        )
    if not lines:
        blocks.append(section("This purchase order has no lines."))
    for s in lines[:LINES_WITH_BUTTONS]:
        blocks.append(section(line_text(s)))
        blocks.append(
            ActionsBlock(
                block_id=numbered(BlockId.PO_LINE, s.line), elements=line_buttons(s, channel)
            )
        )
    rest = lines[LINES_WITH_BUTTONS:]
    if rest:
        blocks += _rest(rest, room=MESSAGE_BLOCKS - len(blocks))
    return blocks


def line_text(s: POLineHeader) -> str:
    sync = f" · :warning: {s.out_of_sync} out of sync" if s.out_of_sync else ""
    status = "" if s.status == "open" else f" · *{s.status}*"
    return (
        f"*Line {s.line}* · `{escape(s.sku)}`{status}\n"
        f"Quantity {s.quantity} (store hold {s.store_hold}) · received {s.received} · "
        f"allocated {s.allocated} · *ATP {s.atp}* · arrives {day(s.arrival_date)} · "
        f"{plural(s.orders, 'order line')}{sync}"
    )


def line_buttons(s: POLineHeader, channel: str = "") -> list[ButtonElement]:
    """The buttons that can do something for this line: Allocate only while it is open with
    ATP, Sync only when a promise is out of sync, Remove only when something is allocated,
    Set Arrival Date, Receive and Cancel Line only while it is open (rule 11: a closed line
    refuses date changes and receipts)."""
    value = ViewState.of(s, channel=channel).to_json()
    out = [button(REVIEW, ActionId.REVIEW, value)]
    if s.status == "open" and s.atp > 0:
        out.append(button(ALLOCATE, ActionId.ALLOCATE, value, style="primary"))
    if s.out_of_sync:
        out.append(button(SYNC_DATE, ActionId.SYNC_DATE, value))
    if s.status == "open":
        out.append(button(SET_ARRIVAL, ActionId.SET_ARRIVAL, value))
    if s.allocated:
        out.append(button(REMOVE, ActionId.REMOVE, value, style="danger"))
    if s.status == "open":
        out.append(button(RECEIVE, ActionId.RECEIVE, value))
        out.append(button(CANCEL_LINE, ActionId.CANCEL_LINE, value, style="danger"))
    return out


def _rest(rest: list[POLineHeader], *, room: int) -> list[Block]:
    """Lines beyond the buttoned ones: a note, a select that opens one for review, and a
    compact list, in ``room`` blocks."""
    choices = rest[:STATIC_OPTIONS_MAX]
    more = f" (the select offers the first {len(choices)})" if len(rest) > len(choices) else ""
    blocks: list[Block] = [
        context(
            f"{plural(len(rest), 'more line')} without buttons: a message holds "
            f"{MESSAGE_BLOCKS} blocks. Choose one to review it{more}."
        ),
        ActionsBlock(
            block_id=BlockId.PICK_LINE,
            elements=[
                StaticSelectElement(
                    action_id=ActionId.PICK_LINE,
                    placeholder=plain("Review another line…", 150),
                    options=[_option(s) for s in choices],
                )
            ],
        ),
    ]
    rows = [
        f"*{s.line}* `{escape(s.sku)}` · qty {s.quantity} · recv {s.received} · "
        f"allocated {s.allocated} · "
        f"ATP {s.atp} · {day(s.arrival_date)}"
        + (f" · {s.out_of_sync} out of sync" if s.out_of_sync else "")
        for s in rest
    ]
    return blocks + pack(rows, max_blocks=room - len(blocks))


def _option(s: POLineHeader) -> Option:
    # Only PO and line in the value (150 characters): the handler reads the rest afresh.
    text = f"Line {s.line} · {s.sku} · ATP {s.atp} · {day(s.arrival_date)}"
    return Option(
        text=plain(text, OPTION_TEXT_MAX), value=ViewState(po=s.po, line=s.line).to_json()
    )
