"""Parsers of the values people and files give (numbers, keys, dates, instants), each a
``ValueError`` naming what is wrong; shared by the input records, the operations' argument checks
and every face. Free of pydantic, so that a command that only reads loads none of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Any

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9#._/\-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Line numbers, quantities and store holds are 32-bit INTEGER columns on both databases: a
# larger number from outside is the sender's mistake, refused by name, never a failed write.
INT_MAX = 2**31 - 1
# The placed_at a face that takes orders accepts unless told otherwise: from 2000 on and at most
# a day ahead of its clock (a shop's clock may run ahead; an order dated the year 1 or 9999 is a
# sender's mistake that would otherwise sort first or last in every queue).
EARLIEST_PLACED_AT = datetime(2000, 1, 1, tzinfo=UTC)
PLACED_AT_AHEAD = timedelta(days=1)
# The window in force (earliest, latest), or None: any instant the columns hold. A context
# variable rather than a model argument because the import's parsers (JSON, CSV) and the order
# intake all validate the same models, and which window applies is their callers' policy.
_placed_at_window: ContextVar[tuple[datetime, datetime] | None] = ContextVar(
    "placed_at_window", default=None
)


@contextmanager
def placed_at_window(now: datetime | None = None) -> Iterator[None]:
    """Within the block, a ``placed_at`` must be from ``EARLIEST_PLACED_AT`` to a day after
    ``now`` (default: the clock)."""
    latest = (now or datetime.now(UTC)) + PLACED_AT_AHEAD
    token = _placed_at_window.set((EARLIEST_PLACED_AT, latest))
    try:
        yield
    finally:
        _placed_at_window.reset(token)


def parse_key(value: Any, what: str = "number") -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not KEY_PATTERN.match(value.strip()):
        raise ValueError(
            f"{what} {value!r} must be 1-64 letters, digits or # . _ / - (no spaces or colons)"
        )
    return value.strip()


def parse_date(value: Any) -> date:
    """A calendar date written ISO ``YYYY-MM-DD``; nothing else is guessed at."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value).strip() if value is not None else ""
    if not _DATE.match(text):
        raise ValueError(f"date {value!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {value!r} does not exist") from None


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 date-time with a UTC offset (``Z`` or ``+02:00``)."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip() if value is not None else ""
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"placed_at {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"placed_at {value!r} has no UTC offset (add Z or +HH:MM)")
    window = _placed_at_window.get()
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # the year 1 east of UTC, 9999 west of it: no instant we can store
        if window is None:
            raise ValueError(f"placed_at {value!r} is out of range in UTC") from None
        utc = (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)
    if window is not None:
        earliest, latest = window
        if utc < earliest:
            raise ValueError(f"placed_at {value!r} is before {earliest.date().isoformat()}")
        if utc > latest:
            raise ValueError(f"placed_at {value!r} is more than a day in the future")
    return moment


def parse_int(value: Any, what: str, *, minimum: int, maximum: int = INT_MAX) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a whole number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{what} {value!r} is not a whole number")
    if value < minimum:
        raise ValueError(f"{what} {value} must be at least {minimum}")
    if value > maximum:
        raise ValueError(f"{what} {value} must be at most {maximum:,}")
    return value
