"""Cancel a PO or one line from Slack (rule 6): the confirmation states the dry run (order
lines released, customers told), the cancellation releases them unparked, a stale confirmation
is shown again and never acted on, a viewer is refused, a repeat applies once."""

from __future__ import annotations

from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, CallbackId
from tests.fixtures.events import outbox
from tests.helpers import allocation_map, dump
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


def po_message(slack_app: SlackApp, user: str = MERCHANDISER) -> dict[str, Any]:
    _, url = slack_app.command("po PO-1001", user=user)
    (message,) = slack_app.responses(url)
    return dict(message)


def cancel_line_flow(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.click(ActionId.CANCEL_LINE, message=po_message(slack_app))  # line 1's button
    confirm = slack_app.modal()
    assert confirm["callback_id"] == CallbackId.CANCEL_CONFIRM
    said = texts(confirm)
    assert (
        "Cancel *PO-1001:1*? It releases 2 order lines (5 units) of 2 orders: they go back to "
        "the unallocated queue, not parked" in said
    )
    assert "2 customers will be told of the new date." in said
    assert "`SO-1:1` 2 units from PO-1001:1" in said
    assert e.po_line(slack_app.db, "PO-1001", 1).status == "open"  # a dry run only

    events = len(outbox(slack_app.db))
    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    assert e.po_line(slack_app.db, "PO-1001", 1).status == "cancelled"
    assert e.po_line(slack_app.db, "PO-1001", 2).status == "open"
    assert not {("SO-1", 1), ("SO-2", 1)} & set(allocation_map(slack_app.db))
    queued = {q.order: q.parked for q in e.unallocated(slack_app.db, sku="SKU-RED")}
    assert queued["SO-1"] is False and queued["SO-2"] is False
    assert len(outbox(slack_app.db)) == events + 2
    (summary,) = slack_app.messages()
    assert summary["channel"] == CHANNEL
    said = texts(summary)
    assert "Cancelled PO-1001:1" in said and "Released 2 order lines (5 units)" in said
    assert "operation `" in said
    check_invariants(slack_app.db)


def test_cancel_a_line_from_the_po_message(slack_app: SlackApp) -> None:
    cancel_line_flow(slack_app)


@pytest.mark.postgres
def test_cancel_a_line_from_the_po_message_on_postgresql(pg_slack_app: SlackApp) -> None:
    cancel_line_flow(pg_slack_app)


@pytest.mark.parametrize("how", ["button", "command"])
def test_cancel_the_whole_po(slack_app: SlackApp, how: str) -> None:
    seed_shop(slack_app.db)
    if how == "button":
        slack_app.click(ActionId.CANCEL_PO, message=po_message(slack_app))
    else:
        slack_app.command("cancel-po PO-1001")
    confirm = slack_app.modal()
    said = texts(confirm)
    assert confirm["title"]["text"] == "Cancel purchase order"
    assert "Cancel purchase order *PO-1001* (2 open lines: 1, 2)?" in said
    assert "It releases 3 order lines (7 units) of 3 orders" in said
    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    detail = e.purchase_order(slack_app.db, "PO-1001")
    assert detail.status == "cancelled" and {s.status for s in detail.lines} == {"cancelled"}
    assert allocation_map(slack_app.db) == {}
    assert "Cancelled PO-1001" in texts(slack_app.messages()[0])


def test_the_command_names_one_line_and_refuses_bad_words(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("cancel-po PO-1001 2")
    assert "Cancel *PO-1001:2*? It releases 1 order line (2 units)" in texts(slack_app.modal())
    for text, reason in (
        ("cancel-po", "Usage: /preorder cancel-po PO-NUMBER [LINE]"),
        ("cancel-po PO-1001 x", "'x' is not a PO line number"),
        ("cancel-po PO-1001 1 2", "Usage: /preorder cancel-po"),
    ):
        answer, _ = slack_app.command(text)
        assert reason in texts(answer.json()), text
    assert len(slack_app.slack.calls("views.open")) == 1


def test_a_viewer_may_not_cancel(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    message = po_message(slack_app, user=VIEWER)
    before = dump(slack_app.db)
    for action in (ActionId.CANCEL_LINE, ActionId.CANCEL_PO):
        slack_app.click(action, message=message, user=VIEWER)
        assert slack_app.last_response_url
        (reply,) = slack_app.responses(slack_app.last_response_url)
        assert "only merchandisers can change allocations" in texts(reply)
    assert slack_app.slack.calls("views.open") == []
    # A confirmation submitted by a viewer (forged, or their rights withdrawn) changes nothing.
    slack_app.command("cancel-po PO-1001 1")
    answer = slack_app.submit(slack_app.modal(), user=VIEWER)
    assert "only merchandisers" in texts(acked_view(answer))
    assert dump(slack_app.db) == before


def test_a_stale_confirmation_is_shown_again_with_the_new_count(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("cancel-po PO-1001 1")
    confirm = slack_app.modal()
    e.allocate(slack_app.db, OTHER, "PO-1001", 1, [e.LineRef("SO-4", 1)])  # meanwhile
    before = dump(slack_app.db)
    answer = slack_app.submit(confirm)
    again = acked_view(answer)
    assert "changed since you opened it" in texts(again)
    assert "It releases 3 order lines (6 units)" in texts(again)
    assert dump(slack_app.db) == before
    # Confirmed again, on what the user now saw, it cancels.
    assert slack_app.submit(shown(confirm, answer)).json() == {"response_action": "clear"}
    assert e.po_line(slack_app.db, "PO-1001", 1).status == "cancelled"


def test_a_line_cancelled_meanwhile_is_said_and_nothing_changes(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("cancel-po PO-1001 1")
    confirm = slack_app.modal()
    e.cancel_po(slack_app.db, OTHER, "PO-1001", line=1)
    before = dump(slack_app.db)
    notice = acked_view(slack_app.submit(confirm))
    assert notice["callback_id"] == CallbackId.NOTICE
    assert "already cancelled" in texts(notice)
    assert dump(slack_app.db) == before
    assert slack_app.slack.messages() == []


def test_a_repeated_submission_cancels_once(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("cancel-po PO-1001 1")
    confirm = slack_app.modal()
    first = slack_app.submit(confirm)
    after = dump(slack_app.db)
    again = slack_app.submit(confirm, headers={"X-Slack-Retry-Num": "1"})
    assert again.json() == first.json() == {"response_action": "clear"}
    assert dump(slack_app.db) == after
    assert len(slack_app.messages()) == 1
