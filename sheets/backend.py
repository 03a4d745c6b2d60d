"""What the sync needs from a spreadsheet: read every tab at once, set it up, write changes.

Two backends implement it: Google Sheets through gspread (``sheets.google``) and a local
``.xlsx`` workbook through openpyxl (``sheets.workbook``). The diff, validation and status logic
above them is the same for both.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import accumulate
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
    were read, ``delete`` removes rows, ``insert`` adds rows just above a row that stays (rows
    given for the same row go in their order), ``append`` adds rows after the last row. A new
    row is in the tab's column order as read (the header row's order)."""

    cells: list[tuple[int, int, Value]] = field(default_factory=list)
    append: list[list[Value]] = field(default_factory=list)
    delete: list[int] = field(default_factory=list)
    insert: list[tuple[int, list[Value]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cells or self.append or self.delete or self.insert)

    def inserted_above(self) -> dict[int, list[list[Value]]]:
        """The inserted rows by the row (as read) they go above, rows in ascending order."""
        found: dict[int, list[list[Value]]] = {}
        for row, values in sorted(self.insert, key=lambda x: x[0]):
            found.setdefault(row, []).append(values)
        return found


class Moves:
    """Where the rows of a tab land after its ``TabChanges``' deletions and insertions (before
    any append), positions 0-based as in ``TabChanges``. Checks the positions are possible."""

    def __init__(self, name: str, changes: TabChanges, length: int) -> None:
        self.deleted = sorted(set(changes.delete))
        if self.deleted and not (self.deleted[0] >= 1 and self.deleted[-1] < length):
            raise ValueError(f"{name}: rows to delete {self.deleted} are outside 1..{length - 1}")
        self.above = changes.inserted_above()
        self.anchors = sorted(self.above)
        if self.anchors and not (self.anchors[0] >= 1 and self.anchors[-1] < length):
            raise ValueError(
                f"{name}: rows to insert above {self.anchors} are outside 1..{length - 1}"
            )
        if set(self.anchors) & set(self.deleted):
            raise ValueError(f"{name}: rows are inserted above a row that is deleted")
        self._inserted_up_to = list(accumulate(len(self.above[a]) for a in self.anchors))
        self.inserted = self._inserted_up_to[-1] if self.anchors else 0
        self.length = length - len(self.deleted) + self.inserted

    def row(self, r: int) -> int:
        """Where row ``r`` as read (not deleted) is afterwards."""
        i = bisect_right(self.anchors, r)
        return self.after_deletions(r) + (self._inserted_up_to[i - 1] if i else 0)

    def after_deletions(self, r: int) -> int:
        """Where row ``r`` as read is once the rows are deleted, before any is inserted."""
        return r - bisect_left(self.deleted, r)

    def new_rows(self) -> Iterator[tuple[int, list[Value]]]:
        """Each inserted row with where it is afterwards, top to bottom."""
        for anchor in self.anchors:
            rows = self.above[anchor]
            first = self.row(anchor) - len(rows)
            for k, values in enumerate(rows):
                yield first + k, values


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

    @property
    def layout_drift(self) -> dict[str, list[str]]:
        """What of the layout ``setup`` made the last ``read`` found lost or changed, by tab
        (a few words per part); the next ``write``, even of no changes, puts it back."""
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
        counts it reports back; raise ``SheetsError`` if any write is refused or miscounted.
        Writes nothing when there is no change and no ``layout_drift``."""
        ...
