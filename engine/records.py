"""Validated input records: what an import file or an order-intake request may contain."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from engine.parsing import (
    parse_date,
    parse_instant,
    parse_int,
    parse_key,
)


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


def _allow_split(value: Any) -> bool | None:
    # A JSON boolean only: "false" as a string would read as true to a careless reader.
    if value is None or isinstance(value, bool):
        return value
    raise ValueError("allow_split must be true or false")


# The words a CSV cell may give allow_split in, each way.
FLAG_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_flag(text: str, name: str) -> bool | None:
    """A CSV cell's true/false (true/false, 1/0, yes/no, any case); None when blank."""
    word = text.strip().lower()
    if not word:
        return None
    if word not in FLAG_WORDS:
        raise ValueError(f"{name} must be true or false (or 1/0, yes/no), not {text.strip()!r}")
    return FLAG_WORDS[word]


PoNumber = Annotated[str, BeforeValidator(lambda v: parse_key(v, "PO number"))]
OrderNumber = Annotated[str, BeforeValidator(lambda v: parse_key(v, "order number"))]
Sku = Annotated[str, BeforeValidator(lambda v: parse_key(v, "SKU"))]
LineNo = Annotated[int, BeforeValidator(_line)]
# None means "not given": a new record stores "", an update keeps what the database has.
Text = Annotated[Annotated[str, Field(max_length=200)] | None, BeforeValidator(_text)]
IsoDate = Annotated[date, BeforeValidator(parse_date)]
Email = Annotated[str | None, BeforeValidator(parse_email)]
Instant = Annotated[datetime, BeforeValidator(parse_instant)]


def _received(v: Any) -> int | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    return parse_int(v, "received_quantity", minimum=0)


LINE_STATUSES = ("open", "fulfilled")


def _line_status(v: Any) -> str | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    text = str(v).strip().lower()
    if text not in LINE_STATUSES:
        raise ValueError(f"status {str(v)[:20]!r} is not one of {', '.join(LINE_STATUSES)}")
    return text


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
    # Units received so far (rule 9); None: not given, the line keeps what it has.
    received_quantity: Annotated[int | None, BeforeValidator(_received)] = None


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
    # "fulfilled": the line has shipped (it must be ready); None or "open": no change.
    status: Annotated[str | None, BeforeValidator(_line_status)] = None


class SORecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: OrderNumber
    customer: Text = None
    # None means "not given": a new order has none, an update keeps the stored one.
    email: Email = None
    placed_at: Instant
    lines: Annotated[list[SOLineRecord], Field(min_length=1)]
    # Rule 10: its lines may be split across PO lines. None: not given (a new order does not
    # allow it; an update keeps what is stored).
    allow_split: Annotated[bool | None, BeforeValidator(_allow_split)] = None

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
