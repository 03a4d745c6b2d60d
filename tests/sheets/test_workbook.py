"""The ``.xlsx`` backend: the Backend protocol over a local workbook, checked through openpyxl.

People's edits are simulated the way Excel would make them: open the file with openpyxl, change
it, save it whole.
"""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.styles import Protection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from sheets.backend import Grid, SheetsError, TabChanges, Value
from sheets.layout import (
    ALLOCATIONS,
    KEY,
    PO_LINES,
    STATUS,
    STATUS_WIDTH,
    TABS,
    UNALLOCATED,
    Tab,
)
from sheets.workbook import Workbook
from tests.sheets.expected import applied_rows, changes

Edit = Callable[[Worksheet], None]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "plan.xlsx"


@pytest.fixture
def book(path: Path) -> Workbook:
    """A workbook set up with every tab, headers only."""
    workbook = Workbook(path)
    workbook.setup(TABS, workbook.read(TABS))
    return workbook


def edit(path: Path, tab: str, change: Edit) -> None:
    """A person's edit: the whole file opened, changed and saved, as Excel does."""
    wb = openpyxl.load_workbook(path)
    change(wb[tab])
    wb.save(path)


def sheet(path: Path, tab: str) -> Worksheet:
    return openpyxl.load_workbook(path)[tab]


def row(tab_headers: tuple[str, ...], **values: Value) -> list[Value]:
    """A row in the layout's column order from ``Header=value`` pairs (spaces as ``_``)."""
    named = {k.replace("_", " "): v for k, v in values.items()}
    return [named.get(h) for h in tab_headers]


def allocations(workbook: Workbook) -> Grid:
    return workbook.read(TABS)[ALLOCATIONS.name]


def fill(workbook: Workbook, keys: list[str]) -> None:
    workbook.read(TABS)
    rows = [row(ALLOCATIONS.headers, Key=k, PO="PO-1", Line=1, Qty=2) for k in keys]
    workbook.write({ALLOCATIONS.name: TabChanges(append=rows)})


def validations(ws: Worksheet) -> list[tuple[str, str, str]]:
    return sorted((v.type, v.formula1, str(v.sqref)) for v in ws.data_validations.dataValidation)


def active_sheet(wb: openpyxl.Workbook) -> Worksheet:
    """The worksheet a new workbook starts with."""
    ws = wb.active
    assert isinstance(ws, Worksheet)
    return ws


def letter_of(ws: Worksheet, header: str) -> str:
    return next(c.column_letter for c in ws[1] if c.value == header)


# --- names and reads ----------------------------------------------------------------------------


def test_names_and_no_requests(path: Path) -> None:
    workbook = Workbook(path)
    assert workbook.label == "workbook plan.xlsx"
    assert workbook.mirror == f"xlsx:{path.resolve()}"
    assert workbook.requests == 0
    assert workbook.writes_for({ALLOCATIONS.name: TabChanges(append=[["k1"]])}) == 0


def test_only_xlsx_names_are_taken(tmp_path: Path) -> None:
    with pytest.raises(SheetsError, match=r"plan\.xls is not an \.xlsx workbook"):
        Workbook(tmp_path / "plan.xls")


def test_a_missing_file_reads_as_empty_tabs_and_is_not_created(path: Path) -> None:
    assert Workbook(path).read(TABS) == {tab.name: [] for tab in TABS}
    assert not path.exists()


@pytest.mark.parametrize(
    "content",
    [b"not a workbook at all", b""],
    ids=["garbage", "empty"],
)
def test_a_file_that_is_not_a_workbook_is_a_clear_error(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(SheetsError, match=r"workbook plan\.xlsx cannot be opened"):
        Workbook(path).read(TABS)


def test_a_zip_that_is_not_a_workbook_is_a_clear_error(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(SheetsError, match=r"plan\.xlsx cannot be opened"):
        Workbook(path).read(TABS)
    with pytest.raises(SheetsError, match=r"plan\.xlsx cannot be opened"):
        Workbook(path).setup(TABS, {})


def test_a_folder_is_a_clear_error(path: Path) -> None:
    path.mkdir()
    with pytest.raises(SheetsError, match=r"plan\.xlsx is a folder"):
        Workbook(path).read(TABS)


def test_reads_trim_trailing_empties_and_normalise_values(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = active_sheet(wb)
    ws.title = "Data"
    ws.append(["A", "B", "C"])
    ws.append(["x", None, "", None])
    ws.append([])  # an empty row inside the data stays, as a position
    ws.append([3.0, 2.5, True, datetime(2027, 1, 4), datetime(2027, 1, 4, 9, 30)])
    ws["E3"] = ""  # emptied later in the row
    ws["H10"] = None  # a cell touched but empty, far out
    ws.cell(12, 2).number_format = "0.00"  # formatted only
    wb.save(path)
    grid = Workbook(path).read([Tab("Data", ())])["Data"]
    assert grid == [
        ["A", "B", "C"],
        ["x"],
        [],
        [3, 2.5, True, date(2027, 1, 4), datetime(2027, 1, 4, 9, 30)],
    ]
    assert type(grid[3][0]) is int and type(grid[3][3]) is date


# --- setup --------------------------------------------------------------------------------------


def test_setup_creates_every_tab_with_its_headers(path: Path) -> None:
    workbook = Workbook(path)
    grids = workbook.setup(TABS, workbook.read(TABS))
    assert grids == {tab.name: [list(tab.headers)] for tab in TABS}
    assert openpyxl.load_workbook(path).sheetnames == [tab.name for tab in TABS]


def test_setup_freezes_hides_the_key_and_marks_read_only_columns(
    book: Workbook, path: Path
) -> None:
    ws = sheet(path, PO_LINES.name)
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions[letter_of(ws, KEY)].hidden
    assert not ws.column_dimensions[letter_of(ws, "Store hold")].hidden
    heads = {c.value: c for c in ws[1]}
    assert all(c.font.b for c in heads.values())
    assert heads["PO"].fill.fgColor.rgb.endswith("D9D9D9")
    assert heads["Store hold"].fill.fill_type is None
    comment = heads["Arrival date"].comment
    assert comment is not None and comment.text == "Expected arrival (YYYY-MM-DD)."
    assert ws.column_dimensions[letter_of(ws, "Arrival date")].number_format == "yyyy-mm-dd"
    # The sync's columns are shaded over the whole body, so rows added later are too.
    (shading,) = list(ws.conditional_formatting)
    assert all((r.min_row, r.max_row) == (2, 1_048_576) for r in shading.sqref.ranges)
    covered = {col for r in shading.sqref.ranges for col in range(r.min_col, r.max_col + 1)}
    editable = {heads[c.header].column for c in PO_LINES.editable}
    assert covered == {c.column for c in heads.values()} - editable


def test_setup_adds_dropdowns_checks_and_date_validation(book: Workbook, path: Path) -> None:
    po_lines = sheet(path, PO_LINES.name)
    arrival, sync = letter_of(po_lines, "Arrival date"), letter_of(po_lines, "Sync dates")
    assert validations(po_lines) == [
        ("date", "1", f"{arrival}2:{arrival}1048576"),
        ("list", '"TRUE,FALSE"', f"{sync}2:{sync}1048576"),
    ]
    allocs = sheet(path, ALLOCATIONS.name)
    (action,) = allocs.data_validations.dataValidation
    assert action.formula1 == '"remove,hold for store"'
    # A hint, not a rule: "move to PO-1:2" must be typeable.
    assert not action.showErrorMessage
    column = letter_of(allocs, "Action")
    assert str(action.sqref) == f"{column}2:{column}1048576"
    assert validations(sheet(path, UNALLOCATED.name)) == []


def test_setup_twice_changes_nothing(book: Workbook, path: Path) -> None:
    before = path.read_bytes()
    grids = book.setup(TABS, book.read(TABS))
    assert path.read_bytes() == before
    assert grids == {tab.name: [list(tab.headers)] for tab in TABS}


def test_setup_again_adds_no_duplicates(book: Workbook, path: Path) -> None:
    before = {tab.name: validations(sheet(path, tab.name)) for tab in TABS}
    # A person clears the Status header: setup runs in full again and puts it back.
    edit(path, PO_LINES.name, lambda ws: setattr(ws.cell(1, len(PO_LINES.headers)), "value", None))
    grids = book.setup(TABS, book.read(TABS))
    assert grids[PO_LINES.name] == [list(PO_LINES.headers)]
    assert {tab.name: validations(sheet(path, tab.name)) for tab in TABS} == before
    assert len(list(sheet(path, PO_LINES.name).conditional_formatting)) == 1


def test_a_missing_header_goes_after_the_last_column(path: Path) -> None:
    # An older file without "ATP", and a column a person added at the end.
    headers = [h for h in PO_LINES.headers if h != "ATP"] + ["My notes"]
    wb = openpyxl.Workbook()
    ws = active_sheet(wb)
    ws.title = PO_LINES.name
    ws.append(headers)
    ws.append(["k1", "PO-1", 1])
    wb.save(path)
    workbook = Workbook(path)
    grids = workbook.setup([PO_LINES], workbook.read([PO_LINES]))
    assert grids[PO_LINES.name] == [[*headers, "ATP"], ["k1", "PO-1", 1]]
    ws = sheet(path, PO_LINES.name)
    assert openpyxl.load_workbook(path).sheetnames == [PO_LINES.name]
    arrival = letter_of(ws, "Arrival date")
    assert ("date", "1", f"{arrival}2:{arrival}1048576") in validations(ws)


def test_a_moved_column_takes_its_dropdown_along_on_setup(book: Workbook, path: Path) -> None:
    def swap_action_and_status(ws: Worksheet) -> None:
        action, status = (letter_of(ws, h) for h in ("Action", STATUS))
        ws[f"{action}1"], ws[f"{status}1"] = STATUS, "Action"

    edit(path, ALLOCATIONS.name, swap_action_and_status)
    edit(path, ALLOCATIONS.name, lambda ws: setattr(ws.cell(1, 2), "value", None))  # PO cleared
    book.setup(TABS, book.read(TABS))
    ws = sheet(path, ALLOCATIONS.name)
    (action,) = ws.data_validations.dataValidation
    column = letter_of(ws, "Action")
    assert str(action.sqref) == f"{column}2:{column}1048576"


def test_a_write_leaves_only_our_validations_over_our_columns(book: Workbook, path: Path) -> None:
    """An older version's dropdown is recognised by the column it covers, not by its list; a
    person's own checks stay on their own columns."""
    fill(book, ["k1"])

    def as_left_by_an_older_version(ws: Worksheet) -> None:
        action, status = letter_of(ws, "Action"), letter_of(ws, STATUS)
        old = DataValidation(type="list", formula1='"remove,remove and hold for store"')
        old.add(f"{action}2:{action}1048576")
        ws.cell(1, ws.max_column + 1, "My notes")
        mine = letter_of(ws, "My notes")
        own = DataValidation(type="whole", operator="between", formula1="0", formula2="9")
        own.add(f"{mine}2:{mine}50")
        # Dragged over Status (ours) as well as their own column.
        across = DataValidation(type="textLength", operator="lessThan", formula1="20")
        across.add(f"{status}2:{mine}50")
        for validation in (old, own, across):
            ws.data_validations.append(validation)

    edit(path, ALLOCATIONS.name, as_left_by_an_older_version)
    write_action(book)

    ws = sheet(path, ALLOCATIONS.name)
    action, mine = letter_of(ws, "Action"), letter_of(ws, "My notes")
    assert validations(ws) == [
        ("list", '"remove,hold for store"', f"{action}2:{action}1048576"),
        ("textLength", "20", f"{mine}2:{mine}50"),
        ("whole", "0", f"{mine}2:{mine}50"),
    ]


# --- write --------------------------------------------------------------------------------------


def test_cells_deletes_and_appends_give_the_final_grid(book: Workbook) -> None:
    fill(book, ["k1", "k2", "k3", "k4", "k5"])
    grid = allocations(book)
    action, status = ALLOCATIONS.headers.index("Action"), ALLOCATIONS.headers.index(STATUS)
    line = ALLOCATIONS.headers.index("Line")
    k6 = row(ALLOCATIONS.headers, Key="k6", PO="PO-2", Line=1)
    book.write(
        {
            ALLOCATIONS.name: TabChanges(
                # Cells at their rows as read, including rows after the deleted ones.
                cells=[(2, status, "applied"), (4, action, "remove"), (5, line, None)],
                delete=[3, 1],
                append=[k6],
            )
        }
    )
    assert allocations(book) == [
        grid[0],
        put(grid[2], status, "applied"),
        put(grid[4], action, "remove"),
        put(grid[5], line, None),
        ["k6", "PO-2", 1],
    ]


def put(values: list[Value], col: int, value: Value) -> list[Value]:
    """``values`` with ``value`` at ``col``, shaped as a read gives it."""
    out = [*values, *[None] * (col + 1 - len(values))]
    out[col] = value
    while out and out[-1] is None:
        out.pop()
    return out


def test_deleting_the_last_rows_leaves_nothing_behind(book: Workbook) -> None:
    fill(book, ["k1", "k2", "k3"])
    book.write({ALLOCATIONS.name: TabChanges(delete=[2, 3])})
    assert [r[0] for r in allocations(book)] == [KEY, "k1"]
    book.write({ALLOCATIONS.name: TabChanges(append=[["k9"]])})
    assert [r[0] for r in allocations(book)] == [KEY, "k1", "k9"]


def test_appends_go_after_the_last_row_with_a_value(book: Workbook, path: Path) -> None:
    fill(book, ["k1"])
    edit(path, ALLOCATIONS.name, lambda ws: setattr(ws["B40"], "number_format", "0.00"))
    book.read(TABS)
    book.write({ALLOCATIONS.name: TabChanges(append=[["k2"]])})
    assert [r[0] for r in allocations(book)] == [KEY, "k1", "k2"]


def test_positions_come_from_the_read_when_a_person_moved_a_column(
    book: Workbook, path: Path
) -> None:
    fill(book, ["k1", "k2"])

    def move_action_first(ws: Worksheet) -> None:
        rows = [[c.value for c in r] for r in ws.iter_rows()]
        at = rows[0].index("Action")
        ws.delete_rows(1, ws.max_row)
        for r in rows:
            r = r + [None] * (len(rows[0]) - len(r))
            ws.append([r[at], *r[:at], *r[at + 1 :]])

    edit(path, ALLOCATIONS.name, move_action_first)
    grid = allocations(book)
    action, key = grid[0].index("Action"), grid[0].index(KEY)
    assert action == 0
    k2 = next(i for i, r in enumerate(grid) if len(r) > key and r[key] == "k2")
    book.write({ALLOCATIONS.name: TabChanges(cells=[(k2, action, "remove")])})
    ws = sheet(path, ALLOCATIONS.name)
    by_key = {r[key]: r[action] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert by_key == {"k1": None, "k2": "remove"}


def test_text_stays_text(book: Workbook, path: Path) -> None:
    book.read(TABS)
    values: list[Value] = ["=1+1", "007", "=SUM(A1:A3)", "1e5", "TRUE"]
    book.write({ALLOCATIONS.name: TabChanges(append=[values])})
    assert allocations(book)[1] == values
    ws = sheet(path, ALLOCATIONS.name)
    assert [(c.value, c.data_type) for c in ws[2][:5]] == [(v, "s") for v in values]


def test_control_characters_are_dropped_not_refused(book: Workbook) -> None:
    book.read(TABS)
    book.write({ALLOCATIONS.name: TabChanges(append=[["k1", "PO\x0b-1"]])})
    assert allocations(book)[1] == ["k1", "PO-1"]


def test_values_round_trip(book: Workbook, path: Path) -> None:
    book.read(TABS)
    values: list[Value] = [
        "k1",
        7,
        2.5,
        True,
        False,
        date(2027, 1, 4),
        datetime(2027, 1, 4, 10, 30),
    ]
    book.write({ALLOCATIONS.name: TabChanges(append=[values])})
    back = allocations(book)[1]
    assert back == values
    assert [type(v) for v in back] == [type(v) for v in values]
    ws = sheet(path, ALLOCATIONS.name)
    assert ws["F2"].number_format == "yyyy-mm-dd"


def test_a_number_written_over_a_date_is_not_shown_as_a_date(book: Workbook) -> None:
    book.read(TABS)
    book.write({ALLOCATIONS.name: TabChanges(append=[["k1", date(2027, 1, 4)]])})
    book.read(TABS)
    book.write({ALLOCATIONS.name: TabChanges(cells=[(1, 1, 5)])})
    assert allocations(book)[1] == ["k1", 5]


def test_none_empties_a_cell(book: Workbook) -> None:
    fill(book, ["k1"])
    before = allocations(book)[1]
    book.write({ALLOCATIONS.name: TabChanges(cells=[(1, 1, None), (1, 2, None)])})
    assert allocations(book)[1] == put(put(before, 1, None), 2, None)
    assert allocations(book)[1][1:3] == [None, None]


def test_a_persons_edit_is_read_back(book: Workbook, path: Path) -> None:
    fill(book, ["k1", "k2"])

    def choose(ws: Worksheet) -> None:
        ws[f"{letter_of(ws, 'Action')}3"] = "move to PO-2:1"

    edit(path, ALLOCATIONS.name, choose)
    grid = allocations(book)
    assert grid[2][grid[0].index("Action")] == "move to PO-2:1"
    assert grid[1][grid[0].index("Action") :] == []


def test_no_changes_leave_the_file_alone(book: Workbook, path: Path) -> None:
    before = path.read_bytes()
    book.read(TABS)
    book.write({ALLOCATIONS.name: TabChanges(), PO_LINES.name: TabChanges()})
    assert path.read_bytes() == before


def test_a_write_refuses_a_file_saved_since_it_was_read(book: Workbook, path: Path) -> None:
    fill(book, ["k1"])
    book.read(TABS)
    edit(path, ALLOCATIONS.name, lambda ws: ws.delete_rows(2))
    with pytest.raises(SheetsError, match=r"plan\.xlsx changed since the sync read it"):
        book.write({ALLOCATIONS.name: TabChanges(cells=[(1, 0, "k1")])})


@pytest.mark.parametrize("lock", ["~$plan.xlsx", ".~lock.plan.xlsx#"])
def test_a_file_open_in_excel_or_libreoffice_is_not_written(
    book: Workbook, path: Path, lock: str
) -> None:
    book.read(TABS)
    (path.parent / lock).write_bytes(b"")
    with pytest.raises(SheetsError, match=r"plan\.xlsx is open in"):
        book.write({ALLOCATIONS.name: TabChanges(append=[["k1"]])})


def test_writing_to_a_missing_tab_is_a_clear_error(path: Path) -> None:
    workbook = Workbook(path)
    workbook.setup([PO_LINES], workbook.read([PO_LINES]))
    with pytest.raises(SheetsError, match=r"plan\.xlsx has no tab 'Allocations'"):
        workbook.write({ALLOCATIONS.name: TabChanges(append=[["k1"]])})


def test_a_cell_a_person_merged_is_a_clear_error_and_nothing_is_written(
    book: Workbook, path: Path
) -> None:
    fill(book, ["k1"])
    edit(path, ALLOCATIONS.name, lambda ws: ws.merge_cells("B2:C2"))
    book.read(TABS)
    before = path.read_bytes()
    with pytest.raises(SheetsError, match=r"plan\.xlsx tab 'Allocations' cell C2 is merged"):
        book.write({ALLOCATIONS.name: TabChanges(cells=[(1, 2, "PO-2")])})
    assert path.read_bytes() == before


def test_saves_leave_no_temporary_files(book: Workbook, path: Path) -> None:
    fill(book, ["k1"])
    assert [p.name for p in path.parent.iterdir()] == ["plan.xlsx"]


def test_a_formula_reads_as_the_value_a_spreadsheet_app_calculated(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = active_sheet(wb)
    ws.title = "Data"
    ws.append(["A", "B"])
    ws.append(["=1+1", "=2+2"])
    wb.save(path)
    # Excel and LibreOffice save a formula with its result; openpyxl cannot, so patch one in.
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    parts["xl/worksheets/sheet1.xml"] = xml.replace(
        "<f>1+1</f><v />", "<f>1+1</f><v>2</v>"
    ).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    # The formula never calculated reads as empty.
    assert Workbook(path).read([Tab("Data", ())])["Data"] == [["A", "B"], [2]]


def test_neighbouring_columns_stored_as_one_range_are_split(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = active_sheet(wb)
    ws.title = PO_LINES.name
    ws.append(list(PO_LINES.headers))
    # As Excel saves columns of one width: a single A:E entry.
    ws.column_dimensions.group("A", "E")
    ws.column_dimensions["A"].outline_level = 0
    ws.column_dimensions["A"].width = 20
    wb.save(path)
    workbook = Workbook(path)
    workbook.setup(TABS, workbook.read(TABS))
    dims = sheet(path, PO_LINES.name).column_dimensions
    spans = sorted((d.min, d.max) for d in dims.values() if d.min is not None)
    assert all(high is not None and high < low for (_, high), (low, _) in pairwise(spans))
    assert dims["A"].hidden and (dims["A"].min, dims["A"].max) == (1, 1)
    assert not dims["B"].hidden and dims["B"].width == 20


def test_rows_inserted_above_rows_with_deletions_cells_and_appends(book: Workbook) -> None:
    fill(book, ["k1", "k2", "k3", "k4", "k5", "k6"])
    grid = allocations(book)
    change = TabChanges(
        cells=[(4, 1, "PO-4b")],
        delete=[2, 5],
        insert=[(1, ["n0", "PO-0"]), (4, ["n3a", "PO-3a"]), (4, ["n3b"]), (6, ["n5"])],
        append=[["n7"]],
    )
    book.write({ALLOCATIONS.name: change})
    after = allocations(book)
    assert after == trimmed(applied_rows(grid, change))
    assert [r[0] for r in after[1:]] == ["n0", "k1", "k3", "n3a", "n3b", "k4", "n5", "k6", "n7"]


def trimmed(rows: list[list[Value]]) -> list[list[Value]]:
    """Rows as a read gives them: no trailing empty cells."""
    return [put(row, 0, row[0]) if row else row for row in rows]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_mix_of_changes_gives_the_grid_worked_out_locally(
    tmp_path: Path, data: st.DataObject
) -> None:
    workbook = Workbook(tmp_path / f"{uuid.uuid4().hex}.xlsx")
    workbook.setup(TABS, workbook.read(TABS))
    n = data.draw(st.integers(0, 8), label="rows")
    workbook.write(
        {ALLOCATIONS.name: TabChanges(append=[[f"k{i}", f"PO-{i}", i] for i in range(1, n + 1)])}
    )
    grid = allocations(workbook)
    change = data.draw(changes(len(grid), 4), label="change")
    workbook.write({ALLOCATIONS.name: change})
    assert allocations(workbook) == trimmed(applied_rows(grid, change))


def test_a_hidden_row_moves_with_its_row_on_delete(book: Workbook, path: Path) -> None:
    fill(book, ["k1", "k2", "k3"])
    edit(path, ALLOCATIONS.name, lambda ws: setattr(ws.row_dimensions[4], "hidden", True))
    book.read(TABS)
    book.write({ALLOCATIONS.name: TabChanges(delete=[1])})
    ws = sheet(path, ALLOCATIONS.name)
    assert ws["A3"].value == "k3" and ws.row_dimensions[3].hidden
    assert not ws.row_dimensions[4].hidden


# --- what people may edit, and Status -----------------------------------------------------------


def write_action(workbook: Workbook) -> None:
    """The sync writes an editable cell of the first row (as a conflict's value is shown)."""
    workbook.read(TABS)
    action = ALLOCATIONS.headers.index("Action")
    workbook.write({ALLOCATIONS.name: TabChanges(cells=[(1, action, "remove")])})


def test_only_the_editable_columns_are_unlocked_on_a_protected_sheet(
    book: Workbook, path: Path
) -> None:
    fill(book, ["k1"])
    write_action(book)
    for tab in TABS:
        ws = sheet(path, tab.name)
        assert ws.protection.sheet and not ws.protection.password, tab.name
        # What protection can leave to people stays theirs.
        flags = ("sort", "autoFilter", "insertRows", "deleteRows", "formatCells", "formatColumns")
        assert not any(getattr(ws.protection, flag) for flag in flags)
        for column in tab.columns:
            at = letter_of(ws, column.header)
            assert ws[f"{at}1"].protection.locked
            # Cells typed in later take their column's style.
            assert ws.column_dimensions[at].protection.locked is not column.editable
    ws = sheet(path, ALLOCATIONS.name)
    assert not ws[f"{letter_of(ws, 'Action')}2"].protection.locked
    assert ws[f"{letter_of(ws, 'Customer')}2"].protection.locked
    assert ws[f"{letter_of(ws, 'PO')}2"].protection.locked


def test_a_write_protects_again_what_a_person_unprotected(book: Workbook, path: Path) -> None:
    fill(book, ["k1"])

    def unprotect(ws: Worksheet) -> None:
        ws.protection.sheet = False
        ws[f"{letter_of(ws, 'PO')}2"].protection = Protection(locked=False)
        ws[f"{letter_of(ws, 'Action')}2"].protection = Protection(locked=True)

    edit(path, ALLOCATIONS.name, unprotect)
    write_action(book)
    ws = sheet(path, ALLOCATIONS.name)
    assert ws.protection.sheet
    assert ws[f"{letter_of(ws, 'PO')}2"].protection.locked
    assert not ws[f"{letter_of(ws, 'Action')}2"].protection.locked


def test_status_is_wide_and_wraps_its_messages(book: Workbook, path: Path) -> None:
    fill(book, ["k1"])
    book.read(TABS)
    status = ALLOCATIONS.headers.index(STATUS)
    book.write({ALLOCATIONS.name: TabChanges(cells=[(1, status, "refused: " + "why " * 40)])})
    for tab in (PO_LINES, ALLOCATIONS, UNALLOCATED):
        ws = sheet(path, tab.name)
        at = letter_of(ws, STATUS)
        assert ws.column_dimensions[at].width == STATUS_WIDTH
        assert ws.column_dimensions[at].alignment.wrap_text
    ws = sheet(path, ALLOCATIONS.name)
    assert ws[f"{letter_of(ws, STATUS)}2"].alignment.wrap_text
    # 169 characters: three lines of a 60-wide column. Neither Calc nor Excel fits a row to
    # text another program wrote, so the row is given its height.
    assert ws.row_dimensions[2].height == 3 * 15


def test_a_row_height_saved_by_calc_gives_way_to_a_longer_status(
    book: Workbook, path: Path
) -> None:
    fill(book, ["k1"])
    # Calc saves every row's height, 15 points for one line.
    edit(path, ALLOCATIONS.name, lambda ws: setattr(ws.row_dimensions[2], "height", 15))
    book.read(TABS)
    status = ALLOCATIONS.headers.index(STATUS)
    book.write({ALLOCATIONS.name: TabChanges(cells=[(1, status, "refused: " + "why " * 20)])})
    assert sheet(path, ALLOCATIONS.name).row_dimensions[2].height == 2 * 15


def test_a_status_column_left_narrow_by_an_older_setup_is_widened(
    book: Workbook, path: Path
) -> None:
    fill(book, ["k1"])
    edit(
        path,
        ALLOCATIONS.name,
        lambda ws: setattr(ws.column_dimensions[letter_of(ws, STATUS)], "width", 14),
    )
    write_action(book)
    ws = sheet(path, ALLOCATIONS.name)
    assert ws.column_dimensions[letter_of(ws, STATUS)].width == STATUS_WIDTH
