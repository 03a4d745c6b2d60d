"""Range checks of the numbers operations and queries take from their callers.

Line numbers, quantities and store holds are 32-bit INTEGER columns: a number that does not fit
is the caller's mistake, refused by name as ``InvalidInput`` before any statement runs. Reaching
the database it would fail the statement (PostgreSQL's "integer out of range"), which every face
would show as a crash or as the database being unavailable, and a sender would retry forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.errors import InvalidInput
from engine.parsing import INT_MAX, parse_int
from engine.results import LineRef

# A row count (LIMIT) is a 64-bit integer on both databases.
BIGINT_MAX = 2**63 - 1


def whole(value: Any, what: str, *, minimum: int, maximum: int = INT_MAX) -> int:
    """``value`` if it is a whole number from ``minimum`` to ``maximum``, else ``InvalidInput``
    naming ``what``."""
    try:
        return parse_int(value, what, minimum=minimum, maximum=maximum)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def line_number(value: Any, what: str = "line") -> int:
    return whole(value, what, minimum=1)


def units(value: Any, what: str) -> int:
    """A quantity or a store hold: 0 or more."""
    return whole(value, what, minimum=0)


def refs(items: Iterable[LineRef]) -> list[LineRef]:
    """Every ``ORDER:LINE`` reference with a line number that fits, or one ``InvalidInput``
    naming each that does not."""
    found = list(items)
    problems = []
    for ref in found:
        if ref.line is None:
            continue
        try:
            line_number(ref.line, f"{ref.order} line")
        except InvalidInput as exc:
            problems.append(exc.message)
    if len(problems) == 1:
        raise InvalidInput(problems[0])
    if problems:
        raise InvalidInput("order lines out of range", problems)
    return found


def limit(value: int | None) -> int | None:
    return None if value is None else whole(value, "limit", minimum=0, maximum=BIGINT_MAX)


def fifo_key(value: tuple[datetime, str, int] | None) -> tuple[datetime, str, int] | None:
    """A page boundary (placed_at, order, line) as a caller hands it back."""
    if value is not None:
        line_number(value[2], "page line")
    return value
