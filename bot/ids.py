"""Every Slack ``action_id``, ``callback_id`` and ``block_id`` the app uses, in one place, and
the bot's name as people type it.

The view builders write these ids and the handlers match on them; typing a string twice would let
the two drift apart silently (a renamed button that no handler answers), so both sides import the
enums instead. Block ids that repeat inside one view (a PO line's buttons, checkbox groups) are a
prefix here plus a number: ``numbered`` makes them and ``number_of`` reads them back.
"""

from __future__ import annotations

import re
from enum import StrEnum

BOT_NAME = "preorder"  # the bot user's display name in manifest.yml, as people type it


class CallbackId(StrEnum):
    """Which modal (``view.callback_id``) a ``view_submission`` or ``view_closed`` comes from."""

    LOADING = "loading"
    NOTICE = "notice"  # error or information only: nothing to submit
    REVIEW = "review"
    ALLOCATE_CONFIRM = "allocate_confirm"
    ALLOCATE_CHOOSE = "allocate_choose"
    REMOVE_CHOOSE = "remove_choose"
    REMOVE_CONFIRM = "remove_confirm"
    SYNC_DATE_CONFIRM = "sync_date_confirm"
    SET_ARRIVAL = "set_arrival"
    CANCEL_CONFIRM = "cancel_confirm"
    MOVE_CHOOSE = "move_choose"
    UNPARK_CHOOSE = "unpark_choose"
    RECEIVE = "receive"


class ActionId(StrEnum):
    """Which element a ``block_actions`` or ``block_suggestion`` request comes from."""

    # A PO line's buttons (PO message, App Home); the value is a ViewState naming the line.
    REVIEW = "line_review"
    ALLOCATE = "line_allocate"
    SYNC_DATE = "line_sync_date"
    REMOVE = "line_remove"
    SET_ARRIVAL = "line_set_arrival"
    CANCEL_LINE = "line_cancel"
    CANCEL_PO = "po_cancel"  # a PO message's own button; the value names the PO (and a line)
    RECEIVE = "line_receive"
    PICK_LINE = "line_pick"  # select of the PO lines a message had no room to give buttons
    # A link button (the digest's "Open the sheet"): the browser opens the URL, the app only acks.
    OPEN_SHEET = "open_sheet"
    # Inside the review modal.
    REVIEW_NEXT = "review_next"
    REVIEW_PREVIOUS = "review_previous"
    REVIEW_REMOVE = "review_remove"
    # Inside the allocate modal: the multi-select, static or external (its options handler).
    ALLOCATE_ORDERS = "allocate_orders"
    # Inside the remove modal.
    REMOVE_PICK = "remove_pick"
    REMOVE_HOLD = "remove_hold"
    REMOVE_NEXT = "remove_next"
    REMOVE_PREVIOUS = "remove_previous"
    # Inside the review modal and the move modal: the order lines and the target PO line.
    REVIEW_MOVE = "review_move"
    MOVE_ORDERS = "move_orders"
    MOVE_TARGET = "move_target"
    # Inside the set-arrival modal: the date picker (a change refreshes the dry run) and the
    # checkboxes (sync now, accept a past date).
    ARRIVAL_DATE = "arrival_date"
    ARRIVAL_OPTIONS = "arrival_options"
    # On the unallocated list (a SKU's parked lines) and in the unpark modal.
    UNPARK = "sku_unpark"
    UNPARK_ORDERS = "unpark_orders"
    # Inside the receive modal.
    RECEIVE_QUANTITY = "receive_quantity"
    RECEIVE_FINAL = "receive_final"
    RECEIVE_DATE = "receive_date"


class BlockId(StrEnum):
    """Blocks a handler reads (``view.state.values``) or that must keep one id across updates."""

    NOTICE = "notice"  # the stale or error notice at the top of a modal
    PAGER = "pager"
    PO_LINE = "po_line"  # prefix: one actions block per PO line
    PICK_LINE = "pick_line"
    ALLOCATE_ORDERS = "allocate_orders"
    REMOVE_PICK = "remove_pick"  # prefix: one checkbox group of at most 10 per block
    REMOVE_HOLD = "remove_hold"
    PO_ACTIONS = "po_actions"  # a PO message's buttons for the whole PO
    ARRIVAL_DATE = "arrival_date"
    ARRIVAL_OPTIONS = "arrival_options"
    MOVE_ORDERS = "move_orders"
    MOVE_TARGET = "move_target"
    UNPARK_ORDERS = "unpark_orders"
    RECEIVE_QUANTITY = "receive_quantity"
    RECEIVE_FINAL = "receive_final"
    RECEIVE_DATE = "receive_date"


SEPARATOR = "."


def numbered(prefix: BlockId, n: int) -> str:
    """The block id of the ``n``-th block of a repeated kind (``remove_pick.2``)."""
    return f"{prefix}{SEPARATOR}{n}"


def number_of(block_id: str, prefix: BlockId) -> int | None:
    """``n`` if ``block_id`` is ``numbered(prefix, n)``, else None."""
    head, sep, tail = block_id.rpartition(SEPARATOR)
    # ASCII digits, few: str.isdigit() takes '²', which int() refuses.
    if not sep or head != prefix or not re.fullmatch(r"[0-9]{1,9}", tail):
        return None
    return int(tail)
