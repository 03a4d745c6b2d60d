"""What the sync needs from a spreadsheet: read every tab at once, set it up, write changes.

Two backends implement it: Google Sheets through gspread (``sheets.google``) and a local
``.xlsx`` workbook through openpyxl (``sheets.workbook``). The diff, validation and status logic
above them is the same for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from sheets.layout import Tab

# A cell as read or written. Reads give what the spreadsheet holds, unformatted: text, numbers
# (Google gives dates as serial numbers: days since 1899-12-30), booleans (checkboxes), dates
# (a workbook's date cells), or None for an empty cell. Writes take text, int, bool, date or
# None (empty the cell); text is always written as typed: a leading "=" or zero stays text.
Value = str | int | float | bool | date | None
# A tab's rows as read: the header row first; rows may be shorter than the header (trailing
# empty cells are left out, as the Sheets API does) and trailing empty rows are left out.
Grid = list[list[Value]]


@dataclass
class TabChanges:
    """Changes to one tab, all positions 0-based in the grid as it was read (row 0 = header).

    The backend applies them as one consistent change: ``cells`` are written where those rows
    were read, ``delete`` removes rows, ``append`` adds rows after the last row, each row in
    the tab's column order as read (the header row's order)."""

    cells: list[tuple[int, int, Value]] = field(default_factory=list)
    append: list[list[Value]] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cells or self.append or self.delete)


class SheetsError(Exception):
    """A spreadsheet problem the user must see: one clear sentence, no stack trace."""


class Backend(Protocol):
    @property
    def label(self) -> str:
        """The spreadsheet for messages: "spreadsheet 1AbC..." or "workbook plan.xlsx"."""
        ...

    @property
    def mirror(self) -> str:
        """A stable name for this spreadsheet, under which the sync keeps its snapshot."""
        ...

    @property
    def requests(self) -> int:
        """API requests made so far (retries included); 0 for a workbook."""
        ...

    def read(self, tabs: Sequence[Tab]) -> dict[str, Grid]:
        """Every tab in one read, by tab name; a tab that does not exist is ``[]``."""
        ...

    def setup(self, tabs: Sequence[Tab], grids: dict[str, Grid]) -> dict[str, Grid]:
        """Make the spreadsheet hold ``tabs``: create missing tabs, write missing headers (a
        header missing from an existing tab goes after its last column), freeze the header row,
        hide the Key column, mark the columns people may not edit as read-only (warning-only
        protection and a grey fill), add dropdowns, checkboxes and date formats to editable
        columns. ``grids`` is what ``read`` returned; returns the grids as they are now."""
        ...

    def writes_for(self, changes: dict[str, TabChanges]) -> int:
        """How many requests ``write(changes)`` will make: the Sync log row that goes out with
        them counts them before they are made."""
        ...

    def write(self, changes: dict[str, TabChanges]) -> None:
        """Apply the changes of every tab, in as few requests as the API allows, checking the
        counts it reports back; raise ``SheetsError`` if any write is refused or miscounted."""
        ...
