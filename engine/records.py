"""Validated input records: what an import file or an order-intake request may contain."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

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


def _line(v: Any) -> int:
    return parse_int(v, "line", minimum=1)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    text = str(v).strip()
    # PostgreSQL cannot store NUL in text, and other control characters are never meant in a
    # name: refused here, as the sender's mistake, rather than failing the write.
    bad = sorted({f"U+{ord(c):04X}" for c in text if ord(c) < 32 and c not in "\t\n\r"})
    if bad:
        raise ValueError(f"control characters ({', '.join(bad)}) are not allowed in text")
    return text


# An address as a person types it: something@somewhere.tld, no spaces. Whether it receives mail
# only the mail server can say.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+$")
EMAIL_LENGTH = 254


def parse_email(value: Any) -> str | None:
    """An email address, or None for none given (absent, null or blank)."""
    text = _text(value)
    if not text:
        return None
    if len(text) > EMAIL_LENGTH:
        raise ValueError(f"email is longer than {EMAIL_LENGTH} characters")
    if not _EMAIL.match(text):
        # The address itself is left out: error messages reach logs.
        raise ValueError("email is not an email address (name@example.com)")
    return text


PoNumber = Annotated[str, BeforeValidator(lambda v: parse_key(v, "PO number"))]
OrderNumber = Annotated[str, BeforeValidator(lambda v: parse_key(v, "order number"))]
Sku = Annotated[str, BeforeValidator(lambda v: parse_key(v, "SKU"))]
LineNo = Annotated[int, BeforeValidator(_line)]
# None means "not given": a new record stores "", an update keeps what the database has.
Text = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_text)]
IsoDate = Annotated[date, BeforeValidator(parse_date)]
Email = Annotated[str | None, BeforeValidator(parse_email)]
Instant = Annotated[datetime, BeforeValidator(parse_instant)]


def _unique_lines(lines: list[Any], owner: str) -> list[Any]:
    seen: set[int] = set()
    for item in lines:
        if item.line in seen:
            raise ValueError(f"{owner} has line {item.line} twice")
        seen.add(item.line)
    return lines


class POLineRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line: LineNo
    sku: Sku
    quantity: Annotated[int, BeforeValidator(lambda v: parse_int(v, "quantity", minimum=0))]
    arrival_date: IsoDate


class PORecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    po: PoNumber
    supplier: Text = None
    lines: Annotated[list[POLineRecord], Field(min_length=1)]

    @model_validator(mode="after")
    def _lines_unique(self) -> PORecord:
        _unique_lines(self.lines, f"PO {self.po}")
        return self


class SOLineRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line: LineNo
    sku: Sku
    quantity: Annotated[int, BeforeValidator(lambda v: parse_int(v, "quantity", minimum=1))]


class SORecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: OrderNumber
    customer: Text = None
    # None means "not given": a new order has none, an update keeps the stored one.
    email: Email = None
    placed_at: Instant
    lines: Annotated[list[SOLineRecord], Field(min_length=1)]

    @model_validator(mode="after")
    def _lines_unique(self) -> SORecord:
        _unique_lines(self.lines, f"order {self.order}")
        return self


# --- messages ---------------------------------------------------------------------------------

# Messages above that talk about "date" whatever the field: say which field instead.
_GENERIC_PREFIXES = ("date ",)


def error_reason(err: Any) -> str:
    """A pydantic error of these models as a short sentence naming the field."""
    loc = [p for p in err["loc"] if isinstance(p, str)]
    name = loc[-1] if loc else "record"
    kind = err["type"]
    if kind == "missing":
        return f"{name} is missing"
    if kind == "extra_forbidden":
        return f"unknown field {name!r}"
    if kind == "string_too_long":
        return f"{name} is longer than {err['ctx']['max_length']} characters"
    if kind in ("model_type", "dict_type"):
        return f"expected an object, found {kind_of(err['input'])}"
    if kind == "too_short" and name == "lines":
        return "lines is empty; give at least one line"
    message = str(err["msg"]).removeprefix("Value error, ")
    for prefix in _GENERIC_PREFIXES:
        if message.startswith(prefix):
            return f"{name} {message.removeprefix(prefix)}"
    if kind == "value_error":
        return message
    return f"{name}: {message[:1].lower()}{message[1:]}"


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as JSON reads it: ``("lines", 0, "sku")`` is ``lines[0].sku``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.removeprefix(".")


def kind_of(value: Any) -> str:
    """What a JSON value is, in words."""
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )
