"""Rule 10 in the spreadsheet: a split line is one Allocations row (its key ``ORDER:LINE``, PO
and Line its latest part's, Qty the whole line's) with a read-only Parts column saying where
its units are; an Action on that row acts on the whole line, and its Status says what became of
each part. Through the Google stand-in and in an .xlsx, and for a spreadsheet set up before the
column existed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

import engine as e
from engine import mirror
from sheets.layout import ALLOCATIONS, UNALLOCATED
from sheets.sync import LAYOUT
from tests.cli.helpers import run
from tests.helpers import allocation_map, po, so
from tests.invariants import check_invariants
from tests.sheets.test_cli import _row_of, _sheet
from tests.sheets.test_sync import Book
from tests.standins.sheets.standin import SheetsStandin

Load = Callable[..., e.Outcome]
PARTS = "10 on PO-1:1, 5 on PO-2:1"


def split(load: Load) -> None:
    """SO-1 (15, may split): 10 on PO-1:1 (Jan) and 5 on PO-2:1 (Feb); SO-2 (2) whole on PO-2:1."""
    load(so("SO-1", 1, (1, "A", 15)).model_copy(update={"allow_split": True}))
    load(so("SO-2", 2, (1, "A", 2)))


@pytest.fixture
def shop(db: e.Database, load: Load) -> e.Database:
    load(po("PO-1", (1, "A", 10, "2027-01-10")), po("PO-2", (1, "A", 8, "2027-02-01")))
    return db


@pytest.fixture
def book(
    sheets_standin: SheetsStandin, service_account_file: Path, shop: e.Database
) -> Iterator[Book]:
    yield Book(sheets_standin, service_account_file, shop)


def test_a_split_line_is_one_row_on_its_latest_part_with_its_parts_shown(
    book: Book, load: Load
) -> None:
    split(load)
    book.push()
    assert sorted(book.keys(ALLOCATIONS.name)) == ["SO-1:1", "SO-2:1"]
    row = book.row(ALLOCATIONS.name, "SO-1:1")
    assert (row["PO"], row["Line"], row["Qty"], row["Parts"]) == ("PO-2", 1, 15, PARTS)
    assert row["In sync"] is True
    assert book.row(ALLOCATIONS.name, "SO-2:1")["Parts"] == ""
    # Read-only: the sync's column, protected like the others.
    header = book.standin.cells(book.id, ALLOCATIONS.name)[0]
    at = header.index("Parts")
    protected = book.standin.protected_ranges(book.id, ALLOCATIONS.name)
    assert any(
        r["range"].get("startColumnIndex", 0) <= at < r["range"].get("endColumnIndex", at + 1)
        for r in protected
    )


def test_remove_on_a_split_line_row_releases_every_part_and_says_so(book: Book, load: Load) -> None:
    split(load)
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    report = book.pull()
    assert (report.applied, report.refused) == (1, 0), report.messages
    status = book.status(ALLOCATIONS.name, "SO-1:1")
    assert f"removed the whole split line ({PARTS}): every part's units back to ATP" in status
    assert "1 order line(s) released" in status
    check_invariants(book.db)
    assert e.po_line(book.db, "PO-1", 1).atp == 10 and e.po_line(book.db, "PO-2", 1).atp == 6
    book.push()
    assert book.keys(ALLOCATIONS.name) == ["SO-2:1"]
    assert book.row(UNALLOCATED.name, "SO-1:1")["Parked"] is True


def test_hold_for_store_on_a_split_line_row_holds_only_the_rows_part(
    book: Book, load: Load
) -> None:
    split(load)
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "hold for store")
    assert book.pull().applied == 1
    status = book.status(ALLOCATIONS.name, "SO-1:1")
    assert "the part on PO-2:1 held for the store, the others' units back to ATP" in status
    check_invariants(book.db)
    late = e.po_line(book.db, "PO-2", 1)
    assert (late.store_hold, late.atp) == (5, 1)
    assert e.po_line(book.db, "PO-1", 1).atp == 10


def test_move_on_a_split_line_row_moves_it_whole_or_is_refused(book: Book, load: Load) -> None:
    split(load)
    load(po("PO-3", (1, "A", 15, "2027-03-01")))
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "move to PO-2:1")
    report = book.pull()
    assert report.refused == 1 and "short by" in book.status(ALLOCATIONS.name, "SO-1:1")
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "move to PO-3:1")
    assert book.pull().applied == 1
    assert f"moved the whole split line ({PARTS}) to PO-3:1" in book.status(
        ALLOCATIONS.name, "SO-1:1"
    )
    check_invariants(book.db)
    book.push()
    row = book.row(ALLOCATIONS.name, "SO-1:1")
    assert (row["PO"], row["Qty"], row["Parts"]) == ("PO-3", 15, "")


def test_a_sheet_set_up_before_the_parts_column_gains_it(book: Book, load: Load) -> None:
    book.push()
    # As an earlier version left the tab: no Parts column, and no record of the layout.
    tab = book.standin.book(book.id).tab(ALLOCATIONS.name)
    tab.delete("COLUMNS", tab.cells[0].index("Parts"), tab.cells[0].index("Parts") + 1)
    mirror.save(book.db, book.backend().mirror, {LAYOUT: {LAYOUT: None}})
    assert "Parts" not in book.standin.cells(book.id, ALLOCATIONS.name)[0]
    split(load)

    book.push()

    header = book.standin.cells(book.id, ALLOCATIONS.name)[0]
    assert header[-2:] == ["Status", "Parts"]  # added after the last column
    assert book.row(ALLOCATIONS.name, "SO-1:1")["Parts"] == PARTS
    book.standin.clear_requests()
    book.push()
    assert [r.op for r in book.standin.requests] == ["values.batchGet"]


# --- .xlsx ------------------------------------------------------------------------------------


def test_the_workbook_shows_parts_and_a_remove_acts_on_the_whole_line(
    shop: e.Database, load: Load, tmp_path: Path
) -> None:
    split(load)
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    book = openpyxl.load_workbook(path)
    held, cols = _sheet(book, "Allocations")
    row = _row_of(held, cols, "SO-1:1")
    assert held.cell(row, cols["Parts"]).value == PARTS
    assert held.cell(row, cols["Qty"]).value == 15
    assert held.cell(row, cols["Parts"]).protection.locked is not False  # the sync's
    assert held.cell(_row_of(held, cols, "SO-2:1"), cols["Parts"]).value is None
    held.cell(row, cols["Action"]).value = "remove"
    book.save(path)

    pulled = run(shop, "sheets", "pull", "--xlsx", str(path), "--json")
    assert pulled.exit_code == 0, pulled.stderr
    assert '"applied": 1' in pulled.stdout
    assert allocation_map(shop) == {("SO-2", 1): ("PO-2", 1)}
    check_invariants(shop)
    held, cols = _sheet(openpyxl.load_workbook(path), "Allocations")
    status = held.cell(_row_of(held, cols, "SO-1:1"), cols["Status"]).value
    assert f"removed the whole split line ({PARTS})" in str(status)


def test_a_workbook_set_up_before_the_parts_column_gains_it(
    shop: e.Database, load: Load, tmp_path: Path
) -> None:
    path = tmp_path / "allocations.xlsx"
    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0
    book = openpyxl.load_workbook(path)
    held, cols = _sheet(book, "Allocations")
    held.delete_cols(cols["Parts"])
    book.save(path)
    split(load)

    assert run(shop, "sheets", "push", "--xlsx", str(path)).exit_code == 0

    held, cols = _sheet(openpyxl.load_workbook(path), "Allocations")
    assert max(cols.values()) == cols["Parts"]  # added after the last column
    assert held.cell(_row_of(held, cols, "SO-1:1"), cols["Parts"]).value == PARTS
