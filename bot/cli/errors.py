"""How a ``preorder`` command fails (DESIGN.md section 3): a refused operation or bad input
is exit 1 with one ``error:`` line on stderr (several problems follow it, one per line,
indented), never a traceback; a database URL's password never shows in it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from engine import EngineError, StorageError
from engine.redact import redact


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
    # The command's CliContext (bot.cli.context) knows it once the database is open; looked up
    # by attribute, as that module raises these errors and so imports this one.
    ctx = click.get_current_context(silent=True)
    password = getattr(ctx.find_root().obj, "password", None) if ctx is not None else None
    return password if isinstance(password, str) else None


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
    except StorageError as exc:
        raise CliError(str(exc)) from None
