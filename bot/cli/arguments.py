"""How ``preorder`` reads its arguments. Those that carry numbers, dates, SKUs or
``ORDER:LINE`` arrive as plain strings and are parsed here, so a malformed value is bad input
(exit 1, one ``error:`` line naming it), not bad usage (click's exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from engine import InvalidInput, LineRef
from engine.parsing import INT_MAX, KEY_PATTERN, parse_date, parse_int

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
