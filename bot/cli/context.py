"""The state every ``preorder`` command shares (``CliContext``): the global options, who acts
(the audit log's actor) and the database, opened once a command needs it and checked to be
reachable and at the current schema, each failure one ``error:`` line.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from engine import Actor, Database


@dataclass
class CliContext:
    """The command line's state: global options, and the database once a command needs it."""

    url: str | None
    actor_name: str
    _db: Database | None = field(default=None, repr=False)
    # The password of the database URL in use: hidden in every error message, for a driver
    # may quote it outside the URL.
    password: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> Actor:
        from engine import Actor, Source

        return Actor(self.actor_name, Source.CLI)

    def resolved_url(self) -> str:
        """``--db``, else ``PREORDER_DATABASE_URL`` (the environment, then ``.env``), else the
        embedded default."""
        if self.url:
            return self.url
        from engine.config import environment_value
        from engine.db import DEFAULT_URL

        configured = environment_value("database_url")
        return DEFAULT_URL if configured is None else configured

    def database(self, *, need_schema: bool = True) -> Database:
        """Open the database, check it can be reached and (unless ``init``) that it has our
        schema at the current revision; every failure here is one ``error:`` line."""
        # Imported here, not above: ``preorder --help`` imports this module and must not load
        # SQLAlchemy.
        from bot.cli.errors import fail
        from engine import Database, StorageError
        from engine.config import bad_settings
        from engine.db import sqlite_file
        from engine.redact import password_of, shown_url

        if self._db is not None:
            return self._db
        url = self.resolved_url()
        self.password = password_of(url)
        shown = shown_url(url)

        def unusable(message: str) -> NoReturn:
            # A URL from the configuration is a bad setting, named as every other one is.
            fail(message if self.url else bad_settings([("database_url", message)]))

        file = sqlite_file(url)
        if need_schema and file is not None and not file.exists():
            # Do not leave an empty file behind just to say there is nothing in it.
            fail(f"database at {shown} has no schema; run 'preorder init'")
        events = _events_setting()
        split_lines = _split_setting()
        try:
            db = Database(url, events=events, split_lines=split_lines)
        except StorageError as exc:
            unusable(str(exc))
        self._db = db
        try:
            db.ping()
            if need_schema:
                _check_schema(db, shown)
        except StorageError as exc:
            fail(str(exc))
        return db

    def zone(self) -> tzinfo:
        """The team's time zone, ``PREORDER_TIMEZONE`` (default UTC): every time a table shows
        is in it, and its heading says so. Read without pydantic, as the database URL is; a bad
        value is one 'bad settings' line."""
        from bot.cli.errors import fail
        from engine.config import bad_settings, environment_value, time_zone

        value = environment_value("timezone")
        if value is None:
            return UTC
        try:
            return time_zone(value)
        except ValueError as exc:
            fail(bad_settings([("timezone", str(exc))]))

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def _events_setting() -> bool:
    """``PREORDER_EVENTS`` (whether operations write events), read with ``load`` only when it is
    set: pydantic would add a third to a read command's start, as for the database URL."""
    from bot.cli.errors import fail
    from engine.config import SettingsError, environment_value, load
    from engine.db import DEFAULT_EVENTS

    if environment_value("events") is None:
        return DEFAULT_EVENTS
    from engine.settings import EventSettings

    try:
        return load(EventSettings).events
    except SettingsError as exc:
        fail(str(exc))


def _split_setting() -> bool:
    """``PREORDER_SPLIT_LINES`` (rule 10), read with ``load`` only when it is set, as
    ``PREORDER_EVENTS`` is."""
    from bot.cli.errors import fail
    from engine.config import SettingsError, environment_value, load
    from engine.db import DEFAULT_SPLIT_LINES

    if environment_value("split_lines") is None:
        return DEFAULT_SPLIT_LINES
    from engine.settings import AllocationSettings

    try:
        return load(AllocationSettings).split_lines
    except SettingsError as exc:
        fail(str(exc))


def _check_schema(db: Database, shown: str) -> None:
    from bot.cli.errors import fail
    from engine.db import SCHEMA_REVISION

    if not db.has_schema():
        fail(f"database at {shown} has no schema; run 'preorder init'")
    if not db.schema_is_current():
        fail(
            f"database at {shown} is at schema revision {db.schema_revision()} but this "
            f"preorder needs {SCHEMA_REVISION}; run 'preorder init'"
        )


def default_actor() -> str:
    try:
        return getpass.getuser() or "cli"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


pass_cli = click.make_pass_decorator(CliContext)
