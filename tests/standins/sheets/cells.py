"""Cell values for the Sheets stand-in: how input is stored and how it reads back.

The rules are the Sheets v4 ones the sync relies on:

* RAW input is stored as given: a string stays a string (``"=1+1"``, ``"007"``), JSON numbers and
  booleans keep their type, ``""`` clears the cell and ``null`` leaves it alone.
* USER_ENTERED input is parsed as if typed (en_US): ``=...`` is a formula, ``'...`` is text,
  ``TRUE``/``FALSE`` booleans, ``007``/``1,250``/``12%`` numbers, ``2027-01-04`` or
  ``1/4/2027`` (and ``2027-01-04 09:30``) dates.
* A date is a serial number (days since 1899-12-30) carrying a date pattern, as in Sheets.
  UNFORMATTED_VALUE reads the serial number (or, with ``dateTimeRenderOption=FORMATTED_STRING``,
  the text); FORMATTED_VALUE reads the text in the cell's pattern: ISO ``2027-01-04`` for dates
  typed that way or written with a ``yyyy-mm-dd`` format, ``1/4/2027`` for dates typed US-style.
* Formulas: only constant arithmetic (``=1+2*3``) is evaluated; anything else evaluates to
  ``#ERROR!``. FORMULA render reads the formula text, the other renders read the result.
* Numbers read back as JSON numbers, integral ones as ints (``5``, not ``5.0``), as Google does;
  formatted, integers print plainly and fractions with up to 10 decimals.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

EPOCH = dt.date(1899, 12, 30)
ISO_DATE = "yyyy-mm-dd"
US_DATE = "M/d/yyyy"
ISO_DATE_TIME = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT_TYPES = {"DATE", "DATE_TIME", "TIME"}

RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
DATE_OPTIONS = ("SERIAL_NUMBER", "FORMATTED_STRING")
INPUT_OPTIONS = ("RAW", "USER_ENTERED")


class ApiError(Exception):
    """An error answer in Google's shape: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, message: str, status: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def invalid(message: str) -> ApiError:
    return ApiError(400, message, "INVALID_ARGUMENT")


@dataclass(frozen=True, slots=True)
class DateCell:
    """A number shown as a date: what a typed date, or a number in a date-formatted cell, is."""

    serial: float
    pattern: str = ISO_DATE


@dataclass(frozen=True, slots=True)
class ErrorValue:
    code: str


@dataclass(frozen=True, slots=True)
class Formula:
    text: str
    value: Any


class _Skip:
    """``null`` in written values: Sheets leaves that cell as it was."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()


# --- A1 notation --------------------------------------------------------------------------------


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    """A -> 0, Z -> 25, AA -> 26 (case-insensitive)."""
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index - 1


def a1(row: int, col: int) -> str:
    return f"{column_letters(col)}{row + 1}"


def a1_box(r0: int, r1: int, c0: int, c1: int) -> str:
    """A1 text of rows [r0, r1) x columns [c0, c1); one cell prints as ``B2``."""
    start, end = a1(r0, c0), a1(r1 - 1, c1 - 1)
    return start if start == end else f"{start}:{end}"


_PLAIN_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKS_LIKE_CELL = re.compile(r"[A-Za-z]{1,3}\d+|[Rr]\d+[Cc]\d+")


def sheet_prefix(title: str) -> str:
    """A title as Google prints it in ranges: quoted unless a plain word that is not a cell."""
    if _PLAIN_TITLE.fullmatch(title) and not _LOOKS_LIKE_CELL.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


# --- input --------------------------------------------------------------------------------------


def number(value: float) -> int | float:
    """Sheets keeps doubles; integral ones travel as JSON ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def check_json_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, str | bool | int | float):
        return
    kind = "list_value" if isinstance(value, list) else "struct_value"
    raise invalid(f"Invalid {where}: {kind} {json_like(value)}")


def json_like(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def raw_input(value: Any) -> Any:
    """RAW: stored as given (already type-checked)."""
    if value is None:
        return SKIP
    if value == "" and isinstance(value, str):
        return None
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value)
    return value


_NUMBER = re.compile(r"[+-]?(?=\.?\d)(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d*)?(?:[eE][+-]?\d+)?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def user_input(value: Any) -> Any:
    """USER_ENTERED: strings parsed as if typed into a cell (en_US locale)."""
    if not isinstance(value, str):
        return raw_input(value)
    text = value.strip()
    if text == "":
        return None
    if value.startswith("'"):
        return value[1:]
    if text.startswith("=") and len(text) > 1:
        return Formula(text, evaluate(text[1:]))
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    parsed = parse_number(text)
    if parsed is not None:
        return parsed
    date = parse_date(text)
    return date if date is not None else value


def parse_number(text: str) -> int | float | None:
    percent = text.endswith("%")
    body = text[:-1] if percent else text
    if not any(ch.isdigit() for ch in body) or not _NUMBER.fullmatch(body):
        return None
    result = float(body.replace(",", ""))
    return number(result / 100 if percent else result)


def parse_date(text: str) -> DateCell | None:
    try:
        if m := _ISO.fullmatch(text):
            year, month, day, hour, minute, second = m.groups()
            serial = float(date_serial(dt.date(int(year), int(month), int(day))))
            if hour is None:
                return DateCell(number(serial), ISO_DATE)
            if int(hour) > 23:
                return None
            fraction = (int(hour) * 3600 + int(minute) * 60 + int(second or 0)) / 86400
            return DateCell(number(serial + fraction), ISO_DATE_TIME)
        if m := _US.fullmatch(text):
            month, day, year = (int(g) for g in m.groups())
            return DateCell(date_serial(dt.date(year, month, day)), US_DATE)
    except ValueError:  # 2027-02-30 is text, as in Sheets
        return None
    return None


def date_serial(day: dt.date) -> int:
    return (day - EPOCH).days


def serial_date(serial: float) -> dt.date:
    return EPOCH + dt.timedelta(days=math.floor(serial))


def person_input(value: Any) -> Any:
    """What a person's typing stores: strings as USER_ENTERED, Python dates as dates."""
    if isinstance(value, dt.datetime):
        midnight = dt.datetime.combine(value.date(), dt.time())
        fraction = (value - midnight).total_seconds() / 86400
        return DateCell(number(date_serial(value.date()) + fraction), ISO_DATE_TIME)
    if isinstance(value, dt.date):
        return DateCell(date_serial(value), ISO_DATE)
    if value is None:
        return None
    return user_input(value)


_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate(expression: str) -> Any:
    """Constant arithmetic only; the stand-in is no spreadsheet engine."""
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
        return number(float(_eval(tree.body)))
    except ZeroDivisionError:
        return ErrorValue("#DIV/0!")
    except (SyntaxError, ValueError, TypeError, OverflowError):
        return ErrorValue("#ERROR!")


def _eval(node: ast.AST) -> float:
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_eval(node.operand))
    raise ValueError("unsupported formula")


# --- output -------------------------------------------------------------------------------------


def render(value: Any, option: str, dates: str, date_pattern: str | None = None) -> Any:
    """One stored value as the API returns it. ``date_pattern``: the cell's date format, if any."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return ("TRUE" if value else "FALSE") if option == "FORMATTED_VALUE" else value
    if kind is int or kind is float:
        if date_pattern is not None:
            return render(DateCell(value, date_pattern), option, dates)
        return format_number(value) if option == "FORMATTED_VALUE" else value
    if kind is DateCell:
        if option == "FORMATTED_VALUE" or dates == "FORMATTED_STRING":
            return format_date(value.serial, value.pattern)
        return value.serial
    if kind is Formula:
        return value.text if option == "FORMULA" else render(value.value, option, dates)
    if kind is ErrorValue:
        return value.code
    raise TypeError(f"unexpected cell value {value!r}")


def format_number(value: float) -> str:
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if abs(value) >= 1e15:
        mantissa, exponent = f"{value:.5E}".split("E")
        return f"{mantissa.rstrip('0').rstrip('.')}E{exponent}"
    return f"{value:.10f}".rstrip("0").rstrip(".") or "0"


_DATE_TOKENS = re.compile(r"yyyy|yy|MM|M|mm|m|dd|d|HH|H|hh|h|ss|s")


def format_date(serial: float, pattern: str) -> str:
    """``serial`` in a Sheets date pattern (common tokens; ``mm`` after an hour is minutes)."""
    whole = math.floor(serial)
    moment = dt.datetime.combine(serial_date(whole), dt.time()) + dt.timedelta(
        seconds=round((serial - whole) * 86400)
    )
    seen_hour = False

    def token(match: re.Match[str]) -> str:
        nonlocal seen_hour
        t = match.group()
        if t in ("yyyy", "yy"):
            return f"{moment.year:04d}" if t == "yyyy" else f"{moment.year % 100:02d}"
        if t[0] in "Hh":
            seen_hour = True
            return f"{moment.hour:0{len(t)}d}"
        if t[0] == "s":
            return f"{moment.second:0{len(t)}d}"
        if t[0] == "d":
            return f"{moment.day:0{len(t)}d}"
        if t[0] == "m" and seen_hour:
            return f"{moment.minute:0{len(t)}d}"
        return f"{moment.month:0{len(t)}d}"

    return _DATE_TOKENS.sub(token, pattern)


def cell_data_value(cell: dict[str, Any]) -> Any:
    """The value an ``updateCells``/``repeatCell`` CellData writes (``userEnteredValue``)."""
    entered = cell.get("userEnteredValue")
    if not entered:
        return None
    if "formulaValue" in entered:
        return user_input(entered["formulaValue"])
    if "numberValue" in entered:
        pattern = date_pattern_of(cell.get("userEnteredFormat", {}).get("numberFormat"))
        value = number(float(entered["numberValue"]))
        return DateCell(value, pattern) if pattern else value
    if "boolValue" in entered:
        return bool(entered["boolValue"])
    if "stringValue" in entered:
        return str(entered["stringValue"]) or None
    raise invalid(f"Unsupported userEnteredValue: {json_like(entered)}")


def date_pattern_of(number_format: dict[str, Any] | None) -> str | None:
    if not number_format or number_format.get("type") not in DATE_FORMAT_TYPES:
        return None
    default = ISO_DATE if number_format["type"] == "DATE" else ISO_DATE_TIME
    return number_format.get("pattern") or default


def entered_value(value: Any) -> dict[str, Any]:
    """CellData.userEnteredValue of a stored value (for ``includeGridData``)."""
    if isinstance(value, Formula):
        return {"formulaValue": value.text}
    if isinstance(value, DateCell):
        return {"numberValue": value.serial}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int | float):
        return {"numberValue": value}
    if isinstance(value, ErrorValue):
        return {"errorValue": {"type": "ERROR", "message": value.code}}
    return {"stringValue": value}
