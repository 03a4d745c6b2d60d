"""When Slack does not take the app's answer. A Web API call that hangs past
``PREORDER_SLACK_TIMEOUT`` is given up on and reported to the user (naming the call), whatever
was asked: a summary after a change (the change stays made), a modal to open, a page to turn.
A summary for a private channel the bot is not in reaches the user by DM, saying how to invite
the bot; and when Slack takes it nowhere, the user is still told.

The app runs with a short timeout, and the stand-in holds the call far longer: it drops held
calls when it stops, so no test waits for the stall.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import engine as e
from bot.ids import BOT_NAME, ActionId, CallbackId
from tests.fixtures.databases import fresh_sqlite
from tests.helpers import allocation_map, so
from tests.slack.harness import (
    CHANNEL,
    GROUPIE,
    MERCHANDISER,
    USERGROUPS,
    SlackApp,
    running,
    seed_shop,
    shown,
    texts,
)
from tests.standins.slack.standin import SlackStandin

TIMEOUT = 1.0  # PREORDER_SLACK_TIMEOUT for these tests
STALL = 30.0  # far past it: the call never answers while the test runs
PRIVATE = "G0PRIVATE"  # a private channel the bot is not in
OTHER = e.Actor("someone-else", e.Source.CLI)


@pytest.fixture
def quick_app(
    slack_standin: SlackStandin, tmp_path: Path, sqlite_template: Path
) -> Iterator[SlackApp]:
    """The app of the ``slack_app`` fixture, giving up on a Web API call after ``TIMEOUT``."""
    slack_standin.usergroups.update(USERGROUPS)
    database = fresh_sqlite(sqlite_template, tmp_path)
    with running(slack_standin, database, slack_timeout=TIMEOUT) as app:
        assert app.app.client.timeout == TIMEOUT  # the setting reached the client
        yield app
    database.dispose()


def choose_modal(app: SlackApp, channel: str = CHANNEL, user: str = MERCHANDISER) -> dict[str, Any]:
    """``/preorder po PO-1001`` in ``channel`` -> Allocate -> Yes: the choice of order lines."""
    _, url = app.command("po PO-1001", channel=channel, user=user)
    (message,) = app.responses(url)
    app.click(ActionId.ALLOCATE, message=message, channel=channel, user=user)
    confirm = app.modal()
    assert confirm["callback_id"] == CallbackId.ALLOCATE_CONFIRM
    return shown(confirm, app.submit(confirm, user=user))


def ephemerals(app: SlackApp) -> list[dict[str, Any]]:
    return [m for m in app.messages() if m.get("ephemeral")]


def seed_pages(db: e.Database) -> None:
    """PO-P line 1 with 45 allocations: three review pages."""
    e.apply_records(
        db,
        OTHER,
        [e.PORecord.model_validate({"po": "PO-P", "supplier": "", "lines": [
            {"line": 1, "sku": "SKU-P", "quantity": 50, "arrival_date": "2027-01-10"}]})],
        [so(f"SO-{i:03d}", i, (1, "SKU-P", 1)) for i in range(45)],
    )  # fmt: skip


# --- Web API timeouts -------------------------------------------------------------------------


def test_a_summary_that_times_out_is_told_and_the_allocation_stays(
    quick_app: SlackApp, caplog: pytest.LogCaptureFixture
) -> None:
    seed_shop(quick_app.db)
    choose = choose_modal(quick_app)
    quick_app.slack.stall_next("chat.postMessage", STALL)

    with caplog.at_level(logging.ERROR, logger="bot.handlers"):
        answer = quick_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-3:1", "SO-4:1"]})
        (told,) = ephemerals(quick_app)

    assert answer.status == 200 and answer.body == b""  # the modal closed: it was done
    assert answer.elapsed < TIMEOUT  # acked without waiting for Slack
    allocated = allocation_map(quick_app.db)
    assert allocated[("SO-3", 1)] == allocated[("SO-4", 1)] == ("PO-1001", 1)
    assert e.po_line(quick_app.db, "PO-1001", 1).atp == 0
    (held,) = quick_app.slack.stalled("chat.postMessage")
    assert held.params["channel"] == CHANNEL
    assert "Allocated to PO-1001:1" in texts(held.params["blocks"])  # the summary hung
    assert (told["channel"], told["recipient"]) == (CHANNEL, MERCHANDISER)
    said = texts(told)
    assert (
        "The change was made, but its summary may not have been posted: "
        "chat.postMessage did not answer in time."
    ) in said
    assert "Traceback" not in said and "TimeoutError" not in said
    assert any("summary not posted" in r.getMessage() for r in caplog.records)
    counted = quick_app.request("/metrics").text
    assert 'preorder_api_errors_total{api="slack"} 1.0' in counted
    # The same submission delivered again is not applied again, however the summary went.
    assert quick_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-3:1", "SO-4:1"]}).body == b""
    assert allocation_map(quick_app.db) == allocated


def test_a_views_open_that_times_out_gets_a_short_answer(quick_app: SlackApp) -> None:
    seed_shop(quick_app.db)
    quick_app.slack.stall_next("views.open", STALL)

    answer, url = quick_app.command("review PO-1001 1")
    (reply,) = quick_app.responses(url)

    assert answer.status == 200 and answer.body == b"" and answer.elapsed < TIMEOUT
    assert reply["response_type"] == "ephemeral"
    said = texts(reply["blocks"])
    assert said == (
        ":warning: Slack did not take our answer: views.open did not answer in time. "
        "Try again in a moment."
    )
    assert quick_app.slack.stalled("views.open")
    assert quick_app.slack.calls("views.update") == []  # nothing carried on behind the user


def test_a_loading_modal_whose_update_times_out_says_so_instead_of_spinning(
    quick_app: SlackApp,
) -> None:
    seed_shop(quick_app.db)
    quick_app.slack.stall_next("views.update", STALL)

    quick_app.command("review PO-1001 1")
    view = quick_app.modal()  # filled: no longer the loading view

    assert view["callback_id"] == CallbackId.NOTICE
    assert "views.update did not answer in time" in texts(view)
    (held,) = quick_app.slack.stalled("views.update")
    assert held.params["view_id"] == view["id"]  # the review it could not show


def test_a_page_turn_whose_views_update_times_out_is_told_in_a_modal(
    quick_app: SlackApp,
) -> None:
    seed_pages(quick_app.db)
    quick_app.command("review PO-P 1")
    first = quick_app.modal()
    quick_app.slack.stall_next("views.update", STALL)

    answer = quick_app.click(ActionId.REVIEW_NEXT, view=first)
    notice = quick_app.modal(1)  # pushed over the review, which the click came from

    assert answer.status == 200 and answer.elapsed < TIMEOUT
    assert notice["callback_id"] == CallbackId.NOTICE
    assert notice["previous_view_id"] == first["id"]  # closing it goes back to the review
    assert "views.update did not answer in time. Try again in a moment." in texts(notice)
    assert quick_app.slack.view(first["id"])["hash"] == first["hash"]  # page 1 still shown
    (held,) = quick_app.slack.stalled("views.update")
    assert held.params["view_id"] == first["id"]


# --- a channel the bot may not post in ---------------------------------------------------------


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
def test_a_summary_for_a_private_channel_the_bot_is_not_in_comes_by_dm(
    slack_app: SlackApp, error: str
) -> None:
    seed_shop(slack_app.db)
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 2, 15))
    slack_app.slack.refuse_channel(PRIVATE, error)
    slack_app.command("sync-date PO-1001 1", channel=PRIVATE)
    confirm = slack_app.modal()

    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    (dm,) = slack_app.messages()

    review = e.review(slack_app.db, "PO-1001", 1)
    assert review.head.out_of_sync == 0
    assert {a.promised_date for a in review.allocations} == {date(2027, 2, 15)}
    posts = slack_app.slack.calls("chat.postMessage")
    assert [(c.params["channel"], c.error) for c in posts] == [
        (PRIVATE, error),
        (MERCHANDISER, None),  # a user ID: the app's DM with them
    ]
    # Slack files it under the DM's own ID, as it answers.
    assert dm["channel"] == slack_app.slack.conversation_id(MERCHANDISER) != MERCHANDISER
    assert dm["channel"].startswith("D") and not dm.get("ephemeral")
    said = texts(dm)
    assert "Synced promised dates on PO-1001:1" in said
    assert f"<@{MERCHANDISER}>" in said
    assert (
        f"Not posted in <#{PRIVATE}>: I am not a member of that channel. "
        f"To have summaries there, type `/invite @{BOT_NAME}` in it."
    ) in said
    assert dm["text"].startswith("*Synced promised dates")  # the notification: the summary


def test_an_allocation_from_a_po_message_in_a_private_channel_is_summarised_by_dm(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    slack_app.slack.refuse_channel(PRIVATE)
    choose = choose_modal(slack_app, channel=PRIVATE)

    assert slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-3:1"]}).body == b""
    (dm,) = slack_app.messages()

    assert allocation_map(slack_app.db)[("SO-3", 1)] == ("PO-1001", 1)
    assert dm["channel"] == slack_app.slack.conversation_id(MERCHANDISER)
    said = texts(dm)
    assert "Allocated to PO-1001:1" in said and "SO-3:1" in said
    assert f"`/invite @{BOT_NAME}`" in said


def test_a_summary_slack_takes_nowhere_in_a_private_channel_is_still_told_by_dm(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    e.set_arrival(slack_app.db, OTHER, "PO-1001", 1, date(2027, 2, 15))
    slack_app.slack.refuse_channel(PRIVATE)
    slack_app.command("sync-date PO-1001 1", channel=PRIVATE)
    confirm = slack_app.modal()
    slack_app.slack.fail_next("chat.postMessage", 503)  # the summary fails outright

    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    (told,) = slack_app.messages()

    assert e.po_line(slack_app.db, "PO-1001", 1).out_of_sync == 0
    # No ephemeral in a channel the bot is not in either: the DM is what is left.
    ephemeral = slack_app.slack.last("chat.postEphemeral")
    assert (ephemeral.params["channel"], ephemeral.error) == (PRIVATE, "channel_not_found")
    assert told["channel"] == slack_app.slack.conversation_id(MERCHANDISER)
    assert (
        "The change was made, but its summary may not have been posted: "
        "chat.postMessage answered HTTP 503 (service_unavailable)."
    ) in texts(told)


def test_a_hanging_user_group_check_still_lets_the_ack_leave_in_time(
    slack_app: SlackApp,
) -> None:
    """A submission is authorized before it is answered; for a member of the merchandiser
    group that may take a ``usergroups.users.list`` call, which gives up early enough for the
    ack to reach Slack within its 3 seconds."""
    seed_shop(slack_app.db)
    choose = choose_modal(slack_app, user=GROUPIE)
    before = allocation_map(slack_app.db)
    with running(slack_app.slack, slack_app.db) as other:  # a replica with no cached group
        other.slack.stall_next("usergroups.users.list", STALL)
        answer = other.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]}, user=GROUPIE)
    assert answer.status == 200
    assert answer.elapsed < 2.5
    assert allocation_map(slack_app.db) == before
