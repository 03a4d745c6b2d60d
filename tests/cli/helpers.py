"""Driving the ``preorder`` command line in tests, and proving a refusal changed nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

import engine as e
from bot.cli import cli
from tests.helpers import dump as dump
from tests.helpers import po, so


def run(
    db: e.Database | str | None, *args: str, env: Mapping[str, str | None] | None = None
) -> Result:
    """``preorder --db URL --actor tester ARGS``; exceptions other than exits propagate, so an
    unexpected traceback fails the test instead of passing for exit 1. ``env`` overrides the
    environment; a variable given as None is unset."""
    url = db.url if isinstance(db, e.Database) else db
    prefix = ["--db", url] if url else []
    return CliRunner(env=env).invoke(
        cli, [*prefix, "--actor", "tester", *args], catch_exceptions=False
    )


def ok(db: e.Database | str | None, *args: str) -> Result:
    result = run(db, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert result.stderr == ""
    return result


def said(db: e.Database | str | None, *args: str) -> str:
    """A successful command's stdout with all whitespace runs collapsed to one space, so that
    assertions do not depend on where an 80-column terminal wraps a sentence or pads a cell."""
    return " ".join(ok(db, *args).stdout.split())


def error_line(result: Result) -> str:
    """The one ``error:`` line of a failed command (asserting there is exactly one, first)."""
    lines = result.stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("error: "), lines
    assert sum(line.startswith("error:") for line in lines) == 1, lines
    assert all(line.startswith("  ") for line in lines[1:]), lines
    return lines[0]


def refused(db: e.Database, *args: str, listed: bool = False) -> str:
    """Run a command that must fail with exit 1 and change nothing; return its error line
    (``listed``: and the problems listed below it, one line)."""
    before = dump(db)
    result = run(db, *args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    line = error_line(result)
    assert dump(db) == before, "a refused command changed the database"
    return " ".join(result.stderr.split()) if listed else line


def write(folder: Path, name: str, text: str | bytes) -> str:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def seed(db: e.Database) -> None:
    """A small known state (FIFO as rule 1 places it):

    PO-1:1 A 10 (2027-01-10) holds SO-1 (4), SO-2 (3), SO-3:1 (2): ATP 1
    PO-1:2 B 5  (2027-01-20) holds SO-3:2 (1): ATP 4
    PO-2:1 A 6  (2027-02-10) holds SO-4 (5): ATP 1
    queue: SO-5:1 (A, 4), which fits nowhere
    """
    actor = e.Actor("seed", e.Source.CLI)
    e.apply_records(
        db,
        actor,
        [
            po("PO-1", (1, "A", 10, "2027-01-10"), (2, "B", 5, "2027-01-20")),
            po("PO-2", (1, "A", 6, "2027-02-10"), supplier="Other"),
        ],
        [
            so("SO-1", 1, (1, "A", 4)),
            so("SO-2", 2, (1, "A", 3)),
            so("SO-3", 3, (1, "A", 2), (2, "B", 1)),
            so("SO-4", 4, (1, "A", 5)),
            so("SO-5", 5, (1, "A", 4)),
        ],
    )
