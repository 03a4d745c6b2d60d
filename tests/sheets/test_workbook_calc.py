"""The ``.xlsx`` backend on workbooks as LibreOffice Calc saves them (``tests.sheets.calc`` says
what Calc changes): every value reads back true after the sync's own saves, and each save puts
back the layout Calc dropped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.worksheet.worksheet import Worksheet

from sheets.backend import TabChanges, Value
from sheets.layout import ALLOCATIONS, PO_LINES, STATUS, SYNC_LOG, TABS, Tab
from sheets.workbook import Workbook
from tests.sheets.calc import calc_save


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "plan.xlsx"


@pytest.fixture
def book(path: Path) -> Workbook:
    """A workbook set up with every tab, two allocations (one in sync, one not), saved by
    Calc."""
    workbook = Workbook(path)
    workbook.setup(TABS, workbook.read(TABS))
    in_sync = ALLOCATIONS.headers.index("In sync")
    rows: list[list[Value]] = []
    for key, flag in (("SO-1:1", True), ("SO-2:1", False)):
        values: list[Value] = [None] * len(ALLOCATIONS.headers)
        values[0], values[1], values[in_sync] = key, "PO-1", flag
        rows.append(values)
    workbook.read(TABS)
    workbook.write({ALLOCATIONS.name: TabChanges(append=rows)})
    calc_save(path)
    return workbook


def column(workbook: Workbook, header: str) -> list[Value]:
    grid = workbook.read(TABS)[ALLOCATIONS.name]
    at = grid[0].index(header)
    return [row[at] if at < len(row) else None for row in grid[1:]]


def write_status(workbook: Workbook) -> None:
    """Any write of the sync: here a Status, as a pull writes."""
    workbook.read(TABS)
    status = ALLOCATIONS.headers.index(STATUS)
    workbook.write({ALLOCATIONS.name: TabChanges(cells=[(1, status, "applied")])})


def sheets(path: Path) -> dict[str, Worksheet]:
    return sheets_of(openpyxl.load_workbook(path))


def sheets_of(book: openpyxl.Workbook) -> dict[str, Worksheet]:
    found: dict[str, Worksheet] = {}
    for tab in TABS:
        ws = book[tab.name]
        assert isinstance(ws, Worksheet)
        found[tab.name] = ws
    return found


def _no_shading(ws: Worksheet) -> None:
    ws.conditional_formatting = ConditionalFormattingList()


def test_booleans_calc_saved_as_formulas_keep_their_values_through_a_write(
    book: Workbook, path: Path
) -> None:
    assert column(book, "In sync") == [True, False]
    write_status(book)
    assert column(book, "In sync") == [True, False]
    # Written back as plain booleans: any reader sees the values, not a formula to work out.
    ws = sheets(path)[ALLOCATIONS.name]
    at = ALLOCATIONS.headers.index("In sync") + 1
    assert [(ws.cell(r, at).data_type, ws.cell(r, at).value) for r in (2, 3)] == [
        ("b", True),
        ("b", False),
    ]


def test_a_boolean_formula_saved_without_its_value_reads_by_its_formula(path: Path) -> None:
    # As an openpyxl save (the sync's own, before booleans were written back plain) leaves
    # Calc's =TRUE() and =FALSE(): the formula, no value.
    wb = openpyxl.Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = "Data"
    ws.append(["A", "B", "C", "D"])
    ws.append(["=TRUE()", "=FALSE()", "=true", "=1+1"])
    wb.save(path)
    # A formula of anything else still reads as the value saved with it: none here.
    assert Workbook(path).read([Tab("Data", ())])["Data"] == [
        ["A", "B", "C", "D"],
        [True, False, True],
    ]


def test_a_write_puts_back_the_layout_calc_dropped(book: Workbook, path: Path) -> None:
    fresh = Workbook(path.with_name("fresh.xlsx"))
    fresh.setup(TABS, fresh.read(TABS))
    want = {name: _layout(ws) for name, ws in sheets(fresh.path).items()}
    assert {name: _layout(ws) for name, ws in sheets(path).items()} != want
    write_status(book)
    assert {name: _layout(ws) for name, ws in sheets(path).items()} == want


def test_setup_after_calc_save_keeps_one_shading_rule(book: Workbook, path: Path) -> None:
    # A person clears a header: set-up runs in full again.
    wb = openpyxl.load_workbook(path)
    wb[ALLOCATIONS.name].cell(1, len(ALLOCATIONS.headers)).value = None
    wb.save(path)
    book.setup(TABS, book.read(TABS))
    ws = sheets(path)[ALLOCATIONS.name]
    assert [rule.formula for entry in ws.conditional_formatting for rule in entry.rules] == [
        ["TRUE"]
    ]


def test_a_read_finds_the_layout_calc_dropped_and_an_empty_write_puts_it_back(
    book: Workbook, path: Path
) -> None:
    fresh = Workbook(path.with_name("fresh.xlsx"))
    fresh.setup(TABS, fresh.read(TABS))
    want = {name: _layout(ws) for name, ws in sheets(fresh.path).items()}

    book.read(TABS)

    drift = book.layout_drift
    assert set(drift) == {tab.name for tab in TABS}
    assert drift[ALLOCATIONS.name] == [
        "the frozen header row",
        "the grey shading of the sync's columns",
        "the dropdowns and checks",
    ]
    assert drift[SYNC_LOG.name] == [
        "the frozen header row",
        "the grey shading of the sync's columns",
    ]
    book.write({})
    assert {name: _layout(ws) for name, ws in sheets(path).items()} == want
    book.read(TABS)
    assert book.layout_drift == {}


def test_a_workbook_as_the_sync_saved_it_has_no_drift_and_an_empty_write_leaves_it(
    path: Path,
) -> None:
    workbook = Workbook(path)
    workbook.setup(TABS, workbook.read(TABS))
    workbook.read(TABS)
    workbook.write({ALLOCATIONS.name: TabChanges(append=[["SO-1:1", "PO-1"]])})
    before = path.read_bytes()

    workbook.read(TABS)
    assert workbook.layout_drift == {}
    workbook.write({})

    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("change", "part"),
    [
        (lambda ws: setattr(ws.protection, "sheet", False), "the sheet protection"),
        (lambda ws: setattr(ws.column_dimensions["A"], "hidden", False), "the hidden Key column"),
        (_no_shading, "the grey shading of the sync's columns"),
    ],
)
def test_each_part_of_the_layout_a_person_undid_is_found(
    path: Path, change: Callable[[Worksheet], None], part: str
) -> None:
    workbook = Workbook(path)
    workbook.setup(TABS, workbook.read(TABS))
    book = openpyxl.load_workbook(path)
    change(sheets_of(book)[PO_LINES.name])
    book.save(path)

    workbook.read(TABS)

    assert workbook.layout_drift == {PO_LINES.name: [part]}


def _layout(ws: Worksheet) -> tuple[object, ...]:
    """What the sync owns of a tab's layout, and Calc's save changes."""
    rules = [
        (str(entry.sqref), rule.formula)
        for entry in ws.conditional_formatting
        for rule in entry.rules
    ]
    checks = sorted((v.type, v.formula1, str(v.sqref)) for v in ws.data_validations.dataValidation)
    return ws.freeze_panes, rules, checks, ws.protection.sheet
