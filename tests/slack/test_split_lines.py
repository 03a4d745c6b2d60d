"""Rule 10 in Slack: a split line's part shows as a part (of its whole quantity, with where
the rest is) in the review; the remove and move choices say the line goes whole; the remove
confirmation says every part is released (and with hold for store only this line's part is
held); the order modal lists the parts; summaries name them. Every view and message within
Slack's limits, checked by the stand-in and by slack_sdk's own validation."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from slack_sdk.models.blocks import Block

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from bot.views.remove import HOLD_VALUE
from tests.helpers import allocation_map, dump, po, so
from tests.invariants import check_invariants
from tests.slack.harness import SlackApp, shown, texts
from tests.standins.slack.limits import problems

SEED = e.Actor("seed", e.Source.CLI)
ORDERS = f"{BlockId.MOVE_ORDERS}/{ActionId.MOVE_ORDERS}"
TARGET = f"{BlockId.MOVE_TARGET}/{ActionId.MOVE_TARGET}"
PICK = f"{BlockId.REMOVE_PICK}.0/{ActionId.REMOVE_PICK}"


def seed(db: e.Database) -> None:
    """SO-1 (Ada, 15, may split): 10 on PO-1:1 (January) and 5 on PO-2:1 (February); SO-2
    (Bob, 2) whole on PO-2:1, which has 1 ATP left."""
    e.apply_records(
        db,
        SEED,
        [po("PO-1", (1, "SKU-S", 10, "2027-01-10")), po("PO-2", (1, "SKU-S", 8, "2027-02-01"))],
        [so("SO-1", 1, (1, "SKU-S", 15), customer="Ada").model_copy(update={"allow_split": True})],
    )
    e.apply_records(db, SEED, [], [so("SO-2", 2, (1, "SKU-S", 2), customer="Bob")])


def valid(surface: dict[str, Any], kind: Literal["modal", "message"]) -> None:
    """Within Slack's limits, as the stand-in and slack_sdk check them."""
    assert problems(surface, kind) == []
    for block in Block.parse_all(surface["blocks"]):
        assert block is not None
        block.validate_json()


def test_the_review_shows_a_part_as_a_part_of_its_line(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    slack_app.command("review PO-2 1")
    late = slack_app.modal()
    valid(late, "modal")
    said = texts(late)
    assert "5 of 15 units (split: also 10 on PO-1:1)" in said
    assert "2 units · placed" in said  # a whole line as before
    slack_app.command("review PO-1 1")
    early = texts(slack_app.modal())
    assert "10 of 15 units (split: also 5 on PO-2:1)" in early
    e.receive(slack_app.db, SEED, "PO-1", 1, 10)  # this part's stock is in, not the other's
    slack_app.command("review PO-1 1")
    early = texts(slack_app.modal())
    assert "this part's stock is in (it ships when every part's is)" in early
    e.receive(slack_app.db, SEED, "PO-2", 1, 8)
    slack_app.command("review PO-1 1")
    early = texts(slack_app.modal())
    assert "10 of 15 units (split: also 5 on PO-2:1) · placed" in early
    assert "· :package: ready to ship" in early


def remove_flow(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    slack_app.command("review PO-1 1")
    slack_app.click(ActionId.REVIEW_REMOVE, view=slack_app.modal(0))
    choice = slack_app.modal(1)
    valid(choice, "modal")
    said = texts(choice)
    assert "SO-1:1 · 10 of 15 units · Ada" in said
    assert "split: removes the whole line, also 5 on PO-2:1" in said

    answer = slack_app.submit(choice, {PICK: ["SO-1:1"], ActionId.REMOVE_HOLD: [HOLD_VALUE]})
    confirm = shown(choice, answer)
    valid(confirm, "modal")
    said = texts(confirm)
    assert "`SO-1:1` Ada · 10 of 15 (split)" in said
    assert "1 split line removed whole:* `SO-1:1` (10 on PO-1:1, 5 on PO-2:1)" in said
    assert "Only their units on PO-1:1 go to the store hold" in said

    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    check_invariants(slack_app.db)
    assert allocation_map(slack_app.db) == {("SO-2", 1): ("PO-2", 1)}
    early, late = e.po_line(slack_app.db, "PO-1", 1), e.po_line(slack_app.db, "PO-2", 1)
    assert (early.store_hold, early.atp) == (10, 0)  # this line's part held for the store
    assert (late.store_hold, late.atp) == (0, 6)  # the other part's units back to ATP
    (summary,) = slack_app.messages()
    valid(summary, "message")
    assert (
        "Released 1 split order line whole, from every PO line it was on: "
        "SO-1:1 (10 on PO-1:1, 5 on PO-2:1)" in texts(summary)
    )


def test_removing_a_split_line_says_it_goes_whole_and_releases_every_part(
    slack_app: SlackApp,
) -> None:
    remove_flow(slack_app)


@pytest.mark.postgres
def test_removing_a_split_line_on_postgresql(pg_slack_app: SlackApp) -> None:
    remove_flow(pg_slack_app)


def test_the_order_modal_lists_a_split_lines_parts(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    slack_app.command("order SO-1")
    view = slack_app.modal()
    valid(view, "modal")
    said = texts(view)
    assert "*allocated* in 2 parts, the latest on `PO-2:1`" in said
    assert ":scissors: 10 units on `PO-1:1`, arrives 2027-01-10" in said
    assert ":scissors: 5 units on `PO-2:1`, arrives 2027-02-01" in said


def move_flow(slack_app: SlackApp) -> None:
    seed(slack_app.db)
    # PO-3 holds 15 (SO-1 whole), PO-4 only 6.
    e.apply_records(
        slack_app.db,
        SEED,
        [po("PO-3", (1, "SKU-S", 15, "2027-03-01")), po("PO-4", (1, "SKU-S", 6, "2027-04-01"))],
        [],
    )
    slack_app.command("review PO-2 1")
    slack_app.click(ActionId.REVIEW_MOVE, view=slack_app.modal(-1, callback_id=CallbackId.REVIEW))
    modal = slack_app.modal(-1, callback_id=CallbackId.MOVE_CHOOSE)
    valid(modal, "modal")
    said = texts(modal)
    assert "SO-1:1 · 15 units, split · Ada" in said
    assert "moves whole: 10 on PO-1:1, 5 on PO-2:1" in said
    assert "a split line moves whole, all its units onto the target" in said

    before = dump(slack_app.db)
    short = slack_app.submit(modal, {ORDERS: ["SO-1:1"], TARGET: "PO-4:1"}).json()
    assert "short by 9" in short["errors"][BlockId.MOVE_TARGET]
    assert dump(slack_app.db) == before

    done = slack_app.submit(modal, {ORDERS: ["SO-1:1"], TARGET: "PO-3:1"})
    assert done.json() == {"response_action": "clear"}
    check_invariants(slack_app.db)
    assert allocation_map(slack_app.db)[("SO-1", 1)] == ("PO-3", 1)
    assert e.po_line(slack_app.db, "PO-1", 1).atp == 10
    (summary,) = slack_app.messages()
    valid(summary, "message")
    assert (
        "Moved 1 split order line whole onto one PO line: "
        "SO-1:1 (10 on PO-1:1, 5 on PO-2:1) → PO-3:1" in texts(summary)
    )


def test_moving_a_split_line_moves_it_whole_or_not_at_all(slack_app: SlackApp) -> None:
    move_flow(slack_app)


@pytest.mark.postgres
def test_moving_a_split_line_on_postgresql(pg_slack_app: SlackApp) -> None:
    move_flow(pg_slack_app)


def test_the_digest_counts_the_lines_allocated_in_parts(db: e.Database) -> None:
    from datetime import UTC, datetime

    from bot.views.digest import digest_message, digest_text
    from engine.digest import digest

    seed(db)
    e.apply_records(db, SEED, [], [so("SO-3", 3, (1, "SKU-S", 20))])  # waits: needs attention
    data = digest(db)
    assert data.split_lines == 1 and data.to_dict()["split_lines"] == 1
    blocks = [b.to_dict() for b in digest_message(data, now=datetime.now(UTC))]
    valid({"blocks": blocks}, "message")
    assert "1 unallocated order line in 1 SKU, 1 line allocated in parts" in texts(blocks)
    assert digest_text(data).endswith("1 line allocated in parts")
    e.remove(db, SEED, "PO-1", 1, [e.LineRef("SO-1", 1)])
    after = digest(db)
    assert after.split_lines == 0 and "split_lines" not in after.to_dict()
