"""Set a PO line's arrival date from Slack (rule 4): the modal's date picker starts at the
line's date, a picked date updates the dry run in place, the change applies with or without
syncing, a past date is refused as on the command line unless ticked as on purpose, a stale
modal is shown again, a viewer is refused and a repeat applies once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from bot.views.set_arrival import PAST_VALUE, SYNC_VALUE
from tests.helpers import dump
from tests.invariants import check_invariants
from tests.slack.harness import (
    CHANNEL,
    MERCHANDISER,
    VIEWER,
    SlackApp,
    acked_view,
    seed_shop,
    shown,
    texts,
)

OTHER = e.Actor("someone-else", e.Source.CLI)
DATE = f"{BlockId.ARRIVAL_DATE}/{ActionId.ARRIVAL_DATE}"
OPTIONS = f"{BlockId.ARRIVAL_OPTIONS}/{ActionId.ARRIVAL_OPTIONS}"


def answers(day: date | str, *ticked: str) -> dict[str, Any]:
    return {DATE: str(day), **({OPTIONS: list(ticked)} if ticked else {})}


def open_modal(slack_app: SlackApp, user: str = MERCHANDISER) -> dict[str, Any]:
    slack_app.command("set-arrival PO-1001 1", user=user)
    return slack_app.modal()


def pick(slack_app: SlackApp, modal: dict[str, Any], day: date, *ticked: str) -> dict[str, Any]:
    """The user picks ``day``: the app reruns the dry run and updates the modal in place."""
    before = modal.get("hash")
    slack_app.click(
        ActionId.ARRIVAL_DATE,
        view=modal,
        fields={"type": "datepicker", "selected_date": day.isoformat()},
        answers=answers(day, *ticked),
    )
    return slack_app.wait_view(modal["id"], lambda v: v.get("hash") != before)


def test_the_modal_starts_at_the_arrival_date_and_a_pick_shows_the_dry_run(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    modal = open_modal(slack_app)
    assert modal["callback_id"] == CallbackId.SET_ARRIVAL
    (picker,) = [b for b in modal["blocks"] if b.get("block_id") == BlockId.ARRIVAL_DATE]
    assert picker["element"]["initial_date"] == "2027-01-10" and picker["dispatch_action"]
    said = texts(modal)
    assert "*PO-1001:1* · `SKU-RED` · arrives 2027-01-10 · 2 order lines allocated" in said
    assert "2027-01-10 is its arrival date now" in said
    assert "Sync promised dates now" in said

    before = dump(slack_app.db)
    updated = pick(slack_app, modal, date(2027, 2, 15))
    said = texts(updated)
    assert "Moving it to *2027-02-15* affects 2 order lines of 2 orders" in said
    assert "2 customers will be told of the new date." in said
    assert dump(slack_app.db) == before  # dry runs only


def set_and_sync(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = open_modal(slack_app)
    answer = slack_app.submit(modal, answers(date(2027, 2, 15), SYNC_VALUE))
    assert answer.json() == {"response_action": "clear"}
    review = e.review(slack_app.db, "PO-1001", 1)
    assert review.head.arrival_date == date(2027, 2, 15) and review.head.out_of_sync == 0
    assert {a.promised_date for a in review.allocations} == {date(2027, 2, 15)}
    (summary,) = slack_app.messages()
    assert summary["channel"] == CHANNEL
    said = texts(summary)
    assert "Arrival date of PO-1001:1 set to 2027-02-15" in said
    assert "Changed 2 promised dates to the arrival date" in said
    assert f"by <@{MERCHANDISER}> · operation `" in said
    check_invariants(slack_app.db)


def test_set_and_sync_in_one_step(slack_app: SlackApp) -> None:
    set_and_sync(slack_app)


@pytest.mark.postgres
def test_set_and_sync_in_one_step_on_postgresql(pg_slack_app: SlackApp) -> None:
    set_and_sync(pg_slack_app)


def test_without_sync_the_lines_are_out_of_sync_and_the_summary_says_how_to_sync(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    _, url = slack_app.command("po PO-1001")
    (message,) = slack_app.responses(url)
    slack_app.click(ActionId.SET_ARRIVAL, message=message)
    modal = slack_app.modal()
    assert slack_app.submit(modal, answers("2027-03-01")).json() == {"response_action": "clear"}
    head = e.po_line(slack_app.db, "PO-1001", 1)
    assert head.arrival_date == date(2027, 3, 1) and head.out_of_sync == 2
    said = texts(slack_app.messages()[0])
    assert "2 allocated lines out of sync: `/preorder sync-date PO-1001 1`" in said


def test_a_past_date_is_refused_unless_ticked_as_on_purpose(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = open_modal(slack_app)
    yesterday = slack_app.db.clock().date() - timedelta(days=1)
    updated = pick(slack_app, modal, yesterday)
    assert "is refused, as on the command line" in texts(updated)
    before = dump(slack_app.db)
    answer = slack_app.submit(updated, answers(yesterday)).json()
    assert answer["response_action"] == "errors"
    error = answer["errors"][BlockId.ARRIVAL_DATE]
    assert f"arrival date {yesterday.isoformat()} is in the past" in error
    assert "The date is in the past on purpose" in error
    assert dump(slack_app.db) == before
    ok = slack_app.submit(updated, answers(yesterday, PAST_VALUE))
    assert ok.json() == {"response_action": "clear"}
    assert e.po_line(slack_app.db, "PO-1001", 1).arrival_date == yesterday


def test_the_same_date_unsynced_is_refused_and_changes_nothing(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    before = dump(slack_app.db)
    answer = slack_app.submit(open_modal(slack_app), answers("2027-01-10")).json()
    assert answer["response_action"] == "errors"
    assert "2027-01-10 is its arrival date already" in answer["errors"][BlockId.ARRIVAL_DATE]
    assert dump(slack_app.db) == before


def test_a_viewer_may_not_set_the_date(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    before = dump(slack_app.db)
    _, url = slack_app.command("set-arrival PO-1001 1", user=VIEWER)
    (reply,) = slack_app.responses(url)
    assert "only merchandisers can change allocations" in texts(reply)
    modal = open_modal(slack_app)
    refused = slack_app.submit(modal, answers("2027-02-15", SYNC_VALUE), user=VIEWER)
    assert "only merchandisers" in texts(acked_view(refused))
    assert dump(slack_app.db) == before


def test_a_stale_modal_is_shown_again_and_nothing_changes(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = open_modal(slack_app)
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 4, 1))
    before = dump(slack_app.db)
    answer = slack_app.submit(modal, answers("2027-02-15", SYNC_VALUE))
    again = acked_view(answer)
    assert "changed since you opened it" in texts(again)
    assert "arrives 2027-04-01" in texts(again)
    assert dump(slack_app.db) == before
    assert slack_app.submit(shown(modal, answer), answers("2027-02-15")).json() == {
        "response_action": "clear"
    }


def test_a_closed_line_offers_no_date(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    e.cancel_po(slack_app.db, OTHER, "PO-1001", line=1)
    modal = open_modal(slack_app)
    assert "PO-1001:1 is cancelled: its arrival date cannot change." in texts(modal)
    assert not modal.get("submit")


def test_a_repeated_submission_applies_once(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = open_modal(slack_app)
    first = slack_app.submit(modal, answers("2027-02-15", SYNC_VALUE))
    after = dump(slack_app.db)
    again = slack_app.submit(
        modal, answers("2027-02-15", SYNC_VALUE), headers={"X-Slack-Retry-Num": "1"}
    )
    assert again.json() == first.json() == {"response_action": "clear"}
    assert dump(slack_app.db) == after
    assert len(slack_app.messages()) == 1


def test_from_the_review_the_modal_is_pushed_on_top(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("review PO-1001 1")
    review = slack_app.modal(0)
    slack_app.click(ActionId.SET_ARRIVAL, view=review)
    modal = slack_app.modal(-1, callback_id=CallbackId.SET_ARRIVAL)
    assert slack_app.slack.last("views.push").ok
    assert "arrives 2027-01-10" in texts(modal)


def test_a_date_picked_after_the_line_changed_shows_the_notice(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = open_modal(slack_app)
    e.allocate(slack_app.db, OTHER, "PO-1001", 1, [e.LineRef("SO-4", 1)])
    updated = pick(slack_app, modal, date(2027, 2, 15))
    said = texts(updated)
    assert "changed since you opened it" in said
    assert "affects 3 order lines of 3 orders" in said
