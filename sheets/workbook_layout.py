"""The layout the sync owns in a workbook's tab: headers, the frozen header row, the hidden Key,
widths, dropdowns and checks, and the grey, protected columns people may not edit.

A spreadsheet app may drop or change part of it when it saves the file: LibreOffice Calc can
lose the frozen row, saves the shading rule's formula ``TRUE`` as ``1`` and shrinks validations
to the rows in use. So every save of the sync puts the layout back (``assert_layout``), not only
the first set-up, and a read tells what of it a save changed (``drift``), so that a run with no
value to write puts it back too.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy
from dataclasses import dataclass, field
from math import ceil

from openpyxl.cell.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.formatting.formatting import ConditionalFormatting
from openpyxl.formatting.rule import FormulaRule, Rule
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.protection import SheetProtection
from openpyxl.worksheet.views import SheetViewList
from openpyxl.worksheet.worksheet import Worksheet

from sheets.layout import KEY, Column, Kind, Tab

DATE_FORMAT = "yyyy-mm-dd"
# Excel's last row: validations and the read-only shading cover every row the sync appends or
# people insert, not just the rows there are today.
LAST_ROW = 1_048_576
GREY = "D9D9D9"
GREY_FILL = PatternFill(fill_type="solid", start_color=GREY, end_color=GREY)
# An always-true rule is the shading's mark: people's own conditional formats test something.
SHADE_FORMULA = ["TRUE"]
# The same rule as spreadsheet apps save it back (LibreOffice Calc writes ``1``).
SHADE_FORMULAS = {"TRUE", "TRUE()", "1"}
AUTHOR = "preorder"
# Narrowest sensible width per kind; an INSTANT shows as "2027-01-04 10:00 UTC" (longer in
# a named zone: the column widens to its text up to MAX_WIDTH).
MIN_WIDTH = {Kind.TEXT: 12, Kind.INT: 8, Kind.DATE: 10, Kind.BOOL: 8, Kind.INSTANT: 20}
MAX_WIDTH = 40
LOCKED = Protection(locked=True)
UNLOCKED = Protection(locked=False)
WRAPPED = Alignment(wrap_text=True, vertical="top")
# Points: one line of the default 11-point font.
LINE_HEIGHT = 15.0


def set_up(sheet: Worksheet, tab: Tab) -> None:
    """Add the tab's missing headers after its last column, then its layout."""
    found = header_columns(sheet)
    last = max(found.values(), default=0)
    for column in tab.columns:
        if column.header not in found:
            last += 1
            sheet.cell(1, last, column.header)
            found[column.header] = last
            # Only for columns made now: a width a person chose stays.
            sheet.column_dimensions[get_column_letter(last)].width = _width(column)
    assert_layout(sheet, tab)


def assert_layout(sheet: Worksheet, tab: Tab) -> None:
    """Put back what the sync owns on a tab that has all its headers: header style and notes,
    the hidden Key, date formats, a frozen header row, the validations over every data row, one
    shading rule, and the sheet protection with only the editable columns unlocked."""
    found = header_columns(sheet)
    if any(c.header not in found for c in tab.columns):
        return
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
        if column.header == KEY:
            dimension.hidden = True
        if column.kind is Kind.DATE:
            # For cells typed in later; the sync formats the dates it writes itself.
            dimension.number_format = DATE_FORMAT
        if column.width and (dimension.width or 0) < column.width:
            # Narrower, it cuts its text off (an older set-up made Status 14 wide).
            dimension.width = column.width
        if column.wrap:
            dimension.alignment = WRAPPED
        # The column's own style is the one a cell typed in later takes.
        dimension.protection = UNLOCKED if column.editable else LOCKED
    if sheet.freeze_panes is None:
        # Lost in a save; a person's own freeze (more rows or columns) stays.
        sheet.freeze_panes = "A2"
    _replace_validations(sheet, tab, found)
    _shade_read_only(sheet, tab, found)
    _lock_and_wrap(sheet, tab, found)
    _protect(sheet)


@dataclass
class SavedLayout:
    """The parts of a tab's layout ``assert_layout`` puts back, as a file holds them; read
    with the tab's cells (``sheets.workbook``), so telling whether they changed costs no
    second pass over the file."""

    views: SheetViewList | None = None
    formatting: list[ConditionalFormatting] = field(default_factory=list)
    validations: list[DataValidation] = field(default_factory=list)
    protection: SheetProtection | None = None
    hidden: set[int] = field(default_factory=set)  # 1-based columns


def drift(saved: SavedLayout, tab: Tab, found: dict[str, int]) -> list[str]:
    """What of the layout the sync owns ``saved`` lacks or holds changed, in a few words each
    (empty when it is in place). ``found``: the tab's header columns, 1-based."""
    if any(c.header not in found for c in tab.columns):
        return []  # set-up adds the missing headers first
    parts: list[str] = []
    views = saved.views.sheetView if saved.views is not None else []
    if not views or views[0].pane is None:
        parts.append("the frozen header row")
    shades = [
        (str(entry.sqref), rule)
        for entry in saved.formatting
        for rule in entry.rules
        if _is_shade(rule)
    ]
    wanted = _shaded(tab, found)
    if wanted and not (
        len(shades) == 1
        and set(shades[0][0].split()) == set(wanted)
        and shades[0][1].formula == SHADE_FORMULA
    ):
        parts.append("the grey shading of the sync's columns")
    if _checks(saved.validations, found.values()) != _checks(
        _wanted_validations(tab, found), found.values()
    ):
        parts.append("the dropdowns and checks")
    if saved.protection is None or not saved.protection.sheet:
        parts.append("the sheet protection")
    if KEY in tab.headers and found[KEY] not in saved.hidden:
        parts.append("the hidden Key column")
    return parts


def _checks(validations: list[DataValidation], columns: Iterable[int]) -> list[tuple[object, ...]]:
    """The validations over ``columns``: kind, list or bound, and where."""
    ours = set(columns)
    found = []
    for validation in validations:
        within = _within(validation.sqref, ours)
        if within:
            found.append((validation.type, validation.formula1, sorted(within)))
    return sorted(found, key=repr)


def header_columns(sheet: Worksheet) -> dict[str, int]:
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
    if column.width:
        return float(column.width)
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
    # Ours are recognised by the columns they cover, not by their kind or list: over the tab's
    # columns only ours may stay, whatever an older layout offered there (its old choices) or a
    # save left of them (Calc keeps only the rows in use). They are put back over every row
    # where the columns are now, so a rerun adds no duplicates and a moved column takes its
    # dropdown along. People's own validations stay, on the columns of their own.
    kept: list[DataValidation] = []
    for validation in sheet.data_validations.dataValidation:
        outside = _outside(validation.sqref, set(found[c.header] for c in tab.columns))
        if outside:
            validation.sqref = MultiCellRange(outside)
            kept.append(validation)
    sheet.data_validations.dataValidation = kept + _wanted_validations(tab, found)


def _wanted_validations(tab: Tab, found: dict[str, int]) -> list[DataValidation]:
    wanted: list[DataValidation] = []
    for column in tab.editable:
        validation = _validation(column)
        if validation is not None:
            validation.add(_body(found[column.header]))
            wanted.append(validation)
    return wanted


def _outside(ranges: MultiCellRange, columns: set[int]) -> list[CellRange]:
    """The parts of ``ranges`` in none of ``columns``."""
    parts: list[CellRange] = []
    for cells in ranges.ranges:
        start: int | None = None
        for col in range(cells.min_col, cells.max_col + 2):
            inside = col <= cells.max_col and col not in columns
            if inside and start is None:
                start = col
            elif not inside and start is not None:
                parts.append(CellRange(min_col=start, min_row=cells.min_row, max_col=col - 1,
                                       max_row=cells.max_row))  # fmt: skip
                start = None
    return parts


def _within(ranges: MultiCellRange, columns: set[int]) -> set[str]:
    """The parts of ``ranges`` in ``columns``, as A1 ranges of one column each."""
    return {
        f"{get_column_letter(col)}{cells.min_row}:{get_column_letter(col)}{cells.max_row}"
        for cells in ranges.ranges
        for col in range(cells.min_col, cells.max_col + 1)
        if col in columns
    }


def _shade_read_only(sheet: Worksheet, tab: Tab, found: dict[str, int]) -> None:
    # A conditional format over whole columns, so rows added later are grey too.
    formats = sheet.conditional_formatting
    for entry in list(formats):
        kept = [rule for rule in entry.rules if not _is_shade(rule)]
        if len(kept) != len(entry.rules):
            del formats[entry.sqref]
            for rule in kept:
                formats.add(str(entry.sqref), rule)
    ranges = _shaded(tab, found)
    if not ranges:
        return
    lowest = max((rule.priority or 0 for entry in formats for rule in entry.rules), default=0)
    shade = FormulaRule(formula=SHADE_FORMULA, fill=GREY_FILL)
    # Last in priority, so people's own highlights show over it.
    shade.priority = lowest + 1
    formats.add(" ".join(ranges), shade)


def _shaded(tab: Tab, found: dict[str, int]) -> list[str]:
    return _bodies(sorted(found[c.header] for c in tab.columns if not c.editable))


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
    formula = [str(f).strip().upper() for f in rule.formula or ()]
    return rule.type == "expression" and len(formula) == 1 and formula[0] in SHADE_FORMULAS


def _lock_and_wrap(sheet: Worksheet, tab: Tab, found: dict[str, int]) -> None:
    """Lock the header and the sync's columns and unlock the editable ones, cell by cell (a
    cell's own style wins over its column's); wrap long text, each row as tall as its text
    needs. People's own columns are left as they are."""
    editable = {found[c.header] for c in tab.editable}
    ours = {found[c.header] for c in tab.columns}
    wrapped = {
        found[c.header]: sheet.column_dimensions[get_column_letter(found[c.header])].width
        or c.width
        for c in tab.columns
        if c.wrap
    }
    lines: dict[int, int] = {}
    for (row, col), cell in sheet._cells.items():
        if col not in ours or isinstance(cell, MergedCell):
            continue
        locked = row == 1 or col not in editable
        if cell.protection.locked != locked:
            cell.protection = LOCKED if locked else UNLOCKED
        if row > 1 and col in wrapped and cell.value not in (None, ""):
            if not cell.alignment.wrap_text:
                cell.alignment = WRAPPED
            lines[row] = max(lines.get(row, 1), _lines(str(cell.value), wrapped[col]))
    for row, count in lines.items():
        # Neither Calc nor Excel fits a row to text another program wrote: a row keeps the
        # height it was saved with (Calc saves every row's), and would show one line.
        sheet.row_dimensions[row].ht = LINE_HEIGHT * count if count > 1 else None


def _lines(text: str, width: float) -> int:
    """Lines ``text`` wraps to in a column ``width`` characters wide (about: text is
    proportional, the width counts digits)."""
    per_line = max(int(width), 1)
    return sum(max(1, ceil(len(part) / per_line)) for part in text.splitlines() or [""])


def _protect(sheet: Worksheet) -> None:
    """Protect the sheet: only unlocked cells take typing.

    No password: protection here is the warning a person must click through (Tools > Protect
    Sheet in Calc, Review > Unprotect Sheet in Excel turn it off), as Google Sheets' warning-only
    protection is. What protection can allow stays allowed: formatting, resizing and hiding,
    inserting and deleting rows and columns, sorting and filtering."""
    protection = sheet.protection
    protection.sheet = True
    # True forbids: in xlsx each flag names what protection blocks.
    for allowed in (
        "formatCells",
        "formatColumns",
        "formatRows",
        "insertColumns",
        "insertRows",
        "deleteColumns",
        "deleteRows",
        "sort",
        "autoFilter",
    ):
        setattr(protection, allowed, False)
