"""What every ``preorder`` command shares: the database it opens, who it acts as, how it reads
its arguments and how a failure becomes exit 1 with one ``error:`` line (DESIGN.md section 3).

Arguments that carry numbers, dates or ``ORDER:LINE`` arrive as plain strings and are parsed
here, so a malformed value is bad input (exit 1), not bad usage (click's exit 2).
"""

from __future__ import annotations

import getpass
import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from engine import Actor, Database, EngineError, InvalidInput, LineRef, Source
from engine.db import SCHEMA_REVISION
from engine.records import INT_MAX, KEY_PATTERN, parse_date, parse_int
from engine.redact import password_of, redact, shown_url
from engine.settings import EngineSettings


class CliError(click.ClickException):
    """A refused operation or bad input: exit 1, one ``error:`` line, then any details."""

    exit_code = 1

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        # One line each, whatever the message holds (a CSV value may contain a line break);
        # a database URL's password never shows, whichever part of the system wrote it.
        password = _password_in_use()
        super().__init__(redact(" ".join(message.split()), password))
        self.details = [redact(" ".join(line.split()), password) for line in details]

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)
        for line in self.details:
            click.echo(f"  {line}", err=True)


def _password_in_use() -> str | None:
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(App) if ctx is not None else None
    return app.password if app is not None else None


def engine_error(exc: EngineError) -> CliError:
    """One problem rides on the ``error:`` line; several are listed once, one per line below
    it, so that a long list (an import's bad rows) is neither cut nor printed twice."""
    if len(exc.problems) > 1:
        return CliError(f"{exc.message}:", exc.problems)
    return CliError(str(exc))


def fail(message: str) -> NoReturn:
    raise CliError(message)


@contextmanager
def expected_failures() -> Iterator[None]:
    """Turn the failures a user can cause or fix into ``error:`` lines instead of tracebacks."""
    try:
        yield
    except EngineError as exc:
        raise engine_error(exc) from None
    except OperationalError as exc:
        raise CliError(f"database error: {_first_line(exc.orig)}") from None


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


@dataclass
class App:
    """The command line's state: global options, and the database once a command needs it."""

    url: str | None
    actor_name: str
    _db: Database | None = field(default=None, repr=False)
    # The password of the database URL in use: hidden in every error message, for a driver
    # may quote it outside the URL.
    password: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> Actor:
        return Actor(self.actor_name, Source.CLI)

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        try:
            return EngineSettings().database_url
        except ValidationError as exc:
            fail(f"bad configuration: {exc.errors()[0]['msg'].removeprefix('Value error, ')}")

    def database(self, *, need_schema: bool = True) -> Database:
        """Open the database, check it can be reached and (unless ``init``) that it has our
        schema at the current revision; every failure here is one ``error:`` line."""
        if self._db is not None:
            return self._db
        url = self.resolved_url()
        self.password = password_of(url)
        shown = shown_url(url)
        if need_schema and _missing_sqlite_file(url):
            # Do not leave an empty file behind just to say there is nothing in it.
            fail(f"database at {shown} has no schema; run 'preorder init'")
        try:
            db = Database(url)
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
            fail(f"bad database URL {shown!r}: {exc}")
        except ImportError as exc:
            fail(f"no driver for database URL {shown!r}: {exc}")
        except EngineError as exc:
            fail(str(exc))
        self._db = db
        try:
            with db.engine.connect():
                pass
            if need_schema:
                _check_schema(db, shown)
        except DBAPIError as exc:
            fail(f"cannot connect to the database: {_first_line(exc.orig)}")
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


def _missing_sqlite_file(url: str) -> bool:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return False
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return False
    return not Path(name).expanduser().exists()


def _check_schema(db: Database, shown: str) -> None:
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


pass_app = click.make_pass_decorator(App)


# --- parsing ----------------------------------------------------------------------------------

_REF = re.compile(r"^(?P<order>[^:\s]+)(?::(?P<line>[^:\s]*))?$")


def parse_whole(text: str, what: str, *, minimum: int, maximum: int = INT_MAX) -> int:
    """A whole number written in ASCII decimal digits, from ``minimum`` to ``maximum`` (by
    default what the database's INTEGER columns hold)."""
    try:
        return parse_int(text, what, minimum=minimum, maximum=maximum)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def parse_line(text: str, what: str = "line") -> int:
    return parse_whole(text, what, minimum=1)


def parse_day(text: str, what: str = "date") -> date:
    try:
        return parse_date(text)
    except ValueError as exc:
        message = str(exc).removeprefix("date ")
        raise InvalidInput(f"{what} {message} (write YYYY-MM-DD, e.g. 2027-03-01)") from None


def parse_ref(text: str) -> LineRef:
    """``ORDER:LINE``, or ``ORDER`` alone for the order's one line of the SKU in question."""
    match = _REF.match(text.strip())
    order = match["order"] if match else ""
    if not match or not KEY_PATTERN.match(order):
        raise InvalidInput(f"order line {text!r} is not ORDER:LINE (e.g. SO-1001:2) or ORDER")
    if match["line"] is None:
        return LineRef(order, None)
    try:
        return LineRef(order, parse_line(match["line"]))
    except InvalidInput:
        raise InvalidInput(
            f"order line {text!r} is not ORDER:LINE: the line must be a whole number from 1 "
            f"to {INT_MAX:,}"
        ) from None


def parse_refs(texts: Sequence[str]) -> list[LineRef]:
    """Every reference, or one ``InvalidInput`` naming each malformed one."""
    refs: list[LineRef] = []
    problems: list[str] = []
    for text in texts:
        try:
            refs.append(parse_ref(text))
        except InvalidInput as exc:
            problems.append(exc.message)
    if len(problems) == 1:
        raise InvalidInput(problems[0])
    if problems:
        raise InvalidInput("malformed order lines", problems)
    return refs


def parse_sku(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip()
    if not KEY_PATTERN.match(value):
        raise InvalidInput(f"SKU {text!r} must be 1-64 letters, digits or # . _ / -")
    return value


# --- output -----------------------------------------------------------------------------------


def console() -> Console:
    """Rich output to the current stdout (click's test runner swaps it per invocation).
    Markup is off: customer and supplier names are data, and a name like ``[/x]`` must print
    as written rather than be read as a style tag (or crash the renderer)."""
    return Console(file=sys.stdout, highlight=False, markup=False)


def echo_json(data: Any) -> None:
    """JSON on stdout; dates and instants as ISO 8601, as in the engine's own ``to_dict``."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_iso))


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
