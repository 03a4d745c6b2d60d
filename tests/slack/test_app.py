"""The Slack app's commands, Home tab and defences: usage answers, the unallocated list, App
Home, signatures, repeated deliveries, Web API failures (429 retried, 5xx told), the health
check and the ``serve`` command itself."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import pytest

import engine as e
from bot.app import OTHER_WORKSPACE
from bot.ids import ActionId, CallbackId
from bot.service.server import HttpServer, health
from bot.views.state import ViewState
from engine.parsing import INT_MAX
from tests.helpers import dump
from tests.slack.harness import (
    MERCHANDISER,
    SECRET,
    USERGROUPS,
    Answer,
    SlackApp,
    running,
    seed_shop,
    texts,
)
from tests.standins.slack.signing import (
    app_home_opened_event_body,
    block_actions_body,
    block_actions_payload,
    slash_command_body,
    view_submission_body,
)
from tests.standins.slack.standin import SlackStandin

# --- commands ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
def test_help_answers_in_the_ack_with_every_subcommand(slack_app: SlackApp, text: str) -> None:
    answer, _ = slack_app.command(text)
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    said = texts(body["blocks"])
    for usage in (
        "po PO-NUMBER",
        "review PO-NUMBER LINE",
        "allocate PO-NUMBER LINE",
        "remove PO-NUMBER LINE",
        "sync-date PO-NUMBER LINE",
        "unallocated [SKU]",
    ):
        assert f"`/preorder {usage}`" in said  # fmt: skip
    assert {c.method for c in slack_app.slack.calls()} <= {"auth.test"}  # no Web API needed


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "review PO-1001",
            "Usage: /preorder review PO-NUMBER LINE, e.g. /preorder review PO-1001 1",
        ),
        ("allocate PO-1001 one", "'one' is not a PO line number"),
        ("remove PO-1001 0", "'0' is not a PO line number"),
        ("sync-date", "Usage: /preorder sync-date PO-NUMBER LINE"),
        ("po", "Usage: /preorder po PO-NUMBER"),
        ("po PO:1", "'PO:1' is not a PO number"),
        ("po PO-1 extra", "Usage: /preorder po PO-NUMBER"),
        ("unallocated A B", "Usage: /preorder unallocated [SKU]"),
        ("frobnicate PO-1", "Unknown subcommand 'frobnicate'"),
        ("review PO-1001 1; DROP TABLE", "Usage: /preorder review"),
        # Line numbers fit the INTEGER column, in ASCII digits (others' digits are not read).
        ("review PO-1001 99999999999",
         "PO line number 99999999999 is too large: at most 2,147,483,647."),
        ("sync-date PO-1001 2147483648", "PO line number 2147483648 is too large"),
        ("allocate PO-1001 " + "9" * 5000, "is too large: at most 2,147,483,647."),
        ("review PO-1001 \u0661", "'\u0661' is not a PO line number"),
        ("remove PO-1001 \u00b2", "'\u00b2' is not a PO line number"),
    ],
)  # fmt: skip
def test_malformed_commands_get_the_exact_usage_ephemeral(
    slack_app: SlackApp, text: str, said: str
) -> None:
    answer, url = slack_app.command(text)
    assert answer.status == 200
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    shown = texts(body["blocks"])
    assert said in shown.replace("&#x27;", "'")
    assert "`/preorder help`" in shown  # the full usage follows
    assert "Traceback" not in answer.text
    assert slack_app.slack.calls("views.open") == [] and slack_app.slack.responses(url) == []


@pytest.fixture
def any_db_app(slack_standin: SlackStandin, db: e.Database) -> Iterator[SlackApp]:
    """The Slack app on each database (``db``: SQLite, then PostgreSQL)."""
    slack_standin.usergroups.update(USERGROUPS)
    with running(slack_standin, db) as app:
        yield app


def test_every_line_number_from_slack_fits_the_column_or_is_refused_naming_it(
    any_db_app: SlackApp,
) -> None:
    app = any_db_app
    seed_shop(app.db)
    before = dump(app.db)
    # The largest line number the column holds is an ordinary unknown line.
    app.command(f"review PO-1001 {INT_MAX}")
    notice = app.modal()
    assert notice["callback_id"] == CallbackId.NOTICE and str(INT_MAX) in texts(notice)

    # Buttons and forms carry numbers too: a forged or mangled one is refused, named.
    out_of_range = "is out of range (1 to 2,147,483,647)"
    forged = json.dumps({"po": "PO-1001", "line": 99_999_999_999})
    app.click(ActionId.REVIEW, forged, message={"type": "message", "text": "", "blocks": []})
    assert app.last_response_url
    (reply,) = app.responses(app.last_response_url)
    assert f"line 99999999999 {out_of_range}" in texts(reply)

    app.command("review PO-1001 1")
    review = app.modal(callback_id=CallbackId.REVIEW)
    cursor = json.dumps({"po": "PO-1001", "line": 1, "page": 2,
                         "after": ["2026-01-01T00:00:00+00:00", "SO-1", 2**40]})  # fmt: skip
    pages = [
        (cursor, f"the line number of the page's cursor {2**40} {out_of_range}"),
        (json.dumps({"po": "PO-1001", "line": 1, "page": 0}), f"page 0 {out_of_range}"),
        (json.dumps({"po": "PO-1001", "line": 1, "page": 10**20}), f"page {10**20} {out_of_range}"),
        (json.dumps({"po": "PO-1001", "line": 1, "page": "2"}), "page '2' is not a whole number"),
    ]
    for n, (value, said) in enumerate(pages, start=1):  # the unknown line's notice was #0
        app.click(ActionId.REVIEW_NEXT, value, view=review)
        notice = app.modal(n, callback_id=CallbackId.NOTICE)  # pushed over the review
        assert said in texts(notice).replace("&#x27;", "'")
        app.slack.close_view(notice["id"])

    # A confirmation whose chosen lines were mangled removes nothing.
    confirm = {
        "type": "modal",
        "callback_id": CallbackId.REMOVE_CONFIRM,
        "blocks": [],
        "private_metadata": json.dumps(
            {"po": "PO-1001", "line": 1, "picked": ["SO-1:1", "SO-2:99999999999"]}
        ),
    }
    answer = app.submit(confirm).json()  # fmt: skip
    assert answer["response_action"] == "update"
    assert f"the line number of SO-2 99999999999 {out_of_range}" in texts(answer["view"])
    assert dump(app.db) == before


def test_an_unknown_po_is_answered_ephemeral(slack_app: SlackApp) -> None:
    answer, url = slack_app.command("po PO-404")
    assert answer.body == b""
    (reply,) = slack_app.responses(url)
    assert reply["response_type"] == "ephemeral"
    assert "unknown PO PO-404" in texts(reply)


def test_unallocated_lists_the_queue_by_sku_and_for_one_sku(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    _, url = slack_app.command("unallocated")
    (reply,) = slack_app.responses(url)
    said = texts(reply)
    assert "3 lines, 11 units across 1 SKU" in said
    assert said.index("`SO-3:1`") < said.index("`SO-4:1`") < said.index("`SO-6:1`")
    assert "_parked_" in said
    _, url = slack_app.command("unallocated SKU-BLUE")
    assert "No open order line of `SKU-BLUE` is waiting" in texts(slack_app.responses(url)[0])


# --- App Home -------------------------------------------------------------------------------


def test_app_home_publishes_open_lines_queue_and_out_of_sync_once_per_event(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    from datetime import date

    e.set_arrival(slack_app.db, e.Actor("x", e.Source.CLI), "PO-1001", 2, date(2027, 2, 20))
    body = app_home_opened_event_body(MERCHANDISER)
    assert slack_app.post(body).status == 200
    assert slack_app.post(body, headers={"X-Slack-Retry-Num": "1"}).status == 200  # a retry
    slack_app.slack.wait_for("views.publish")
    time.sleep(0.2)
    assert len(slack_app.slack.calls("views.publish")) == 1
    home = slack_app.slack.home_view(MERCHANDISER)
    assert home is not None
    said = texts(home)
    assert "*PO-1001:1* `SKU-RED` · *ATP 5* of 10" in said
    assert "`SKU-RED` · 3 lines, 11 units, 2 parked" in said
    assert "*PO-1001:2* `SKU-BLUE` · arrives 2027-02-20" in said
    # Its Review button opens the same review as a PO message's.
    slack_app.click(ActionId.REVIEW, view=home)
    assert "Review allocations" in texts(slack_app.modal()["title"])


# --- requests Slack did not sign --------------------------------------------------------------


def test_forged_and_replayed_requests_are_refused_with_401(slack_app: SlackApp) -> None:
    body = slash_command_body(text="po PO-1001", trigger_id=slack_app.slack.new_trigger_id())
    assert slack_app.post(body, secret="not-the-secret").status == 401
    assert slack_app.post(body, timestamp=int(time.time()) - 6 * 60).status == 401
    unsigned = slack_app.request("/slack/events", body.encode(), {"Content-Type": "text/plain"})
    assert unsigned.status == 401
    assert slack_app.post(body, timestamp=int(time.time()) - 4 * 60).status == 200  # in time
    assert slack_app.request("/elsewhere").status == 404


# --- requests from another workspace ----------------------------------------------------------

OTHER_TEAM = "T0OTHER"  # a workspace the app is also installed in (one signing secret for all)


def test_a_request_from_another_workspace_is_refused_and_changes_nothing(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    e.set_arrival(slack_app.db, e.Actor("seed", e.Source.CLI), "PO-1001", 1, date(2027, 2, 15))
    assert slack_app.slack.calls("auth.test")[-1].response["team_id"] == "T0TEST"
    # A modal of this workspace's, to submit from the other one.
    slack_app.command("sync-date PO-1001 1")
    confirm = slack_app.modal()
    assert confirm["callback_id"] == CallbackId.SYNC_DATE_CONFIRM
    slack_app.slack.clear()
    before = dump(slack_app.db)

    def refused(body: str) -> None:
        answer = slack_app.post(body)
        assert (answer.status, answer.text) == (200, OTHER_WORKSPACE)

    trigger = slack_app.slack.new_trigger_id(MERCHANDISER)
    refused(slash_command_body(text="review PO-1001 1", user_id=MERCHANDISER, trigger_id=trigger,
                               team_id=OTHER_TEAM))  # fmt: skip
    refused(view_submission_body(confirm, user_id=MERCHANDISER, team_id=OTHER_TEAM))
    line = ViewState(po="PO-1001", line=1).to_json()
    refused(block_actions_body(ActionId.REVIEW, line, user_id=MERCHANDISER, trigger_id=trigger,
                               team_id=OTHER_TEAM))  # fmt: skip
    refused(app_home_opened_event_body(MERCHANDISER, team_id=OTHER_TEAM))
    # A user of another workspace in a channel this one shares with it.
    guest = block_actions_payload(ActionId.REVIEW, line, user_id="U0GUEST", trigger_id=trigger)
    guest["user"]["team_id"] = OTHER_TEAM
    refused(urlencode({"payload": json.dumps(guest)}))
    # A request that names no workspace at all is none of this one's either.
    nameless = block_actions_payload(ActionId.REVIEW, line, user_id=MERCHANDISER,
                                     trigger_id=trigger)  # fmt: skip
    del nameless["team"], nameless["user"]["team_id"]
    assert slack_app.post(urlencode({"payload": json.dumps(nameless)})).status == 404
    assert slack_app.slack.calls() == []  # no modal, no Home tab, no message
    assert dump(slack_app.db) == before

    # The same submission from this workspace applies.
    answer = slack_app.submit(confirm)
    assert answer.status == 200 and answer.text != OTHER_WORKSPACE
    assert dump(slack_app.db) != before


# --- Web API failures -------------------------------------------------------------------------


def test_a_429_is_retried_after_retry_after_and_the_modal_opens(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.slack.fail_next("views.open", 429, retry_after=1)
    answer, _ = slack_app.command("review PO-1001 1")
    assert answer.elapsed < 1.0  # acked before the wait
    view = slack_app.modal(timeout=4)
    assert "PO-1001:1" in texts(view)
    opens = slack_app.slack.calls("views.open")
    assert [c.status for c in opens] == [429, 200]
    assert opens[1].time - opens[0].time >= 0.9


def test_a_5xx_is_reported_to_the_user_and_logged(
    slack_app: SlackApp, caplog: pytest.LogCaptureFixture
) -> None:
    seed_shop(slack_app.db)
    slack_app.slack.fail_next("views.open", 500)
    with caplog.at_level(logging.ERROR, logger="bot.handlers"):
        answer, url = slack_app.command("review PO-1001 1")
        (reply,) = slack_app.responses(url)
    assert answer.status == 200
    assert "views.open answered HTTP 500 (fatal_error)" in texts(reply)
    assert reply["response_type"] == "ephemeral"
    assert any("views.open" in r.getMessage() for r in caplog.records)


def test_a_failed_summary_is_told_to_the_user_and_the_change_stays(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("sync-date PO-1001 2")
    confirm = slack_app.modal()
    slack_app.slack.fail_next("chat.postMessage", 503)
    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    (told,) = [m for m in slack_app.messages() if m.get("ephemeral")]
    assert "The change was made" in texts(told)


def test_a_double_click_on_a_message_button_opens_one_modal(
    slack_app: SlackApp, caplog: pytest.LogCaptureFixture
) -> None:
    seed_shop(slack_app.db)
    _, url = slack_app.command("po PO-1001")
    (message,) = slack_app.responses(url)

    # Slack delivers a double click's second request without waiting for the first's answer:
    # sent one after the other, the second would also wait for the first's ack, which a loaded
    # machine can stretch past the moment a repeat is recognised in.
    def click(_: int) -> Answer:
        return slack_app.click(ActionId.REVIEW, message=message)

    with caplog.at_level(logging.INFO, logger="bot.app"), ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(click, range(2)))

    assert [answer.status for answer in answers] == [200, 200]
    slack_app.modal()
    # The second click was recognised as a repeat (not merely slower to open its modal).
    said = [r.getMessage() for r in caplog.records if r.name == "bot.app"]
    repeats = [m for m in said if m.startswith("repeat delivery not applied again: click:")]
    assert len(repeats) == 1
    assert len(slack_app.slack.calls("views.open")) == 1


# --- health -----------------------------------------------------------------------------------


def test_healthz_is_200_while_the_database_answers(slack_app: SlackApp) -> None:
    answer = slack_app.request("/healthz")
    assert (answer.status, answer.text) == (200, "ok\n")


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    import threading
    import urllib.error
    import urllib.request

    db = e.Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    server = HttpServer(health(db, timeout=2), "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert failed.value.code == 503
    finally:
        server.stop(timeout=2)
        thread.join(timeout=5)
        db.dispose()


__all__ = ["SECRET"]
