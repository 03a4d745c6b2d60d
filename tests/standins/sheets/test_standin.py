"""The Sheets stand-in behaves like the Sheets v4 API for the real gspread and google-auth.

Every test goes over HTTP: google-auth signs a JWT with the service-account key and trades it at
the stand-in's token endpoint, gspread sends its requests to ``sheets.googleapis.com`` and the
AuthorizedSession subclass redirects them to the stand-in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gspread
import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import RefreshError
from gspread.exceptions import APIError, SpreadsheetNotFound
from gspread.utils import DateTimeOption, ValueRenderOption

from tests.standins.sheets.auth import SPREADSHEETS_SCOPE
from tests.standins.sheets.fixtures import GOOGLE_API_URL
from tests.standins.sheets.standin import SheetsStandin

MakeClient = Callable[..., gspread.Client]
JAN_4_2027 = 46391  # days since 1899-12-30


@pytest.fixture
def book(sheets_standin: SheetsStandin, gspread_client: MakeClient) -> gspread.Spreadsheet:
    """A spreadsheet with one 1000 x 26 tab, ``Data``, opened through gspread."""
    spreadsheet_id = sheets_standin.create_spreadsheet("Pre-orders", tabs=["Data"])
    return gspread_client().open_by_key(spreadsheet_id)


def api_error(call: Callable[[], Any]) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


# --- spreadsheets.get and tabs --------------------------------------------------------------------


def test_open_by_key_reads_metadata_like_google(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    meta = book.fetch_sheet_metadata()
    assert book.title == "Pre-orders"
    assert meta["properties"]["locale"] == "en_US" and meta["properties"]["timeZone"]
    (sheet,) = meta["sheets"]
    assert sheet["properties"] == {
        "sheetId": 0,
        "title": "Data",
        "index": 0,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": 1000, "columnCount": 26},  # zeros are left out
    }
    assert [r.op for r in sheets_standin.requests] == ["spreadsheets.get", "spreadsheets.get"]
    assert sheets_standin.reads == 2 and sheets_standin.writes == 0


def test_unknown_spreadsheet_is_not_found(gspread_client: MakeClient) -> None:
    with pytest.raises(SpreadsheetNotFound):
        gspread_client().open_by_key("1NoSuchSpreadsheet")


def test_add_worksheet_replies_with_its_properties(book: gspread.Spreadsheet) -> None:
    tab = book.add_worksheet("PO lines", rows=50, cols=12)
    assert tab.id != 0 and tab.index == 1
    assert (tab.row_count, tab.col_count) == (50, 12)
    assert [w.title for w in book.worksheets()] == ["Data", "PO lines"]
    error = api_error(lambda: book.add_worksheet("PO lines", rows=5, cols=5))
    assert error.code == 400
    assert 'A sheet with the name "PO lines" already exists' in error.error["message"]


# --- values: input and render options -------------------------------------------------------------


def test_raw_keeps_formulas_and_leading_zeros_as_text(book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    answer = tab.update([["=1+1", "007", 5, 2.5, True, ""]], "A1", raw=True)
    assert answer["updatedRange"] == "Data!A1:F1" and answer["updatedCells"] == 6
    assert tab.get("A1:F1", value_render_option=ValueRenderOption.unformatted) == [
        ["=1+1", "007", 5, 2.5, True]
    ]
    assert tab.get("A1:E1") == [["=1+1", "007", "5", "2.5", "TRUE"]]
    assert tab.get("A1", value_render_option=ValueRenderOption.formula) == [["=1+1"]]


def test_user_entered_parses_like_typing(book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    tab.update([["=1+1", "007", "TRUE", "2027-01-04", "'007", "12%"]], "A1", raw=False)
    assert tab.get("A1:F1", value_render_option=ValueRenderOption.unformatted) == [
        [2, 7, True, JAN_4_2027, "007", 0.12]
    ]
    assert tab.get("A1:F1") == [["2", "7", "TRUE", "2027-01-04", "007", "0.12"]]
    assert tab.get("A1", value_render_option=ValueRenderOption.formula) == [["=1+1"]]


def test_dates_read_as_serial_numbers_or_text(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    sid = book.id
    sheets_standin.set_cell(sid, "Data", "A1", dt.date(2027, 1, 4))
    sheets_standin.set_cell(sid, "Data", "B1", "1/4/2027")  # en_US typing
    tab = book.worksheet("Data")
    serial = tab.get(
        "A1:B1",
        value_render_option=ValueRenderOption.unformatted,
        date_time_render_option=DateTimeOption.serial_number,
    )
    assert serial == [[JAN_4_2027, JAN_4_2027]]
    text = tab.get(
        "A1:B1",
        value_render_option=ValueRenderOption.unformatted,
        date_time_render_option=DateTimeOption.formatted_string,
    )
    assert text == [["2027-01-04", "1/4/2027"]]
    assert tab.get("A1:B1") == [["2027-01-04", "1/4/2027"]]
    tab.update([[JAN_4_2027 + 1]], "A1")  # a number written into a date cell shows as a date
    assert tab.get("A1") == [["2027-01-05"]]


def test_reads_leave_out_trailing_empties(book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    tab.update([["a", "", "c", ""], ["", "", "", ""], ["x"]], "A1")
    raw = book.values_get("'Data'!A1:D10")
    assert raw == {
        "range": "Data!A1:D10",
        "majorDimension": "ROWS",
        "values": [["a", "", "c"], [], ["x"]],
    }
    empty = book.values_get("'Data'!E1:F3")
    assert "values" not in empty and empty["range"] == "Data!E1:F3"
    whole = book.values_get("Data")
    assert whole["range"] == "Data!A1:Z1000"
    columns = book.values_get("'Data'!A1:C3", params={"majorDimension": "COLUMNS"})
    assert columns["values"] == [["a", "", "x"], [], ["c"]]


def test_batch_get_returns_one_value_range_per_range(book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    tab.update([["h1", "h2"], [1, 2]], "A1")
    got = tab.batch_get(
        ["A1:B", "C1:C2"],
        value_render_option=gspread.utils.ValueRenderOption.unformatted,
        date_time_render_option=gspread.utils.DateTimeOption.serial_number,
    )
    assert [list(v) for v in got] == [[["h1", "h2"], [1, 2]], []]
    assert got[0].range == "Data!A1:B1000"


def test_quoted_tab_names_and_a1_forms(book: gspread.Spreadsheet) -> None:
    tab = book.add_worksheet("It's mine", rows=20, cols=5)
    tab.update([[1, 2, 3], [4, 5, 6]], "A1")
    assert book.values_get("'It''s mine'!B:C")["values"] == [["2", "3"], ["5", "6"]]
    assert book.values_get("'It''s mine'!A2:E")["range"] == "'It''s mine'!A2:E20"
    assert book.values_get("'It''s mine'!2:2")["values"] == [["4", "5", "6"]]
    for bad in ("'Nope'!A1", "It's mine!A1", "'It''s mine'!A1:B2:C3"):
        error = api_error(partial(book.values_get, bad))
        assert error.code == 400 and "Unable to parse range" in error.error["message"]


# --- values: writes -------------------------------------------------------------------------------


def test_writes_past_the_grid_are_refused_until_it_grows(book: gspread.Spreadsheet) -> None:
    tab = book.add_worksheet("Small", rows=3, cols=2)
    error = api_error(lambda: tab.update([[1], [2], [3], [4]], "A1"))
    assert error.code == 400
    assert error.error["message"] == (
        "Range ('Small'!A1:A4) exceeds grid limits. Max rows: 3, max columns: 2"
    )
    error = api_error(lambda: tab.update([[1, 2]], "A1:A1"))
    assert error.error["message"] == (
        "Requested writing within range ['Small'!A1:A1], but tried writing to column [B]"
    )
    book.batch_update(
        {"requests": [{"appendDimension": {"sheetId": tab.id, "dimension": "ROWS", "length": 7}}]}
    )
    assert tab.update([[1], [2], [3], [4]], "A1")["updatedRows"] == 4


def test_values_batch_update_reports_counts(book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    other = book.add_worksheet("Other", rows=10, cols=5)
    answer = book.values_batch_update(
        {
            "valueInputOption": "RAW",
            "data": [
                {"range": "'Data'!A1", "values": [["a", "b", "c"], ["d", None, "f"]]},
                {"range": "'Other'!B2:C3", "values": [[1, 2]]},
            ],
        }
    )
    assert answer["totalUpdatedCells"] == 7
    assert answer["totalUpdatedRows"] == 3 and answer["totalUpdatedColumns"] == 5
    assert answer["totalUpdatedSheets"] == 2
    assert [r["updatedRange"] for r in answer["responses"]] == ["Data!A1:C2", "Other!B2:C2"]
    assert [r["updatedCells"] for r in answer["responses"]] == [5, 2]
    assert tab.get("A1:C2") == [["a", "b", "c"], ["d", "", "f"]]
    assert other.get("B2:C2", value_render_option=ValueRenderOption.unformatted) == [[1, 2]]


def test_values_batch_update_is_all_or_nothing(book: gspread.Spreadsheet) -> None:
    body = {
        "valueInputOption": "RAW",
        "data": [
            {"range": "'Data'!A1", "values": [["kept?"]]},
            {"range": "'Data'!A1001", "values": [["past the grid"]]},
        ],
    }
    error = api_error(lambda: book.values_batch_update(body))
    assert error.error["message"].startswith("Invalid data[1]: Range ('Data'!A1001)")
    assert "values" not in book.values_get("'Data'!A1")
    error = api_error(lambda: book.values_batch_update({"data": []}))
    assert "INPUT_VALUE_OPTION_UNSPECIFIED" in error.error["message"]


def test_batch_clear_and_clear(book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    tab.update([[1, 2, 3], [4, 5, 6]], "A1")
    answer = tab.batch_clear(["A1:A2", "C1"])
    assert answer["clearedRanges"] == ["Data!A1:A2", "Data!C1"]
    assert tab.get("A1:C2", value_render_option=ValueRenderOption.unformatted) == [
        ["", 2],
        ["", 5, 6],
    ]
    assert book.values_clear("'Data'")["clearedRange"] == "Data!A1:Z1000"
    assert "values" not in book.values_get("Data")


def test_append_rows_writes_below_the_table_and_grows(book: gspread.Spreadsheet) -> None:
    tab = book.add_worksheet("Log", rows=2, cols=3)
    tab.update([["when", "who"]], "A1")
    answer = tab.append_rows([["mon", "ann"], ["tue", "bob"], ["wed", "cat", "x", "y"]])
    assert answer["tableRange"] == "Log!A1:B1"
    assert answer["updates"]["updatedRange"] == "Log!A2:D4"
    assert answer["updates"]["updatedCells"] == 8
    props = book.fetch_sheet_metadata()["sheets"][1]["properties"]["gridProperties"]
    assert (props["rowCount"], props["columnCount"]) == (4, 4)
    inserted = tab.append_rows(
        [["thu", "dan"]], insert_data_option=gspread.utils.InsertDataOption.insert_rows
    )
    assert inserted["updates"]["updatedRange"] == "Log!A5:B5"
    assert tab.get_all_values()[-1] == ["thu", "dan", "", ""]


# --- spreadsheets:batchUpdate ---------------------------------------------------------------------


def test_sheet_layout_requests(sheets_standin: SheetsStandin, book: gspread.Spreadsheet) -> None:
    sheet_id = book.worksheet("Data").id
    whole_column_b = {"sheetId": sheet_id, "startColumnIndex": 1, "endColumnIndex": 2}
    answer = book.batch_update(
        {
            "requests": [
                {
                    "updateSheetProperties": {
                        "properties": {
                            "sheetId": sheet_id,
                            "gridProperties": {"frozenRowCount": 1},
                        },
                        "fields": "gridProperties.frozenRowCount",
                    }
                },
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": sheet_id,
                            "dimension": "COLUMNS",
                            "startIndex": 3,
                            "endIndex": 4,
                        },
                        "properties": {"hiddenByUser": True},
                        "fields": "hiddenByUser",
                    }
                },
                {
                    "addProtectedRange": {
                        "protectedRange": {
                            "range": whole_column_b,
                            "description": "owned by the sync",
                            "warningOnly": True,
                        }
                    }
                },
                {
                    "setDataValidation": {
                        "range": {**whole_column_b, "startRowIndex": 1},
                        "rule": {
                            "condition": {
                                "type": "ONE_OF_LIST",
                                "values": [{"userEnteredValue": "remove"}],
                            },
                            "strict": True,
                            "showCustomUi": True,
                        },
                    }
                },
                {
                    "autoResizeDimensions": {
                        "dimensions": {"sheetId": sheet_id, "dimension": "COLUMNS"}
                    }
                },
            ]
        }
    )
    replies = answer["replies"]
    assert len(replies) == 5 and replies[0] == {} and replies[4] == {}
    protected = replies[2]["addProtectedRange"]["protectedRange"]
    assert protected["protectedRangeId"] > 0 and protected["warningOnly"] is True
    meta = book.fetch_sheet_metadata()["sheets"][0]
    assert meta["properties"]["gridProperties"]["frozenRowCount"] == 1
    assert meta["protectedRanges"][0]["description"] == "owned by the sync"
    assert sheets_standin.hidden_columns(book.id, "Data") == [3]
    columns = book.fetch_sheet_metadata({"fields": "sheets.data.columnMetadata"})
    assert columns["sheets"][0]["data"][0]["columnMetadata"][3]["hiddenByUser"] is True
    (validation,) = sheets_standin.validations(book.id, "Data")
    assert validation["rule"]["condition"]["type"] == "ONE_OF_LIST"
    # what the browser does with a strict dropdown and a warning-only protection
    with pytest.raises(ValueError, match="strict"):
        sheets_standin.set_cell(book.id, "Data", "B2", "move to PO-1:1")
    sheets_standin.set_cell(book.id, "Data", "B2", "remove")


def test_batch_update_is_atomic_and_refuses_unknown_requests(book: gspread.Spreadsheet) -> None:
    requests_ = [
        {"addSheet": {"properties": {"title": "New"}}},
        {"deleteDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 0}}},
    ]
    error = api_error(lambda: book.batch_update({"requests": requests_}))
    assert error.error["message"] == (
        "Invalid requests[1].deleteDimension: Sorry, it is not possible to delete all non-frozen "
        "rows."
    )
    assert [w.title for w in book.worksheets()] == ["Data"]
    error = api_error(lambda: book.batch_update({"requests": [{"makeCoffee": {}}]}))
    assert error.code == 400 and 'Unknown name "makeCoffee"' in error.error["message"]


def test_google_refuses_deleting_every_non_frozen_row_and_freezing_every_row(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    def rows(start: int, end: int) -> dict[str, Any]:
        where = {"sheetId": 0, "dimension": "ROWS", "startIndex": start, "endIndex": end}
        return {"deleteDimension": {"range": where}}

    freeze = {"properties": {"sheetId": 0, "gridProperties": {"frozenRowCount": 1}}}
    book.batch_update(
        {"requests": [{"updateSheetProperties": {**freeze, "fields": "gridProperties"}}]}
    )
    error = api_error(lambda: book.batch_update({"requests": [rows(1, 1000)]}))
    assert error.error["message"] == (
        "Invalid requests[0].deleteDimension: Sorry, it is not possible to delete all non-frozen "
        "rows."
    )
    # Each request is judged on the grid the ones before it left.
    error = api_error(lambda: book.batch_update({"requests": [rows(500, 1000), rows(1, 500)]}))
    assert "requests[1].deleteDimension" in error.error["message"]
    book.batch_update({"requests": [rows(2, 1000)]})  # one non-frozen row stays: allowed
    frozen = {"frozenRowCount": 2, "rowCount": 2}
    refreeze = {"properties": {"sheetId": 0, "gridProperties": frozen}, "fields": "gridProperties"}
    error = api_error(
        lambda: book.batch_update({"requests": [{"updateSheetProperties": refreeze}]})
    )
    assert error.error["message"] == (
        "Invalid requests[0].updateSheetProperties: You can't freeze all visible rows on the sheet."
    )
    assert sheets_standin.tab_properties(book.id, "Data")["gridProperties"]["rowCount"] == 2


@pytest.mark.parametrize("before", [True, False], ids=["from_before", "from_after"])
def test_inserted_rows_take_the_formats_and_validation_of_the_row_they_inherit_from(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet, before: bool
) -> None:
    """insertDimension's ``inheritFromBefore``: the new rows take the formats of the row before
    them, or (false) of the row after them, and none of the other's."""

    def column_c(r0: int, r1: int) -> dict[str, int]:
        return {
            "sheetId": 0,
            "startRowIndex": r0,
            "endRowIndex": r1,
            "startColumnIndex": 2,
            "endColumnIndex": 3,
        }

    date = {"numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}}
    listed = {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "x"}]}}
    insert = {"sheetId": 0, "dimension": "ROWS", "startIndex": 2, "endIndex": 4}
    requests_ = [
        {  # row 2 (0-based 1): a date; row 3 (0-based 2): a dropdown
            "repeatCell": {
                "range": column_c(1, 2),
                "cell": {"userEnteredFormat": date},
                "fields": "userEnteredFormat.numberFormat",
            }
        },
        {"setDataValidation": {"range": column_c(2, 3), "rule": listed}},
        {"insertDimension": {"range": insert, "inheritFromBefore": before}},
    ]
    book.batch_update({"requests": requests_})

    sheet = sheets_standin.book(book.id).tab("Data")
    for row in (2, 3):  # the new rows, 0-based
        dated, listing = sheet.date_pattern(row, 2), sheet.rule_at(row, 2)
        assert (dated, listing) == (("yyyy-mm-dd", None) if before else (None, listed))
    assert sheet.date_pattern(1, 2) == "yyyy-mm-dd" and sheet.rule_at(4, 2) == listed


def test_requests_are_checked_against_the_discovery_document(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    grey = {"red": 0.9, "green": 0.9, "blue": 0.9}

    def paint(fmt: dict[str, Any], fields: str) -> dict[str, Any]:
        where = {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1}
        cell = {"userEnteredFormat": fmt}
        return {"requests": [{"repeatCell": {"range": where, "cell": cell, "fields": fields}}]}

    error = api_error(
        lambda: book.batch_update(paint({"backgroundColour": grey}, "userEnteredFormat"))
    )
    assert error.error["message"] == (
        'Invalid JSON payload received. Unknown name "backgroundColour" at '
        "'requests[0].repeat_cell.cell.user_entered_format': Cannot find field."
    )
    bad_enum = {"sheetId": 0, "dimension": "ROW", "length": 1}
    error = api_error(lambda: book.batch_update({"requests": [{"appendDimension": bad_enum}]}))
    assert "Invalid value at 'requests[0].append_dimension.dimension'" in error.error["message"]
    too_big = {"sheetId": 0, "dimension": "ROWS", "length": 2**31}
    error = api_error(lambda: book.batch_update({"requests": [{"appendDimension": too_big}]}))
    assert "Invalid value at 'requests[0].append_dimension.length'" in error.error["message"]
    error = api_error(lambda: book.values_get("Data!A1", params={"valueRendering": "x"}))
    assert 'Unknown name "valueRendering": Cannot bind query parameter' in error.error["message"]
    assert sheets_standin.deprecated == []

    # Deprecated fields are taken, as Google takes them, and reported.
    style = {"backgroundColorStyle": {"rgbColor": grey}}
    book.batch_update(paint(style, "userEnteredFormat.backgroundColorStyle"))
    assert sheets_standin.deprecated == []
    book.batch_update(paint({"backgroundColor": grey}, "userEnteredFormat.backgroundColor"))
    assert sheets_standin.deprecated == [
        "spreadsheets.batchUpdate: requests[0].repeat_cell.cell.user_entered_format"
        ".background_color"
    ]
    sheets_standin.deprecated.clear()  # sent on purpose: the fixture fails a test that sends one


def test_move_dimension_moves_the_data(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    tab = book.worksheet("Data")
    tab.update([["a", "b", "c", "d"], [1, 2, 3, 4], [5, 6, 7, 8]], "A1")
    book.batch_update(
        {
            "requests": [
                {  # column D to the front: destination counts before the move
                    "moveDimension": {
                        "source": {
                            "sheetId": 0,
                            "dimension": "COLUMNS",
                            "startIndex": 3,
                            "endIndex": 4,
                        },
                        "destinationIndex": 0,
                    }
                },
                {  # row 2 below row 3
                    "moveDimension": {
                        "source": {
                            "sheetId": 0,
                            "dimension": "ROWS",
                            "startIndex": 1,
                            "endIndex": 2,
                        },
                        "destinationIndex": 3,
                    }
                },
            ]
        }
    )
    assert sheets_standin.cells(book.id, "Data") == [
        ["d", "a", "b", "c"],
        [8, 5, 6, 7],
        [4, 1, 2, 3],
    ]


def test_a_date_number_format_makes_numbers_read_as_dates(book: gspread.Spreadsheet) -> None:
    column_c = {"sheetId": 0, "startRowIndex": 1, "startColumnIndex": 2, "endColumnIndex": 3}
    book.batch_update(
        {
            "requests": [
                {
                    "repeatCell": {
                        "range": column_c,
                        "cell": {
                            "userEnteredFormat": {
                                "numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}
                            }
                        },
                        "fields": "userEnteredFormat.numberFormat",
                    }
                }
            ]
        }
    )
    tab = book.worksheet("Data")
    tab.update([[JAN_4_2027, JAN_4_2027]], "B2")
    assert tab.get("B2:C2") == [["46391", "2027-01-04"]]
    assert tab.get("B2:C2", value_render_option=ValueRenderOption.unformatted) == [[JAN_4_2027] * 2]
    as_text = tab.get(
        "C2",
        value_render_option=ValueRenderOption.unformatted,
        date_time_render_option=DateTimeOption.formatted_string,
    )
    assert as_text == [["2027-01-04"]]


def test_cell_limit_on_growth(book: gspread.Spreadsheet) -> None:
    request = {"addSheet": {"properties": {"gridProperties": {"rowCount": 400_000}}}}
    error = api_error(lambda: book.batch_update({"requests": [request]}))
    assert "above the limit of 10000000 cells" in error.error["message"]


def test_developer_metadata_follows_its_rows(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    row_3 = {"sheetId": 0, "dimension": "ROWS", "startIndex": 2, "endIndex": 3}
    created = book.batch_update(
        {
            "requests": [
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "row-key",
                            "metadataValue": "PO-1:1",
                            "location": {"dimensionRange": row_3},
                            "visibility": "DOCUMENT",
                        }
                    }
                },
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "snapshot",
                            "metadataValue": "v1",
                            "location": {"spreadsheet": True},
                            "visibility": "PROJECT",
                        }
                    }
                },
            ]
        }
    )
    md = created["replies"][0]["createDeveloperMetadata"]["developerMetadata"]
    assert md["location"] == {"locationType": "ROW", "dimensionRange": row_3}
    assert book.fetch_sheet_metadata()["developerMetadata"][0]["metadataValue"] == "v1"
    sheets_standin.insert_rows(book.id, "Data", before=2, count=2)
    found = book.client.request(
        "post",
        f"{GOOGLE_API_URL}/v4/spreadsheets/{book.id}/developerMetadata:search",
        json={"dataFilters": [{"developerMetadataLookup": {"metadataKey": "row-key"}}]},
    ).json()
    (match,) = found["matchedDeveloperMetadata"]
    assert match["developerMetadata"]["location"]["dimensionRange"]["startIndex"] == 4
    book.batch_update(
        {
            "requests": [
                {
                    "deleteDeveloperMetadata": {
                        "dataFilter": {"developerMetadataLookup": {"metadataKey": "row-key"}}
                    }
                }
            ]
        }
    )
    assert [m["metadataKey"] for m in sheets_standin.developer_metadata(book.id)] == ["snapshot"]


# --- a person editing the sheet -------------------------------------------------------------------


def test_people_sort_insert_delete_and_move(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    sid = book.id
    sheets_standin.set_cells(sid, "Data", "A1", [["Key", "Qty"], ["k3", 3], ["k1", 1], ["k2", 2]])
    book.batch_update(
        {
            "requests": [
                {
                    "addProtectedRange": {
                        "protectedRange": {
                            "range": {"sheetId": 0, "startColumnIndex": 0, "endColumnIndex": 1},
                            "warningOnly": True,
                        }
                    }
                }
            ]
        }
    )
    sheets_standin.sort_rows(sid, "Data", "Qty")
    assert sheets_standin.cells(sid, "Data")[1:] == [["k1", 1], ["k2", 2], ["k3", 3]]
    sheets_standin.insert_rows(sid, "Data", before=3, values=[["new", "5"]])
    assert sheets_standin.cells(sid, "Data")[2] == ["new", 5]
    sheets_standin.delete_rows(sid, "Data", 2)
    assert sheets_standin.find_row(sid, "Data", "Key", "k3") == 4
    sheets_standin.move_column(sid, "Data", "Key", "B")
    assert sheets_standin.cells(sid, "Data")[0] == ["Qty", "Key"]
    (protected,) = sheets_standin.protected_ranges(sid, "Data")
    assert (protected["range"]["startColumnIndex"], protected["range"]["endColumnIndex"]) == (1, 2)
    assert sheets_standin.tab_properties(sid, "Data")["gridProperties"]["rowCount"] == 1000
    assert sheets_standin.records(sid, "Data")[0] == {"Qty": 5, "Key": "new"}


def test_people_cannot_edit_a_hard_protected_range(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    book.batch_update(
        {"requests": [{"addProtectedRange": {"protectedRange": {"range": {"sheetId": 0}}}}]}
    )
    with pytest.raises(PermissionError):
        sheets_standin.set_cell(book.id, "Data", "A1", "x")
    book.worksheet("Data").update([["the owner may"]], "A1")


# --- faults, limits and accounting ----------------------------------------------------------------


def test_429_with_retry_after_surfaces_as_api_error(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    tab = book.worksheet("Data")
    sheets_standin.fail_next(429, retry_after=7)
    error = api_error(lambda: tab.update([["x"]], "A1"))
    assert error.code == 429 and error.error["status"] == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded" in error.error["message"]
    assert error.response.headers["Retry-After"] == "7"
    assert "values" not in book.values_get("'Data'!A1")  # refused, not applied
    assert tab.update([["x"]], "A1")["updatedCells"] == 1


def test_failures_that_never_clear_and_lost_answers(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    tab = book.worksheet("Data")
    sheets_standin.fail_always(429, retry_after=1, kind="write")
    for _ in range(3):
        error = api_error(lambda: tab.update([["x"]], "A1"))
        assert error.code == 429 and error.response.headers["Retry-After"] == "1"
    assert tab.get("A1") == [[]]  # reads still pass
    sheets_standin.clear_failures()
    sheets_standin.fail_next(503, times=2)
    for _ in range(2):
        assert api_error(lambda: tab.get("A1")).error["status"] == "UNAVAILABLE"
    sheets_standin.fail_next(500, applied=True)
    assert api_error(lambda: tab.update([["y"]], "A1")).code == 500
    assert tab.get("A1") == [["y"]]  # the write happened; only its answer was lost


def test_per_minute_write_quota(sheets_standin: SheetsStandin, book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    sheets_standin.enforce_quota(writes=3)
    for i in range(3):
        tab.update([[i]], "A1")
    error = api_error(lambda: tab.update([["over"]], "A1"))
    assert error.code == 429 and "Write requests per minute per user" in error.error["message"]
    assert tab.get("A1", value_render_option=ValueRenderOption.unformatted) == [[2]]
    sheets_standin.advance_clock(61)
    tab.update([["again"]], "A1")
    writes = [r.status for r in sheets_standin.requests if r.kind == "write"]
    assert writes == [200, 200, 200, 429, 200]


def test_payload_limit(sheets_standin: SheetsStandin, book: gspread.Spreadsheet) -> None:
    tab = book.worksheet("Data")
    big = [["x" * 1000] * 20 for _ in range(110)]  # about 2.2 MB of JSON
    error = api_error(lambda: tab.update(big, "A1"))
    assert error.code == 400 and "payload size exceeds the limit" in error.error["message"]
    sizes = [r.body_bytes for r in sheets_standin.requests if r.kind == "write"]
    assert sizes[-1] > 2 * 1024 * 1024


def test_requests_are_recorded(sheets_standin: SheetsStandin, book: gspread.Spreadsheet) -> None:
    sheets_standin.clear_requests()
    tab = book.worksheet("Data")
    tab.batch_update([{"range": "A1", "values": [["x"]]}])
    tab.batch_get(["A1"])
    ops = [(r.method, r.op, r.kind) for r in sheets_standin.requests]
    assert ops == [
        ("GET", "spreadsheets.get", "read"),
        ("POST", "values.batchUpdate", "write"),
        ("GET", "values.batchGet", "read"),
    ]
    batch_get = sheets_standin.requests[-1]
    assert batch_get.query["ranges"] == ["'Data'!A1"]
    assert sheets_standin.requests[1].body_bytes > 0 and batch_get.response_bytes > 0


# --- authentication -------------------------------------------------------------------------------


class _UnauthenticatedSession(requests.Session):
    def __init__(self, api_url: str) -> None:
        super().__init__()
        self.api_url = api_url

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str):
            url = url.replace(GOOGLE_API_URL, self.api_url)
        return super().request(method, url, *args, **kwargs)


def test_requests_without_a_token_are_refused(sheets_standin: SheetsStandin) -> None:
    sid = sheets_standin.create_spreadsheet()
    client = gspread.Client(
        AnonymousCredentials(), _UnauthenticatedSession(sheets_standin.base_url)
    )
    with pytest.raises(APIError) as caught:
        client.open_by_key(sid)
    assert caught.value.code == 401 and caught.value.error["status"] == "UNAUTHENTICATED"


def test_expired_tokens_are_refreshed_by_google_auth(
    sheets_standin: SheetsStandin, book: gspread.Spreadsheet
) -> None:
    sheets_standin.expire_tokens()
    assert book.worksheet("Data").get("A1") == [[]]
    assert len(sheets_standin.token_requests) == 2
    statuses = [r.status for r in sheets_standin.requests]
    assert statuses.count(401) == 1 and statuses[statuses.index(401) + 1] == 200


def test_token_endpoint_refuses_a_key_it_never_issued(
    sheets_standin: SheetsStandin, gspread_client: MakeClient, tmp_path: Path
) -> None:
    sid = sheets_standin.create_spreadsheet()
    stranger = sheets_standin.service_account_file(
        tmp_path / "stranger.json", key_name="stranger", register=False
    )
    with pytest.raises(RefreshError, match="invalid_grant"):
        gspread_client(key_file=stranger).open_by_key(sid)
    assert sheets_standin.auth.refusals == ["invalid_grant: Invalid JWT Signature."]
    assert sheets_standin.requests == []


def test_read_only_scope_cannot_write(
    sheets_standin: SheetsStandin, gspread_client: MakeClient
) -> None:
    sid = sheets_standin.create_spreadsheet(tabs=["Data"])
    book = gspread_client(scopes=[f"{SPREADSHEETS_SCOPE}.readonly"]).open_by_key(sid)
    error = api_error(lambda: book.worksheet("Data").update([["x"]], "A1"))
    assert error.code == 403 and error.error["status"] == "PERMISSION_DENIED"


def test_unshared_spreadsheet_is_forbidden(
    sheets_standin: SheetsStandin, gspread_client: MakeClient
) -> None:
    sid = sheets_standin.create_spreadsheet()
    sheets_standin.set_shared(sid, False)
    with pytest.raises(PermissionError):
        gspread_client().open_by_key(sid)
