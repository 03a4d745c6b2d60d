"""``/preorder order ORDER`` (a modal of the order view, lines linking to their PO line's
review; everyone may look) and Undo… on change summaries (merchandisers only, after a
confirmation showing the undo's dry run), over the Web API stand-in within Slack's limits."""

from __future__ import annotations

import engine as e
from bot.ids import ActionId, CallbackId
from tests.helpers import allocation_map, dump
from tests.slack.harness import MERCHANDISER, VIEWER, SlackApp, seed_shop, texts


def test_order_shows_each_line_why_and_the_history_to_anyone(slack_app: SlackApp) -> None:
    seed_shop(slack_app.db)
    slack_app.command("order SO-3", user=VIEWER)
    view = slack_app.modal()
    said = texts(view)
    assert "Order SO-3" in said and "Cleo Park" in said
    assert "*parked*" in said and "removed it from PO-1001:1" in said
    assert "History" in said and "import: line 1 created: 4 units of SKU-RED" in said
    assert "remove: released from PO-1001:1 (removed); parked" in said
    slack_app.command("order SO-1")
    # The second modal opened: the latest (-1) is SO-3's until SO-1's opens.
    allocated = slack_app.modal(1)
    assert "*allocated* on `PO-1001:1`" in texts(allocated)
    slack_app.click(ActionId.REVIEW, view=allocated)  # the line links to its PO line's review
    review = slack_app.modal(callback_id=CallbackId.REVIEW)
    assert "PO-1001:1" in texts(review)


def test_order_of_an_unknown_order_says_so_and_bad_text_gets_the_usage(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    slack_app.command("order SO-404")
    assert "unknown order SO-404" in texts(slack_app.modal())
    answer, _ = slack_app.command("order")
    assert "/preorder order ORDER" in answer.text


def test_undo_from_a_summary_confirms_the_dry_run_then_sets_the_change_back(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    db = slack_app.db
    slack_app.command("sync-date PO-1001 1")
    outcome = e.remove(db, e.Actor(MERCHANDISER, e.Source.SLACK), "PO-1001", 1, [e.LineRef("SO-1")])
    from bot.views.summary import outcome_blocks

    message = {"blocks": [b.to_dict() for b in outcome_blocks(outcome, heading="Removed")]}
    assert outcome.operation_id in texts(message)
    before = dump(db)
    slack_app.click(ActionId.UNDO, message=message)
    confirm = slack_app.modal(callback_id=CallbackId.UNDO_CONFIRM)
    said = texts(confirm)
    assert f"Undo operation `{outcome.operation_id}`?" in said
    assert "Would allocate 1 order line (2 units) to PO-1001:1" in said
    assert dump(db) == before  # a dry run only
    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1001", 1)
    (summary,) = slack_app.messages()
    assert f"Undid operation {outcome.operation_id}" in texts(summary)
    # The undo's summary has its own Undo… (which does the change again); twice is refused.
    assert any(
        el.get("action_id") == ActionId.UNDO
        for b in summary["blocks"]
        for el in b.get("elements", [])
    )
    retried = slack_app.submit(confirm, headers={"X-Slack-Retry-Num": "1"})
    assert retried.json() == {"response_action": "clear"}  # the same delivery: applied once
    assert len(slack_app.slack.messages()) == 1
    # Clicked again later (not a double click): refused, naming the undo.
    slack_app.click(ActionId.UNDO, message={**message, "ts": "1700000001.000200"})
    assert "already undone" in texts(slack_app.modal(callback_id=CallbackId.NOTICE))


def test_undo_is_for_merchandisers_and_refused_when_the_state_moved_on(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    db = slack_app.db
    outcome = e.remove(db, e.Actor(MERCHANDISER, e.Source.SLACK), "PO-1001", 1, [e.LineRef("SO-1")])
    from bot.views.summary import outcome_blocks

    message = {"blocks": [b.to_dict() for b in outcome_blocks(outcome)]}
    before = dump(db)
    slack_app.click(ActionId.UNDO, message=message, user=VIEWER)
    assert dump(db) == before
    assert slack_app.slack.calls("views.open") == []
    e.cancel_order(db, e.Actor("cs", e.Source.CLI), [e.LineRef("SO-1")])
    before = dump(db)
    slack_app.click(ActionId.UNDO, message={**message, "ts": "1700000001.000300"})
    notice = slack_app.modal(callback_id=CallbackId.NOTICE)
    assert "the state has moved on" in texts(notice) and "SO-1:1 is cancelled" in texts(notice)
    assert dump(db) == before


def test_no_undo_button_on_a_dry_run_an_import_or_a_change_of_nothing(slack_app: SlackApp) -> None:
    from bot.views.summary import undo_button

    seed_shop(slack_app.db)
    actor = e.Actor(MERCHANDISER, e.Source.SLACK)
    dry = e.remove(slack_app.db, actor, "PO-1001", 1, [e.LineRef("SO-1")], dry_run=True)
    assert undo_button(dry) is None
    imported = e.apply_records(slack_app.db, actor, [], [])
    assert undo_button(imported) is None
    nothing = e.sync_date(slack_app.db, actor, "PO-1001", 1)
    assert undo_button(nothing) is None
