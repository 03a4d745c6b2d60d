"""Move chosen allocations to another PO line of the SKU, from the review modal: the review's
page to choose from (a multi-select, past checkboxes' 10), the SKU's open lines with their
ATP as targets, all or nothing, a stale page shown again, a viewer refused, a repeat once."""

from __future__ import annotations

from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from tests.helpers import allocation_map, dump, po
from tests.invariants import check_invariants
from tests.slack.harness import (
    CHANNEL,
    VIEWER,
    SlackApp,
    acked_view,
    seed_shop,
    shown,
    texts,
)

OTHER = e.Actor("someone-else", e.Source.CLI)
ORDERS = f"{BlockId.MOVE_ORDERS}/{ActionId.MOVE_ORDERS}"
TARGET = f"{BlockId.MOVE_TARGET}/{ActionId.MOVE_TARGET}"


def seed(db: e.Database) -> None:
    """seed_shop, and PO-2000:1 of SKU-RED (10 units, later): the sweep gives it SO-6 (6 units),
    so its ATP is 4."""
    seed_shop(db)
    e.apply_records(db, OTHER, [po("PO-2000", (1, "SKU-RED", 10, "2027-03-01"))], [])


def choice(slack_app: SlackApp, user: str = "U0MERCH") -> dict[str, Any]:
    # This user's review, not one another user opened before it (still there, and filled
    # while this one may still show its loading view).
    earlier = slack_app.opened(CallbackId.REVIEW)
    slack_app.command("review PO-1001 1", user=user)
    review = slack_app.modal(earlier, callback_id=CallbackId.REVIEW)
    slack_app.click(ActionId.REVIEW_MOVE, view=review, user=user)
    shows = CallbackId.NOTICE if user == VIEWER else CallbackId.MOVE_CHOOSE
    return slack_app.modal(-1, callback_id=shows)


def pick(refs: list[str], target: str | dict[str, Any] = "PO-2000:1") -> dict[str, Any]:
    return {ORDERS: refs, TARGET: target}


def move_flow(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    modal = choice(slack_app)
    assert modal["callback_id"] == CallbackId.MOVE_CHOOSE
    assert slack_app.slack.last("views.push").ok  # on top of the review
    said = texts(modal)
    assert "SO-1:1 · 2 units · Ada Lovelace" in said and "SO-2:1 · 3 units · Bob Stone" in said
    assert "PO-2000:1 · ATP 4 · arrives 2027-03-01" in said
    assert "PO-1001:1 ·" not in said  # not its own line

    before = dump(slack_app.db)
    over = slack_app.submit(modal, pick(["SO-1:1", "SO-2:1"])).json()  # 5 units, ATP 4
    assert over["response_action"] == "errors"
    assert "cannot move to PO-2000:1" in over["errors"][BlockId.MOVE_TARGET]
    assert dump(slack_app.db) == before

    assert slack_app.submit(modal, pick(["SO-2:1"])).json() == {"response_action": "clear"}
    assert allocation_map(slack_app.db)[("SO-2", 1)] == ("PO-2000", 1)
    assert allocation_map(slack_app.db)[("SO-1", 1)] == ("PO-1001", 1)
    assert e.po_line(slack_app.db, "PO-2000", 1).atp == 1
    assert e.po_line(slack_app.db, "PO-2000", 1).out_of_sync == 1  # promises do not follow
    (summary,) = slack_app.messages()
    assert summary["channel"] == CHANNEL
    said = texts(summary)
    assert "Moved from PO-1001:1 to PO-2000:1" in said
    assert "Moved 1 order line (3 units) to another PO line: PO-1001:1 → PO-2000:1 (1)" in said
    assert "operation `" in said
    check_invariants(slack_app.db)


def test_move_an_allocation_to_another_line_of_the_sku(slack_app: SlackApp) -> None:
    move_flow(slack_app)


@pytest.mark.postgres
def test_move_an_allocation_to_another_line_of_the_sku_on_postgresql(
    pg_slack_app: SlackApp,
) -> None:
    move_flow(pg_slack_app)


def test_with_no_other_line_with_atp_there_is_nowhere_to_move(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = choice(slack_app)
    assert "No other open PO line of `SKU-RED` has ATP left" in texts(modal)
    assert not modal.get("submit")


def test_a_choice_is_needed_and_a_forged_target_is_refused(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    modal = choice(slack_app)
    before = dump(slack_app.db)
    none = slack_app.submit(modal, {TARGET: "PO-2000:1"}).json()
    assert "Choose at least one order line." in none["errors"][BlockId.MOVE_ORDERS]
    forged = {"text": {"type": "plain_text", "text": "x"}, "value": "PO-2000:x"}
    bad = slack_app.submit(modal, pick(["SO-1:1"], forged)).json()
    assert "not a PO line" in bad["errors"][BlockId.MOVE_TARGET]
    assert dump(slack_app.db) == before


def test_a_viewer_may_not_move(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    before = dump(slack_app.db)
    notice = choice(slack_app, user=VIEWER)
    assert notice["callback_id"] == CallbackId.NOTICE
    assert "only merchandisers can change allocations" in texts(notice)
    modal = choice(slack_app)
    answer = slack_app.submit(modal, pick(["SO-1:1"]), user=VIEWER)
    assert "only merchandisers" in texts(acked_view(answer))
    assert dump(slack_app.db) == before


def test_a_line_taken_off_meanwhile_shows_the_page_again(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    modal = choice(slack_app)
    e.remove(slack_app.db, OTHER, "PO-1001", 1, [e.LineRef("SO-1", 1)])
    before = dump(slack_app.db)
    answer = slack_app.submit(modal, pick(["SO-1:1"]))
    again = acked_view(answer)
    assert "changed since you opened it" in texts(again)
    assert "SO-1:1" not in texts(again)
    assert dump(slack_app.db) == before
    done = slack_app.submit(shown(modal, answer), pick(["SO-2:1"]))
    assert done.json() == {"response_action": "clear"}


def test_a_repeated_submission_moves_once(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    modal = choice(slack_app)
    first = slack_app.submit(modal, pick(["SO-1:1"]))
    after = dump(slack_app.db)
    again = slack_app.submit(modal, pick(["SO-1:1"]), headers={"X-Slack-Retry-Num": "1"})
    assert again.json() == first.json() == {"response_action": "clear"}
    assert dump(slack_app.db) == after
    assert len(slack_app.messages()) == 1
