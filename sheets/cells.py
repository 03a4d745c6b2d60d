"""Cell values between the database's types and what a spreadsheet holds.

Reads come unformatted (dates as serial numbers from Google, ``date`` from a workbook, text a
person typed wherever they typed it), so every editable cell is parsed by its column's kind and
a cell that does not parse is an edit with a reason, never a crash or a silent skip.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from engine.parsing import INT_MAX
from sheets.backend import Value
from sheets.layout import Kind

# Day 0 of the serial numbers Google Sheets and Excel count dates in.
EPOCH = date(1899, 12, 30)
INSTANT_FORMAT = "%Y-%m-%d %H:%M"
_WHOLE = re.compile(r"[+-]?[0-9]+")


class CellError(ValueError):
    """A cell that cannot be read as its column's kind; ``str()`` says why, for Status."""


def to_sheet(kind: Kind, value: Any) -> Value:
    """A database value as written to the spreadsheet."""
    if value is None:
        return None
    if kind is Kind.INSTANT:
        return instant_text(value)
    if kind is Kind.INT:
        return int(value)
    if kind is Kind.BOOL:
        return bool(value)
    if kind is Kind.DATE:
        return value
    return str(value)


def instant_text(value: datetime) -> str:
    """An instant as the sheet shows it: to the minute, in the zone it is given in (the team's,
    ``PREORDER_TIMEZONE``), named: ``2027-01-04 05:00 America/New_York``, ``... 10:00 UTC``."""
    return f"{value.strftime(INSTANT_FORMAT)} {zone_label(value.tzinfo, value)}"


def zone_label(zone: tzinfo | None, at: datetime) -> str:
    """A zone by its name (``America/New_York``, not ``EST``), UTC for none."""
    if zone is None:
        return "UTC"
    return str(getattr(zone, "key", None) or zone.tzname(at) or "UTC")


def parse(kind: Kind, raw: Value) -> Any:
    """A cell as read, as its column's kind; raises ``CellError`` naming what is wrong."""
    if kind is Kind.BOOL:
        return _boolean(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if kind is Kind.INT:
        return _whole(raw)
    if kind is Kind.DATE:
        return _day(raw)
    if kind is Kind.INSTANT:
        return raw.strip() if isinstance(raw, str) else _text(raw)
    return _text(raw)


def same(kind: Kind, raw: Value, wanted: Any) -> bool:
    """Whether the cell already holds ``wanted`` (a database value, or None for empty)."""
    try:
        got = parse(kind, raw)
    except CellError:
        return False
    if kind is Kind.INSTANT and wanted is not None:
        wanted = to_sheet(kind, wanted)
    if kind is Kind.BOOL:
        return got == bool(wanted)
    return got == wanted


def same_as_stored(kind: Kind, raw: Value, stored: Any) -> bool:
    """Whether the cell holds what the snapshot keeps (``encode``'s form) as written there."""
    if type(raw) is type(stored) and raw == stored:
        # Most cells, as written: read back as kept (a date aside), nothing to parse.
        return True
    if kind is Kind.INSTANT:
        # Kept as the text written.
        try:
            return bool(parse(kind, raw) == stored)
        except CellError:
            return False
    return same(kind, raw, decode(kind, stored))


def stored_to_sheet(kind: Kind, stored: Any) -> Value:
    """What the snapshot keeps (``encode``'s form) as written to the spreadsheet."""
    if kind is Kind.INSTANT:
        return None if stored is None else str(stored)
    return to_sheet(kind, decode(kind, stored))


def written(value: Value) -> str:
    """A value the sync writes as the spreadsheet shows it, for a Status."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return shown(value)


def encode(kind: Kind, value: Any) -> Any:
    """A database value as kept in the snapshot (JSON)."""
    if value is None:
        return None
    if kind is Kind.DATE:
        return value.isoformat()
    if kind is Kind.INSTANT:
        return to_sheet(kind, value)
    return value


def decode(kind: Kind, stored: Any) -> Any:
    if stored is None:
        return None
    if kind is Kind.DATE:
        return date.fromisoformat(stored)
    return stored


def shown(value: Any) -> str:
    """A value as a person reads it in a Status message."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _text(raw: Value) -> str:
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    return str(raw).strip()


def _whole(raw: Value) -> int:
    if isinstance(raw, bool):
        raise CellError(f"{_text(raw)} where a whole number belongs")
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, float):
        if not raw.is_integer():
            raise CellError(f"{raw} is not a whole number")
        number = int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        # ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
        if not _WHOLE.fullmatch(text):
            raise CellError(f"text {text!r} where a whole number belongs")
        number = int(text)
    else:
        raise CellError(f"{_text(raw)!r} where a whole number belongs")
    # Every whole-number column is a 32-bit INTEGER in the database.
    if number > INT_MAX:
        raise CellError(f"{number} is too large: a whole number here is at most {INT_MAX:,}")
    if number < -INT_MAX:
        raise CellError(f"{number} is too small: a whole number here is at least -{INT_MAX:,}")
    return number


def _day(raw: Value) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, bool):
        raise CellError(f"{_text(raw)} where a date belongs")
    if isinstance(raw, int | float):
        if not 1 <= raw < 2_958_466:  # Sheets' own range: 1899-12-31 .. 9999-12-31
            raise CellError(f"{raw} is not a date")
        return EPOCH + timedelta(days=int(raw))
    text = str(raw).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CellError(f"text {text!r} where a date belongs (write YYYY-MM-DD)") from None


def _boolean(raw: Value) -> bool:
    if raw is None or raw is False or raw == "":
        return False
    if raw is True:
        return True
    if isinstance(raw, str) and raw.strip().upper() in ("TRUE", "FALSE"):
        return raw.strip().upper() == "TRUE"
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    raise CellError(f"{_text(raw)!r} where a checkbox belongs (TRUE or FALSE)")
