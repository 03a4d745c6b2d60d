"""The Slack app's own fixture: the real app behind the real server, its Web API the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
