"""``preorder sheets``: push, pull and sync through the real gspread and google-auth against the
Sheets stand-in. The database stays the source of truth; every edit is applied through the engine
or refused with its reason in Status; nothing a person typed is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import engine as e
from engine import mirror
from sheets.backend import SheetsError
from sheets.google import GoogleSheet
from sheets.google_requests import column_letters
from sheets.layout import ALLOCATIONS, PO_LINES, SYNC_LOG, TABS, UNALLOCATED
from sheets.sync import LAYOUT, Report, Sync
from tests.helpers import allocation_map, po, so
from tests.history import dump, events
from tests.invariants import check_invariants
from tests.standins.sheets.standin import SheetsStandin

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
Load = Callable[..., e.Outcome]
SHEET_ACTOR = e.Actor("sheet-editor", e.Source.SHEET)


@pytest.fixture
def shop(db: e.Database, load: Load) -> e.Database:
    """PO-1:1 (A, 5, Jan 10) holds SO-1 (2) and SO-2 (2); PO-1:2 (B, 3, Jan 20) holds SO-3 (1);
    PO-2:1 (A, 6, Feb 1) holds SO-4 (3); SO-5 (A, 9) waits: nothing has 9 units."""
    load(
        po("PO-1", (1, "A", 5, "2027-01-10"), (2, "B", 3, "2027-01-20")),
        po("PO-2", (1, "A", 6, "2027-02-01")),
        so("SO-1", 1, (1, "A", 2), customer="=SUM(A1:A2)"),
        so("SO-2", 2, (1, "A", 2), customer="007 Bond"),
        so("SO-3", 3, (1, "B", 1)),
        so("SO-4", 4, (1, "A", 3)),
        so("SO-5", 5, (1, "A", 9)),
    )
    return db


class Book:
    """One spreadsheet on the stand-in, the sync that mirrors ``db`` to it, and the hands of a
    person editing it in the browser."""

    def __init__(self, standin: SheetsStandin, key_file: Path, db: e.Database) -> None:
        self.standin = standin
        self.key_file = key_file
        self.db = db
        self.id = standin.create_spreadsheet(tabs=["Sheet1"])
        self.sleeps: list[float] = []

    def backend(self, **kw: Any) -> GoogleSheet:
        kw.setdefault("api_url", self.standin.base_url)
        kw.setdefault("sleep", self.sleeps.append)
        kw.setdefault("rng", lambda: 0.0)
        return GoogleSheet(self.id, self.key_file, **kw)

    def sync(self, **kw: Any) -> Sync:
        return Sync(self.db, self.backend(**kw), SHEET_ACTOR, clock=lambda: NOW)

    def push(self) -> Report:
        return self.sync().push()

    def pull(self) -> Report:
        return self.sync().pull()

    def both(self) -> Report:
        return self.sync().sync()

    # --- reading the sheet ---

    def rows(self, tab: str) -> list[dict[str, Any]]:
        return self.standin.records(self.id, tab)

    def row(self, tab: str, key: str) -> dict[str, Any]:
        (found,) = [r for r in self.rows(tab) if r.get("Key") == key]
        return found

    def keys(self, tab: str) -> list[str]:
        return [r["Key"] for r in self.rows(tab)]

    def status(self, tab: str, key: str) -> str:
        return str(self.row(tab, key).get("Status", ""))

    # --- a person's hands ---

    def address(self, tab: str, key: str, header: str) -> str:
        row = self.standin.find_row(self.id, tab, "Key", key)
        header_row = self.standin.cells(self.id, tab)[0]
        return f"{column_letters(header_row.index(header))}{row}"

    def type(self, tab: str, key: str, header: str, value: Any) -> None:
        self.standin.set_cell(self.id, tab, self.address(tab, key, header), value)


@pytest.fixture
def book(
    sheets_standin: SheetsStandin, service_account_file: Path, shop: e.Database
) -> Iterator[Book]:
    yield Book(sheets_standin, service_account_file, shop)


# --- push ---------------------------------------------------------------------------------------


def test_first_push_fills_an_empty_spreadsheet(book: Book) -> None:
    report = book.push()

    assert book.keys(PO_LINES.name) == ["PO-1:1", "PO-1:2", "PO-2:1"]
    first = book.row(PO_LINES.name, "PO-1:1")
    assert (first["SKU"], first["Quantity"], first["Allocated"], first["ATP"]) == ("A", 5, 4, 1)
    assert (first["Orders"], first["Out of sync"], first["Sync dates"]) == (2, 0, False)
    assert first["Arrival date"] == (date(2027, 1, 10) - date(1899, 12, 30)).days  # a serial
    assert book.keys(ALLOCATIONS.name) == ["SO-1:1", "SO-2:1", "SO-3:1", "SO-4:1"]
    held = book.row(ALLOCATIONS.name, "SO-1:1")
    assert (held["PO"], held["Line"], held["Qty"], held["In sync"]) == ("PO-1", 1, 2, True)
    assert held["Placed at"] == "2026-11-02 09:01 UTC"
    assert book.keys(UNALLOCATED.name) == ["SO-5:1"]
    # Text stays text: a leading "=" is not a formula, leading zeros are kept.
    assert held["Customer"] == "=SUM(A1:A2)"
    assert book.row(ALLOCATIONS.name, "SO-2:1")["Customer"] == "007 Bond"
    (log,) = book.rows(SYNC_LOG.name)
    assert (log["Run"], log["Who"], log["Edits applied"]) == ("push", "sheet-editor", 0)
    assert log["Requests"] == report.requests == len(book.standin.requests)
    # The header row is frozen, the Key column hidden, the sync's columns protected.
    tab = book.standin.tab_properties(book.id, PO_LINES.name)
    assert tab["gridProperties"]["frozenRowCount"] == 1
    assert book.standin.hidden_columns(book.id, PO_LINES.name) == [0]
    assert book.standin.protected_ranges(book.id, PO_LINES.name)
    assert report.rows_added == 3 + 4 + 1


def test_an_unchanged_database_sends_no_writes(book: Book) -> None:
    book.push()
    book.standin.clear_requests()

    report = book.push()

    assert (book.standin.reads, book.standin.writes) == (1, 0)
    assert not report.wrote and report.requests == 1
    assert len(book.rows(SYNC_LOG.name)) == 1


def test_a_push_writes_only_what_changed(book: Book, actor: e.Actor) -> None:
    book.push()
    e.set_arrival(book.db, actor, "PO-2", 1, date(2027, 2, 8))
    book.standin.clear_requests()

    report = book.push()

    assert [r.op for r in book.standin.requests] == ["values.batchGet", "values.batchUpdate"]
    assert book.row(PO_LINES.name, "PO-2:1")["Out of sync"] == 1
    held = book.row(ALLOCATIONS.name, "SO-4:1")
    assert held["In sync"] is False
    # PO-2:1's arrival date and out-of-sync count, SO-4's arrival date and in-sync flag.
    assert report.cells_written == 4


# --- pull: edits applied ------------------------------------------------------------------------


def test_each_kind_of_edit_is_applied_through_the_engine(book: Book) -> None:
    book.push()
    book.type(PO_LINES.name, "PO-1:2", "Store hold", 1)
    book.type(PO_LINES.name, "PO-2:1", "Arrival date", "2027-02-15")
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    book.type(ALLOCATIONS.name, "SO-3:1", "Action", "hold for store")
    book.type(ALLOCATIONS.name, "SO-2:1", "Action", "move to PO-2:1")

    report = book.pull()

    assert (report.applied, report.refused) == (5, 0), report.messages
    check_invariants(book.db)
    assert allocation_map(book.db) == {("SO-2", 1): ("PO-2", 1), ("SO-4", 1): ("PO-2", 1)}
    po_1_2 = e.po_line(book.db, "PO-1", 2)
    assert (po_1_2.store_hold, po_1_2.allocated) == (2, 0)  # 1 typed + 1 held at removal
    assert e.po_line(book.db, "PO-2", 1).arrival_date == date(2027, 2, 15)
    assert {ev.source for ev in events(book.db) if ev.actor == "sheet-editor"} == {"sheet"}
    for tab, key in [
        (PO_LINES.name, "PO-1:2"),
        (PO_LINES.name, "PO-2:1"),
        (ALLOCATIONS.name, "SO-1:1"),
        (ALLOCATIONS.name, "SO-2:1"),
    ]:
        assert book.status(tab, key).startswith("applied 2026-11-27 12:00 UTC"), (tab, key)

    book.push()
    assert book.keys(ALLOCATIONS.name) == ["SO-2:1", "SO-4:1"]
    moved = book.row(ALLOCATIONS.name, "SO-2:1")
    assert (moved["PO"], moved["Action"], moved["In sync"]) == ("PO-2", "", False)
    # Lines back in the queue go in at their FIFO places, above SO-5 (placed last).
    assert book.keys(UNALLOCATED.name) == ["SO-1:1", "SO-3:1", "SO-5:1"]
    assert book.row(UNALLOCATED.name, "SO-1:1")["Parked"] is True


def test_new_rows_go_in_at_their_place_in_the_tabs_order(book: Book, actor: e.Actor) -> None:
    book.push()
    e.set_quantity(book.db, actor, "PO-1", 1, 13)  # room on the earliest A line for SO-5 (9)
    e.remove(book.db, actor, "PO-1", 1, [e.LineRef("SO-1")])  # back to the queue, parked
    book.standin.clear_requests()

    report = book.push()

    # Allocations keep PO line then FIFO order: SO-5 joins PO-1:1's rows, above PO-1:2's.
    assert book.keys(ALLOCATIONS.name) == ["SO-2:1", "SO-5:1", "SO-3:1", "SO-4:1"]
    assert book.keys(UNALLOCATED.name) == ["SO-1:1"]
    assert (report.rows_added, report.rows_deleted) == (2, 2)
    assert [r.op for r in book.standin.requests] == [
        "values.batchGet",
        "spreadsheets.batchUpdate",
        "values.batchUpdate",
    ]
    assert book.row(ALLOCATIONS.name, "SO-5:1")["PO"] == "PO-1"
    # A re-push finds every row where it is: nothing to write.
    book.standin.clear_requests()
    book.push()
    assert [r.op for r in book.standin.requests] == ["values.batchGet"]


def test_a_row_back_in_the_queue_goes_above_its_fifo_successor_whatever_the_sort(
    book: Book, actor: e.Actor
) -> None:
    e.set_quantity(book.db, actor, "PO-1", 1, 13)  # SO-5 allocated: the queue is empty
    e.set_quantity(book.db, actor, "PO-2", 1, 20)
    for order in ("SO-1", "SO-2"):
        e.remove(book.db, actor, "PO-1", 1, [e.LineRef(order)])
    e.remove(book.db, actor, "PO-2", 1, [e.LineRef("SO-4")])
    book.push()
    assert book.keys(UNALLOCATED.name) == ["SO-1:1", "SO-2:1", "SO-4:1"]
    # A person sorts the queue by order number, newest first.
    book.standin.sort_rows(book.id, UNALLOCATED.name, "Order", descending=True)
    e.remove(book.db, actor, "PO-1", 2, [e.LineRef("SO-3")])

    book.push()

    # SO-3 was placed between SO-2 and SO-4: it goes in above SO-4's row, wherever that is.
    assert book.keys(UNALLOCATED.name) == ["SO-3:1", "SO-4:1", "SO-2:1", "SO-1:1"]


def test_a_tab_grown_to_fit_can_be_emptied_and_filled_again(book: Book, actor: e.Actor) -> None:
    """Google refuses to delete every row below the frozen header: the last is cleared."""
    book.standin.add_tab(book.id, UNALLOCATED.name, rows=2)  # a person made it small
    for order in ("SO-1", "SO-2"):
        e.remove(book.db, actor, "PO-1", 1, [e.LineRef(order)])
    book.push()
    assert book.keys(UNALLOCATED.name) == ["SO-1:1", "SO-2:1", "SO-5:1"]
    grid = book.standin.tab_properties(book.id, UNALLOCATED.name)["gridProperties"]
    assert grid["rowCount"] == 4  # grown to fit, no row to spare
    # Every unallocated line is placed.
    e.set_quantity(book.db, actor, "PO-2", 1, 20)
    e.allocate(book.db, actor, "PO-2", 1, [e.LineRef("SO-1"), e.LineRef("SO-2")])

    report = book.push()

    assert book.keys(UNALLOCATED.name) == []
    assert report.rows_deleted == 3
    grid = book.standin.tab_properties(book.id, UNALLOCATED.name)["gridProperties"]
    assert (grid["rowCount"], grid["frozenRowCount"]) == (2, 1)
    assert len(book.standin.cells(book.id, UNALLOCATED.name)) == 1  # the header alone
    # Pushes go on: a line back in the queue takes the cleared row.
    e.remove(book.db, actor, "PO-2", 1, [e.LineRef("SO-1")])
    book.push()
    assert book.keys(UNALLOCATED.name) == ["SO-1:1"]
    book.standin.clear_requests()
    book.push()
    assert [r.op for r in book.standin.requests] == ["values.batchGet"]


def test_allocate_to_and_sync_dates(book: Book, actor: e.Actor) -> None:
    e.set_quantity(book.db, actor, "PO-2", 1, 12)  # room for SO-5 (9)
    e.set_arrival(book.db, actor, "PO-1", 1, date(2027, 1, 12))
    book.push()
    assert book.keys(UNALLOCATED.name) == []  # the sweep placed SO-5 on PO-2:1
    e.remove(book.db, actor, "PO-2", 1, [e.LineRef("SO-5")])
    book.push()
    book.type(UNALLOCATED.name, "SO-5:1", "Allocate to", "PO-2:1")
    book.type(PO_LINES.name, "PO-1:1", "Sync dates", True)

    report = book.both()

    assert (report.applied, report.refused) == (2, 0), report.messages
    assert allocation_map(book.db)[("SO-5", 1)] == ("PO-2", 1)
    assert e.po_line(book.db, "PO-1", 1).out_of_sync == 0
    po_line = book.row(PO_LINES.name, "PO-1:1")
    assert (po_line["Sync dates"], po_line["Out of sync"]) == (False, 0)  # the tick is cleared
    assert po_line["Status"].startswith("applied")
    assert "SO-5:1" not in book.keys(UNALLOCATED.name)
    assert book.row(ALLOCATIONS.name, "SO-5:1")["PO"] == "PO-2"


def test_no_dropdown_choice_is_the_beginning_of_another() -> None:
    """Google's AutoInput (and Excel's AutoComplete) finish a typed value with a longer one
    already in the column: "remove" became "remove and hold for store", and was applied."""
    for tab in TABS:
        for column in tab.columns:
            words = [c.casefold() for c in column.choices]
            clashes = [(a, b) for a in words for b in words if a != b and b.startswith(a)]
            assert not clashes, (tab.name, column.header, clashes)


def test_an_action_written_with_the_old_choice_still_applies(book: Book) -> None:
    book.push()
    book.type(ALLOCATIONS.name, "SO-3:1", "Action", "Remove and hold for store")

    report = book.pull()

    assert (report.applied, report.refused) == (1, 0), report.messages
    assert e.po_line(book.db, "PO-1", 2).store_hold == 1
    assert ("SO-3", 1) not in allocation_map(book.db)


def test_a_sheet_set_up_with_the_old_choices_is_offered_the_new_ones(book: Book) -> None:
    book.push()
    # As an earlier version left it: the old dropdown, and no record of the layout it set up.
    sheet = book.standin.book(book.id).tab(ALLOCATIONS.name)
    (action,) = sheet.validations
    old = [{"userEnteredValue": v} for v in ("remove", "remove and hold for store")]
    action["rule"]["condition"]["values"] = old
    mirror.save(book.db, book.backend().mirror, {LAYOUT: {LAYOUT: None}})

    book.push()

    *_, action = book.standin.validations(book.id, ALLOCATIONS.name)
    offered = [v["userEnteredValue"] for v in action["rule"]["condition"]["values"]]
    assert offered == ["remove", "hold for store"]
    # Once: the next run finds the layout it set up.
    book.standin.clear_requests()
    book.push()
    assert [r.op for r in book.standin.requests] == ["values.batchGet"]


# --- pull: bad edits refused, the others applied -------------------------------------------------


def test_a_received_total_typed_in_the_sheet_records_a_receipt_of_the_difference(
    book: Book,
) -> None:
    book.push()
    assert book.row(PO_LINES.name, "PO-1:1")["Received"] == 0
    book.type(PO_LINES.name, "PO-1:1", "Received", 2)
    report = book.pull()
    assert (report.applied, report.refused) == (1, 0), report.messages
    assert e.po_line(book.db, "PO-1", 1).received == 2
    assert [r.order for r in e.ready(book.db)] == ["SO-1"]
    book.push()
    book.type(PO_LINES.name, "PO-1:1", "Received", 5)  # the whole quantity: the line closes
    assert book.pull().applied == 1
    assert e.po_line(book.db, "PO-1", 1).status == "received"
    book.push()
    assert "PO-1:1" not in book.keys(PO_LINES.name)  # the tab lists open lines
    check_invariants(book.db)


@pytest.mark.parametrize(
    ("tab", "key", "header", "value", "reason"),
    [
        (PO_LINES.name, "PO-1:1", "Received", -1, "Received cannot be negative"),
        (PO_LINES.name, "PO-1:1", "Received", "many", "text 'many' where a whole number"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "PO-9:1", "unknown PO PO-9"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "PO-1:2", "SO-5:1 is SKU A, not B"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "PO-2:1", "short by 6"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "next week", "is not PO:LINE"),
        (PO_LINES.name, "PO-1:1", "Store hold", "lots", "text 'lots' where a whole number"),
        (PO_LINES.name, "PO-1:1", "Store hold", -2, "cannot be negative"),
        (PO_LINES.name, "PO-1:1", "Arrival date", "soon", "text 'soon' where a date belongs"),
        (PO_LINES.name, "PO-1:1", "Arrival date", "2026-11-01", "2026-11-01 is in the past"),
        (ALLOCATIONS.name, "SO-1:1", "Action", "delete it", "unknown action 'delete it'"),
        (ALLOCATIONS.name, "SO-1:1", "Action", "move to PO-1:2", "is SKU A, not B"),
        # Cells that once stopped the whole pull with a traceback.
        (PO_LINES.name, "PO-1:1", "Store hold", "--2", "text '--2' where a whole number"),
        (PO_LINES.name, "PO-1:1", "Store hold", "²", "text '²' where a whole number"),
        (PO_LINES.name, "PO-1:1", "Store hold", "99999999999", "at most 2,147,483,647"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "PO-1:99999999999", "at most 2,147,483,647"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "PO-1:²", "is not PO:LINE"),
        (UNALLOCATED.name, "SO-5:1", "Allocate to", "PO 1:1", "PO number 'PO 1'"),
        (ALLOCATIONS.name, "SO-1:1", "Action", "move to PO-2:99999999999", "at most 2,147,483,647"),
    ],
)
def test_a_bad_edit_is_refused_with_its_reason_while_the_others_apply(
    book: Book, tab: str, key: str, header: str, value: Any, reason: str
) -> None:
    book.push()
    book.type(PO_LINES.name, "PO-1:2", "Store hold", 1)  # a good edit alongside
    book.type(tab, key, header, value)
    before = dump(book.db)["allocations"]

    report = book.pull()

    assert (report.applied, report.refused) == (1, 1)
    status = book.status(tab, key)
    assert status.startswith("refused: ") and reason in status, status
    assert e.po_line(book.db, "PO-1", 2).store_hold == 1
    assert dump(book.db)["allocations"] == before
    # The bad value stays for the person to fix, and is judged again on the next pull.
    book.push()
    assert str(book.row(tab, key)[header]) != ""
    assert book.pull().refused == 1


def test_a_past_arrival_date_is_refused_by_the_engine_rule_the_cli_meets_too(book: Book) -> None:
    # The database's clock says which day it is, for the sheet as for set-arrival: Dec 20 is
    # still ahead on the sheet sync's clock (Nov 27) but gone on the database's.
    book.db.clock = lambda: datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    book.push()
    book.type(PO_LINES.name, "PO-1:1", "Arrival date", "2026-12-20")

    report = book.pull()

    assert (report.applied, report.refused) == (0, 1)
    assert book.status(PO_LINES.name, "PO-1:1") == (
        "refused: arrival date 2026-12-20 is in the past"
    )
    assert e.po_line(book.db, "PO-1", 1).arrival_date == date(2027, 1, 10)


def test_a_duplicated_key_is_refused(book: Book) -> None:
    book.push()
    row = book.standin.find_row(book.id, ALLOCATIONS.name, "Key", "SO-1:1")
    copy = book.standin.cells(book.id, ALLOCATIONS.name)[row - 1]
    book.standin.insert_rows(book.id, ALLOCATIONS.name, row + 1, values=[copy])
    book.standin.set_cell(book.id, ALLOCATIONS.name, f"{_col(book, 'Action')}{row + 1}", "remove")

    report = book.pull()

    assert report.refused == 1 and "duplicated key SO-1:1" in report.messages[0]
    assert ("SO-1", 1) in allocation_map(book.db)


def test_a_tampered_key_is_refused(book: Book) -> None:
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    row = book.standin.find_row(book.id, ALLOCATIONS.name, "Key", "SO-1:1")
    book.standin.set_cell(book.id, ALLOCATIONS.name, f"A{row}", "SO-4:1")  # now two SO-4:1

    book.pull()

    statuses = [r["Status"] for r in book.rows(ALLOCATIONS.name) if r["Key"] == "SO-4:1"]
    assert any("duplicated key" in s or "tampered key" in s for s in statuses)
    assert ("SO-1", 1) in allocation_map(book.db)


def test_an_action_on_a_row_that_no_longer_exists(book: Book, actor: e.Actor) -> None:
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    e.cancel_order(book.db, actor, [e.LineRef("SO-1")])

    report = book.both()

    assert report.refused == 1
    assert "SO-1:1 no longer exists in the database" in book.status(ALLOCATIONS.name, "SO-1:1")
    # Kept, with why, for the person to read and delete; a later push keeps it too.
    book.push()
    assert "SO-1:1" in book.keys(ALLOCATIONS.name)


def test_a_row_changed_in_the_database_and_the_sheet_is_a_conflict(
    book: Book, actor: e.Actor
) -> None:
    book.push()
    e.set_store_hold(book.db, actor, "PO-1", 1, 1)  # someone else, in Slack or the CLI
    book.type(PO_LINES.name, "PO-1:1", "Store hold", 2)

    report = book.both()

    assert report.refused == 1
    status = book.status(PO_LINES.name, "PO-1:1")
    assert status.startswith("refused: conflict") and "Store hold 0 → 1" in status
    assert "not applied: Store hold 2" in status  # what the person typed is not lost
    assert e.po_line(book.db, "PO-1", 1).store_hold == 1
    # The row shows the database again; nothing more happens until the person types again.
    assert book.row(PO_LINES.name, "PO-1:1")["Store hold"] == 1
    assert book.both().refused == 0
    assert e.po_line(book.db, "PO-1", 1).store_hold == 1
    book.type(PO_LINES.name, "PO-1:1", "Store hold", 2)
    assert book.both().applied == 1
    assert e.po_line(book.db, "PO-1", 1).store_hold == 2


def test_a_conflict_found_by_a_pull_alone_says_the_next_push_restores_the_row(
    book: Book, actor: e.Actor
) -> None:
    book.push()
    e.set_store_hold(book.db, actor, "PO-1", 1, 1)
    book.type(PO_LINES.name, "PO-1:1", "Store hold", 2)

    assert book.pull().refused == 1

    # No push ran: the cell still holds what the person typed, and Status says so.
    status = book.status(PO_LINES.name, "PO-1:1")
    assert "not applied: Store hold 2" in status
    assert "shows the database's values again" not in status
    assert "the next push puts the database's values back" in status
    assert book.row(PO_LINES.name, "PO-1:1")["Store hold"] == 2
    # The push puts the database's values back, the sync's own columns too (ATP, still as it
    # was pushed): nothing there is taken for a person's typing.
    assert book.push().refused == 0
    assert book.row(PO_LINES.name, "PO-1:1")["Store hold"] == 1
    assert "not editable" not in book.status(PO_LINES.name, "PO-1:1")
    assert e.po_line(book.db, "PO-1", 1).store_hold == 1


# --- the person reshaping the sheet --------------------------------------------------------------


def test_sorting_inserting_rows_and_moving_a_column_never_misdirect_an_edit(book: Book) -> None:
    book.push()
    book.standin.sort_rows(book.id, ALLOCATIONS.name, "Customer", descending=True)
    book.standin.insert_rows(book.id, ALLOCATIONS.name, 3, values=[["", "a note of mine"]])
    book.standin.move_column(book.id, ALLOCATIONS.name, "Action", "B")
    book.type(ALLOCATIONS.name, "SO-4:1", "Action", "remove")

    report = book.both()

    assert report.applied == 1, report.messages
    assert ("SO-4", 1) not in allocation_map(book.db)
    assert len(allocation_map(book.db)) == 3
    cells = book.standin.cells(book.id, ALLOCATIONS.name)
    assert any("a note of mine" in row for row in cells)  # a person's row is left alone
    assert cells[0][1] == "Action"


def test_a_row_a_person_adds_is_not_applied_and_says_why(book: Book) -> None:
    book.push()
    rows = book.standin.cells(book.id, UNALLOCATED.name)
    header = rows[0]
    added = [""] * len(header)
    added[header.index("Order")] = "SO-5"
    added[header.index("Allocate to")] = "PO-1:1"
    book.standin.insert_rows(book.id, UNALLOCATED.name, len(rows) + 1, values=[added])
    before = dump(book.db)

    report = book.both()

    assert report.refused == 1 and "has no Key" in report.messages[0]
    assert dump(book.db)["allocations"] == before["allocations"]
    last = book.standin.cells(book.id, UNALLOCATED.name)[-1]
    assert "SO-5" in last and any("has no Key" in str(c) for c in last)


def test_a_row_deleted_in_the_sheet_changes_nothing_and_comes_back(book: Book) -> None:
    book.push()
    before = dump(book.db)
    row = book.standin.find_row(book.id, ALLOCATIONS.name, "Key", "SO-2:1")
    book.standin.delete_rows(book.id, ALLOCATIONS.name, row)

    book.both()

    assert dump(book.db)["allocations"] == before["allocations"]
    assert sorted(book.keys(ALLOCATIONS.name)) == ["SO-1:1", "SO-2:1", "SO-3:1", "SO-4:1"]


# --- API errors and crashes ---------------------------------------------------------------------


def test_a_429_then_success(book: Book) -> None:
    book.standin.fail_next(429, retry_after=3)
    report = book.push()
    assert book.sleeps and book.sleeps[0] >= 3
    assert report.requests == len(book.standin.requests)
    assert book.rows(SYNC_LOG.name)[0]["Requests"] == report.requests


def test_a_429_that_never_clears_is_a_bounded_clear_error(book: Book) -> None:
    book.standin.fail_always(429, retry_after=10)
    with pytest.raises(SheetsError, match="429"):
        book.sync(max_attempts=3).push()
    assert len(book.standin.requests) == 3
    assert sum(book.sleeps) <= 60


def test_a_write_failing_after_the_edits_were_applied_then_a_rerun(book: Book) -> None:
    book.push()
    book.type(ALLOCATIONS.name, "SO-1:1", "Action", "remove")
    book.type(PO_LINES.name, "PO-2:1", "Arrival date", "2027-03-01")
    book.standin.fail_always(500, kind="write")

    with pytest.raises(SheetsError) as failed:
        book.sync(max_attempts=2).sync()
    applied = dump(book.db)
    assert ("SO-1", 1) not in allocation_map(book.db)  # the edits went in before the failure
    said = str(failed.value)
    assert said.startswith("Google Sheets answered 500")
    assert "The database has the 2 edits this run applied" in said
    assert "PO lines row 4 (PO-2:1): arrival date 2027-03-01" in said

    book.standin.clear_failures()
    report = book.both()

    assert report.applied == 0  # accounted for by the failed run: nothing to apply again
    assert dump(book.db)["audit_events"] == applied["audit_events"]
    assert book.status(PO_LINES.name, "PO-2:1") == (
        "applied 2026-11-27 12:00 UTC: arrival date 2027-03-01 (promised dates unchanged until "
        "synced)"
    )
    assert "SO-1:1" not in book.keys(ALLOCATIONS.name)
    assert book.both().applied == 0


def _col(book: Book, header: str) -> str:
    header_row = book.standin.cells(book.id, ALLOCATIONS.name)[0]
    return column_letters(header_row.index(header))
