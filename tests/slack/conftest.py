"""The Slack app's own fixture: the real app behind the real server, its Web API the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import engine as e
from tests.fixtures.databases import fresh_sqlite
from tests.slack.harness import USERGROUPS, SlackApp, running
from tests.standins.slack.standin import SlackStandin


@pytest.fixture
def slack_app(
    slack_standin: SlackStandin, tmp_path: Path, sqlite_template: Path
) -> Iterator[SlackApp]:
    """The Slack app on an empty SQLite database, behind waitress on 127.0.0.1, its Web API the
    stand-in (whose user group holds one merchandiser). Slack tests use SQLite to stay quick;
    one flow runs on PostgreSQL too."""
    slack_standin.usergroups.update(USERGROUPS)
    database = fresh_sqlite(sqlite_template, tmp_path)
    with running(slack_standin, database) as app:
        yield app
    database.dispose()


@pytest.fixture
def pg_slack_app(slack_standin: SlackStandin, pg_db: e.Database) -> Iterator[SlackApp]:
    """The Slack app on PostgreSQL (the flows that must hold on both databases)."""
    slack_standin.usergroups.update(USERGROUPS)
    with running(slack_standin, pg_db) as app:
        yield app
