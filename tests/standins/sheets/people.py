"""What a person editing a tab in the browser may do: the cell they mean, the column they pick by
header or letter, and what the browser refuses (strict data validation, protected ranges that
are not warning-only)."""

from __future__ import annotations

import re
from typing import Any

from tests.standins.sheets.cells import column_index, render
from tests.standins.sheets.grid import Sheet, parse_a1

UNFORMATTED = ("UNFORMATTED_VALUE", "SERIAL_NUMBER")


def cell_at(sheet: Sheet, a1: str) -> tuple[int, int]:
    area = parse_a1(sheet, a1)
    if area is None or not area.anchor:
        raise ValueError(f"{a1!r} is not one cell")
    return area.r0, area.c0


def column_at(sheet: Sheet, ref: str | int) -> int:
    """A column by 1-based number, by header text in row 1, or by letter (headers win)."""
    if isinstance(ref, int):
        return ref - 1
    header = sheet.read(0, 1, 0, sheet.col_count, "FORMATTED_VALUE", "SERIAL_NUMBER")
    if header and ref in header[0]:
        return header[0].index(ref)
    if re.fullmatch(r"[A-Za-z]{1,3}", ref):
        return column_index(ref)
    raise LookupError(f"no column {ref!r} in {sheet.title!r}; headers: {header[:1]}")


def guard(sheet: Sheet, r0: int, r1: int, c0: int, c1: int) -> None:
    """The browser refuses a person's change to a protected range that is not warning-only."""
    for protected in sheet.protected:
        grid = protected["range"]
        rows = grid.get("startRowIndex", 0) < r1 and r0 < grid.get("endRowIndex", r1)
        cols = grid.get("startColumnIndex", 0) < c1 and c0 < grid.get("endColumnIndex", c1)
        if rows and cols and not protected.get("warningOnly"):
            raise PermissionError(f"{sheet.title!r}: protected range {protected!r}")


def check_person_edit(sheet: Sheet, row: int, col: int, value: Any) -> None:
    guard(sheet, row, row + 1, col, col + 1)
    rule = sheet.rule_at(row, col)
    if not rule or not rule.get("strict") or value is None:
        return
    condition = rule.get("condition") or {}
    allowed = [v.get("userEnteredValue") for v in condition.get("values") or []]
    kind = condition.get("type")
    shown = render(value, "FORMATTED_VALUE", "SERIAL_NUMBER")
    if kind == "ONE_OF_LIST" and shown not in allowed:
        raise ValueError(f"{shown!r} is not one of {allowed} (strict validation)")
    if kind == "BOOLEAN" and not isinstance(value, bool) and shown not in allowed:
        raise ValueError(f"{shown!r} is not a checkbox value (strict validation)")
