"""What the Google Sheets backend sends, built by pure functions: A1 ranges, RAW cell values,
values:batchUpdate bodies, and the ``spreadsheets:batchUpdate`` requests that set a tab up and
move its rows. Nothing here makes a request or keeps state; ``sheets.google`` sends what these
build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl.utils import column_index_from_string, get_column_letter

from sheets.backend import Moves, TabChanges, Value
from sheets.layout import KEY, Kind, Tab

# A Sheets API request or reply, as the JSON it is sent or answered as.
Request = dict[str, Any]

EPOCH = date(1899, 12, 30)  # day 0 of Sheets date serial numbers
PROTECTION = "Written by preorder sync; edits here are overwritten"
# Google recommends request bodies under 2 MB; leave room for what we do not measure.
BODY_LIMIT = 1_500_000
# One ValueRange of a long block stays around this size, so bodies pack evenly.
PIECE_LIMIT = 256 * 1024
NEW_TAB_ROWS = 1000  # Google's defaults for a new tab
FROZEN_ROWS = 1  # setup freezes the header row
NEW_TAB_COLUMNS = 26
READ_ONLY_GREY = {"red": 0.93, "green": 0.93, "blue": 0.93}
DATE_PATTERN = "yyyy-mm-dd"
_VALUES_PREFIX = b'{"valueInputOption":"RAW","data":['
_VALUES_SUFFIX = b"]}"
_GRID_RANGE = re.compile(r"!([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?$")


# --- A1 notation and cell values ------------------------------------------------------------------


def quote(title: str) -> str:
    """A tab name as a range: always quoted, so names with spaces or digits parse."""
    return "'" + title.replace("'", "''") + "'"


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    return get_column_letter(index + 1)


def a1_range(title: str, r0: int, c0: int, r1: int, c1: int) -> str:
    """``'Tab'!C5:E6`` for 0-based rows r0..r1 and columns c0..c1, inclusive."""
    start = f"{column_letters(c0)}{r0 + 1}"
    end = f"{column_letters(c1)}{r1 + 1}"
    return f"{quote(title)}!{start}" if start == end else f"{quote(title)}!{start}:{end}"


def grid_size(range_text: str) -> tuple[int, int] | None:
    """(rows, columns) of the grid from the range a whole-tab read is answered with."""
    found = _GRID_RANGE.search(range_text)
    if found is None:
        return None
    col, row = (found.group(3), found.group(4)) if found.group(3) else found.group(1, 2)
    return int(row), column_index_from_string(col)


def cell_json(value: Value) -> str | int | float | bool:
    """A cell as RAW input: None empties the cell, a date becomes its serial number."""
    if value is None:
        return ""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        midnight = datetime.combine(value.date(), datetime.min.time(), value.tzinfo)
        return (value.date() - EPOCH).days + (value - midnight).total_seconds() / 86400
    if isinstance(value, date):
        return (value - EPOCH).days
    raise TypeError(f"cannot write {value!r} to a spreadsheet cell")


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


Piece = tuple[bytes, int]  # one serialized ValueRange and the number of cells in it


def block_pieces(title: str, r0: int, c0: int, rows: Sequence[Sequence[Value]]) -> Iterator[Piece]:
    """ValueRanges writing ``rows`` from (r0, c0), several rows to a range, each range small
    enough that request bodies can be filled evenly."""
    encoded = [_dumps([cell_json(v) for v in row]) for row in rows]
    i = 0
    while i < len(rows):
        j, size = i, 0
        while j < len(rows) and (j == i or size + len(encoded[j]) < PIECE_LIMIT):
            size += len(encoded[j]) + 1
            j += 1
        width = max(1, *(len(row) for row in rows[i:j]))
        where = a1_range(title, r0 + i, c0, r0 + j - 1, c0 + width - 1)
        body = b'{"range":' + _dumps(where) + b',"values":[' + b",".join(encoded[i:j]) + b"]}"
        yield body, sum(len(row) for row in rows[i:j])
        i = j


def cell_blocks(cells: dict[tuple[int, int], Value]) -> list[tuple[int, int, list[list[Value]]]]:
    """Single cells gathered into rectangles (r0, c0, rows): adjacent cells of a row first, then
    the same span on consecutive rows, so that a whole row or a whole column is one range."""
    runs: list[tuple[int, int, list[Value]]] = []  # (row, first column, values)
    for (row, col), value in sorted(cells.items()):
        last = runs[-1] if runs else None
        if last and last[0] == row and last[1] + len(last[2]) == col:
            last[2].append(value)
        else:
            runs.append((row, col, [value]))
    blocks: list[tuple[int, int, list[list[Value]]]] = []
    for row, col, values in sorted(runs, key=lambda run: (run[1], len(run[2]), run[0])):
        above = blocks[-1] if blocks else None
        if (
            above
            and above[1] == col
            and len(above[2][0]) == len(values)
            and above[0] + len(above[2]) == row
        ):
            above[2].append(values)
        else:
            blocks.append((row, col, [values]))
    return blocks


def pack(pieces: Iterable[Piece]) -> Iterator[Piece]:
    """values:batchUpdate bodies under BODY_LIMIT (a single larger piece goes alone)."""
    batch: list[bytes] = []
    size = len(_VALUES_PREFIX) + len(_VALUES_SUFFIX)
    cells = 0
    for piece, count in pieces:
        if batch and size + len(piece) + 1 > BODY_LIMIT:
            yield _VALUES_PREFIX + b",".join(batch) + _VALUES_SUFFIX, cells
            batch, size, cells = [], len(_VALUES_PREFIX) + len(_VALUES_SUFFIX), 0
        batch.append(piece)
        size += len(piece) + 1
        cells += count
    if batch:
        yield _VALUES_PREFIX + b",".join(batch) + _VALUES_SUFFIX, cells


def positions_of(header: Sequence[Value]) -> dict[str, int]:
    """Column index by header text; the first wins if a header appears twice."""
    found: dict[str, int] = {}
    for i, text in enumerate(header):
        if isinstance(text, str) and text and text not in found:
            found[text] = i
    return found


# --- batchUpdate requests: ranges -----------------------------------------------------------------


def grid_range(sheet_id: int, r0: int | None, r1: int | None, c0: int, c1: int) -> dict[str, int]:
    """A GridRange; None leaves that end open (the whole column)."""
    where = {"sheetId": sheet_id, "startColumnIndex": c0, "endColumnIndex": c1}
    if r0 is not None:
        where["startRowIndex"] = r0
    if r1 is not None:
        where["endRowIndex"] = r1
    return where


def range_key(where: dict[str, Any]) -> tuple[int | None, ...]:
    """A GridRange as a comparable key; Google leaves zero indexes out of its answers."""
    return (
        where.get("sheetId", 0),
        where.get("startRowIndex", 0),
        where.get("endRowIndex"),
        where.get("startColumnIndex", 0),
        where.get("endColumnIndex"),
    )


def dimension_range(sheet_id: int, dimension: str, start: int, end: int) -> dict[str, Any]:
    return {"sheetId": sheet_id, "dimension": dimension, "startIndex": start, "endIndex": end}


def append_dimension(sheet_id: int, dimension: str, length: int) -> Request:
    return {"appendDimension": {"sheetId": sheet_id, "dimension": dimension, "length": length}}


# --- batchUpdate requests: setting a tab up -------------------------------------------------------


def add_tab(sheet_id: int, title: str, rows: int, cols: int) -> Request:
    """A new tab of ``rows`` x ``cols`` with its header row frozen."""
    grid = {"rowCount": rows, "columnCount": cols, "frozenRowCount": FROZEN_ROWS}
    props = {"sheetId": sheet_id, "title": title, "gridProperties": grid}
    return {"addSheet": {"properties": props}}


def reshape_tab(sheet_id: int, rows: int, cols: int, width: int) -> tuple[list[Request], int, int]:
    """Room for ``width`` columns in a tab of ``rows`` x ``cols``, and its header row frozen;
    with the grid's size afterwards."""
    found: list[Request] = []
    if width > cols:
        found.append(append_dimension(sheet_id, "COLUMNS", width - cols))
        cols = width
    if rows <= FROZEN_ROWS:  # Google refuses to freeze every row of a tab
        found.append(append_dimension(sheet_id, "ROWS", FROZEN_ROWS + 1 - rows))
        rows = FROZEN_ROWS + 1
    props = {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": FROZEN_ROWS}}
    found.append(
        {"updateSheetProperties": {"properties": props, "fields": "gridProperties.frozenRowCount"}}
    )
    return found, rows, cols


def decorate(sheet_id: int, tab: Tab, positions: dict[str, int]) -> list[Request]:
    """The header's look and notes, the hidden Key, and every data row's formats and
    validation (``column_requests``); ``positions``: each of the tab's headers' column."""
    found: list[Request] = []
    for column in tab.columns:
        c = positions[column.header]
        fmt = {"backgroundColorStyle": {"rgbColor": READ_ONLY_GREY}, "textFormat": {"bold": True}}
        found.append(
            {
                "repeatCell": {
                    "range": grid_range(sheet_id, 0, 1, c, c + 1),
                    "cell": {"userEnteredFormat": fmt},
                    "fields": "userEnteredFormat(backgroundColorStyle,textFormat.bold)",
                }
            }
        )
        if column.note:
            start = {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": c}
            rows = [{"values": [{"note": column.note}]}]
            found.append({"updateCells": {"start": start, "rows": rows, "fields": "note"}})
        if column.header == KEY:
            found.append(
                {
                    "updateDimensionProperties": {
                        "range": dimension_range(sheet_id, "COLUMNS", c, c + 1),
                        "properties": {"hiddenByUser": True},
                        "fields": "hiddenByUser",
                    }
                }
            )
    return found + column_requests(sheet_id, tab, positions, 1, None)


def column_requests(
    sheet_id: int, tab: Tab, positions: dict[str, int], r0: int, r1: int | None
) -> list[Request]:
    """Grey fill on read-only columns, date formats and data validation, on rows r0..r1.

    Run by setup on every data row, and by a write on the rows it adds at the end of the grid:
    Google keeps formats and validation per cell, and appended rows inherit none (rows inserted
    among the data take their neighbour's, see ``insert_rows``)."""
    found: list[Request] = []
    for column in tab.columns:
        c = positions.get(column.header)
        if c is None:
            continue
        where = grid_range(sheet_id, r0, r1, c, c + 1)
        fmt: dict[str, Any] = {}
        if not column.editable:
            fmt["backgroundColorStyle"] = {"rgbColor": READ_ONLY_GREY}
        if column.kind is Kind.DATE:
            fmt["numberFormat"] = {"type": "DATE", "pattern": DATE_PATTERN}
        if fmt:
            found.append(
                {
                    "repeatCell": {
                        "range": where,
                        "cell": {"userEnteredFormat": fmt},
                        "fields": f"userEnteredFormat({','.join(fmt)})",
                    }
                }
            )
        rule = validation_rule(column.kind, column.choices) if column.editable else None
        if rule is not None:
            found.append({"setDataValidation": {"range": where, "rule": rule}})
    return found


def validation_rule(kind: Kind, choices: tuple[str, ...]) -> dict[str, Any] | None:
    if kind is Kind.BOOL:
        return {"condition": {"type": "BOOLEAN"}}
    if choices:
        # Not strict: a typed "move to PO:LINE" is allowed and checked by the sync.
        values = [{"userEnteredValue": choice} for choice in choices]
        return {
            "condition": {"type": "ONE_OF_LIST", "values": values},
            "strict": False,
            "showCustomUi": True,
        }
    if kind is Kind.DATE:
        return {"condition": {"type": "DATE_IS_VALID"}, "strict": False}
    return None


def protection_requests(
    sheet_id: int, tab: Tab, positions: dict[str, int], existing: Sequence[dict[str, Any]]
) -> list[Request]:
    """One warning-only protected range per column: the whole column when the sync owns it,
    the header cell when people edit it. ``existing``: the sync's protected ranges on the tab
    (by their description); those where one is wanted stay, the others are deleted.

    One range per column moves with its column when a person drags it, so a rerun finds every
    range where it wants it and adds nothing."""
    wanted = {}
    for column in tab.columns:
        c = positions[column.header]
        rows: tuple[int | None, int | None] = (None, None) if not column.editable else (0, 1)
        where = grid_range(sheet_id, *rows, c, c + 1)
        wanted[range_key(where)] = where
    found: list[Request] = []
    for protected in existing:
        key = range_key(protected.get("range") or {})
        if key in wanted and protected.get("warningOnly"):
            del wanted[key]
        else:  # ours, left over from another layout
            found.append(
                {"deleteProtectedRange": {"protectedRangeId": protected["protectedRangeId"]}}
            )
    for where in wanted.values():
        protected_range = {"range": where, "description": PROTECTION, "warningOnly": True}
        found.append({"addProtectedRange": {"protectedRange": protected_range}})
    return found


# --- batchUpdate requests: moving rows ------------------------------------------------------------


def keep_a_row(change: TabChanges, rows: int, cols: int) -> TabChanges:
    """``change`` to a tab of ``rows`` x ``cols`` with at least one row kept below the frozen
    header: Google refuses to delete every non-frozen row, which a tab grown to fit its rows
    meets when they all go. The last of them stays, cleared, or holding the first appended
    row."""
    deleted = sorted(set(change.delete))
    if not deleted or rows - len(deleted) > FROZEN_ROWS:
        return change
    kept, append = deleted[-1], list(change.append)
    values = append.pop(0) if append and len(append[0]) <= cols else []
    cleared = [*values, *[None] * (cols - len(values))]
    return TabChanges(
        cells=[*change.cells, *((kept, c, v) for c, v in enumerate(cleared))],
        append=append,
        delete=deleted[:-1],
        insert=change.insert,
    )


def title_check(sheet_id: int, title: str) -> Request:
    """Set the title the tab should already have: the whole batch then fails, rather than
    change another tab, if a person renamed the tab and gave its name to a new one."""
    return {
        "updateSheetProperties": {
            "properties": {"sheetId": sheet_id, "title": title},
            "fields": "title",
        }
    }


def delete_rows(sheet_id: int, deleted: Sequence[int]) -> list[Request]:
    """Delete the sorted rows, bottom-up, so the indexes of the rows still to delete stay
    valid."""
    return [
        {"deleteDimension": {"range": dimension_range(sheet_id, "ROWS", start, end)}}
        for start, end in _runs_descending(deleted)
    ]


def insert_rows(sheet_id: int, moves: Moves) -> list[Request]:
    """Open the rows ``moves`` inserts, bottom-up too, counted after the deletions, so each
    index is still where it was."""
    found: list[Request] = []
    for anchor in reversed(moves.anchors):
        at = moves.after_deletions(anchor)
        count = len(moves.above[anchor])
        # The new rows take the formats and dropdowns of the row below them, as
        # insertDimension documents (inheritFromBefore false): that row is a data row that
        # stays, where the row above may be the header.
        where = dimension_range(sheet_id, "ROWS", at, at + count)
        found.append({"insertDimension": {"range": where, "inheritFromBefore": False}})
    return found


def _runs_descending(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted row indexes as (start, end) runs of adjacent rows, the last run first."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs[::-1]
