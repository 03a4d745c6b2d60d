"""A run that applied people's edits and then could not write the spreadsheet (the workbook
opened in LibreOffice after the read, a crash): the error says what the database has, nothing is
applied twice, and the next run's Status says what is true. Both databases."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

import engine as e
from sheets.backend import Grid, SheetsError, Value
from sheets.layout import ALLOCATIONS, KEY, PO_LINES, STATUS, Tab
from sheets.sync import Report, Sync
from sheets.workbook import Workbook
from tests.helpers import allocation_map, po, so, without_operations
from tests.history import events

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SHEET_ACTOR = e.Actor("sheet-editor", e.Source.SHEET)


@pytest.fixture
def shop(db: e.Database, load: Callable[..., e.Outcome]) -> e.Database:
    """PO-1:1 (A, 5, Jan 10) holds SO-1 (2) and SO-2 (2)."""
    load(
        po("PO-1", (1, "A", 5, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 2)),
    )
    return db


class OpenedAfterTheRead(Workbook):
    """The workbook, which a person opens in LibreOffice just after the sync has read it."""

    def read(self, tabs: Sequence[Tab]) -> dict[str, Grid]:
        grids = super().read(tabs)
        lock_file(self.path).write_text("Ada,ada,laptop,27.11.2026 12:00,file:///home/ada;")
        return grids


def lock_file(path: Path) -> Path:
    return path.parent / f".~lock.{path.name}#"


def run(db: e.Database, backend: Workbook, how: str, when: datetime = NOW) -> Report:
    report: Report = getattr(Sync(db, backend, SHEET_ACTOR, clock=lambda: when), how)()
    return report


def tab(path: Path, name: str) -> tuple[Worksheet, dict[str, int]]:
    sheet = openpyxl.load_workbook(path)[name]
    assert isinstance(sheet, Worksheet)
    return sheet, {str(c.value): c.column for c in sheet[1] if c.value}


def cell(path: Path, name: str, key: str, header: str) -> object:
    sheet, cols = tab(path, name)
    for r in range(2, sheet.max_row + 1):
        if sheet.cell(r, cols[KEY]).value == key:
            return sheet.cell(r, cols[header]).value
    raise LookupError(key)


def type_in(path: Path, name: str, key: str, header: str, value: Value) -> None:
    book = openpyxl.load_workbook(path)
    sheet = book[name]
    assert isinstance(sheet, Worksheet)
    cols = {str(c.value): c.column for c in sheet[1] if c.value}
    (row,) = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, cols[KEY]).value == key]
    sheet.cell(row, cols[header]).value = value
    book.save(path)


def test_a_workbook_opened_between_the_read_and_the_write_says_what_the_database_has(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "plan.xlsx"
    run(shop, Workbook(path), "push")
    type_in(path, ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    type_in(path, PO_LINES.name, "PO-1:1", "Arrival date", datetime(2027, 2, 1))

    with pytest.raises(SheetsError) as failed:
        run(shop, OpenedAfterTheRead(path), "pull")

    said = str(failed.value)
    assert said.startswith("workbook plan.xlsx is open in LibreOffice")
    assert "The database has the 2 edits this run applied" in said
    assert "PO lines row 2 (PO-1:1): arrival date 2027-02-01" in said
    assert "Allocations row 2 (SO-1:1): removed" in said
    assert ("SO-1", 1) not in allocation_map(shop)
    applied = events(shop)

    lock_file(path).unlink()
    report = run(shop, Workbook(path), "pull", LATER)

    # Nothing applied twice; each row says what was applied, and when.
    assert (report.applied, report.refused) == (0, 0), report.messages
    assert events(shop) == applied
    assert without_operations(cell(path, ALLOCATIONS.name, "SO-1:1", STATUS)) == (
        "applied 2026-11-27 12:00 UTC: removed (1 order line(s) released, 1 promised date(s) "
        "changed)"
    )
    assert without_operations(cell(path, PO_LINES.name, "PO-1:1", STATUS)) == (
        "applied 2026-11-27 12:00 UTC: arrival date 2027-02-01 (promised dates unchanged until "
        "synced)"
    )
    # Said once: the run after finds nothing more to say or apply.
    before = path.read_bytes()
    report = run(shop, Workbook(path), "pull", LATER)
    assert (report.applied, report.refused, report.wrote) == (0, 0, False)
    assert path.read_bytes() == before


def test_an_edit_changed_while_the_workbook_was_open_is_not_lost(
    shop: e.Database, tmp_path: Path
) -> None:
    """What was applied is accounted for, so a value typed over it while the file was open is
    a new edit, judged as one, rather than taken for the sync's own."""
    path = tmp_path / "plan.xlsx"
    run(shop, Workbook(path), "push")
    type_in(path, PO_LINES.name, "PO-1:1", "Store hold", 1)
    with pytest.raises(SheetsError, match="The database has the 1 edit this run applied"):
        run(shop, OpenedAfterTheRead(path), "pull")
    assert e.po_line(shop, "PO-1", 1).store_hold == 1
    type_in(path, PO_LINES.name, "PO-1:1", "Store hold", 0)
    lock_file(path).unlink()

    report = run(shop, Workbook(path), "pull", LATER)

    # The row changed in the database (its ATP) since the person last saw it pushed.
    assert (report.applied, report.refused) == (0, 1), report.messages
    assert e.po_line(shop, "PO-1", 1).store_hold == 1
    status = cell(path, PO_LINES.name, "PO-1:1", STATUS)
    assert isinstance(status, str) and status.startswith("refused: conflict")
    assert "not applied: Store hold 0" in status


class Crash(BaseException):
    """The process stopping (killed, the machine down) between applying and writing."""


def test_after_a_crash_between_applying_and_writing_the_status_says_what_was_applied(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "plan.xlsx"
    run(shop, Workbook(path), "push")
    type_in(path, ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    calls: list[datetime] = []

    def stops_after_applying() -> datetime:
        # Read once by the pull before it applies, and again as it writes the Sync log.
        calls.append(NOW)
        if len(calls) > 1:
            raise Crash
        return NOW

    with pytest.raises(Crash):
        Sync(shop, Workbook(path), SHEET_ACTOR, clock=stops_after_applying).pull()
    assert ("SO-1", 1) not in allocation_map(shop)
    applied = events(shop)

    report = run(shop, Workbook(path), "pull", LATER)

    assert (report.applied, report.refused) == (1, 0), report.messages
    assert events(shop) == applied
    assert cell(path, ALLOCATIONS.name, "SO-1:1", STATUS) == (
        "applied by an earlier run that stopped before it could say so: Action remove"
    )
