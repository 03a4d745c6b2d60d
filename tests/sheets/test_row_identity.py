"""A row's hidden Key and the line it shows: a person's command never travels to another line.

A person who sorts only the columns they see (the Key is hidden, so a selection of the visible
columns leaves it behind) makes rows show other lines than their keys. The pull refuses what is
typed on such a row; the push then rewrites the row to its key's line, and must not carry what was
typed (or what the sort moved there) onto that line. What a person types in a column the sync
writes (past Google's warning, or in an unprotected .xlsx) is never applied either: the row
shows the sync's value again and its Status says so. Both backends, both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

import engine as e
from sheets.backend import Backend
from sheets.google import GoogleSheet
from sheets.layout import ALLOCATIONS, KEY, PO_LINES
from sheets.sync import Report, Sync
from sheets.workbook import Workbook
from tests.helpers import allocation_map, dump, po, so, without_operations
from tests.invariants import check_invariants
from tests.standins.sheets.standin import SheetsStandin

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SHEET_ACTOR = e.Actor("sheet-editor", e.Source.SHEET)
PLACED = {("SO-1", 1): ("PO-1", 1), ("SO-2", 1): ("PO-1", 1), ("SO-3", 1): ("PO-2", 1)}


class Sheet(Protocol):
    """A spreadsheet, the sync that mirrors the database to it, and a person's hands on it."""

    def backend(self) -> Backend: ...

    def rows(self, tab: str) -> list[dict[str, Any]]: ...

    def type(self, tab: str, column: str, value: str, header: str, typed: Any) -> None:
        """Type ``typed`` under ``header`` in the row whose ``column`` shows ``value``."""

    def sort_visible(self, tab: str, by: str, *, descending: bool) -> None:
        """Sort the rows by ``by``, moving every column but the hidden Key."""


class Google:
    def __init__(self, standin: SheetsStandin, key_file: Path) -> None:
        self.standin = standin
        self.key_file = key_file
        self.id = standin.create_spreadsheet(tabs=["Sheet1"])

    def backend(self) -> Backend:
        return GoogleSheet(self.id, self.key_file, api_url=self.standin.base_url, sleep=_no_wait)

    def rows(self, tab: str) -> list[dict[str, Any]]:
        return self.standin.records(self.id, tab)

    def type(self, tab: str, column: str, value: str, header: str, typed: Any) -> None:
        row = self.standin.find_row(self.id, tab, column, value)
        at = self.standin.cells(self.id, tab)[0].index(header)
        self.standin.set_cell(self.id, tab, f"{chr(ord('A') + at)}{row}", typed)

    def sort_visible(self, tab: str, by: str, *, descending: bool) -> None:
        header = self.standin.cells(self.id, tab)[0]
        assert header[0] == KEY
        self.standin.sort_rows(self.id, tab, by, descending=descending, columns=(2, len(header)))


class Excel:
    def __init__(self, path: Path) -> None:
        self.path = path

    def backend(self) -> Backend:
        return Workbook(self.path)

    def _sheet(self, book: openpyxl.Workbook, tab: str) -> tuple[Worksheet, list[Any]]:
        sheet = book[tab]
        assert isinstance(sheet, Worksheet)
        return sheet, [c.value for c in sheet[1]]

    def rows(self, tab: str) -> list[dict[str, Any]]:
        sheet, header = self._sheet(openpyxl.load_workbook(self.path), tab)
        found = []
        for row in sheet.iter_rows(min_row=2, values_only=True):
            found.append({h: ("" if v is None else v) for h, v in zip(header, row, strict=False)})
        return found

    def type(self, tab: str, column: str, value: str, header: str, typed: Any) -> None:
        book = openpyxl.load_workbook(self.path)
        sheet, names = self._sheet(book, tab)
        (row,) = [
            r
            for r in range(2, sheet.max_row + 1)
            if sheet.cell(r, 1 + names.index(column)).value == value
        ]
        sheet.cell(row, 1 + names.index(header)).value = typed
        book.save(self.path)

    def sort_visible(self, tab: str, by: str, *, descending: bool) -> None:
        book = openpyxl.load_workbook(self.path)
        sheet, names = self._sheet(book, tab)
        assert names[0] == KEY
        width = len(names)
        rows = [
            [sheet.cell(r, c).value for c in range(2, width + 1)]
            for r in range(2, sheet.max_row + 1)
        ]
        rows.sort(key=lambda values: str(values[names.index(by) - 1]), reverse=descending)
        for r, values in enumerate(rows, start=2):
            for c, value in enumerate(values, start=2):
                sheet.cell(r, c).value = value
        book.save(self.path)


def _no_wait(seconds: float) -> None:
    pass


@pytest.fixture
def shop(db: e.Database, load: Callable[..., e.Outcome]) -> e.Database:
    """SO-1 and SO-2 fill PO-1:1; SO-3 goes to PO-2:1 (which holds 1 unit for the store)."""
    load(
        po("PO-1", (1, "A", 4, "2027-01-10")),
        po("PO-2", (1, "A", 6, "2027-02-01")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 2)),
        so("SO-3", 3, (1, "A", 1)),
    )
    e.set_store_hold(db, e.Actor("tester", e.Source.CLI), "PO-2", 1, 1)
    assert allocation_map(db) == PLACED
    return db


@pytest.fixture(params=["google", "xlsx"])
def sheet(request: pytest.FixtureRequest, tmp_path: Path, shop: e.Database) -> Iterator[Sheet]:
    if request.param == "google":
        standin: SheetsStandin = request.getfixturevalue("sheets_standin")
        yield Google(standin, request.getfixturevalue("service_account_file"))
    else:
        yield Excel(tmp_path / "plan.xlsx")


def run(db: e.Database, sheet: Sheet, how: str) -> Report:
    sync = Sync(db, sheet.backend(), SHEET_ACTOR, clock=lambda: NOW)
    report: Report = getattr(sync, how)()
    return report


def by_key(sheet: Sheet, tab: str) -> dict[str, dict[str, Any]]:
    return {row[KEY]: row for row in sheet.rows(tab)}


@pytest.mark.parametrize("runs", [("sync",), ("pull", "push")])
def test_a_command_typed_on_a_row_showing_another_line_is_never_applied_to_either(
    shop: e.Database, sheet: Sheet, runs: tuple[str, ...]
) -> None:
    run(shop, sheet, "push")
    sheet.sort_visible(ALLOCATIONS.name, "Order", descending=True)
    # The row showing SO-1 carries SO-3's key; the person means SO-1.
    assert by_key(sheet, ALLOCATIONS.name)["SO-3:1"]["Order"] == "SO-1"
    sheet.type(ALLOCATIONS.name, "Order", "SO-1", "Action", "remove")

    reports = [run(shop, sheet, how) for how in runs]

    # Refused by the pull, and (a push of its own) by the push that puts the row back.
    assert [(r.applied, r.refused) for r in reports] == [(0, 1)] * len(runs)
    assert allocation_map(shop) == PLACED
    row = by_key(sheet, ALLOCATIONS.name)["SO-3:1"]
    assert (row["Order"], row["PO"], row["Action"]) == ("SO-3", "PO-2", "")
    assert row["Status"].startswith("refused: this row showed SO-1:1 but its hidden Key is SO-3:1")
    assert "not applied: Action remove" in row["Status"]
    # The next run, scheduled and unattended, finds nothing to apply.
    report = run(shop, sheet, "sync")
    assert (report.applied, report.refused) == (0, 0), report.messages
    assert allocation_map(shop) == PLACED
    check_invariants(shop)
    rows = by_key(sheet, ALLOCATIONS.name)
    assert all(row["Order"] + ":1" == key for key, row in rows.items())


def test_values_a_sort_moved_onto_another_line_are_put_back_not_applied(
    shop: e.Database, sheet: Sheet
) -> None:
    run(shop, sheet, "push")
    before = {(p.po, p.line): (p.store_hold, p.arrival_date) for p in e.state(shop).po_lines}
    sheet.sort_visible(PO_LINES.name, "PO", descending=True)
    assert by_key(sheet, PO_LINES.name)["PO-1:1"]["PO"] == "PO-2"

    first = run(shop, sheet, "sync")
    second = run(shop, sheet, "sync")

    assert (first.applied, second.applied, second.refused) == (0, 0, 0), second.messages
    after = {(p.po, p.line): (p.store_hold, p.arrival_date) for p in e.state(shop).po_lines}
    assert after == before
    rows = by_key(sheet, PO_LINES.name)
    assert (rows["PO-1:1"]["PO"], rows["PO-1:1"]["Store hold"]) == ("PO-1", 0)
    assert "not applied: Store hold 1, Arrival date 2027-02-01" in rows["PO-1:1"]["Status"]


def _unchanged(db: e.Database) -> dict[str, list[tuple[Any, ...]]]:
    """The database's tables but the sync's own record of what it wrote."""
    return {name: rows for name, rows in dump(db).items() if name != "mirror_rows"}


@pytest.mark.parametrize("runs", [("sync",), ("pull", "push"), ("push",)])
def test_a_value_typed_in_a_column_the_sync_writes_is_restored_and_never_applied(
    shop: e.Database, sheet: Sheet, runs: tuple[str, ...]
) -> None:
    run(shop, sheet, "push")
    customer = by_key(sheet, ALLOCATIONS.name)["SO-1:1"]["Customer"]
    before = _unchanged(shop)
    sheet.type(PO_LINES.name, "PO", "PO-1", "Quantity", 40)
    sheet.type(ALLOCATIONS.name, "Order", "SO-1", "Customer", "Bob")

    reports = [run(shop, sheet, how) for how in runs]

    # Said once, by the first run that finds it; never applied.
    assert [(r.applied, r.refused) for r in reports] == [(0, 2)] + [(0, 0)] * (len(runs) - 1)
    assert _unchanged(shop) == before
    line = by_key(sheet, PO_LINES.name)["PO-1:1"]
    assert line["Quantity"] == 4
    assert line["Status"] == (
        "refused: Quantity is not editable (the sync writes it): 40 was typed there and is "
        "not applied; it shows 4 again"
    )
    held = by_key(sheet, ALLOCATIONS.name)["SO-1:1"]
    assert held["Customer"] == customer
    assert held["Status"] == (
        "refused: Customer is not editable (the sync writes it): Bob was typed there and is "
        f"not applied; it shows {customer} again"
    )
    # Nothing is left to say: the next runs find the rows as the sync wrote them.
    report = run(shop, sheet, "sync")
    assert (report.applied, report.refused) == (0, 0), report.messages
    assert _unchanged(shop) == before


def test_an_edit_applied_beside_a_value_typed_in_the_syncs_column_says_both(
    shop: e.Database, sheet: Sheet
) -> None:
    run(shop, sheet, "push")
    sheet.type(PO_LINES.name, "PO", "PO-2", "Store hold", 2)
    sheet.type(PO_LINES.name, "PO", "PO-2", "ATP", 99)

    report = run(shop, sheet, "sync")

    assert (report.applied, report.refused) == (1, 1), report.messages
    assert (e.po_line(shop, "PO-2", 1).store_hold, e.po_line(shop, "PO-2", 1).atp) == (2, 3)
    line = by_key(sheet, PO_LINES.name)["PO-2:1"]
    assert (line["Store hold"], line["ATP"]) == (2, 3)
    assert without_operations(line["Status"]) == (
        "applied 2026-11-27 12:00 UTC: store hold 2; refused: ATP is not editable (the sync "
        "writes it): 99 was typed there and is not applied; it shows 3 again"
    )
