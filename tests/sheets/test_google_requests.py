"""What the Google backend sends, built without HTTP: A1 ranges, RAW values, values:batchUpdate
bodies, and the batchUpdate requests that set a tab up and move its rows, each checked against
Google's discovery document as the stand-in checks what it is sent."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest

from sheets.backend import Moves, TabChanges, Value
from sheets.google_requests import (
    BODY_LIMIT,
    PROTECTION,
    READ_ONLY_GREY,
    a1_range,
    add_tab,
    block_pieces,
    cell_blocks,
    cell_json,
    column_requests,
    decorate,
    delete_rows,
    grid_size,
    insert_rows,
    keep_a_row,
    pack,
    positions_of,
    protection_requests,
    quote,
    reshape_tab,
    title_check,
)
from sheets.layout import ALLOCATIONS, PO_LINES, Tab
from tests.standins.sheets.discovery import check_body

SHEET = 7


def positions(tab: Tab) -> dict[str, int]:
    return {header: i for i, header in enumerate(tab.headers)}


def batch(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``requests`` as one batchUpdate body Google's schema takes, with no deprecated field."""
    assert check_body("batchUpdate", {"requests": requests}) == []
    return requests


def kinds(requests: list[dict[str, Any]]) -> list[str]:
    return [next(iter(request)) for request in requests]


# --- A1 notation and values ---------------------------------------------------------------------


def test_a1_ranges_quote_every_tab_name() -> None:
    assert quote("It's") == "'It''s'"
    assert a1_range("PO lines", 4, 2, 5, 4) == "'PO lines'!C5:E6"
    assert a1_range("2027", 0, 26, 0, 26) == "'2027'!AA1"


@pytest.mark.parametrize(
    ("answered", "size"),
    [("'PO lines'!A1:Z1000", (1000, 26)), ("Sheet1!A1", (1, 1)), ("'x'!A1:AB7", (7, 28))],
)
def test_the_grid_size_comes_from_a_whole_tab_range(answered: str, size: tuple[int, int]) -> None:
    assert grid_size(answered) == size


def test_cells_are_raw_values_and_dates_serial_numbers() -> None:
    assert [cell_json(v) for v in (None, "=1+1", 7, 2.5, True)] == ["", "=1+1", 7, 2.5, True]
    assert cell_json(date(2027, 1, 4)) == 46391
    assert cell_json(datetime(2027, 1, 4, 6, 0)) == 46391.25
    with pytest.raises(TypeError):
        cell_json(object())  # type: ignore[arg-type]


def test_single_cells_gather_into_whole_rows_and_columns() -> None:
    cells: dict[tuple[int, int], Value] = {(r, 3): f"s{r}" for r in range(1, 5)}
    cells.update({(9, c): c for c in range(0, 3)})
    assert cell_blocks(cells) == [
        (9, 0, [[0, 1, 2]]),
        (1, 3, [["s1"], ["s2"], ["s3"], ["s4"]]),
    ]


def test_values_bodies_stay_under_the_limit_and_count_their_cells() -> None:
    rows = [[f"k{i}", "x" * 1000] for i in range(3000)]
    bodies = list(pack(block_pieces("PO lines", 1, 0, rows)))
    assert len(bodies) > 1
    assert all(len(body) <= BODY_LIMIT for body, _ in bodies)
    assert sum(count for _, count in bodies) == 2 * len(rows)
    written = []
    for body, _ in bodies:
        sent = json.loads(body)
        assert check_body("values.batchUpdate", sent) == []
        assert sent["valueInputOption"] == "RAW"
        written += [row for piece in sent["data"] for row in piece["values"]]
    assert written == rows
    first = json.loads(bodies[0][0])["data"][0]["range"]
    assert first.startswith("'PO lines'!A2:B")


# --- setting a tab up ---------------------------------------------------------------------------


def test_a_new_tab_is_made_with_its_header_row_frozen() -> None:
    (request,) = batch([add_tab(SHEET, "PO lines", 1000, 26)])
    grid = request["addSheet"]["properties"]["gridProperties"]
    assert (grid["rowCount"], grid["columnCount"], grid["frozenRowCount"]) == (1000, 26, 1)


def test_a_tab_of_one_row_grows_before_its_header_is_frozen() -> None:
    requests, rows, cols = reshape_tab(SHEET, 1, 5, 14)
    assert kinds(batch(requests)) == ["appendDimension", "appendDimension", "updateSheetProperties"]
    assert (rows, cols) == (2, 14)
    requests, rows, cols = reshape_tab(SHEET, 100, 26, 14)
    assert kinds(requests) == ["updateSheetProperties"] and (rows, cols) == (100, 26)


def test_decorate_hides_the_key_and_greys_and_validates_every_data_row() -> None:
    at = positions(ALLOCATIONS)
    requests = batch(decorate(SHEET, ALLOCATIONS, at))
    hidden = [r["updateDimensionProperties"] for r in requests if "updateDimensionProperties" in r]
    assert [(h["range"]["startIndex"], h["properties"]) for h in hidden] == [
        (0, {"hiddenByUser": True})
    ]
    (rule,) = [r["setDataValidation"] for r in requests if "setDataValidation" in r]
    assert rule["range"] == {
        "sheetId": SHEET,
        "startRowIndex": 1,
        "startColumnIndex": at["Action"],
        "endColumnIndex": at["Action"] + 1,
    }
    choices = [v["userEnteredValue"] for v in rule["rule"]["condition"]["values"]]
    assert choices == ["remove", "hold for store"] and rule["rule"]["strict"] is False
    notes = [r["updateCells"]["start"]["columnIndex"] for r in requests if "updateCells" in r]
    assert notes == [at["Action"]]


def test_column_requests_cover_only_the_rows_asked_for() -> None:
    at = positions(PO_LINES)
    requests = batch(column_requests(SHEET, PO_LINES, at, 40, 60))
    assert all(
        (where["startRowIndex"], where["endRowIndex"]) == (40, 60)
        for request in requests
        for where in [next(iter(request.values()))["range"]]
    )
    grey = {
        r["repeatCell"]["range"]["startColumnIndex"]
        for r in requests
        if "repeatCell" in r
        and r["repeatCell"]["cell"]["userEnteredFormat"].get("backgroundColorStyle")
        == {"rgbColor": READ_ONLY_GREY}
    }
    assert grey == {at[c.header] for c in PO_LINES.columns if not c.editable}
    validated = {
        r["setDataValidation"]["range"]["startColumnIndex"]
        for r in requests
        if "setDataValidation" in r
    }
    assert validated == {at["Arrival date"], at["Sync dates"]}


def test_protection_keeps_ranges_in_place_and_replaces_the_rest() -> None:
    at = positions(ALLOCATIONS)
    fresh = batch(protection_requests(SHEET, ALLOCATIONS, at, []))
    added = [r["addProtectedRange"]["protectedRange"] for r in fresh]
    assert len(added) == len(ALLOCATIONS.columns)
    assert all(p["warningOnly"] and p["description"] == PROTECTION for p in added)
    action = next(p for p in added if p["range"]["startColumnIndex"] == at["Action"])
    assert action["range"]["endRowIndex"] == 1  # the header alone: people edit the cells

    existing = [{**p, "protectedRangeId": i} for i, p in enumerate(added)]
    assert protection_requests(SHEET, ALLOCATIONS, at, existing) == []
    # One made strict by a person, one left over from a column that moved.
    existing[0] = {**existing[0], "warningOnly": False}
    moved = {**at, "Status": at["Status"] + 1}
    requests = batch(protection_requests(SHEET, ALLOCATIONS, moved, existing))
    deleted = sorted(
        r["deleteProtectedRange"]["protectedRangeId"]
        for r in requests
        if "deleteProtectedRange" in r
    )
    assert deleted == [0, len(existing) - 1]
    assert kinds(requests).count("addProtectedRange") == 2


# --- moving rows --------------------------------------------------------------------------------


def test_rows_are_deleted_and_inserted_bottom_up() -> None:
    change = TabChanges(delete=[2, 3, 7], insert=[(5, ["a"]), (5, ["b"]), (9, ["c"])])
    moves = Moves("Allocations", change, 12)
    requests = batch(
        [
            title_check(SHEET, "Allocations"),
            *delete_rows(SHEET, moves.deleted),
            *insert_rows(SHEET, moves),
        ]
    )
    spans = [
        (kind, r[kind]["range"]["startIndex"], r[kind]["range"]["endIndex"])
        for r in requests[1:]
        for kind in r
    ]
    # Deletions last run first; insertions at their anchors' places after the deletions.
    assert spans == [
        ("deleteDimension", 7, 8),
        ("deleteDimension", 2, 4),
        ("insertDimension", 6, 7),
        ("insertDimension", 3, 5),
    ]
    assert all(r["insertDimension"]["inheritFromBefore"] is False for r in requests[3:])


def test_a_tab_losing_every_data_row_keeps_its_last_one() -> None:
    change = TabChanges(delete=[1, 2], append=[["n1", "PO-1"], ["n2"]])
    kept = keep_a_row(change, rows=3, cols=3)
    assert kept.delete == [1]
    assert kept.cells == [(2, 0, "n1"), (2, 1, "PO-1"), (2, 2, None)]
    assert kept.append == [["n2"]]
    # A grid with room below its rows deletes them all.
    assert keep_a_row(change, rows=10, cols=3) is change


def test_headers_are_found_by_text_the_first_one_winning() -> None:
    assert positions_of(["Key", None, "PO", 3, "PO", ""]) == {"Key": 0, "PO": 2}
