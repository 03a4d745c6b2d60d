"""A repeated submission that reaches another replica (its memory of deliveries is its own)
is answered as the first was, closing the modal: the engine's record of the delivery's key is
found before any check of what it would change, which would otherwise see the change itself
and show the user a stale modal or "already cancelled" after their own change succeeded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, BlockId
from bot.views.set_arrival import SYNC_VALUE
from tests.helpers import dump, po
from tests.slack.harness import SlackApp, running, seed_shop, shown
from tests.slack.test_remove_sync import tick

OTHER = e.Actor("someone-else", e.Source.CLI)


def cancel(slack_app: SlackApp) -> tuple[dict[str, Any], dict[str, Any]]:
    slack_app.command("cancel-po PO-1001 1")
    return slack_app.modal(), {}


def set_arrival(slack_app: SlackApp) -> tuple[dict[str, Any], dict[str, Any]]:
    slack_app.command("set-arrival PO-1001 1")
    answers = {
        f"{BlockId.ARRIVAL_DATE}/{ActionId.ARRIVAL_DATE}": str(date(2027, 2, 15)),
        f"{BlockId.ARRIVAL_OPTIONS}/{ActionId.ARRIVAL_OPTIONS}": [SYNC_VALUE],
    }
    return slack_app.modal(), answers


def move(slack_app: SlackApp) -> tuple[dict[str, Any], dict[str, Any]]:
    e.apply_records(slack_app.db, OTHER, [po("PO-2000", (1, "SKU-RED", 10, "2027-03-01"))], [])
    slack_app.command("review PO-1001 1")
    slack_app.click(ActionId.REVIEW_MOVE, view=slack_app.modal(0))
    answers = {
        f"{BlockId.MOVE_ORDERS}/{ActionId.MOVE_ORDERS}": ["SO-1:1"],
        f"{BlockId.MOVE_TARGET}/{ActionId.MOVE_TARGET}": "PO-2000:1",
    }
    return slack_app.modal(1), answers


def remove(slack_app: SlackApp) -> tuple[dict[str, Any], dict[str, Any]]:
    slack_app.command("remove PO-1001 1")
    choice = slack_app.modal()
    return shown(choice, slack_app.submit(choice, tick(["SO-1:1"]))), {}


def sync_date(slack_app: SlackApp) -> tuple[dict[str, Any], dict[str, Any]]:
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 2, 15))
    slack_app.command("sync-date PO-1001 1")
    return slack_app.modal(), {}


@pytest.mark.parametrize("flow", [cancel, set_arrival, move, remove, sync_date])
def test_a_repeat_reaching_another_replica_closes_the_modal_and_changes_nothing(
    slack_app: SlackApp,
    flow: Callable[[SlackApp], tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    seed_shop(slack_app.db)
    modal, answers = flow(slack_app)
    assert slack_app.submit(modal, answers).json() == {"response_action": "clear"}
    after = dump(slack_app.db)
    with running(slack_app.slack, slack_app.db) as other:
        again = other.submit(modal, answers, headers={"X-Slack-Retry-Num": "1"})
    assert again.json() == {"response_action": "clear"}
    assert dump(slack_app.db) == after
    assert len(slack_app.messages()) == 1
