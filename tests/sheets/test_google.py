"""The Google Sheets backend against the Sheets stand-in, over real HTTP with the real gspread and
google-auth: one read, at most two writes, bounded retries and clear errors."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gspread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheets.backend import Grid, SheetsError, TabChanges, Value
from sheets.google import GoogleSheet
from sheets.google_requests import PROTECTION, READ_ONLY_GREY
from sheets.layout import ALLOCATIONS, PO_LINES, SYNC_LOG, TABS, UNALLOCATED, Tab
from tests.sheets.expected import applied_rows, changes
from tests.standins.sheets.standin import PAYLOAD_LIMIT, SheetsStandin

JAN_4_2027 = 46391  # days since 1899-12-30
EMAIL = "preorder-sync@preorder-test.iam.gserviceaccount.com"  # the fixture's service account


class Sleeps(list[float]):
    """Stands in for time.sleep: remembers the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def connect(
    sheets_standin: SheetsStandin, service_account_file: Path, sleeps: Sleeps
) -> Callable[..., GoogleSheet]:
    """``connect(spreadsheet_id, **kw)``: a GoogleSheet on the stand-in that never really sleeps;
    jitter is 0 unless ``rng`` is given."""

    def make(spreadsheet_id: str, **kw: Any) -> GoogleSheet:
        kw.setdefault("api_url", sheets_standin.base_url)
        kw.setdefault("sleep", sleeps)
        kw.setdefault("rng", lambda: 0.0)
        kw.setdefault("timeout", 10)
        return GoogleSheet(spreadsheet_id, service_account_file, **kw)

    return make


def po_row(key: str, po: str = "PO-1", line: int = 1, **cells: Value) -> list[Value]:
    values: dict[str, Value] = {"Key": key, "PO": po, "Line": line, "SKU": "SKU-1", **cells}
    return [values.get(h) for h in PO_LINES.headers]


def col(tab: Tab, header: str) -> int:
    return tab.headers.index(header)


def ops(standin: SheetsStandin) -> list[str]:
    return [r.op for r in standin.requests]


def normalized(grid: Grid | list[list[Any]]) -> list[list[Any]]:
    """A grid as values.get shows it: "" for empty cells, no trailing empties, dates as serials."""
    rows = []
    for row in grid:
        cells = [_shown(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _shown(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return (value - dt.date(1899, 12, 30)).days
    return value


def applied(grid: Grid, change: TabChanges) -> list[list[Any]]:
    """What ``change`` should make of ``grid``, worked out locally."""
    return normalized(applied_rows(grid, change))


def set_up(connect: Callable[..., GoogleSheet], spreadsheet_id: str) -> GoogleSheet:
    sheet = connect(spreadsheet_id)
    sheet.setup(TABS, sheet.read(TABS))
    return sheet


# --- read ---------------------------------------------------------------------------------------


def test_read_gives_missing_tabs_as_empty_grids(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["PO lines"])
    sheets_standin.set_cells(spreadsheet_id, "PO lines", "A1", [["Key", "PO"], ["k1", "'007"]])
    sheet = connect(spreadsheet_id)

    grids = sheet.read(TABS)

    assert grids == {
        "PO lines": [["Key", "PO"], ["k1", "007"]],
        "Allocations": [],
        "Unallocated": [],
        "Sync log": [],
    }
    # The batch naming a missing tab is refused, so only then: which tabs exist, then the rest.
    assert ops(sheets_standin) == ["values.batchGet", "spreadsheets.get", "values.batchGet"]
    assert sheet.requests == 3


def test_read_is_one_request_with_unformatted_values(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=[t.name for t in TABS])
    sheets_standin.set_cells(
        spreadsheet_id, "PO lines", "A1", [["Key", "Arrival date", "Sync dates", "Qty"]]
    )
    sheets_standin.set_cells(spreadsheet_id, "PO lines", "A2", [["k1", "2027-01-04", True, "5"]])
    sheets_standin.set_cells(spreadsheet_id, "PO lines", "A4", [["k3", None, None, 7]])

    grids = connect(spreadsheet_id).read(TABS)

    assert grids["PO lines"] == [
        ["Key", "Arrival date", "Sync dates", "Qty"],
        ["k1", JAN_4_2027, True, 5],
        [],
        ["k3", None, None, 7],
    ]
    (request,) = sheets_standin.requests
    assert request.op == "values.batchGet"
    assert request.query["ranges"] == ["'PO lines'", "'Allocations'", "'Unallocated'", "'Sync log'"]
    assert request.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert request.query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]


# --- setup --------------------------------------------------------------------------------------


def test_setup_creates_tabs_with_headers_frozen_hidden_key_protection_and_validation(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = connect(spreadsheet_id)
    grids = sheet.read(TABS)
    sheets_standin.clear_requests()

    grids = sheet.setup(TABS, grids)

    # The read already listed the tabs (some were missing), so their sheetIds are known.
    assert ops(sheets_standin) == ["spreadsheets.batchUpdate", "values.batchUpdate"]
    for tab in TABS:
        assert grids[tab.name] == [list(tab.headers)]
        assert sheets_standin.cells(spreadsheet_id, tab.name) == [list(tab.headers)]
        props = sheets_standin.tab_properties(spreadsheet_id, tab.name)
        assert props["gridProperties"]["frozenRowCount"] == 1
        protected = sheets_standin.protected_ranges(spreadsheet_id, tab.name)
        assert len(protected) == len(tab.columns)
        assert all(p["warningOnly"] and p["description"] == PROTECTION for p in protected)
        header_only = {
            p["range"]["startColumnIndex"] for p in protected if p["range"].get("endRowIndex") == 1
        }
        assert header_only == {col(tab, c.header) for c in tab.editable}
    for tab in (PO_LINES, ALLOCATIONS, UNALLOCATED):
        assert sheets_standin.hidden_columns(spreadsheet_id, tab.name) == [col(tab, "Key")]
    assert sheets_standin.hidden_columns(spreadsheet_id, SYNC_LOG.name) == []

    rules = {
        (v["range"]["startColumnIndex"], v["range"].get("startRowIndex")): v["rule"]
        for v in sheets_standin.validations(spreadsheet_id, PO_LINES.name)
    }
    assert rules[(col(PO_LINES, "Sync dates"), 1)]["condition"]["type"] == "BOOLEAN"
    arrival = rules[(col(PO_LINES, "Arrival date"), 1)]
    assert arrival["condition"]["type"] == "DATE_IS_VALID" and arrival["strict"] is False
    (action,) = sheets_standin.validations(spreadsheet_id, ALLOCATIONS.name)
    assert action["range"]["startColumnIndex"] == col(ALLOCATIONS, "Action")
    assert action["rule"]["condition"]["type"] == "ONE_OF_LIST"
    assert [v["userEnteredValue"] for v in action["rule"]["condition"]["values"]] == [
        "remove",
        "hold for store",
    ]
    assert action["rule"]["strict"] is False and action["rule"]["showCustomUi"] is True
    # A person may type "move to PO:LINE" where the dropdown offers only the removals.
    sheets_standin.set_cell(spreadsheet_id, "Allocations", "M2", "move to PO-2:1")


def test_setup_again_adds_no_duplicate_protection_and_writes_no_headers(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    set_up(connect, spreadsheet_id)
    before = sheets_standin.protected_ranges(spreadsheet_id, "Allocations")
    sheets_standin.move_column(spreadsheet_id, "Allocations", "Action", "B")  # a person drags it
    sheets_standin.clear_requests()

    sheet = connect(spreadsheet_id)
    grids = sheet.setup(TABS, sheet.read(TABS))

    assert ops(sheets_standin) == [
        "values.batchGet",
        "spreadsheets.get",
        "spreadsheets.batchUpdate",
    ]
    after = sheets_standin.protected_ranges(spreadsheet_id, "Allocations")
    assert sorted(p["protectedRangeId"] for p in after) == sorted(
        p["protectedRangeId"] for p in before
    )
    assert grids["Allocations"][0][1] == "Action"


def test_setup_puts_missing_headers_after_the_last_column(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sync log"], cols=8)
    rows: list[list[str | None]] = [
        ["When", "My notes", None, "Who"],
        ["2027-01-04 09:30", "hello"],
    ]
    sheets_standin.set_cells(spreadsheet_id, "Sync log", "A1", rows)
    sheet = connect(spreadsheet_id)

    grids = sheet.setup([SYNC_LOG], sheet.read([SYNC_LOG]))

    expected = ["When", "My notes", None, "Who", "Run", "Edits applied", "Edits refused"]
    expected += ["Requests", "Note"]
    assert grids["Sync log"][0] == expected
    assert sheets_standin.cells(spreadsheet_id, "Sync log")[0] == normalized([expected])[0]
    assert sheets_standin.tab_properties(spreadsheet_id, "Sync log")["gridProperties"][
        "columnCount"
    ] == len(expected)


# --- write --------------------------------------------------------------------------------------


def test_write_cells_appends_and_deletes_in_at_most_two_writes(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    first = set_up(connect, spreadsheet_id)
    first.write(
        {
            "PO lines": TabChanges(append=[po_row(f"k{i}", line=i) for i in range(1, 8)]),
            "Unallocated": TabChanges(append=[["u1", "SO-1"], ["u2", "SO-2"]]),
        }
    )
    sheets_standin.clear_requests()

    sheet = connect(spreadsheet_id)
    grids = sheet.read(TABS)
    status = col(PO_LINES, "Status")
    changes = {
        "PO lines": TabChanges(
            cells=[(3, status, "applied"), (6, status, "over ATP"), (6, 5, 2), (7, 1, "PO-9")],
            delete=[2, 4, 5],
            append=[po_row("k8", line=8), po_row("k9", line=9)],
        ),
        "Allocations": TabChanges(append=[["a1", "PO-1", 1, "SKU-1", "SO-1", 1]]),
        "Unallocated": TabChanges(delete=[1]),
        "Sync log": TabChanges(append=[["2027-01-04 09:30 UTC", "sync", "push", 0, 0, 3]]),
    }
    assert sheet.writes_for(changes) == 2
    sheet.write(changes)

    # The tabs' ids are the ones setup gave them: no metadata read for the deletions.
    assert ops(sheets_standin) == [
        "values.batchGet",
        "spreadsheets.batchUpdate",
        "values.batchUpdate",
    ]
    assert sheets_standin.writes == 2 and sheet.requests == 3
    for name, change in changes.items():
        assert sheets_standin.cells(spreadsheet_id, name) == applied(grids[name], change)

    # The same object knows where its rows went: a second write needs no read.
    sheets_standin.clear_requests()
    sheet.write({"PO lines": TabChanges(delete=[1], append=[po_row("k10", line=10)])})
    assert ops(sheets_standin) == ["spreadsheets.batchUpdate", "values.batchUpdate"]
    keys = [r[0] for r in sheets_standin.cells(spreadsheet_id, "PO lines")[1:]]
    assert keys == ["k3", "k6", "k7", "k8", "k9", "k10"]


def test_rows_inserted_above_rows_with_deletions_cells_and_appends_in_two_writes(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    first = set_up(connect, spreadsheet_id)
    first.write({"Allocations": TabChanges(append=[[f"u{i}", f"PO-{i}"] for i in range(1, 7)])})
    sheets_standin.clear_requests()

    sheet = connect(spreadsheet_id)
    grids = sheet.read(TABS)
    change = TabChanges(
        cells=[(4, 1, "PO-4b"), (6, 1, "PO-6b")],
        delete=[2, 5],
        # Above the first data row (below the header), twice above row 4, above the last row.
        insert=[
            (1, ["n0", "PO-0"]),
            (4, ["n3a", "PO-3a"]),
            (4, ["n3b", "PO-3b"]),
            (6, ["n5", "PO-5"]),
        ],
        append=[["n7", "PO-7"]],
    )
    assert sheet.writes_for({"Allocations": change}) == 2
    sheet.write({"Allocations": change})

    assert ops(sheets_standin) == [
        "values.batchGet",
        "spreadsheets.batchUpdate",
        "values.batchUpdate",
    ]
    after = sheets_standin.cells(spreadsheet_id, "Allocations")
    assert after == applied(grids["Allocations"], change)
    keys = [r[0] for r in after[1:]]
    assert keys == ["n0", "u1", "u3", "n3a", "n3b", "u4", "n5", "u6", "n7"]
    # Inserted rows inherit the formats and dropdowns of the row below them (a data row, where
    # the row above may be the header): nothing is formatted again.
    (structural,) = [r.json() for r in sheets_standin.requests if r.op.endswith(".batchUpdate")][:1]
    kinds = {kind for request in structural["requests"] for kind in request}
    assert kinds == {"updateSheetProperties", "deleteDimension", "insertDimension"}
    assert all(
        not request["insertDimension"]["inheritFromBefore"]
        for request in structural["requests"]
        if "insertDimension" in request
    )
    tab = sheets_standin.book(spreadsheet_id).tab("Allocations")
    action, arrival = col(ALLOCATIONS, "Action"), col(ALLOCATIONS, "Arrival date")
    for row in range(1, len(after)):
        rule = tab.rule_at(row, action)
        assert rule is not None and rule["condition"]["type"] == "ONE_OF_LIST", row
        assert tab.date_pattern(row, arrival) == "yyyy-mm-dd", row
    # And the object knows where rows went: the next write needs no read.
    sheets_standin.clear_requests()
    sheet.write({"Allocations": TabChanges(insert=[(1, ["n-1", "PO-x"])])})
    assert ops(sheets_standin) == ["spreadsheets.batchUpdate", "values.batchUpdate"]
    keys = [r[0] for r in sheets_standin.cells(spreadsheet_id, "Allocations")[1:]]
    assert keys[:2] == ["n-1", "n0"]


def test_requests_use_no_field_google_deprecated(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)
    sheet.write({"PO lines": TabChanges(append=[po_row(f"k{i}", line=i) for i in range(1, 1200)])})
    sheet.read(TABS)
    sheet.write({"PO lines": TabChanges(insert=[(1, po_row("k0", line=1200))], delete=[5])})

    assert sheets_standin.deprecated == []
    formats = [
        request["repeatCell"]["cell"]["userEnteredFormat"]
        for r in sheets_standin.requests
        if r.op == "spreadsheets.batchUpdate"
        for request in r.json()["requests"]
        if "repeatCell" in request
    ]
    assert {"rgbColor": READ_ONLY_GREY} in [f.get("backgroundColorStyle") for f in formats]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_mix_of_changes_gives_the_grid_worked_out_locally(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet], data: st.DataObject
) -> None:
    sheets_standin.enforce_quota(False)  # dozens of examples against one stand-in
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    if data.draw(st.booleans(), label="grid grown to fit its rows"):
        # No empty row below the data: deleting every row meets Google's refusal to delete
        # every non-frozen row.
        sheets_standin.add_tab(spreadsheet_id, "Unallocated", rows=2)
    n = data.draw(st.integers(0, 8), label="rows")
    set_up(connect, spreadsheet_id).write(
        {"Unallocated": TabChanges(append=[[f"u{i}", f"SO-{i}", "A", i] for i in range(1, n + 1)])}
    )
    sheet = connect(spreadsheet_id)
    grid = sheet.read(TABS)["Unallocated"]
    change = data.draw(changes(len(grid), 4), label="change")
    sheet.write({"Unallocated": change})
    assert sheets_standin.cells(spreadsheet_id, "Unallocated") == applied(grid, change)


def test_cell_updates_alone_are_one_write(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    set_up(connect, spreadsheet_id).write(
        {"PO lines": TabChanges(append=[po_row(f"k{i}") for i in range(1, 301)])}
    )
    sheets_standin.clear_requests()

    sheet = connect(spreadsheet_id)
    grids = sheet.read(TABS)
    status = col(PO_LINES, "Status")
    change = TabChanges(cells=[(r, status, "applied") for r in range(1, 301)])
    change.cells += [(5, c, "x") for c in range(1, 4)]
    sheet.write({"PO lines": change, "Sync log": TabChanges(append=[["now", "me"]])})

    assert ops(sheets_standin) == ["values.batchGet", "values.batchUpdate"]
    assert sheets_standin.cells(spreadsheet_id, "PO lines") == applied(grids["PO lines"], change)


def test_positions_come_from_the_read_after_a_person_moved_a_column(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    set_up(connect, spreadsheet_id).write(
        {"PO lines": TabChanges(append=[po_row("k1"), po_row("k2", line=2)])}
    )
    sheets_standin.move_column(spreadsheet_id, "PO lines", "Status", "B")

    sheet = connect(spreadsheet_id)
    grids = sheet.read(TABS)
    header = grids["PO lines"][0]
    row = [r[0] for r in grids["PO lines"]].index("k2")
    sheet.write(
        {
            "PO lines": TabChanges(
                cells=[(row, header.index("Status"), "applied")],
                append=[[{"Key": "k3", "Status": "new", "PO": "PO-3"}.get(str(h)) for h in header]],
            )
        }
    )

    records = {r["Key"]: r for r in sheets_standin.records(spreadsheet_id, "PO lines")}
    assert records["k2"]["Status"] == "applied" and records["k2"]["PO"] == "PO-1"
    assert records["k1"]["Status"] == ""
    assert records["k3"]["Status"] == "new" and records["k3"]["PO"] == "PO-3"


def test_text_stays_text_and_dates_round_trip(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)
    arrival = col(PO_LINES, "Arrival date")
    row = po_row("k1", po="=1+1", SKU="007")
    row[arrival] = dt.date(2027, 1, 4)
    synced = po_row("k2")
    synced[col(PO_LINES, "Sync dates")] = True
    sheet.write({"PO lines": TabChanges(append=[row, synced])})
    sheet.write({"PO lines": TabChanges(cells=[(2, arrival, dt.date(2027, 2, 1)), (1, 4, None)])})

    grid = connect(spreadsheet_id).read([PO_LINES])["PO lines"]

    assert grid[1][:4] == ["k1", "=1+1", 1, "007"]
    assert grid[1][4] is None  # None emptied the cell
    assert grid[1][arrival] == JAN_4_2027
    assert grid[2][arrival] == JAN_4_2027 + 28
    assert grid[2][col(PO_LINES, "Sync dates")] is True
    assert sheets_standin.cell(spreadsheet_id, "PO lines", "B2", render="FORMATTED_VALUE") == "=1+1"
    shown = sheets_standin.cells(spreadsheet_id, "PO lines", render="FORMATTED_VALUE")
    assert shown[1][arrival] == "2027-01-04"  # the column's date format


def test_a_values_batch_over_the_payload_limit_is_split(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)
    sheets_standin.clear_requests()
    filler = "x" * 200
    rows = [po_row(f"k{i}", SKU=filler, Status=filler) for i in range(1, 1501)]
    rows += [[f"k{i}", *[filler] * 11] for i in range(1501, 2501)]

    sheet.write({"PO lines": TabChanges(append=rows)})

    writes = [r for r in sheets_standin.requests if r.op == "values.batchUpdate"]
    assert len(writes) >= 2 and sum(r.body_bytes for r in writes) > PAYLOAD_LIMIT
    assert all(r.ok and r.body_bytes < 1_600_000 for r in sheets_standin.requests)
    assert ops(sheets_standin)[0] == "spreadsheets.batchUpdate"  # the grid grows first
    cells = sheets_standin.cells(spreadsheet_id, "PO lines")
    assert len(cells) == 2501 and cells[-1][0] == "k2500" and cells[1501][1] == filler
    # The rows the grid grew by get the column formats and validation too.
    validations = sheets_standin.validations(spreadsheet_id, "PO lines")
    grown = {
        v["rule"]["condition"]["type"]
        for v in validations
        if v["range"].get("startRowIndex") == 1000
    }
    assert grown == {"BOOLEAN", "DATE_IS_VALID"}


def test_a_miscount_is_an_error(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)
    short = {"spreadsheetId": spreadsheet_id, "responses": [{"updatedCells": 3}]}
    sheets_standin.fail_next(200, body=short, kind="write", applied=True)

    with pytest.raises(SheetsError, match="reported 3 cells written, expected 14"):
        sheet.write({"PO lines": TabChanges(append=[po_row("k1")])})


def test_a_tab_renamed_or_deleted_by_a_person_is_found_again(
    sheets_standin: SheetsStandin,
    connect: Callable[..., GoogleSheet],
    gspread_client: Callable[..., gspread.Client],
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)  # knows every sheetId from now on
    sheet.write({"PO lines": TabChanges(append=[po_row("k1"), po_row("k2")])})
    sheet.write({"Unallocated": TabChanges(append=[["u1"], ["u2"]])})
    sheets_standin.rename_tab(spreadsheet_id, "PO lines", "Old PO lines")
    sheets_standin.add_tab(spreadsheet_id, "PO lines")
    sheets_standin.set_cells(spreadsheet_id, "PO lines", "A1", [["Key"], ["n1"], ["n2"]])
    book = gspread_client().open_by_key(spreadsheet_id)
    book.del_worksheet(book.worksheet("Unallocated"))
    sheets_standin.add_tab(spreadsheet_id, "Unallocated")
    sheets_standin.set_cells(spreadsheet_id, "Unallocated", "A1", [["Key"], ["v1"], ["v2"]])

    sheet.read(TABS)
    sheet.write({"PO lines": TabChanges(delete=[1]), "Unallocated": TabChanges(delete=[2])})

    assert sheets_standin.cells(spreadsheet_id, "PO lines") == [["Key"], ["n2"]]
    assert sheets_standin.cells(spreadsheet_id, "Unallocated") == [["Key"], ["v1"]]
    old = sheets_standin.cells(spreadsheet_id, "Old PO lines")
    assert [r[0] for r in old] == ["Key", "k1", "k2"]


def test_tabs_a_person_made_are_looked_up_when_the_guessed_ids_miss(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1", "PO lines"])
    sheets_standin.set_cells(spreadsheet_id, "PO lines", "A1", [["Key"], ["n1"], ["n2"]])
    sheet = connect(spreadsheet_id)
    sheet.read([PO_LINES])
    sheets_standin.clear_requests()

    sheet.write({"PO lines": TabChanges(delete=[1])})

    assert sheets_standin.cells(spreadsheet_id, "PO lines") == [["Key"], ["n2"]]
    assert ops(sheets_standin) == [
        "spreadsheets.batchUpdate",  # refused: the guessed id is not this tab's
        "spreadsheets.get",
        "spreadsheets.batchUpdate",
    ]


# --- retries and errors -------------------------------------------------------------------------


def test_429_with_retry_after_then_success(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet], sleeps: Sleeps
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=[t.name for t in TABS])
    sheets_standin.fail_next(429, retry_after=2)
    sheet = connect(spreadsheet_id, rng=lambda: 0.5)

    assert sheet.read(TABS)["PO lines"] == []

    assert len(sleeps) == 1 and 2 <= sleeps[0] <= 2.5  # never sooner than asked
    assert sheet.requests == 2 and [r.status for r in sheets_standin.requests] == [429, 200]


def test_429_that_never_clears_is_a_clear_bounded_error(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet], sleeps: Sleeps
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=[t.name for t in TABS])
    sheets_standin.fail_always(429)
    sheet = connect(spreadsheet_id, max_attempts=5, rng=lambda: 1.0)

    with pytest.raises(SheetsError) as caught:
        sheet.read(TABS)

    message = str(caught.value)
    assert "kept answering 429 (rate limit) after 5 attempts over 19 s" in message
    assert "try again later" in message and "Quota exceeded" in message
    assert sleeps == [1.25, 2.5, 5.0, 10.0]  # 1, 2, 4, 8 s and the most jitter
    assert sheet.requests == 5 and len(sheets_standin.requests) == 5


def test_retries_stop_within_the_total_wait(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet], sleeps: Sleeps
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=[t.name for t in TABS])
    sheets_standin.fail_always(503, retry_after=3)
    sheet = connect(spreadsheet_id, max_attempts=10, max_wait=8.0)

    with pytest.raises(SheetsError) as caught:
        sheet.read(TABS)

    message = str(caught.value)
    assert "kept answering 503 (unavailable) after 3 attempts over 6 s" in message
    assert "(it asked for 3 s more)" in message

    assert sleeps == [3.0, 3.0] and sum(sleeps) <= 8.0


def test_500_then_success(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet], sleeps: Sleeps
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)
    before = sheet.requests
    sheets_standin.clear_requests()
    sheets_standin.fail_next(500, kind="write")
    sheets_standin.fail_next(502, body="<html><body><b>502.</b> That's an error.</body></html>")

    sheet.write({"PO lines": TabChanges(append=[po_row("k1")])})

    assert [r.status for r in sheets_standin.requests] == [500, 502, 200]
    assert sleeps == [0.75, 1.5] and sheet.requests == before + 3
    assert sheets_standin.cells(spreadsheet_id, "PO lines")[1][0] == "k1"


@pytest.mark.parametrize(
    ("change", "rows"),
    [
        (TabChanges(delete=[1]), ["k2", "k3", "k4"]),  # deleted once, not twice
        (TabChanges(insert=[(2, po_row("n"))]), ["k1", "", "k2", "k3", "k4"]),  # one row opened
    ],
    ids=["delete", "insert"],
)
def test_a_batch_that_moves_rows_is_never_repeated_after_a_lost_answer(
    sheets_standin: SheetsStandin,
    connect: Callable[..., GoogleSheet],
    change: TabChanges,
    rows: list[str],
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheet = set_up(connect, spreadsheet_id)
    sheet.write({"PO lines": TabChanges(append=[po_row(f"k{i}") for i in range(1, 5)])})
    sheets_standin.fail_next(500, kind="write", applied=True)  # done, but the answer is lost

    with pytest.raises(SheetsError, match=r"deletes or inserts rows, which may have been applied"):
        sheet.write({"PO lines": change})

    cells = sheets_standin.cells(spreadsheet_id, "PO lines")
    assert [r[0] if r else "" for r in cells[1:]] == rows


def test_unreachable_api_is_retried_then_a_clear_error(
    service_account_file: Path, sleeps: Sleeps
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api_url = f"http://127.0.0.1:{port}"
    sheet = GoogleSheet("1abc", service_account_file, api_url=api_url, max_attempts=3, sleep=sleeps)

    with pytest.raises(SheetsError, match=f"could not reach Google Sheets at {api_url} after 3"):
        sheet.read(TABS)

    assert len(sleeps) == 2 and sheet.requests == 3


def test_403_says_to_share_the_sheet_with_the_service_account(
    sheets_standin: SheetsStandin, connect: Callable[..., GoogleSheet]
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheets_standin.set_shared(spreadsheet_id, False)

    with pytest.raises(SheetsError) as caught:
        connect(spreadsheet_id).read(TABS)

    assert "403" in str(caught.value) and f"service account {EMAIL}" in str(caught.value)


def test_404_names_the_spreadsheet_id(connect: Callable[..., GoogleSheet]) -> None:
    with pytest.raises(SheetsError, match="no spreadsheet with id 1NoSuchSheet"):
        connect("1NoSuchSheet").read(TABS)


def test_a_key_google_never_issued_is_refused(
    sheets_standin: SheetsStandin, tmp_path: Path
) -> None:
    spreadsheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    key_file = sheets_standin.service_account_file(tmp_path / "stray.json", register=False)
    sheet = GoogleSheet(spreadsheet_id, key_file, api_url=sheets_standin.base_url)

    with pytest.raises(SheetsError, match=r"refused the service-account key in .*stray\.json"):
        sheet.read(TABS)

    assert sheet.requests == 0 and sheets_standin.requests == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        (json.dumps({"type": "authorized_user"}), "is not a Google service-account key"),
        (json.dumps({"type": "service_account"}), "is not usable"),
    ],
)
def test_a_bad_key_file_is_a_clear_error(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(SheetsError) as caught:
        GoogleSheet("1abc", path)

    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_label_and_mirror(connect: Callable[..., GoogleSheet]) -> None:
    sheet = connect("1AbC")
    assert (sheet.label, sheet.mirror, sheet.requests) == ("spreadsheet 1AbC", "google:1AbC", 0)
