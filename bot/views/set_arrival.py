"""Set a PO line's arrival date (rule 4) as a modal: a date picker preset to the line's arrival
date, a choice to sync the promised dates in the same step, and what the change would do,
from a dry run of the chosen date.

Picking a date sends the choice to the app at once (``dispatch_action``), which runs the dry
run for it and updates the modal: how many order lines are promised another date, how many
customers a sync would tell. A date before today is refused as on the command line
(``--allow-past``): here by ticking that the date is in the past on purpose.
"""

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
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.text import day, plural
from bot.views.blocks import (
    OPTION_TEXT_MAX,
    context,
    errors_response,
    escape,
    line_name,
    modal,
    plain,
    section,
)
from bot.views.state import ViewState
from bot.views.summary import outcome_blocks
from bot.views.sync_date import told
from engine import Outcome, POLineHeader

TITLE = "Set arrival date"
SUBMIT = "Set date"
SYNC_VALUE = "sync"
PAST_VALUE = "allow_past"
PAST_RULE = (
    "A date before today ({today}, UTC) is refused, as on the command line: it would promise "
    "customers a day already gone. Tick *The date is in the past on purpose* to record a late "
    "delivery's true date."
)


def set_arrival_modal(
    head: POLineHeader,
    chosen: date,
    preview: Outcome | None,
    *,
    today: date,
    sync: bool = False,
    allow_past: bool = False,
    channel: str = "",
) -> View:
    """``chosen``: the date shown in the picker; ``preview``: the dry run of moving the line to
    it with ``sync`` (None when ``chosen`` is the line's date: nothing would change)."""
    where = line_name(head.po, head.line)
    intro = (
        f"*{escape(where)}* · `{escape(head.sku)}` · arrives {day(head.arrival_date)} · "
        f"{plural(head.orders, 'order line')} allocated ({plural(head.allocated, 'unit')})"
    )
    state = ViewState.of(head, channel=channel).to_json()
    if head.status != "open":
        text = f"{intro}\n{escape(where)} is {head.status}: its arrival date cannot change."
        return modal(TITLE, [section(text)], callback_id=CallbackId.SET_ARRIVAL, metadata=state)
    sync_option = Option(
        value=SYNC_VALUE,
        text=plain("Sync promised dates now", OPTION_TEXT_MAX),
        description=plain("Give every allocated order line the new date", OPTION_TEXT_MAX),
    )
    past_option = Option(
        value=PAST_VALUE,
        text=plain("The date is in the past on purpose", OPTION_TEXT_MAX),
        description=plain("e.g. a late delivery's true date", OPTION_TEXT_MAX),
    )
    ticked = [o for o, on in ((sync_option, sync), (past_option, allow_past)) if on]
    blocks: list[Block] = [
        section(intro),
        InputBlock(
            block_id=BlockId.ARRIVAL_DATE,
            label=plain("New arrival date", 2000),
            element=DatePickerElement(
                action_id=ActionId.ARRIVAL_DATE, initial_date=chosen.isoformat()
            ),
            dispatch_action=True,
        ),
        InputBlock(
            block_id=BlockId.ARRIVAL_OPTIONS,
            label=plain("Options", 2000),
            element=CheckboxesElement(
                action_id=ActionId.ARRIVAL_OPTIONS,
                options=[sync_option, past_option],
                initial_options=ticked or None,
            ),
            optional=True,
        ),
        section(preview_text(head, chosen, preview, today=today)),
        context(
            "Promises do not follow silently: without syncing, the allocated lines show as out "
            "of sync until someone syncs them. Each change is recorded with who made it."
        ),
    ]
    return modal(
        TITLE,
        blocks,
        callback_id=CallbackId.SET_ARRIVAL,
        metadata=state,
        submit=SUBMIT,
        close="Cancel",
    )


def preview_text(head: POLineHeader, chosen: date, preview: Outcome | None, *, today: date) -> str:
    """What moving the line to ``chosen`` would do, from the dry run (synced)."""
    if preview is None or chosen == head.arrival_date:
        said = f"{day(chosen)} is its arrival date now: pick another date to see what changes."
    else:
        changes = preview.promises
        orders = len({c.order for c in changes})
        if not changes:
            said = (
                f"Every order line allocated to it is already promised {day(chosen)}: "
                "no promise changes."
            )
        else:
            said = (
                f"Moving it to *{day(chosen)}* affects {plural(len(changes), 'order line')} of "
                f"{plural(orders, 'order')}, promised another date: unsynced, they show as out "
                f"of sync. Synced now, {plural(len(changes), 'promised date')} change"
                f"{'s' if len(changes) == 1 else ''}. {told(preview)}"
            )
    if chosen < today:
        said += "\n:warning: " + PAST_RULE.format(today=day(today))
    return said


def arrival_summary(outcome: Outcome, po: str, line: int, chosen: date, *, by: str) -> list[Block]:
    """The change in the channel; when promises were left as they were, how many are now out
    of sync and the command that syncs them (rule 4: they never follow silently)."""
    where = line_name(po, line)
    blocks = outcome_blocks(outcome, heading=f"Arrival date of {where} set to {day(chosen)}", by=by)
    after = outcome.po_line(po, line)
    if after is not None and after.out_of_sync:
        hint = (
            f"{plural(after.out_of_sync, 'allocated line')} out of sync: "
            f"`/preorder sync-date {escape(po)} {line}` gives them the new date."
        )
        blocks.insert(-1, context(hint))
    return blocks


def chosen_date(values: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The picked date as Slack sends it (``YYYY-MM-DD``), from a view's ``state.values``."""
    picked = values.get(BlockId.ARRIVAL_DATE, {}).get(ActionId.ARRIVAL_DATE, {})
    value = picked.get("selected_date")
    return value if isinstance(value, str) else None


def chosen_options(values: Mapping[str, Mapping[str, Any]]) -> tuple[bool, bool]:
    """(sync now, allow a past date), from a view's ``state.values``."""
    picked = values.get(BlockId.ARRIVAL_OPTIONS, {}).get(ActionId.ARRIVAL_OPTIONS, {})
    ticked = {o.get("value") for o in picked.get("selected_options") or []}
    return SYNC_VALUE in ticked, PAST_VALUE in ticked


def arrival_errors(message: str) -> dict[str, Any]:
    """A refusal (no date, a past date, the engine's) shown under the date picker."""
    return errors_response({BlockId.ARRIVAL_DATE: message})
