"""What the engine refuses, and why: every caller turns these into its own kind of message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class EngineError(Exception):
    """Base of every refusal. ``str(error)`` is one line a person can act on."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return f"{self.message}: " + "; ".join(self.problems)


class NotFound(EngineError):
    """An unknown PO, PO line, order or order line."""


class Refused(EngineError):
    """The request is well formed but a rule forbids it; nothing was changed."""

    def __init__(
        self, message: str, problems: list[str] | None = None, *, shortfall: int = 0
    ) -> None:
        super().__init__(message, problems)
        self.shortfall = shortfall


class Closed(Refused):
    """The PO line is closed (rule 11: cancelled, or received in full): it takes no change."""


@dataclass(frozen=True)
class Difference:
    """One field of a record as stored and as sent again (None: absent on that side). ``field``
    is the field's path in the record as sent (``lines[0].quantity``), or ``lines`` for a
    stored line the record left out."""

    record: str
    field: str
    stored: Any
    sent: Any


class Conflict(Refused):
    """Records sent again with other contents than stored, where sending again may not change
    them; ``differences`` names every differing field. Nothing was changed."""

    def __init__(self, message: str, differences: list[Difference]) -> None:
        super().__init__(
            message,
            [f"{d.record} {d.field}: stored {d.stored!r}, sent {d.sent!r}" for d in differences],
        )
        self.differences = differences

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (an intake's worker process hands it back): rebuilt from its differences,
        # which the default (its message and the problems made of them) would not give back.
        return (type(self), (self.message, self.differences), self.__dict__)


class InvalidInput(EngineError):
    """Malformed input: a bad date, quantity, reference or file row."""


class StorageError(Exception):
    """The database failed us: its URL is unusable, it is missing, unreachable, does not answer
    in time, or is at the wrong schema version. No rule refused anything, so this is not an
    ``EngineError``: each face reports it as its own kind of failure (an ``error:`` line, a 503,
    a logged fault). The engine raises it for every database error, after retrying the
    transient ones itself; ``str(error)`` is one line without the database's password, and the
    driver's error is its ``__cause__``."""


class ConstraintViolation(StorageError):
    """The database refused a write that broke one of its constraints. The operations check
    every rule before they write, so this is a fault of ours, never the caller's."""
