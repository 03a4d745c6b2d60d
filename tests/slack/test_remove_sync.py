"""Remove allocations and sync dates from Slack, end to end, and what happens when the line
changed between opening a modal and submitting it (shown again with a notice, never acted on).
The remove flow also runs on PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from bot.views.remove import HOLD_VALUE
from tests.fixtures.events import outbox
from tests.helpers import allocation_map, dump
from tests.slack.harness import (
    CHANNEL,
    MERCHANDISER,
    VIEWER,
    SlackApp,
    seed_shop,
    shown,
    texts,
)

OTHER = e.Actor("someone-else", e.Source.CLI)


def remove_choice(slack_app: SlackApp) -> dict[str, Any]:
    """/preorder review PO-1001 1 -> Remove allocations…: the choice, pushed on the review."""
    slack_app.command("review PO-1001 1")
    review = slack_app.modal(0)
    slack_app.click(ActionId.REVIEW_REMOVE, view=review)
    choice = slack_app.modal(1)
    assert slack_app.slack.last("views.push").ok
    return choice


def tick(refs: list[str], hold: bool = False) -> dict[str, Any]:
    answers: dict[str, Any] = {f"{BlockId.REMOVE_PICK}.0/{ActionId.REMOVE_PICK}": refs}
    if hold:
        answers[ActionId.REMOVE_HOLD] = [HOLD_VALUE]
    return answers


def remove_flow(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    choice = remove_choice(slack_app)
    said = texts(choice)
    assert "SO-1:1 · 2 units · Ada Lovelace" in said and "SO-2:1 · 3 units" in said
    assert "Keep the freed units for in-store sales" in said

    confirm = shown(choice, slack_app.submit(choice, tick(["SO-2:1"], hold=True)))
    assert confirm["callback_id"] == CallbackId.REMOVE_CONFIRM
    assert (
        "Remove 1 allocation (3 units) from PO-1001:1? They will be parked. "
        "The freed units go to the store hold for in-store sales." in texts(confirm)
    )
    answer = slack_app.submit(confirm).json()
    assert answer == {"response_action": "clear"}
    assert ("SO-2", 1) not in allocation_map(slack_app.db)
    head = e.po_line(slack_app.db, "PO-1001", 1)
    assert (head.store_hold, head.atp) == (3, 5)
    (queued,) = [q for q in e.unallocated(slack_app.db, sku="SKU-RED") if q.order == "SO-2"]
    assert queued.parked
    (summary,) = slack_app.messages()
    assert summary["channel"] == CHANNEL
    assert "Removed from PO-1001:1" in texts(summary) and "SO-2:1" in texts(summary)


def test_remove_with_hold_for_store_from_the_review(slack_app: SlackApp) -> None:
    remove_flow(slack_app)


@pytest.mark.postgres
def test_remove_with_hold_for_store_on_postgresql(pg_slack_app: SlackApp) -> None:
    remove_flow(pg_slack_app)


def test_remove_needs_a_choice_and_refuses_lines_no_longer_there(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    choice = remove_choice(slack_app)
    answer = slack_app.submit(choice, tick([])).json()
    assert answer["response_action"] == "errors"
    assert "Choose at least one" in answer["errors"][f"{BlockId.REMOVE_PICK}.0"]

    before = dump(slack_app.db)
    e.remove(slack_app.db, OTHER, "PO-1001", 1, [e.LineRef("SO-1", 1)])
    answer = slack_app.submit(choice, tick(["SO-1:1"])).json()
    assert answer["response_action"] == "update"
    assert "changed since you opened it" in texts(answer["view"])
    assert "SO-1:1" not in texts(answer["view"])  # the page afresh
    assert dump(slack_app.db)["allocations"] == [
        r for r in before["allocations"] if r[1] != 1
    ]  # only the other removal happened


def test_a_stale_remove_confirmation_is_shown_again_not_acted_on(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    choice = remove_choice(slack_app)
    confirm = shown(choice, slack_app.submit(choice, tick(["SO-1:1", "SO-2:1"])))
    e.set_store_hold(slack_app.db, OTHER, "PO-1001", 1, 2)  # the line changes meanwhile
    before = dump(slack_app.db)
    answer = slack_app.submit(confirm).json()
    assert answer["response_action"] == "update"
    again = answer["view"]
    assert again["callback_id"] == CallbackId.REMOVE_CONFIRM
    assert "changed since you opened it" in texts(again)
    assert "Remove 2 allocations (5 units)" in texts(again)
    assert dump(slack_app.db) == before
    # Confirmed again, now on what the user saw, it removes.
    assert slack_app.submit(shown(confirm, answer)).json() == {"response_action": "clear"}
    assert not {("SO-1", 1), ("SO-2", 1)} & set(allocation_map(slack_app.db))


def out_of_sync(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 2, 15))


def test_sync_date_confirms_the_dry_run_then_syncs(slack_app: SlackApp) -> None:
    out_of_sync(slack_app)
    _, url = slack_app.command("po PO-1001")
    (message,) = slack_app.responses(url)
    assert "2 out of sync" in texts(message)
    slack_app.click(ActionId.SYNC_DATE, message=message)
    confirm = slack_app.modal()
    said = texts(confirm)
    assert "Change 2 promised dates on *PO-1001:1* to 2027-02-15 (its arrival date)?" in said
    assert "Now promised: 2027-01-10 (2)" in said
    assert e.po_line(slack_app.db, "PO-1001", 1).out_of_sync == 2  # a dry run only

    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    review = e.review(slack_app.db, "PO-1001", 1)
    assert review.head.out_of_sync == 0
    assert {a.promised_date for a in review.allocations} == {date(2027, 2, 15)}
    (summary,) = slack_app.messages()
    assert "Synced promised dates on PO-1001:1" in texts(summary)
    assert f"<@{MERCHANDISER}>" in texts(summary)


def test_a_stale_sync_confirmation_is_rebuilt_from_a_fresh_dry_run(slack_app: SlackApp) -> None:
    out_of_sync(slack_app)
    slack_app.command("sync-date PO-1001 1")
    confirm = slack_app.modal()
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 3, 1))
    before = dump(slack_app.db)
    answer = slack_app.submit(confirm).json()
    assert answer["response_action"] == "update"
    assert "changed since you opened it" in texts(answer["view"])
    assert "to 2027-03-01" in texts(answer["view"])
    assert dump(slack_app.db) == before


def test_a_retried_sync_submission_applies_once(slack_app: SlackApp) -> None:
    out_of_sync(slack_app)
    slack_app.command("sync-date PO-1001 1")
    confirm = slack_app.modal()
    first = slack_app.submit(confirm)
    changes = dump(slack_app.db)["promise_changes"]
    again = slack_app.submit(confirm, headers={"X-Slack-Retry-Num": "1"})
    assert again.json() == first.json() == {"response_action": "clear"}
    assert dump(slack_app.db)["promise_changes"] == changes
    assert len([c for c in changes if MERCHANDISER in c]) == 2
    assert len(slack_app.messages()) == 1


def test_a_viewer_is_refused_in_the_modal_they_clicked_in(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("review PO-1001 1", user=VIEWER)
    review = slack_app.modal(0)
    before = dump(slack_app.db)
    slack_app.click(ActionId.REVIEW_REMOVE, view=review, user=VIEWER)
    notice = slack_app.modal(1)
    assert notice["callback_id"] == CallbackId.NOTICE
    assert "only merchandisers can change allocations" in texts(notice)
    assert slack_app.slack.last("views.push").ok  # on top of the review
    assert slack_app.slack.messages() == []  # not a DM
    assert dump(slack_app.db) == before


# --- the customers told ------------------------------------------------------------------------


def test_the_sync_date_confirmation_says_how_many_customers_will_be_told(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 2, 15))
    _, url = slack_app.command("po PO-1001")
    (message,) = slack_app.responses(url)
    slack_app.click(ActionId.SYNC_DATE, message=message)
    said = texts(slack_app.modal())
    assert "2 customers will be told of the new date." in said
    before = len(outbox(slack_app.db))
    assert slack_app.submit(slack_app.modal()).json() == {"response_action": "clear"}
    assert len(outbox(slack_app.db)) == before + 2


def test_the_sync_date_confirmation_with_events_off_says_customers_may_need_telling() -> None:
    from bot.views.sync_date import sync_text

    preview = e.Outcome("sync-date", "op", "t", "cli", dry_run=True)
    preview.promises.append(e.DateChange("SO-1", 1, date(2027, 1, 10), date(2027, 2, 1), "sync"))
    head = e.POLineHeader("PO-1", 1, "A", "open", date(2027, 2, 1), 10, 0, 1, 9, 1, 1)
    assert sync_text(head, preview).endswith(
        "Customers may need telling: no event is written for them."
    )
