"""A command imports only what it uses (bench/cli_start.py measures what that buys): the command
list and ``import bot.cli`` load neither the database's libraries, nor Slack's, Google's, the
workbook's or the terminal's; a read command loads no Slack, spreadsheet, migration or import
code, nor pydantic. Each case is a fresh interpreter, as a person's command is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine as e
from tests.cli.helpers import seed
from tests.fixtures.databases import fresh_sqlite

# The libraries that dominate a start, none of which ``--help`` needs (nor the delivery of
# events, with its templates).
HEAVY = ("sqlalchemy", "slack_sdk", "slack_bolt", "gspread", "openpyxl", "rich", "notify", "jinja2")
# What a read command has no use for: the Slack and spreadsheet faces, the delivery of events,
# the migrations, the import and its record models, and the settings classes (the database URL
# is read without).
NOT_FOR_READING = (
    "slack_sdk",
    "slack_bolt",
    "gspread",
    "openpyxl",
    "alembic",
    "pydantic",
    "sheets",
    "notify",
    "jinja2",
    "bot.app",
    "bot.service",
    "engine.intake",
    "engine.records",
    "engine.importer",
    "engine.migrate",
)

# Runs ``preorder ARGS`` in this interpreter, then prints the modules it imported.
RUN = """
import json, sys
from bot.cli import cli
code = cli.main(args=sys.argv[1:], prog_name="preorder", standalone_mode=False)
print(json.dumps({"code": code or 0, "modules": sorted(sys.modules)}))
"""


def imported(code: str, *args: str, cwd: Path) -> tuple[int, set[str]]:
    # A clean environment of ours: no PREORDER_* setting, and a working folder without a .env.
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PREORDER_")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    return found["code"], set(found["modules"])


def packages(modules: set[str], names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` (packages or modules, with everything under them) were imported."""
    return {n for n in names if any(m == n or m.startswith(f"{n}.") for m in modules)}


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    db = fresh_sqlite(sqlite_template, tmp_path)
    seed(db)
    db.dispose()
    return f"sqlite:///{tmp_path / 'preorder.db'}"


def test_importing_the_command_line_loads_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    code = "import json, sys, bot.cli; print(json.dumps({'code': 0, 'modules': list(sys.modules)}))"
    _, modules = imported(code, cwd=tmp_path)
    assert packages(modules, HEAVY) == set()


def test_help_lists_the_commands_without_importing_them(tmp_path: Path) -> None:
    code, modules = imported(RUN, "--help", cwd=tmp_path)
    assert code == 0
    assert packages(modules, HEAVY) == set()
    assert not {m for m in modules if m.startswith("bot.cli.")} - {"bot.cli.context"}, (
        "a command module was imported to list the commands"
    )


@pytest.mark.parametrize(
    "args",
    [("review", "PO-1", "1"), ("review", "PO-1", "1", "--json"), ("unallocated",),
     ("unallocated", "--json"), ("po", "PO-1")],
)  # fmt: skip
def test_a_read_command_loads_no_slack_spreadsheet_migration_or_import_code(
    sqlite_url: str, tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, modules = imported(RUN, "--db", sqlite_url, *args, cwd=tmp_path)
    assert code == 0
    assert packages(modules, NOT_FOR_READING) == set()
    assert "sqlalchemy.orm" not in modules  # the schema is Core tables
    assert "sqlalchemy.dialects.postgresql" not in modules  # on SQLite


def test_a_read_command_reads_the_configured_url_without_pydantic(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common case: the URL comes from ``PREORDER_DATABASE_URL`` or a ``.env``."""
    (tmp_path / ".env").write_text(f"PREORDER_DATABASE_URL={sqlite_url}\n")
    code, modules = imported(RUN, "unallocated", cwd=tmp_path)
    assert code == 0
    assert packages(modules, NOT_FOR_READING) == set()


def test_the_engine_loads_an_operations_module_only_when_it_is_used(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from engine import review, Database\n"
        "print(json.dumps({'code': 0, 'modules': list(sys.modules)}))"
    )
    _, modules = imported(code, cwd=tmp_path)
    assert {m for m in modules if m.startswith("engine.")} <= {
        "engine.arguments",
        "engine.db",
        "engine.errors",
        "engine.headers",
        # The reads of split lines' parts (rule 10), companions of the queries.
        "engine.line_parts",
        "engine.models",
        # The queries' keyset paging in FIFO order, shared with the parts' review.
        "engine.paging",
        "engine.parsing",
        "engine.queries",
        "engine.redact",
        "engine.results",
        "engine.review_parts",
        "engine.timeouts",
        "engine.types",
    }


def test_every_name_the_engine_exports_resolves_on_first_use() -> None:
    for name in e.__all__:
        assert getattr(e, name).__module__.startswith("engine"), name
    with pytest.raises(AttributeError):
        getattr(e, "no_such_name")  # noqa: B009
