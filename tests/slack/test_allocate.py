"""Allocate sales orders from Slack, end to end: ``/preorder po`` -> Allocate button ->
confirmation -> choice of order lines (static or searched) -> submit -> database changed ->
summary posted; refusals come back inline under the select."""

from __future__ import annotations

from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from tests.helpers import allocation_map, dump, po, so
from tests.slack.harness import (
    CHANNEL,
    GROUPIE,
    MERCHANDISER,
    VIEWER,
    SlackApp,
    running,
    seed_shop,
    shown,
    texts,
)


def open_po(slack_app: SlackApp, po: str = "PO-1001") -> dict[str, Any]:
    """``/preorder po PO``: the ephemeral message the app answered with."""
    answer, url = slack_app.command(f"po {po}")
    assert answer.status == 200
    (message,) = slack_app.responses(url)
    return message


def choose_modal(slack_app: SlackApp, user: str = MERCHANDISER) -> dict[str, Any]:
    """From the PO message: Allocate -> confirmation -> Yes; the choice modal (a submission's
    answer, which Slack would show in place of the confirmation)."""
    message = open_po(slack_app)
    assert slack_app.click(ActionId.ALLOCATE, message=message, user=user).status == 200
    confirm = slack_app.modal()
    assert confirm["callback_id"] == CallbackId.ALLOCATE_CONFIRM
    return shown(confirm, slack_app.submit(confirm, user=user))


def test_allocate_from_the_po_message_changes_the_database_and_posts_a_summary(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    message = open_po(slack_app)
    said = texts(message)
    assert "Purchase order PO-1001" in said
    assert "ATP 5" in said and "SKU-RED" in said and "2027-01-10" in said
    for button in ("Review Allocation", "Allocate Sales Order", "Remove Allocation"):
        assert button in said

    slack_app.click(ActionId.ALLOCATE, message=message)
    confirm = slack_app.modal()
    assert "Allocate unallocated sales orders of SKU `SKU-RED` to *PO-1001:1*" in texts(confirm)
    assert "ATP left: 5" in texts(confirm)

    choose = choose_modal_from(slack_app, confirm)
    select = choose["blocks"][1]["element"]
    assert select["type"] == "multi_static_select"
    options = [o["value"] for o in select["options"]]
    assert options == ["SO-3:1", "SO-4:1", "SO-6:1"]  # FIFO
    assert "parked" in select["options"][0]["text"]["text"]
    assert "parked" not in select["options"][2]["text"]["text"]

    answer = slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-3:1", "SO-4:1"]})
    assert answer.status == 200 and answer.body == b""  # closes the modal
    assert allocation_map(slack_app.db)[("SO-3", 1)] == ("PO-1001", 1)
    assert allocation_map(slack_app.db)[("SO-4", 1)] == ("PO-1001", 1)
    (summary,) = slack_app.messages()
    assert summary["channel"] == CHANNEL
    said = texts(summary)
    assert "Allocated to PO-1001:1" in said
    assert "SO-3:1" in said and "ATP left 0" in said
    assert f"<@{MERCHANDISER}>" in said
    query = "SELECT actor, source FROM audit_events WHERE operation = 'allocate'"
    with slack_app.db.read() as conn:
        actors = {tuple(r) for r in conn.exec_driver_sql(query)}
    assert actors == {(MERCHANDISER, "slack")}


def choose_modal_from(slack_app: SlackApp, confirm: dict[str, Any]) -> dict[str, Any]:
    return shown(confirm, slack_app.submit(confirm))


def test_over_the_atp_is_refused_inline_and_changes_nothing(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    choose = choose_modal(slack_app)
    before = dump(slack_app.db)
    answer = slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-3:1", "SO-6:1"]}).json()
    assert answer["response_action"] == "errors"
    error = answer["errors"][BlockId.ALLOCATE_ORDERS]
    assert "10 units asked, 5 ATP left on PO-1001:1 (short by 5)" in error
    assert dump(slack_app.db) == before
    assert slack_app.slack.messages() == []


def test_a_line_allocated_by_someone_else_meanwhile_is_refused_inline(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    choose = choose_modal(slack_app)
    # Meanwhile someone at the command line allocates SO-4 elsewhere.
    e.apply_records(
        slack_app.db,
        e.Actor("other", e.Source.CLI),
        [po("PO-2002", (1, "SKU-RED", 3, "2027-03-01"))],
        [],
    )
    e.allocate(slack_app.db, e.Actor("other", e.Source.CLI), "PO-2002", 1, [e.LineRef("SO-4")])
    answer = slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-3:1", "SO-4:1"]}).json()
    assert answer["response_action"] == "errors"
    assert "SO-4:1 is already allocated to PO-2002:1" in answer["errors"][BlockId.ALLOCATE_ORDERS]
    assert ("SO-3", 1) not in allocation_map(slack_app.db)


def test_choosing_nothing_asks_for_a_choice(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    answer = slack_app.submit(choose_modal(slack_app)).json()
    assert answer == {
        "response_action": "errors",
        "errors": {BlockId.ALLOCATE_ORDERS: "Choose at least one order line."},
    }


def test_a_long_queue_is_searched_through_the_options_endpoint(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    extra = [
        so(f"SO-X{i:03d}", 10 + i, (1, "SKU-RED", 9), customer=f"Buyer {i}") for i in range(120)
    ]
    extra.append(so("SO-ZED", 200, (1, "SKU-RED", 9), customer="Zelda Quinn"))
    e.apply_records(slack_app.db, e.Actor("seed", e.Source.CLI), [], extra)

    choose = choose_modal(slack_app)
    select = choose["blocks"][1]["element"]
    assert select["type"] == "multi_external_select"
    assert "124 unallocated order lines" in texts(choose)

    everything = slack_app.suggest(ActionId.ALLOCATE_ORDERS, "", choose).json()["options"]
    assert len(everything) == 100
    assert [o["value"] for o in everything[:3]] == ["SO-3:1", "SO-4:1", "SO-6:1"]
    by_customer = slack_app.suggest(ActionId.ALLOCATE_ORDERS, "zelda", choose).json()["options"]
    assert [o["value"] for o in by_customer] == ["SO-ZED:1"]
    by_order = slack_app.suggest(ActionId.ALLOCATE_ORDERS, "so-x11", choose).json()["options"]
    assert [o["value"] for o in by_order] == [f"SO-X{i}:1" for i in range(110, 120)]

    answer = slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]})
    assert answer.body == b""
    assert allocation_map(slack_app.db)[("SO-4", 1)] == ("PO-1001", 1)


def test_a_double_submission_allocates_once(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    choose = choose_modal(slack_app)
    first = slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]})
    events = dump(slack_app.db)["audit_events"]
    again = slack_app.submit(
        choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]}, headers={"X-Slack-Retry-Num": "1"}
    )
    assert first.status == again.status == 200
    assert again.body == first.body  # the repeat gets the first answer
    assert dump(slack_app.db)["audit_events"] == events
    assert len(slack_app.messages()) == 1


def test_a_repeat_reaching_another_replica_allocates_once(slack_app: SlackApp) -> None:
    """Each replica remembers only its own deliveries; the engine's idempotency key (the
    delivery's) is what stops the second replica applying the submission again."""
    seed_shop(slack_app.db)
    choose = choose_modal(slack_app)
    slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]})
    events = dump(slack_app.db)["audit_events"]
    with running(slack_app.slack, slack_app.db) as other:
        again = other.submit(
            choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]}, headers={"X-Slack-Retry-Num": "1"}
        )
    assert again.status == 200 and again.body == b""  # closes the modal, no error shown
    assert dump(slack_app.db)["audit_events"] == events
    assert len(slack_app.messages()) == 1


@pytest.mark.parametrize(("user", "allowed"), [(VIEWER, False), (GROUPIE, True)])
def test_only_merchandisers_by_list_or_user_group_may_allocate(
    slack_app: SlackApp, user: str, allowed: bool
) -> None:
    seed_shop(slack_app.db)
    message = open_po(slack_app)
    slack_app.click(ActionId.ALLOCATE, message=message, user=user)
    if allowed:
        assert slack_app.modal()["callback_id"] == CallbackId.ALLOCATE_CONFIRM
    else:
        assert slack_app.last_response_url
        (reply,) = slack_app.responses(slack_app.last_response_url)
        assert "only merchandisers can change allocations" in texts(reply)
        assert slack_app.slack.calls("views.open") == []
    # A viewer may still look.
    slack_app.click(ActionId.REVIEW, message=message, user=VIEWER)
    assert "Review allocations" in texts(slack_app.modal(callback_id=CallbackId.REVIEW)["title"])


def test_the_user_group_is_read_once_and_cached(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    message = open_po(slack_app)
    for n in range(3):  # three messages: clicks on one within a moment are a double click
        slack_app.click(ActionId.ALLOCATE, message={**message, "ts": f"{n}.000100"}, user=GROUPIE)
        slack_app.modal(n)
    assert len(slack_app.slack.calls("usergroups.users.list")) == 1


def test_a_forged_submission_by_a_non_merchandiser_changes_nothing(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    choose = choose_modal(slack_app)
    before = dump(slack_app.db)
    answer = slack_app.submit(choose, {ActionId.ALLOCATE_ORDERS: ["SO-4:1"]}, user=VIEWER).json()
    assert answer["response_action"] == "update"
    assert "only merchandisers" in texts(answer["view"])
    assert dump(slack_app.db) == before
