"""The ``spreadsheets.values`` endpoints of the Sheets stand-in: get, batchGet, update,
batchUpdate, append, clear and batchClear, with Google's response shapes and counts.

Writes are checked before anything is stored (a batch is all or nothing), must fit the grid
(``exceeds grid limits``: grow it with appendDimension or updateSheetProperties first; only
``append`` grows the sheet) and must fit the range they name (``Requested writing within
range ...``); a single cell (``'Tab'!B2``) or a whole tab (``'Tab'``) is an anchor the values
extend from. Counts are those of the cells written (``null`` skips a cell and is not counted;
``""`` clears it and is), and like every Google JSON response, zero counts are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.standins.sheets.cells import (
    DATE_OPTIONS,
    INPUT_OPTIONS,
    RENDER_OPTIONS,
    SKIP,
    ApiError,
    a1_box,
    check_json_value,
    column_letters,
    invalid,
    raw_input,
    user_input,
)
from tests.standins.sheets.grid import Area, Book, Sheet, exceeds

Params = dict[str, list[str]]
_ENUM_TYPES = {
    "valueRenderOption": ("value_render_option", "ValueRenderOption"),
    "responseValueRenderOption": ("response_value_render_option", "ValueRenderOption"),
    "dateTimeRenderOption": ("date_time_render_option", "DateTimeRenderOption"),
    "responseDateTimeRenderOption": ("response_date_time_render_option", "DateTimeRenderOption"),
    "majorDimension": ("major_dimension", "Dimension"),
    "valueInputOption": ("value_input_option", "ValueInputOption"),
    "insertDataOption": ("insert_data_option", "InsertDataOption"),
}


def option(
    params: Params | dict[str, Any], name: str, default: str, choices: tuple[str, ...]
) -> str:
    """One enum query parameter (or body field), refused as Google refuses a bad enum."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value in (None, "", "DIMENSION_UNSPECIFIED"):
        return default
    if value not in choices:
        field, kind = _ENUM_TYPES.get(name, (name, name))
        raise invalid(
            f"Invalid value at '{field}' (type.googleapis.com/google.apps.sheets.v4.{kind}), "
            f'"{value}"'
        )
    return value


def input_option(params: Params | dict[str, Any]) -> str:
    value = option(params, "valueInputOption", "", INPUT_OPTIONS)
    if not value:
        raise invalid("Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
    return value


def flag(params: Params | dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    return value is True or str(value).lower() == "true"


def _read_options(params: Params | dict[str, Any], prefix: str = "") -> tuple[str, str]:
    render_name = f"{prefix}ValueRenderOption" if prefix else "valueRenderOption"
    dates_name = f"{prefix}DateTimeRenderOption" if prefix else "dateTimeRenderOption"
    return (
        option(params, render_name, "FORMATTED_VALUE", RENDER_OPTIONS),
        option(params, dates_name, "SERIAL_NUMBER", DATE_OPTIONS),
    )


def value_range(book: Book, text: str, render: str, dates: str, major: str) -> dict[str, Any]:
    area = book.parse_range(text)
    r0, r1, c0, c1 = area.bounds()
    found = area.sheet.read(r0, r1, c0, c1, render, dates, major)
    answer: dict[str, Any] = {"range": area.sheet.ref(r0, r1, c0, c1), "majorDimension": major}
    if found:
        answer["values"] = found
    return answer


def get(book: Book, text: str, params: Params) -> dict[str, Any]:
    major = option(params, "majorDimension", "ROWS", ("ROWS", "COLUMNS"))
    return value_range(book, text, *_read_options(params), major)


def batch_get(book: Book, params: Params) -> dict[str, Any]:
    major = option(params, "majorDimension", "ROWS", ("ROWS", "COLUMNS"))
    render, dates = _read_options(params)
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    ranges = params.get("ranges", [])
    if ranges:
        answer["valueRanges"] = [value_range(book, r, render, dates, major) for r in ranges]
    return answer


@dataclass
class Write:
    """A checked write, stored by :meth:`apply`."""

    sheet: Sheet
    r0: int
    c0: int
    matrix: list[list[Any]]
    rows: int = 0
    columns: int = 0
    cells: int = 0
    box: tuple[int, int, int, int] = (0, 1, 0, 1)

    def apply(self) -> None:
        self.sheet.write(self.r0, self.c0, self.matrix)

    def counts(self, spreadsheet_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "spreadsheetId": spreadsheet_id,
            "updatedRange": self.sheet.ref(*self.box),
            "updatedRows": self.rows,
            "updatedColumns": self.columns,
            "updatedCells": self.cells,
        }
        return {k: v for k, v in answer.items() if v != 0}


def convert(values: Any, major: str, input_kind: str) -> list[list[Any]]:
    """Type-check and convert written values; ``null`` becomes SKIP."""
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise invalid(
            "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue)"
        )
    if major == "COLUMNS":
        height = max((len(col) for col in values), default=0)
        values = [[col[i] if i < len(col) else None for col in values] for i in range(height)]
    parse: Callable[[Any], Any] = raw_input if input_kind == "RAW" else user_input
    matrix = []
    for i, row in enumerate(values):
        out = []
        for j, value in enumerate(row):
            if type(value) is str and input_kind == "RAW":
                out.append(value or None)  # the common case, kept quick for big pushes
                continue
            check_json_value(value, f"values[{i}][{j}]")
            out.append(parse(value))
        matrix.append(out)
    return matrix


def plan(book: Book, text: str, values: Any, major: str, input_kind: str) -> Write:
    area = book.parse_range(text)
    area.bounds()
    return _plan(area, text, convert(values, major, input_kind))


def _plan(area: Area, text: str, matrix: list[list[Any]]) -> Write:
    sheet = area.sheet
    r0, r1, c0, c1 = area.bounds()
    height, width = len(matrix), max((len(row) for row in matrix), default=0)
    if r0 + height > sheet.row_count or c0 + width > sheet.col_count:
        box = a1_box(r0, r0 + max(height, 1), c0, c0 + max(width, 1))
        raise exceeds(sheet.title, box, sheet.row_count, sheet.col_count)
    if not area.anchor and (area.r1 is not None or area.c1 is not None or area.r0 or area.c0):
        if height > r1 - r0:
            raise invalid(
                f"Requested writing within range [{text}], but tried writing to row [{r1 + 1}]"
            )
        if width > c1 - c0:
            raise invalid(
                f"Requested writing within range [{text}], but tried writing to column "
                f"[{column_letters(c1)}]"
            )
    write = Write(sheet, r0, c0, matrix, box=(r0, r0 + 1, c0, c0 + 1))
    rows: set[int] = set()
    columns: set[int] = set()
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value is not SKIP:
                rows.add(i)
                columns.add(j)
                write.cells += 1
    if write.cells:
        write.rows, write.columns = len(rows), len(columns)
        write.box = (r0, r0 + max(rows) + 1, c0, c0 + max(columns) + 1)
    return write


def _with_data(book: Book, write: Write, params: Params | dict[str, Any]) -> dict[str, Any]:
    answer = write.counts(book.id)
    if flag(params, "includeValuesInResponse"):
        render, dates = _read_options(params, "response")
        answer["updatedData"] = value_range(
            book, write.sheet.ref(*write.box), render, dates, "ROWS"
        )
    return answer


def update(book: Book, text: str, params: Params, body: dict[str, Any]) -> dict[str, Any]:
    kind = input_option(params)
    if body.get("range") and book.parse_range(body["range"]) != book.parse_range(text):
        raise invalid(
            f"Requested range [{text}] doesn't match the range in the request body "
            f"[{body['range']}]"
        )
    major = option(body, "majorDimension", "ROWS", ("ROWS", "COLUMNS"))
    write = plan(book, text, body.get("values", []), major, kind)
    write.apply()
    return _with_data(book, write, params)


def batch_update(book: Book, body: dict[str, Any]) -> dict[str, Any]:
    kind = input_option(body)
    writes = []
    for i, data in enumerate(body.get("data") or []):
        try:
            major = option(data, "majorDimension", "ROWS", ("ROWS", "COLUMNS"))
            writes.append(plan(book, data.get("range", ""), data.get("values", []), major, kind))
        except ApiError as error:
            raise invalid(f"Invalid data[{i}]: {error.message}") from None
    for write in writes:
        write.apply()
    answer: dict[str, Any] = {
        "spreadsheetId": book.id,
        "totalUpdatedRows": sum(w.rows for w in writes),
        "totalUpdatedColumns": sum(w.columns for w in writes),
        "totalUpdatedCells": sum(w.cells for w in writes),
        "totalUpdatedSheets": len({w.sheet.sheet_id for w in writes if w.cells}),
    }
    answer = {k: v for k, v in answer.items() if v != 0}
    if writes:
        answer["responses"] = [_with_data(book, w, body) for w in writes]
    return answer


def append(book: Book, text: str, params: Params, body: dict[str, Any]) -> dict[str, Any]:
    """values.append: find the table in the range, write below it, growing the sheet."""
    kind = input_option(params)
    insert = option(params, "insertDataOption", "OVERWRITE", ("OVERWRITE", "INSERT_ROWS"))
    area = book.parse_range(text)
    sheet = area.sheet
    r0, r1, c0, c1 = area.bounds()
    if area.anchor:
        r1, c1 = sheet.row_count, sheet.col_count
    table = _find_table(sheet, r0, r1, c0, c1)
    major = option(body, "majorDimension", "ROWS", ("ROWS", "COLUMNS"))
    matrix = convert(body.get("values", []), major, kind)
    height, width = len(matrix), max((len(row) for row in matrix), default=0)
    start_row, start_col = (table[1], table[2]) if table else (r0, c0)
    more_rows = height if insert == "INSERT_ROWS" else start_row + height - sheet.row_count
    more_cols = start_col + width - sheet.col_count
    more_rows, more_cols = max(more_rows, 0), max(more_cols, 0)
    book.check_growth(more_rows * sheet.col_count + more_cols * (sheet.row_count + more_rows))
    if insert == "INSERT_ROWS" and more_rows:
        sheet.insert("ROWS", start_row, more_rows)
    elif more_rows:
        sheet.insert("ROWS", sheet.row_count, more_rows)
    if more_cols:
        sheet.insert("COLUMNS", sheet.col_count, more_cols)
    anchor = Area(sheet, start_row, start_row + 1, start_col, start_col + 1, anchor=True)
    write = _plan(anchor, text, matrix)
    write.apply()
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    if table:
        answer["tableRange"] = sheet.ref(*table)
    answer["updates"] = _with_data(book, write, params)
    return answer


def _find_table(
    sheet: Sheet, r0: int, r1: int, c0: int, c1: int
) -> tuple[int, int, int, int] | None:
    """The first run of non-empty rows in the range, as (r0, r1, c0, c1), or None."""
    rows = sheet.cells
    first = next((r for r in range(r0, r1) if any(v is not None for v in rows[r][c0:c1])), None)
    if first is None:
        return None
    last = first
    while last + 1 < r1 and any(v is not None for v in rows[last + 1][c0:c1]):
        last += 1
    used = [
        j for r in range(first, last + 1) for j, v in enumerate(rows[r][c0:c1]) if v is not None
    ]
    return first, last + 1, c0 + min(used), c0 + max(used) + 1


def clear(book: Book, text: str) -> dict[str, Any]:
    area = book.parse_range(text)
    bounds = area.bounds()
    area.sheet.clear(*bounds)
    return {"spreadsheetId": book.id, "clearedRange": area.sheet.ref(*bounds)}


def batch_clear(book: Book, body: dict[str, Any]) -> dict[str, Any]:
    areas = []
    for i, text in enumerate(body.get("ranges") or []):
        try:
            area = book.parse_range(text)
            areas.append((area.sheet, area.bounds()))
        except ApiError as error:
            raise invalid(f"Invalid ranges[{i}]: {error.message}") from None
    for sheet, bounds in areas:
        sheet.clear(*bounds)
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    if areas:
        answer["clearedRanges"] = [sheet.ref(*bounds) for sheet, bounds in areas]
    return answer
