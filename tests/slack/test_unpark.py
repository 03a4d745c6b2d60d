"""Unpark from the unallocated list: the Unpark… button beside a SKU with parked lines, the
choice of its parked lines only (a searched external select beyond 100), the lines back in
the queue and swept at once, a line no longer parked refused, a viewer refused, a repeat
once."""

from __future__ import annotations

from typing import Any

import pytest

import engine as e
from bot.ids import ActionId, BlockId, CallbackId
from tests.helpers import allocation_map, dump, po, so
from tests.invariants import check_invariants
from tests.slack.harness import (
    CHANNEL,
    MERCHANDISER,
    VIEWER,
    SlackApp,
    acked_view,
    seed_shop,
    texts,
)

OTHER = e.Actor("someone-else", e.Source.CLI)


def unallocated(
    slack_app: SlackApp, text: str = "unallocated SKU-RED", user: str = MERCHANDISER
) -> dict[str, Any]:
    _, url = slack_app.command(text, user=user)
    (message,) = slack_app.responses(url)
    return dict(message)


def choice(slack_app: SlackApp) -> dict[str, Any]:
    slack_app.click(ActionId.UNPARK, message=unallocated(slack_app))
    return slack_app.modal()


def unpark_flow(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)  # SKU-RED's queue: SO-3 (4, parked), SO-4 (1, parked), SO-6 (6)
    message = unallocated(slack_app)
    assert "2 parked lines: automatic allocation leaves them alone." in texts(message)
    slack_app.click(ActionId.UNPARK, message=message)
    modal = slack_app.modal()
    assert modal["callback_id"] == CallbackId.UNPARK_CHOOSE
    said = texts(modal)
    assert "`SKU-RED` · 2 parked order lines" in said
    assert "SO-3:1 · 4 units · Cleo Park" in said and "SO-4:1 · 1 unit · Dan Wu" in said
    assert "SO-6" not in said  # not parked

    answer = slack_app.submit(modal, {ActionId.UNPARK_ORDERS: ["SO-4:1"]})
    assert answer.json() == {"response_action": "clear"}
    # Unparked and swept at once: SO-4 (1 unit) fits PO-1001:1's ATP of 5.
    assert allocation_map(slack_app.db)[("SO-4", 1)] == ("PO-1001", 1)
    parked = {q.order for q in e.unallocated(slack_app.db, sku="SKU-RED", parked=True)}
    assert parked == {"SO-3"}
    (summary,) = slack_app.messages()
    assert summary["channel"] == CHANNEL
    said = texts(summary)
    assert "Unparked SKU-RED order lines" in said and "Unparked 1 order line: SO-4:1" in said
    assert "Allocated 1 order line (1 unit) to PO-1001:1" in said
    assert "operation `" in said
    check_invariants(slack_app.db)


def test_unpark_from_the_unallocated_list(slack_app: SlackApp) -> None:
    unpark_flow(slack_app)


@pytest.mark.postgres
def test_unpark_from_the_unallocated_list_on_postgresql(pg_slack_app: SlackApp) -> None:
    unpark_flow(pg_slack_app)


def test_the_all_sku_list_puts_the_button_beside_skus_with_parked_lines(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    e.apply_records(slack_app.db, OTHER, [], [so("SO-9", 9, (1, "SKU-GREEN", 1))])
    message = unallocated(slack_app, "unallocated")
    with_button = [
        b["text"]["text"].splitlines()[0]
        for b in message["blocks"]
        if (b.get("accessory") or {}).get("action_id") == ActionId.UNPARK
    ]
    assert with_button == ["*`SKU-RED`* · 3 lines, 11 units, 2 parked"]


def test_a_line_no_longer_parked_is_refused_and_nothing_changes(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = choice(slack_app)
    e.unpark(slack_app.db, OTHER, [e.LineRef("SO-3", 1)])  # meanwhile
    before = dump(slack_app.db)
    answer = slack_app.submit(modal, {ActionId.UNPARK_ORDERS: ["SO-3:1", "SO-4:1"]}).json()
    assert answer["response_action"] == "errors"
    assert "SO-3:1 is not parked" in answer["errors"][BlockId.UNPARK_ORDERS]
    assert dump(slack_app.db) == before
    none = slack_app.submit(modal, {}).json()
    assert "Choose at least one" in none["errors"][BlockId.UNPARK_ORDERS]


def test_a_viewer_may_not_unpark(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    before = dump(slack_app.db)
    slack_app.click(ActionId.UNPARK, message=unallocated(slack_app, user=VIEWER), user=VIEWER)
    assert slack_app.last_response_url
    (reply,) = slack_app.responses(slack_app.last_response_url)
    assert "only merchandisers can change allocations" in texts(reply)
    modal = choice(slack_app)
    answer = slack_app.submit(modal, {ActionId.UNPARK_ORDERS: ["SO-4:1"]}, user=VIEWER)
    assert "only merchandisers" in texts(acked_view(answer))
    assert dump(slack_app.db) == before


def test_a_forged_sku_is_refused(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.click(ActionId.UNPARK, '{"queue":"no such sku!"}', message=unallocated(slack_app))
    assert slack_app.last_response_url
    (reply,) = slack_app.responses(slack_app.last_response_url)
    assert "not one this app made (not a SKU" in texts(reply)


def test_over_100_parked_lines_are_searched(slack_app: SlackApp) -> None:
    count = 105
    e.apply_records(
        slack_app.db,
        OTHER,
        [po("PO-9", (1, "SKU-MANY", count, "2027-01-10"))],
        [so(f"SO-M{i:03d}", i, (1, "SKU-MANY", 1)) for i in range(count)],
    )
    refs = [e.LineRef(f"SO-M{i:03d}", 1) for i in range(count)]
    e.remove(slack_app.db, OTHER, "PO-9", 1, refs)
    slack_app.click(ActionId.UNPARK, message=unallocated(slack_app, "unallocated SKU-MANY"))
    modal = slack_app.modal()
    (select,) = [b for b in modal["blocks"] if b.get("block_id") == BlockId.UNPARK_ORDERS]
    assert select["element"]["type"] == "multi_external_select"
    assert f"{count} parked order lines" in texts(modal)
    first = slack_app.suggest(ActionId.UNPARK_ORDERS, "", modal).json()["options"]
    assert len(first) == 100 and first[0]["value"] == "SO-M000:1"
    found = slack_app.suggest(ActionId.UNPARK_ORDERS, "m104", modal).json()["options"]
    assert [o["value"] for o in found] == ["SO-M104:1"]
    answer = slack_app.submit(modal, {ActionId.UNPARK_ORDERS: ["SO-M104:1"]})
    assert answer.json() == {"response_action": "clear"}
    assert allocation_map(slack_app.db)[("SO-M104", 1)] == ("PO-9", 1)


def test_a_repeated_submission_unparks_once(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    modal = choice(slack_app)
    first = slack_app.submit(modal, {ActionId.UNPARK_ORDERS: ["SO-3:1"]})
    after = dump(slack_app.db)
    again = slack_app.submit(
        modal, {ActionId.UNPARK_ORDERS: ["SO-3:1"]}, headers={"X-Slack-Retry-Num": "1"}
    )
    assert again.json() == first.json() == {"response_action": "clear"}
    assert dump(slack_app.db) == after
    assert len(slack_app.messages()) == 1
