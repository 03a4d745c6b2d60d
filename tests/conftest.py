"""Shared fixtures: every engine test runs on SQLite and on PostgreSQL, each test isolated.

PostgreSQL comes from ``PREORDER_TEST_POSTGRES_URL`` (default: the local server, database
``test``). Each test session works in a schema of its own, so it never touches other data.
When the server cannot be reached the PostgreSQL cases are skipped, unless
``PREORDER_REQUIRE_POSTGRES=1`` (CI sets it), which turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import engine as e
from engine.models import Base
from tests.helpers import T0 as T0
from tests.invariants import check_invariants
from tests.slack.harness import USERGROUPS, SlackApp, running
from tests.standins.sheets.fixtures import gspread_client as gspread_client
from tests.standins.sheets.fixtures import service_account_file as service_account_file
from tests.standins.sheets.fixtures import sheets_standin as sheets_standin
from tests.standins.slack.fixtures import slack_client as slack_client
from tests.standins.slack.fixtures import slack_standin as slack_standin
from tests.standins.slack.fixtures import socket_mode as socket_mode
from tests.standins.slack.standin import SlackStandin

PG_URL = os.environ.get(
    "PREORDER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("PREORDER_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> str | None:
    try:
        eng = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        eng.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, migrated to head."""
    problem = _pg_reachable()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    schema = f"preorder_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    db = e.Database(url)
    e.upgrade(db)
    db.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = e.Database(f"sqlite:///{path}")
    e.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


TABLES = list(reversed(Base.metadata.sorted_tables))
SERIAL_TABLES = [t.name for t in TABLES if "id" in t.c]


def fresh_postgres(url: str) -> e.Database:
    """Empty every table and restart the id sequences. DELETE, not TRUNCATE: on tables this small
    it takes milliseconds where TRUNCATE (which replaces each table's files) takes a fifth of a
    second, and every PostgreSQL test pays it."""
    db = e.Database(url)
    with db.engine.begin() as conn:
        for table in TABLES:
            conn.execute(table.delete())
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(t, 'id'), 1, false) "
                "FROM unnest(CAST(:tables AS text[])) AS t"
            ),
            {"tables": SERIAL_TABLES},
        )
    return db


def fresh_sqlite(template: Path, folder: Path) -> e.Database:
    path = folder / "preorder.db"
    shutil.copyfile(template, path)
    return e.Database(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[e.Database]:
    """An empty, migrated database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        database = fresh_sqlite(sqlite_template, tmp_path)
    else:
        database = fresh_postgres(request.getfixturevalue("pg_url"))
    yield database
    database.dispose()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[e.Database]:
    """An empty, migrated PostgreSQL database (for concurrency tests)."""
    database = fresh_postgres(pg_url)
    yield database
    database.dispose()


@pytest.fixture
def actor() -> e.Actor:
    return e.Actor("tester", e.Source.CLI)


@pytest.fixture
def load(db: e.Database, actor: e.Actor) -> Callable[..., e.Outcome]:
    """Import records through the engine (with its auto-allocation), checking invariants."""

    def _load(*records: Any, rebalance: bool = False) -> e.Outcome:
        pos = [r for r in records if isinstance(r, e.PORecord)]
        sos = [r for r in records if isinstance(r, e.SORecord)]
        outcome = e.apply_records(db, actor, pos, sos, rebalance=rebalance)
        check_invariants(db)
        return outcome

    return _load


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
