"""A local ``.xlsx`` workbook as the spreadsheet, through openpyxl, for teams without Google.

People edit the file in Excel or LibreOffice between a push and a pull. The file is only ever
replaced whole (written next to it, then renamed over it), so a crash never leaves half a
workbook behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import warnings
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, date, datetime, time
from io import BytesIO
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, MergedCell
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.worksheet.dimensions import RowDimension
from openpyxl.worksheet.worksheet import Worksheet

from sheets.backend import Grid, Moves, SheetsError, TabChanges, Value
from sheets.layout import Tab
from sheets.workbook_layout import (
    DATE_FORMAT,
    SavedLayout,
    assert_layout,
    drift,
    set_up,
)

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# LibreOffice Calc saves a TRUE or FALSE cell as the formula =TRUE() or =FALSE() (with its
# value). openpyxl keeps a formula but not its value when it saves, so such a cell would read
# back empty: it is read by its formula, and written back as a plain boolean.
BOOLEAN_FORMULA = re.compile(r"=\s*(TRUE|FALSE)\s*(\(\s*\))?\s*", re.IGNORECASE)


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
        self._tabs: dict[str, Tab] = {}
        self._drift: dict[str, list[str]] = {}

    @property
    def label(self) -> str:
        return f"workbook {self.path.name}"

    @property
    def mirror(self) -> str:
        return self._mirror

    @property
    def requests(self) -> int:
        return 0

    @property
    def layout_drift(self) -> dict[str, list[str]]:
        return dict(self._drift)

    def read(self, tabs: Sequence[Tab]) -> dict[str, Grid]:
        # A pull applies edits before it writes their Status: a file open in Excel or
        # LibreOffice must stop the run here, before anything is applied, not at the write.
        self._check_not_open()
        data = self._bytes()
        self._seen = None if data is None else _digest(data)
        # The tabs whose layout each save puts back.
        self._tabs = {tab.name: tab for tab in tabs}
        self._drift = {}
        if data is None:
            return {tab.name: [] for tab in tabs}
        try:
            with warnings.catch_warnings():
                # openpyxl warns about features it cannot load; a read saves nothing, so
                # nothing is lost and the warnings would only be noise.
                warnings.simplefilter("ignore")
                grids, layouts = _grids(data, [tab.name for tab in tabs])
        except Exception as exc:
            # Sheets are parsed lazily, so damage can surface here as any of openpyxl's errors.
            raise self._damaged() from exc
        for tab in tabs:
            saved = layouts.get(tab.name)
            grid = grids[tab.name]
            if saved is not None and grid:
                parts = drift(saved, tab, _header_columns(grid[0]))
                if parts:
                    self._drift[tab.name] = parts
        return grids

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
            set_up(book[tab.name] if exists else book.create_sheet(tab.name), tab)
        if blank is not None:
            # The empty "Sheet" of every new openpyxl workbook.
            book.remove(blank)
            book.active = 0
        _plain_booleans(book)
        self._save(book)
        return self.read(tabs)

    def writes_for(self, changes: dict[str, TabChanges]) -> int:
        return 0

    def write(self, changes: dict[str, TabChanges]) -> None:
        if not any(changes.values()) and not self._drift:
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
        _plain_booleans(book)
        for tab in self._tabs.values():
            if tab.name in book.sheetnames:
                assert_layout(book[tab.name], tab)
        self._save(book)
        self._drift = {}

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


def _grids(data: bytes, names: list[str]) -> tuple[dict[str, Grid], dict[str, SavedLayout]]:
    """The named tabs' rows, and the layout each holds. A formula reads as its value: =TRUE()
    and =FALSE() by the formula itself, any other as the value the spreadsheet app saved with
    it (none after a save by openpyxl, which does not calculate: such a cell reads as empty)."""
    grids: dict[str, list[list[Value]]] = {}
    layouts: dict[str, SavedLayout] = {}
    formulas: dict[str, set[tuple[int, int]]] = {}
    book = openpyxl.load_workbook(BytesIO(data), read_only=True)
    try:
        for name in names:
            if name in book.sheetnames:
                grids[name], formulas[name], layouts[name] = _grid(book, name)
            else:
                grids[name], formulas[name] = [], set()
    finally:
        book.close()
    if any(formulas.values()):
        # The saved values are a second pass, needed only for a file with formulas of its own.
        book = openpyxl.load_workbook(BytesIO(data), read_only=True, data_only=True)
        try:
            for name, places in formulas.items():
                if places:
                    _calculated(book, name, grids[name], places)
        finally:
            book.close()
    return {name: _trim_rows(grid) for name, grid in grids.items()}, layouts


def _grid(
    book: openpyxl.Workbook, name: str
) -> tuple[list[list[Value]], set[tuple[int, int]], SavedLayout]:
    """A tab's cells, where a formula needs its saved value, and its layout.

    The tab's XML is parsed as a read-only workbook parses it, by openpyxl's own parser, used
    here directly: after the rows it reads what follows them (validations, conditional formats,
    protection), so the layout comes with the same single pass. Rows are placed by the numbers
    the file gives them (the size a file records may be missing or stale)."""
    sheet = book[name]
    assert isinstance(sheet, ReadOnlyWorksheet)
    grid: list[list[Value]] = []
    formulas: set[tuple[int, int]] = set()
    # The read-only worksheet's source and strings, and the workbook's number formats, are
    # what openpyxl hands this parser itself; its typed API leaves them out.
    with sheet._get_source() as source:  # type: ignore[attr-defined]
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,  # type: ignore[attr-defined]
            epoch=book.epoch,
            date_formats=book._date_formats,  # type: ignore[attr-defined]
            timedelta_formats=book._timedelta_formats,  # type: ignore[attr-defined]
        )
        for number, cells in parser.parse():
            r = number - 1
            grid.extend([] for _ in range(r + 1 - len(grid)))
            values = grid[r]
            for cell in cells:
                c = cell["column"] - 1
                raw = cell["value"]
                if cell["data_type"] == "f":
                    raw = _boolean_formula(raw)
                    if raw is None:
                        formulas.add((r, c))
                values.extend([None] * (c + 1 - len(values)))
                values[c] = _value(raw)
    return grid, formulas, _saved_layout(parser)


def _saved_layout(parser: WorkSheetParser) -> SavedLayout:
    hidden: set[int] = set()
    for attributes in parser.column_dimensions.values():
        if str(attributes.get("hidden", "")).lower() in ("1", "true"):
            low = int(attributes.get("min", 0))
            hidden.update(range(low, int(attributes.get("max", low)) + 1))
    validations = getattr(parser, "data_validations", None)
    return SavedLayout(
        views=getattr(parser, "views", None),
        formatting=list(parser.formatting),
        validations=list(validations.dataValidation) if validations is not None else [],
        protection=getattr(parser, "protection", None),
        hidden=hidden,
    )


def _header_columns(header: list[Value]) -> dict[str, int]:
    """Header text -> 1-based column of its first occurrence (as ``header_columns`` finds it
    in a loaded tab)."""
    found: dict[str, int] = {}
    for i, value in enumerate(header, start=1):
        if value not in (None, ""):
            found.setdefault(str(value), i)
    return found


def _calculated(
    book: openpyxl.Workbook, name: str, grid: list[list[Value]], places: set[tuple[int, int]]
) -> None:
    sheet = book[name]
    sheet.reset_dimensions()
    for r, row in enumerate(sheet.iter_rows(values_only=True)):
        for c, raw in enumerate(row):
            if (r, c) in places:
                grid[r][c] = _value(raw)


def _boolean_formula(formula: object) -> bool | None:
    """The value of =TRUE() or =FALSE() (as Calc saves a boolean); None for any other."""
    match = BOOLEAN_FORMULA.fullmatch(formula) if isinstance(formula, str) else None
    return None if match is None else match.group(1).upper() == "TRUE"


def _plain_booleans(book: openpyxl.Workbook) -> None:
    """=TRUE() and =FALSE() as plain booleans, so the save keeps their values."""
    for sheet in book.worksheets:
        for cell in sheet._cells.values():
            if cell.data_type == "f":
                value = _boolean_formula(cell.value)
                if value is not None:
                    cell.value = value


def _trim_rows(grid: list[list[Value]]) -> Grid:
    grid = [_trim(row) for row in grid]
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


def _complete(tab: Tab, grid: Grid) -> bool:
    return bool(grid) and set(tab.headers) <= set(grid[0])


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
