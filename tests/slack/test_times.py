"""Times in Slack are the team's (PREORDER_TIMEZONE) and say which zone they are in; every
change summary carries the id of its operation, which a person quotes to undo it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import engine as e
from bot.ids import ActionId
from bot.views.blocks import at
from engine.models import audit_events
from tests.fixtures.databases import fresh_sqlite
from tests.slack.harness import (
    MERCHANDISER,
    USERGROUPS,
    SlackApp,
    running,
    seed_shop,
    shown,
    texts,
)
from tests.slack.test_remove_sync import tick
from tests.standins.slack.standin import SlackStandin

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def ny_app(
    slack_standin: SlackStandin, tmp_path: Path, sqlite_template: Path
) -> Iterator[SlackApp]:
    slack_standin.usergroups.update(USERGROUPS)
    database = fresh_sqlite(sqlite_template, tmp_path)
    with running(slack_standin, database, zone=NEW_YORK) as app:
        yield app
    database.dispose()


def test_an_instant_is_given_in_the_zone_with_its_name() -> None:
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert at(moment) == "2026-11-02 09:00 UTC"
    assert at(moment, NEW_YORK) == "2026-11-02 04:00 EST"
    assert at(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), NEW_YORK) == "2026-07-01 08:00 EDT"


def test_the_unallocated_list_review_and_remove_show_the_teams_time(ny_app: SlackApp) -> None:
    seed_shop(ny_app.db)  # SO-n placed at T0 (09:00 UTC) + n minutes
    _, url = ny_app.command("unallocated SKU-RED")
    (message,) = ny_app.responses(url)
    said = texts(message)
    assert "04:03 EST" in said and "UTC" not in said

    ny_app.command("review PO-1001 1")
    review = ny_app.modal(0)
    assert "placed 2026-11-02 04:01 EST" in texts(review) and "UTC" not in texts(review)
    ny_app.click(ActionId.REVIEW_REMOVE, view=review)
    assert "placed 2026-11-02 04:01 EST" in texts(ny_app.modal(1))


def test_the_home_tab_says_the_zone(ny_app: SlackApp) -> None:
    seed_shop(ny_app.db)
    ny_app.home_opened()
    ny_app.slack.wait_for("views.publish")
    home = texts(ny_app.slack.home_view(MERCHANDISER))
    assert "oldest 2026-11-02 04:03 EST" in home
    assert " EST · `/preorder help`" in home


def test_a_change_summary_gives_the_operation_id_recorded_in_the_audit_log(
    slack_app: SlackApp,
) -> None:
    seed_shop(slack_app.db)
    slack_app.command("remove PO-1001 1")
    choice = slack_app.modal()
    confirm = shown(choice, slack_app.submit(choice, tick(["SO-1:1"])))
    assert slack_app.submit(confirm).json() == {"response_action": "clear"}
    with slack_app.db.read() as conn:
        (operation,) = set(
            conn.execute(
                select(audit_events.c.operation_id).where(
                    audit_events.c.operation == "remove", audit_events.c.actor == MERCHANDISER
                )
            ).scalars()
        )
    (summary,) = slack_app.messages()
    assert f"operation `{operation}`" in texts(summary)
    assert e.po_line(slack_app.db, "PO-1001", 1).orders == 1
