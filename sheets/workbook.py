"""A local ``.xlsx`` workbook as the spreadsheet, through openpyxl, for teams without Google.

People edit the file in Excel or LibreOffice between a push and a pull. The file is only ever
replaced whole (written next to it, then renamed over it), so a crash never leaves half a
workbook behind.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import warnings
from collections.abc import Sequence
from contextlib import suppress
from copy import copy
from datetime import UTC, date, datetime, time
from io import BytesIO
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule, Rule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.worksheet.worksheet import Worksheet

from sheets.backend import Grid, Moves, SheetsError, TabChanges, Value
from sheets.layout import KEY, Column, Kind, Tab

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# Excel's last row: validations and the read-only shading cover every row the sync appends or
# people insert, not just the rows there are today.
LAST_ROW = 1_048_576
GREY = "D9D9D9"
GREY_FILL = PatternFill(fill_type="solid", start_color=GREY, end_color=GREY)
# An always-true rule is the shading's mark: people's own conditional formats test something.
SHADE_FORMULA = ["TRUE"]
AUTHOR = "preorder"
# Narrowest sensible width per kind; an INSTANT shows as "2027-01-04 10:00 UTC".
MIN_WIDTH = {Kind.TEXT: 12, Kind.INT: 8, Kind.DATE: 10, Kind.BOOL: 8, Kind.INSTANT: 20}
MAX_WIDTH = 40


class Workbook:
    """The ``Backend`` over one ``.xlsx`` file; it makes no API requests."""

    def __init__(self, path: Path) -> None:
        if path.suffix.lower() != ".xlsx":
            raise SheetsError(f"{path.name} is not an .xlsx workbook: give a name ending in .xlsx")
        self.path = path
        # The snapshot is kept under the absolute path, not the file name: two "plan.xlsx" in
        # different folders are different workbooks, and one's snapshot would misread the
        # other's rows as edits. A moved file starts without a snapshot, which is the safe way
        # to be wrong.
        self._mirror = f"xlsx:{path.resolve()}"
        # Digest of the file as last read or saved: a write refuses a file saved since then,
        # because its row positions come from that read.
        self._seen: str | None = None

    @property
    def label(self) -> str:
        return f"workbook {self.path.name}"

    @property
    def mirror(self) -> str:
        return self._mirror

    @property
    def requests(self) -> int:
        return 0

    def read(self, tabs: Sequence[Tab]) -> dict[str, Grid]:
        data = self._bytes()
        self._seen = None if data is None else _digest(data)
        if data is None:
            return {tab.name: [] for tab in tabs}
        try:
            with warnings.catch_warnings():
                # openpyxl warns about features it cannot load; a read saves nothing, so
                # nothing is lost and the warnings would only be noise.
                warnings.simplefilter("ignore")
                book = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
                try:
                    return {tab.name: _grid(book, tab.name) for tab in tabs}
                finally:
                    book.close()
        except Exception as exc:
            # Sheets are parsed lazily, so damage can surface here as any of openpyxl's errors.
            raise self._damaged() from exc

    def setup(self, tabs: Sequence[Tab], grids: dict[str, Grid]) -> dict[str, Grid]:
        if all(_complete(tab, grids.get(tab.name, [])) for tab in tabs):
            # Nothing missing: leave the file alone, so an unchanged push does not touch it.
            return grids
        self._check_not_open()
        data = self._bytes()
        book = openpyxl.Workbook() if data is None else self._load(data)
        blank = book.active if data is None else None
        for tab in tabs:
            exists = tab.name in book.sheetnames
            _set_up(book[tab.name] if exists else book.create_sheet(tab.name), tab)
        if blank is not None:
            # The empty "Sheet" of every new openpyxl workbook.
            book.remove(blank)
            book.active = 0
        self._save(book)
        return self.read(tabs)

    def writes_for(self, changes: dict[str, TabChanges]) -> int:
        return 0

    def write(self, changes: dict[str, TabChanges]) -> None:
        if not any(changes.values()):
            return
        self._check_not_open()
        data = self._bytes()
        if data is None:
            raise SheetsError(f"{self.label} no longer exists; run the sync again")
        if self._seen is not None and _digest(data) != self._seen:
            raise SheetsError(
                f"{self.label} changed since the sync read it (saved in Excel or LibreOffice?); "
                "run the sync again"
            )
        book = self._load(data)
        for name, tab_changes in changes.items():
            if not tab_changes:
                continue
            if name not in book.sheetnames:
                raise SheetsError(f"{self.label} has no tab {name!r}")
            _apply(book[name], tab_changes, self.label)
        self._save(book)

    # --- the file -------------------------------------------------------------------------------

    def _bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError as exc:
            raise SheetsError(f"{self.label} is a folder, not a workbook") from exc
        except PermissionError as exc:
            raise SheetsError(f"{self.label} cannot be read: permission denied") from exc
        except OSError as exc:
            raise SheetsError(f"{self.label} cannot be read: {exc.strerror or exc}") from exc

    def _load(self, data: bytes) -> openpyxl.Workbook:
        try:
            # Rich text kept, or text a person partly bolded would be flattened by the save.
            return openpyxl.load_workbook(BytesIO(data), rich_text=True)
        except Exception as exc:
            raise self._damaged() from exc

    def _damaged(self) -> SheetsError:
        return SheetsError(
            f"{self.label} cannot be opened: it is not an .xlsx workbook or it is damaged"
        )

    def _check_not_open(self) -> None:
        # Excel and LibreOffice hold the whole file in memory and save it whole: a change made
        # while it is open would be undone by the person's next save, and the pull after would
        # read the old values back as edits. Their lock files tell (on Windows Excel also locks
        # the file itself, which the save reports).
        name = self.path.name
        for lock, app in ((f"~${name}", "Excel"), (f".~lock.{name}#", "LibreOffice")):
            if (self.path.parent / lock).exists():
                raise SheetsError(
                    f"{self.label} is open in {app} (lock file {lock}): save and close it, then "
                    "run again (delete the lock file if it was left behind by a crash)"
                )

    def _save(self, book: openpyxl.Workbook) -> None:
        buffer = BytesIO()
        book.save(buffer)
        data = buffer.getvalue()
        try:
            mode = _mode(self.path)
            fd, temp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(temp, mode)
                os.replace(temp, self.path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(temp)
                raise
        except PermissionError as exc:
            raise SheetsError(
                f"{self.label} cannot be saved: permission denied (is it open in Excel?)"
            ) from exc
        except OSError as exc:
            raise SheetsError(f"{self.label} cannot be saved: {exc.strerror or exc}") from exc
        self._seen = _digest(data)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mode(path: Path) -> int:
    """The permissions the saved file gets: the old file's, else those of any new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        # The umask can only be read by setting it; mkstemp's 0600 would hide a shared file.
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


# --- read ---------------------------------------------------------------------------------------


def _grid(book: openpyxl.Workbook, name: str) -> Grid:
    if name not in book.sheetnames:
        return []
    sheet = book[name]
    # The size a file records may be missing or stale (some tools write none); reading every
    # row it holds keeps row positions true.
    sheet.reset_dimensions()
    grid = [_trim([_value(v) for v in row]) for row in sheet.iter_rows(values_only=True)]
    while grid and not grid[-1]:
        grid.pop()
    return grid


def _trim(row: list[Value]) -> list[Value]:
    while row and row[-1] is None:
        row.pop()
    return row


def _value(raw: object) -> Value:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool | int | str):
        return raw
    if isinstance(raw, float):
        # Excel has only doubles: a typed 3 may come back 3.0.
        return int(raw) if raw.is_integer() else raw
    if isinstance(raw, datetime):
        # A date cell reads as midnight of that day.
        return raw.date() if raw.time() == time() else raw
    if isinstance(raw, date):
        return raw
    # A time of day or a duration, in a cell formatted so: the text is the nearest Value.
    return str(raw)


# --- setup --------------------------------------------------------------------------------------


def _complete(tab: Tab, grid: Grid) -> bool:
    return bool(grid) and set(tab.headers) <= set(grid[0])


def _set_up(sheet: Worksheet, tab: Tab) -> None:
    found = _header_columns(sheet)
    last = max(found.values(), default=0)
    added: set[str] = set()
    for column in tab.columns:
        if column.header not in found:
            last += 1
            sheet.cell(1, last, column.header)
            found[column.header] = last
            added.add(column.header)
    _split_column_ranges(sheet)
    for column in tab.columns:
        index = found[column.header]
        head = sheet.cell(1, index)
        head.font = Font(bold=True)
        if not column.editable:
            head.fill = GREY_FILL
        if column.note and (head.comment is None or head.comment.text != column.note):
            head.comment = Comment(column.note, AUTHOR, height=60, width=240)
        dimension = sheet.column_dimensions[get_column_letter(index)]
        if column.header in added:
            # Only for columns made now: a width a person chose stays.
            dimension.width = _width(column)
        if column.header == KEY:
            dimension.hidden = True
        if column.kind is Kind.DATE:
            # For cells typed in later; the sync formats the dates it writes itself.
            dimension.number_format = DATE_FORMAT
    sheet.freeze_panes = "A2"
    _replace_validations(sheet, tab, found)
    _shade_read_only(sheet, tab, found)


def _header_columns(sheet: Worksheet) -> dict[str, int]:
    """Header text -> 1-based column of its first occurrence, every non-empty header cell."""
    found: dict[str, int] = {}
    for cell in sheet[1]:
        if cell.value not in (None, ""):
            found.setdefault(str(cell.value), cell.column)
    return found


def _split_column_ranges(sheet: Worksheet) -> None:
    # Excel stores neighbouring columns of one width as one range (B:E) that openpyxl keys by
    # its first column; touching C alone would then save two overlapping ranges, which Excel
    # calls damage. One entry per column keeps every change to its own column.
    for dimension in list(sheet.column_dimensions.values()):
        dimension.reindex()
        low, high = dimension.min, dimension.max
        if low is None or high is None or high <= low:
            continue
        dimension.max = low
        for index in range(low + 1, high + 1):
            single = copy(dimension)
            single.index = get_column_letter(index)
            single.min = single.max = index
            sheet.column_dimensions[single.index] = single


def _width(column: Column) -> float:
    longest = max((len(choice) for choice in column.choices), default=0)
    return float(min(max(len(column.header), longest, MIN_WIDTH[column.kind]) + 2, MAX_WIDTH))


def _body(index: int) -> str:
    letter = get_column_letter(index)
    return f"{letter}2:{letter}{LAST_ROW}"


def _validation(column: Column) -> DataValidation | None:
    """The dropdown or check of an editable column. No check is strict (at most a warning): the
    sync validates every edit and says why in Status, and ``move to PO:LINE`` must be typeable
    in a list column."""
    if column.kind is Kind.BOOL:
        # xlsx has no checkbox a file can carry; a TRUE/FALSE dropdown is the nearest.
        return DataValidation(
            type="list",
            formula1='"TRUE,FALSE"',
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=column.header,
            error="Choose TRUE or FALSE.",
        )
    if column.kind is Kind.DATE:
        return DataValidation(
            type="date",
            operator="greaterThanOrEqual",
            formula1="1",  # 1900-01-01: any date
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle=column.header,
            error="Type a date as YYYY-MM-DD.",
        )
    if column.choices:
        listed = ",".join(column.choices)
        # A literal list: Excel splits it at commas and caps it at 255 characters.
        if len(listed) > 255 or any("," in c or '"' in c for c in column.choices):
            raise ValueError(f"choices of {column.header!r} cannot be an Excel list: {listed!r}")
        return DataValidation(
            type="list", formula1=f'"{listed}"', allow_blank=True, showErrorMessage=False
        )
    return None


def _replace_validations(sheet: Worksheet, tab: Tab, found: dict[str, int]) -> None:
    # Ours are recognised by kind and list, wherever they are, and put back where the columns
    # are now: a rerun adds no duplicates and a moved column takes its dropdown along. People's
    # own validations stay.
    wanted: list[DataValidation] = []
    for column in tab.editable:
        validation = _validation(column)
        if validation is not None:
            validation.add(_body(found[column.header]))
            wanted.append(validation)
    ours = {(v.type, v.formula1) for v in wanted}
    kept = [v for v in sheet.data_validations.dataValidation if (v.type, v.formula1) not in ours]
    sheet.data_validations.dataValidation = kept + wanted


def _shade_read_only(sheet: Worksheet, tab: Tab, found: dict[str, int]) -> None:
    # xlsx has no warning-only protection. Sheet protection blocks outright, and it would block
    # what people are promised they may do (sort, filter, insert rows, move columns); the sync
    # ignores edits outside the editable columns anyway. So the sync's columns are shaded grey
    # instead, by a conditional format over whole columns, which also covers rows added later.
    formats = sheet.conditional_formatting
    for entry in list(formats):
        kept = [rule for rule in entry.rules if not _is_shade(rule)]
        if len(kept) != len(entry.rules):
            del formats[entry.sqref]
            for rule in kept:
                formats.add(str(entry.sqref), rule)
    ranges = _bodies(sorted(found[c.header] for c in tab.columns if not c.editable))
    if not ranges:
        return
    lowest = max((rule.priority or 0 for entry in formats for rule in entry.rules), default=0)
    shade = FormulaRule(formula=SHADE_FORMULA, fill=GREY_FILL)
    # Last in priority, so people's own highlights show over it.
    shade.priority = lowest + 1
    formats.add(" ".join(ranges), shade)


def _bodies(indices: list[int]) -> list[str]:
    """Body ranges of the sorted 1-based columns, neighbours joined: ``A2:L1048576``."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][1] == index - 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return [f"{get_column_letter(low)}2:{get_column_letter(high)}{LAST_ROW}" for low, high in runs]


def _is_shade(rule: Rule) -> bool:
    return rule.type == "expression" and list(rule.formula or ()) == SHADE_FORMULA


# --- write --------------------------------------------------------------------------------------


def _apply(sheet: Worksheet, changes: TabChanges, label: str) -> None:
    for row, col, value in changes.cells:
        _put(_cell(sheet, row + 1, col + 1, label), value)
    if changes.delete or changes.insert:
        moves = Moves(repr(sheet.title), changes, sheet.max_row)
        _move_rows(sheet, moves)
        for row, values in moves.new_rows():
            for col, value in enumerate(values, start=1):
                if value is not None:
                    _put(_cell(sheet, row + 1, col, label), value)
    start = _last_row(sheet) + 1
    for offset, values in enumerate(changes.append):
        for col, value in enumerate(values, start=1):
            if value is not None:
                _put(_cell(sheet, start + offset, col, label), value)


def _cell(sheet: Worksheet, row: int, col: int, label: str) -> Cell:
    cell = sheet.cell(row, col)
    if isinstance(cell, MergedCell):
        # A person merged it with its neighbours: openpyxl cannot write it, and writing the
        # merged range's first cell instead would put the value in another row or column.
        raise SheetsError(
            f"{label} tab {sheet.title!r} cell {cell.coordinate} is merged with another cell; "
            "unmerge it and run the sync again"
        )
    return cell


def _put(cell: Cell, value: Value) -> None:
    if isinstance(value, str):
        # xlsx cannot hold control characters; openpyxl refuses them.
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        # Text as typed: openpyxl would make "=1+1" a formula; "007" stays text anyway.
        cell.data_type = "s"
        return
    if isinstance(value, datetime):
        # Excel has no time zones: a zoned instant is written as UTC.
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        cell.value = value
        cell.number_format = DATETIME_FORMAT
        return
    if isinstance(value, date):
        cell.value = value
        cell.number_format = DATE_FORMAT
        return
    if value is not None and not isinstance(value, bool | int | float):
        raise TypeError(f"cannot write {value!r} to a workbook cell")
    cell.value = value
    if value is not None and cell.is_date:
        # Rows move (deletes, people sorting): a number must not land in a date format.
        cell.number_format = "General"


def _move_rows(sheet: Worksheet, moves: Moves) -> None:
    """Delete rows and open the gaps for inserted ones, in one pass over the cells.

    openpyxl's ``delete_rows`` and ``insert_rows`` re-sort every cell of the sheet on each call:
    about a second a row on a tab of 100,000 rows. This moves each cell once, as they do,
    through the same cell map."""
    gone = {row + 1 for row in moves.deleted}
    cells = sheet._cells
    moved: dict[tuple[int, int], Cell | MergedCell] = {}
    for (row, col), cell in cells.items():
        if row in gone:
            continue
        cell.row = moves.row(row - 1) + 1
        moved[cell.row, col] = cell
        if cell.hyperlink is not None:
            cell.hyperlink.ref = cell.coordinate
    cells.clear()
    cells.update(moved)
    # Row heights and rows hidden by a filter move with their rows.
    dimensions = sheet.row_dimensions
    kept: dict[int, RowDimension] = {}
    for index, dimension in list(dimensions.items()):
        if index in gone:
            continue
        dimension.index = moves.row(index - 1) + 1
        kept[dimension.index] = dimension
    dimensions.clear()
    dimensions.update(kept)


def _last_row(sheet: Worksheet) -> int:
    """The last row holding a value: rows only formatted or emptied do not count."""
    width = sheet.max_column
    for row in range(sheet.max_row, 0, -1):
        if any(sheet.cell(row, col).value not in (None, "") for col in range(1, width + 1)):
            return row
    return 0
