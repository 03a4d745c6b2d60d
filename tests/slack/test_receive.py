"""Receive from Slack (rule 9), end to end over the stand-in: ``/preorder po`` shows received
units and a Receive button on open lines; the modal (quantity, final, date) records the receipt
and posts what it made ready; bad input is shown under its field; viewers are refused."""

from __future__ import annotations

from typing import Any

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from bot.views.receive import FINAL
from tests.helpers import dump
from tests.invariants import check_invariants
from tests.slack.harness import MERCHANDISER, VIEWER, SlackApp, seed_shop, texts


def receive_modal(slack_app: SlackApp, user: str = MERCHANDISER) -> dict[str, Any]:
    _, url = slack_app.command("po PO-1001", user=user)
    (message,) = slack_app.responses(url)
    said = texts(message)
    assert "received 0" in said
    slack_app.click(ActionId.RECEIVE, message=message, user=user)
    return slack_app.modal()


def test_the_po_message_shows_received_and_receive_records_a_receipt(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)  # PO-1001:1 holds SO-1 (2) and SO-2 (3)
    modal = receive_modal(slack_app)
    assert modal["callback_id"] == CallbackId.RECEIVE
    assert "Ordered 10 · received so far 0" in texts(modal)
    answer = slack_app.submit(modal, {ActionId.RECEIVE_QUANTITY: "4"})
    assert answer.json() == {"response_action": "clear"}
    head = e.po_line(slack_app.db, "PO-1001", 1)
    assert head.received == 4
    assert [r.order for r in e.ready(slack_app.db)] == ["SO-1"]
    (summary,) = slack_app.messages()
    said = texts(summary)
    assert "Received 4 on PO-1001:1" in said
    assert "1 order line now ready to ship (stock in): SO-1:1" in said
    check_invariants(slack_app.db)


def test_a_final_receipt_from_the_modal_releases_what_it_cannot_cover(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    modal = receive_modal(slack_app)
    answers: dict[str, Any] = {ActionId.RECEIVE_QUANTITY: "2", ActionId.RECEIVE_FINAL: [FINAL]}
    assert slack_app.submit(modal, answers).json() == {"response_action": "clear"}
    head = e.po_line(slack_app.db, "PO-1001", 1)
    assert (head.status, head.atp) == ("received", 0)
    assert "(final)" in texts(slack_app.messages()[0])


def test_bad_quantity_or_date_is_shown_under_its_field_and_changes_nothing(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    modal = receive_modal(slack_app)
    before = dump(slack_app.db)
    for typed in ("-3", "four", "1.5", "99999999999"):
        answer = slack_app.submit(modal, {ActionId.RECEIVE_QUANTITY: typed}).json()
        assert answer["response_action"] == "errors"
        assert "whole number" in answer["errors"][BlockId.RECEIVE_QUANTITY]
    answer = slack_app.submit(
        modal, {ActionId.RECEIVE_QUANTITY: "1", ActionId.RECEIVE_DATE: "2999-01-01"}
    ).json()
    assert "today or a day before" in answer["errors"][BlockId.RECEIVE_DATE]
    zero = slack_app.submit(modal, {ActionId.RECEIVE_QUANTITY: "0"}).json()
    assert zero["response_action"] == "update"
    assert "a receipt of 0 units changes nothing" in texts(zero["view"])
    assert dump(slack_app.db) == before


def test_a_viewer_is_refused_the_receive_modal(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    before = dump(slack_app.db)
    _, url = slack_app.command("po PO-1001", user=VIEWER)
    (message,) = slack_app.responses(url)
    slack_app.click(ActionId.RECEIVE, message=message, user=VIEWER)
    assert slack_app.last_response_url is not None
    (refusal,) = slack_app.responses(slack_app.last_response_url)
    assert "only merchandisers can change allocations" in texts(refusal)
    assert not [c for c in slack_app.slack.calls() if c.method == "views.open"]
    assert dump(slack_app.db) == before


def test_a_closed_line_offers_no_receive_button(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    e.receive(slack_app.db, e.Actor("dock", e.Source.API), "PO-1001", 2, 5)
    _, url = slack_app.command("po PO-1001")
    (message,) = slack_app.responses(url)
    receive_buttons = [
        el
        for block in message["blocks"]
        for el in block.get("elements") or []
        if isinstance(el, dict) and el.get("action_id") == ActionId.RECEIVE
    ]
    assert len(receive_buttons) == 1  # line 1 only: line 2 is received
    assert "*received*" in texts(message)


def test_the_review_modal_shows_received_units_and_ready_lines(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    e.receive(slack_app.db, e.Actor("dock", e.Source.API), "PO-1001", 1, 2)
    slack_app.command("review PO-1001 1")
    said = texts(slack_app.modal())
    assert "*Received*\n2 of 10" in said
    assert ":package: ready to ship" in said  # SO-1 (2 units)
