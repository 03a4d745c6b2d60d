"""``preorder sheets``: the command line over both backends, configuration and errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

import engine as e
from tests.cli.helpers import error_line, run
from tests.helpers import allocation_map, dump, po, so
from tests.sheets.calc import calc_save
from tests.standins.sheets.standin import SheetsStandin


@pytest.fixture
def shop(db: e.Database, actor: e.Actor) -> e.Database:
    e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "A", 5, "2027-01-10"))],
        [so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2)), so("SO-3", 3, (1, "A", 7))],
    )
    return db


def _sheet(book: openpyxl.Workbook, name: str) -> tuple[Worksheet, dict[str, int]]:
    sheet = book[name]
    assert isinstance(sheet, Worksheet)
    header = {
        cell.value: cell.column for cell in sheet[1] if isinstance(cell.value, str) and cell.value
    }
    return sheet, header


def _row_of(sheet: Worksheet, header: dict[str, int], key: str) -> int:
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, header["Key"]).value == key:
            return row
    raise LookupError(key)


def test_the_xlsx_backend_round_trips_edits(shop: e.Database, tmp_path: Path) -> None:
    path = tmp_path / "allocations.xlsx"
    pushed = run(shop, "sheets", "push", "--xlsx", str(path))
    assert pushed.exit_code == 0, pushed.stderr
    assert "push workbook allocations.xlsx" in pushed.stdout

    # A person edits the workbook in a spreadsheet app.
    book = openpyxl.load_workbook(path)
    held, cols = _sheet(book, "Allocations")
    held.cell(_row_of(held, cols, "SO-1:1"), cols["Action"]).value = "remove"
    lines, cols_po = _sheet(book, "PO lines")
    lines.cell(_row_of(lines, cols_po, "PO-1:1"), cols_po["Arrival date"]).value = date(2027, 2, 1)
    book.save(path)

    pulled = run(shop, "sheets", "pull", "--xlsx", str(path), "--json")
    assert pulled.exit_code == 0, pulled.stderr
    assert '"applied": 2' in pulled.stdout
    assert allocation_map(shop) == {("SO-2", 1): ("PO-1", 1)}
    assert e.po_line(shop, "PO-1", 1).arrival_date == date(2027, 2, 1)

    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    book = openpyxl.load_workbook(path)
    held, cols = _sheet(book, "Allocations")
    keys = [held.cell(r, cols["Key"]).value for r in range(2, held.max_row + 1)]
    assert keys == ["SO-2:1"]
    waiting, cols_u = _sheet(book, "Unallocated")
    parked = waiting.cell(_row_of(waiting, cols_u, "SO-1:1"), cols_u["Parked"]).value
    assert parked is True
    # Back in the queue at its FIFO place: above SO-3, placed after it.
    queue = [waiting.cell(r, cols_u["Key"]).value for r in range(2, waiting.max_row + 1)]
    assert queue == ["SO-1:1", "SO-3:1"]
    log, cols_log = _sheet(book, "Sync log")
    assert [log.cell(r, cols_log["Run"]).value for r in range(2, log.max_row + 1)] == [
        "push",
        "pull",
        "push",
    ]


def test_google_sheets_needs_its_settings(shop: e.Database) -> None:
    unset = {"PREORDER_SHEET_ID": "", "PREORDER_GOOGLE_CREDENTIALS": ""}
    result = run(shop, "sheets", "push", env=unset)
    assert result.exit_code == 1
    line = error_line(result)
    assert "PREORDER_SHEET_ID" in line and "PREORDER_GOOGLE_CREDENTIALS" in line


def test_sync_through_google_sheets_from_the_command_line(
    shop: e.Database, sheets_standin: SheetsStandin, service_account_file: Path
) -> None:
    sheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    env = {
        "PREORDER_SHEET_ID": sheet_id,
        "PREORDER_GOOGLE_CREDENTIALS": str(service_account_file),
        "PREORDER_GOOGLE_API_URL": sheets_standin.base_url,
        "PREORDER_GOOGLE_MAX_WAIT": "0.5",
    }
    result = run(shop, "sheets", "sync", env=env)
    assert result.exit_code == 0, result.stderr
    rows = sheets_standin.records(sheet_id, "Allocations")
    assert [r["Key"] for r in rows] == ["SO-1:1", "SO-2:1"]

    sheets_standin.fail_always(429, retry_after=0)
    failed = run(shop, "sheets", "sync", env=env)
    assert failed.exit_code == 1
    assert "429" in error_line(failed) and "try again later" in error_line(failed)


def test_a_sync_waits_for_no_one_when_another_holds_the_sheet(
    shop: e.Database, tmp_path: Path
) -> None:
    """The command line and the scheduled job share one lock: a second sync at the same moment
    is refused at once rather than reading the sheet the first is about to write."""
    from engine.locks import job_lock

    path = tmp_path / "allocations.xlsx"
    with job_lock(shop, "sheet-sync") as held:
        assert held
        result = run(shop, "sheets", "sync", "--xlsx", str(path))
    assert result.exit_code == 1
    assert "another sheet sync is running" in error_line(result)
    assert not path.exists()
    assert run(shop, "sheets", "sync", "--xlsx", str(path)).exit_code == 0


def test_a_pull_of_a_missing_workbook_is_an_error_and_creates_nothing(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "missing.xlsx"
    before = dump(shop)
    result = run(shop, "sheets", "pull", "--xlsx", str(path))
    assert result.exit_code == 1
    line = error_line(result)
    assert "missing.xlsx does not exist" in line and "push" in line
    assert not path.exists()
    assert dump(shop) == before


def test_a_pull_while_the_workbook_is_open_in_libreoffice_applies_nothing(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    book = openpyxl.load_workbook(path)
    held, cols = _sheet(book, "Allocations")
    held.cell(_row_of(held, cols, "SO-1:1"), cols["Action"]).value = "remove"
    book.save(path)
    # LibreOffice's lock file while a person has the workbook open.
    lock = tmp_path / ".~lock.allocations.xlsx#"
    lock.write_text("Ada,ada,laptop,05.12.2026 09:00,file:///home/ada/.config/libreoffice/4;")
    before = dump(shop)

    result = run(shop, "sheets", "pull", "--xlsx", str(path))
    assert result.exit_code == 1
    assert "allocations.xlsx is open in LibreOffice" in error_line(result)
    assert dump(shop) == before

    lock.unlink()
    assert run(shop, "sheets", "pull", "--xlsx", str(path)).exit_code == 0
    assert allocation_map(shop) == {("SO-2", 1): ("PO-1", 1)}
    held, cols = _sheet(openpyxl.load_workbook(path), "Allocations")
    status = held.cell(_row_of(held, cols, "SO-1:1"), cols["Status"]).value
    assert isinstance(status, str) and status.startswith("applied")
    assert "already applied" not in status


def _tick_sync_dates(path: Path) -> None:
    book = openpyxl.load_workbook(path)
    lines, cols = _sheet(book, "PO lines")
    lines.cell(_row_of(lines, cols, "PO-1:1"), cols["Sync dates"]).value = True
    book.save(path)


def _in_sync_cells(path: Path) -> list[object]:
    """The In sync cells as the file holds them: a value, or a formula such as "=TRUE()"."""
    held, cols = _sheet(openpyxl.load_workbook(path), "Allocations")
    return [held.cell(r, cols["In sync"]).value for r in range(2, held.max_row + 1)]


def test_sync_dates_ticked_in_calc_is_applied_after_a_push_saved_the_workbook(
    shop: e.Database, actor: e.Actor, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "set-arrival", "PO-1", "1", "2027-02-01").exit_code == 0
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    _tick_sync_dates(path)
    calc_save(path)
    # A new PO line before the pull: the push writes the workbook, keeping the tick for pull.
    e.apply_records(shop, actor, [po("PO-2", (1, "B", 3, "2027-03-01"))])
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0

    pulled = run(shop, "sheets", "pull", "--xlsx", str(path), "--json")
    assert pulled.exit_code == 0, pulled.stderr
    assert '"applied": 1' in pulled.stdout
    review = e.review(shop, "PO-1", 1)
    assert [a.promised_date for a in review.allocations] == [date(2027, 2, 1)] * 2
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    assert _in_sync_cells(path) == [True, True]


def test_in_sync_shows_the_database_after_calc_saved_the_workbook(
    shop: e.Database, actor: e.Actor, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    assert _in_sync_cells(path) == [True, True]
    calc_save(path)
    e.apply_records(shop, actor, [po("PO-2", (1, "B", 3, "2027-03-01"))])
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    # The arrival moves: the allocations are out of sync until someone syncs them.
    assert run(shop, "set-arrival", "PO-1", "1", "2027-02-01").exit_code == 0
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    assert _in_sync_cells(path) == [False, False]


def _layout(path: Path) -> dict[str, tuple[object, ...]]:
    """What the sync owns of each tab's layout, and a spreadsheet app's save may change."""
    book = openpyxl.load_workbook(path)
    found: dict[str, tuple[object, ...]] = {}
    for name in book.sheetnames:
        sheet, _ = _sheet(book, name)
        rules = [
            (str(entry.sqref), rule.formula)
            for entry in sheet.conditional_formatting
            for rule in entry.rules
        ]
        checks = sorted(
            (v.type, v.formula1, str(v.sqref)) for v in sheet.data_validations.dataValidation
        )
        found[name] = (sheet.freeze_panes, rules, checks, sheet.protection.sheet)
    return found


def test_a_push_of_an_unchanged_database_puts_back_the_layout_calc_dropped(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    want = _layout(path)
    calc_save(path)
    assert _layout(path) != want

    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0

    assert _layout(path) == want
    # The layout in place, an unchanged database writes nothing.
    before = path.read_bytes()
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    assert path.read_bytes() == before


def test_a_workbook_set_up_with_the_old_choices_is_offered_the_new_ones(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    # As an earlier version set it up: "remove and hold for store" began with "remove".
    book = openpyxl.load_workbook(path)
    held, _ = _sheet(book, "Allocations")
    (action,) = held.data_validations.dataValidation
    action.formula1 = '"remove,remove and hold for store"'
    book.save(path)

    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0

    held, cols = _sheet(openpyxl.load_workbook(path), "Allocations")
    (action,) = held.data_validations.dataValidation
    assert action.formula1 == '"remove,hold for store"'
    letter = get_column_letter(cols["Action"])
    assert str(action.sqref) == f"{letter}2:{letter}1048576"
    before = path.read_bytes()
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    assert path.read_bytes() == before


def test_a_received_total_typed_in_the_workbook_records_a_receipt(
    shop: e.Database, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    book = openpyxl.load_workbook(path)
    lines, cols = _sheet(book, "PO lines")
    row = _row_of(lines, cols, "PO-1:1")
    assert lines.cell(row, cols["Received"]).value == 0
    assert lines.cell(row, cols["Received"]).protection.locked is False  # editable
    lines.cell(row, cols["Received"]).value = 2
    book.save(path)

    pulled = run(shop, "sheets", "pull", "--xlsx", str(path), "--json")
    assert pulled.exit_code == 0, pulled.stderr
    assert '"applied": 1' in pulled.stdout
    assert e.po_line(shop, "PO-1", 1).received == 2
    assert [r.order for r in e.ready(shop)] == ["SO-1"]
    # Pulled again (the same total): no second receipt.
    before = dump(shop)
    assert run(shop, "sheets", "pull", "--xlsx", str(path)).exit_code == 0
    assert dump(shop)["po_lines"] == before["po_lines"]
