"""Undo from Slack: the Undo button a change's summary carries, and the confirmation that shows
the dry run of the undo (what it would set back) before anything changes."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.ids import CallbackId
from bot.views.blocks import escape, modal, section
from bot.views.state import StateError
from bot.views.summary import OPERATION, outcome_blocks
from engine import Outcome

TITLE = "Undo"


def undo_modal(operation: str, preview: Outcome, *, channel: str = "") -> View:
    """The dry run of undoing ``operation``, and Undo to apply it."""
    blocks: list[Block] = [section(f"Undo operation `{escape(operation)}`?")]
    blocks += outcome_blocks(preview)
    metadata = json.dumps({"operation": operation, "channel": channel}, separators=(",", ":"))
    return modal(
        TITLE, blocks, callback_id=CallbackId.UNDO_CONFIRM, metadata=metadata, submit="Undo"
    )


def operation_of(value: object) -> str:
    """The operation id a button or a modal's metadata carries; StateError if it is not one."""
    text = str(value or "")
    if not OPERATION.fullmatch(text):
        raise StateError("the operation to undo is not an operation id")
    return text


def undo_metadata(text: object) -> tuple[str, str]:
    """(operation, channel) from the confirmation's metadata."""
    try:
        data = json.loads(str(text or ""))
    except ValueError:
        raise StateError("the confirmation's metadata is not JSON") from None
    if not isinstance(data, dict):
        raise StateError("the confirmation's metadata is not an object")
    return operation_of(data.get("operation")), str(data.get("channel") or "")
