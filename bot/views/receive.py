"""Receive (rule 9): the modal a merchandiser fills when stock arrives on a PO line: how many
units came, whether that is all that will come, and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    DatePickerElement,
    InputBlock,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.text import day, plural
from bot.views.blocks import context, escape, line_name, modal, plain, section
from bot.views.state import ViewState
from engine import POLineHeader

TITLE = "Receive stock"
SUBMIT = "Receive"
FINAL = "final"
DIGITS = 10  # the most a quantity takes (2,147,483,647)


def receive_text(head: POLineHeader) -> str:
    return (
        f"*{line_name(head.po, head.line)}* · `{escape(head.sku)}` · arrives "
        f"{day(head.arrival_date)}\nOrdered {head.quantity} · received so far {head.received} · "
        f"{plural(head.orders, 'order line')} allocated ({head.allocated} units)"
    )


def receive_modal(head: POLineHeader, *, today: date, channel: str = "") -> View:
    blocks: list[Block] = [
        section(receive_text(head)),
        InputBlock(
            block_id=BlockId.RECEIVE_QUANTITY,
            label=plain("Units received now", 2000),
            element=PlainTextInputElement(
                action_id=ActionId.RECEIVE_QUANTITY,
                placeholder=plain("e.g. 40", 150),
                max_length=DIGITS,
            ),
        ),
        InputBlock(
            block_id=BlockId.RECEIVE_FINAL,
            label=plain("Final", 2000),
            optional=True,
            element=CheckboxesElement(
                action_id=ActionId.RECEIVE_FINAL,
                options=[
                    Option(
                        value=FINAL,
                        text=plain("Nothing more will come for this line", 75),
                        description=plain(
                            "Lines these units cannot cover go back to the queue", 75
                        ),
                    )
                ],
            ),
        ),
        InputBlock(
            block_id=BlockId.RECEIVE_DATE,
            label=plain("Received on", 2000),
            element=DatePickerElement(
                action_id=ActionId.RECEIVE_DATE, initial_date=today.isoformat()
            ),
        ),
        context(
            "Received units go to the allocated order lines first in, first out; each line "
            "covered whole is ready to ship."
        ),
    ]
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.RECEIVE,
        metadata=ViewState.of(head, channel=channel).to_json(),
        submit=SUBMIT,
        close="Cancel",
    )


def submitted(values: Mapping[str, Mapping[str, Any]]) -> tuple[str, bool, str | None]:
    """The quantity as typed, whether final is ticked, and the date picked (ISO) of a
    submitted receive modal."""
    typed = values.get(BlockId.RECEIVE_QUANTITY, {}).get(ActionId.RECEIVE_QUANTITY, {})
    ticked = values.get(BlockId.RECEIVE_FINAL, {}).get(ActionId.RECEIVE_FINAL, {})
    picked = values.get(BlockId.RECEIVE_DATE, {}).get(ActionId.RECEIVE_DATE, {})
    final = any(o.get("value") == FINAL for o in ticked.get("selected_options") or [])
    return str(typed.get("value") or "").strip(), final, picked.get("selected_date")
