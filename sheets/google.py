"""The Google Sheets backend: every tab in one read, changes in at most two writes.

Only gspread's low-level HTTP calls are used: ``open_by_key`` and Worksheet objects would cost a
metadata read on every run. The sheetIds and grid sizes that structural changes need are learned
when a run first needs them and kept for the object's lifetime; the grid size of each tab also
comes free with the read (a whole-tab range is answered with the range of the whole grid).

Values are written RAW, so a leading ``=`` or zero stays text, and read unformatted with dates as
serial numbers, so the sheet's locale cannot change them.
"""

from __future__ import annotations

import json
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.urls import SPREADSHEET_VALUES_BATCH_UPDATE_URL
from openpyxl.utils import column_index_from_string, get_column_letter

from sheets.backend import Grid, Moves, SheetsError, TabChanges, Value
from sheets.google_http import (
    GOOGLE_API_URL,
    SPREADSHEETS_SCOPE,
    ApiSession,
    RetryingHTTPClient,
    api_message,
    status_of,
)
from sheets.layout import KEY, Kind, Tab

EPOCH = date(1899, 12, 30)  # day 0 of Sheets date serial numbers
PROTECTION = "Written by preorder sync; edits here are overwritten"
# Google recommends request bodies under 2 MB; leave room for what we do not measure.
BODY_LIMIT = 1_500_000
# One ValueRange of a long block stays around this size, so bodies pack evenly.
PIECE_LIMIT = 256 * 1024
NEW_TAB_ROWS = 1000  # Google's defaults for a new tab
FROZEN_ROWS = 1  # setup freezes the header row
NEW_TAB_COLUMNS = 26
READ_ONLY_GREY = {"red": 0.93, "green": 0.93, "blue": 0.93}
METADATA_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),protectedRanges)"
)
_VALUES_PREFIX = b'{"valueInputOption":"RAW","data":['
_VALUES_SUFFIX = b"]}"
_GRID_RANGE = re.compile(r"!([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?$")


# --- A1 notation and cell values ------------------------------------------------------------------


def quote(title: str) -> str:
    """A tab name as a range: always quoted, so names with spaces or digits parse."""
    return "'" + title.replace("'", "''") + "'"


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    return get_column_letter(index + 1)


def a1_range(title: str, r0: int, c0: int, r1: int, c1: int) -> str:
    """``'Tab'!C5:E6`` for 0-based rows r0..r1 and columns c0..c1, inclusive."""
    start = f"{column_letters(c0)}{r0 + 1}"
    end = f"{column_letters(c1)}{r1 + 1}"
    return f"{quote(title)}!{start}" if start == end else f"{quote(title)}!{start}:{end}"


def grid_size(range_text: str) -> tuple[int, int] | None:
    """(rows, columns) of the grid from the range a whole-tab read is answered with."""
    found = _GRID_RANGE.search(range_text)
    if found is None:
        return None
    col, row = (found.group(3), found.group(4)) if found.group(3) else found.group(1, 2)
    return int(row), column_index_from_string(col)


def cell_json(value: Value) -> str | int | float | bool:
    """A cell as RAW input: None empties the cell, a date becomes its serial number."""
    if value is None:
        return ""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        midnight = datetime.combine(value.date(), datetime.min.time(), value.tzinfo)
        return (value.date() - EPOCH).days + (value - midnight).total_seconds() / 86400
    if isinstance(value, date):
        return (value - EPOCH).days
    raise TypeError(f"cannot write {value!r} to a spreadsheet cell")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


Piece = tuple[bytes, int]  # one serialized ValueRange and the number of cells in it


def block_pieces(title: str, r0: int, c0: int, rows: Sequence[Sequence[Value]]) -> Iterator[Piece]:
    """ValueRanges writing ``rows`` from (r0, c0), several rows to a range, each range small
    enough that request bodies can be filled evenly."""
    encoded = [_dumps([cell_json(v) for v in row]) for row in rows]
    i = 0
    while i < len(rows):
        j, size = i, 0
        while j < len(rows) and (j == i or size + len(encoded[j]) < PIECE_LIMIT):
            size += len(encoded[j]) + 1
            j += 1
        width = max(1, *(len(row) for row in rows[i:j]))
        where = a1_range(title, r0 + i, c0, r0 + j - 1, c0 + width - 1)
        body = b'{"range":' + _dumps(where) + b',"values":[' + b",".join(encoded[i:j]) + b"]}"
        yield body, sum(len(row) for row in rows[i:j])
        i = j


def cell_blocks(cells: dict[tuple[int, int], Value]) -> list[tuple[int, int, list[list[Value]]]]:
    """Single cells gathered into rectangles (r0, c0, rows): adjacent cells of a row first, then
    the same span on consecutive rows, so that a whole row or a whole column is one range."""
    runs: list[tuple[int, int, list[Value]]] = []  # (row, first column, values)
    for (row, col), value in sorted(cells.items()):
        last = runs[-1] if runs else None
        if last and last[0] == row and last[1] + len(last[2]) == col:
            last[2].append(value)
        else:
            runs.append((row, col, [value]))
    blocks: list[tuple[int, int, list[list[Value]]]] = []
    for row, col, values in sorted(runs, key=lambda run: (run[1], len(run[2]), run[0])):
        above = blocks[-1] if blocks else None
        if (
            above
            and above[1] == col
            and len(above[2][0]) == len(values)
            and above[0] + len(above[2]) == row
        ):
            above[2].append(values)
        else:
            blocks.append((row, col, [values]))
    return blocks


def pack(pieces: Iterable[Piece]) -> Iterator[Piece]:
    """values:batchUpdate bodies under BODY_LIMIT (a single larger piece goes alone)."""
    batch: list[bytes] = []
    size = len(_VALUES_PREFIX) + len(_VALUES_SUFFIX)
    cells = 0
    for piece, count in pieces:
        if batch and size + len(piece) + 1 > BODY_LIMIT:
            yield _VALUES_PREFIX + b",".join(batch) + _VALUES_SUFFIX, cells
            batch, size, cells = [], len(_VALUES_PREFIX) + len(_VALUES_SUFFIX), 0
        batch.append(piece)
        size += len(piece) + 1
        cells += count
    if batch:
        yield _VALUES_PREFIX + b",".join(batch) + _VALUES_SUFFIX, cells


# --- batchUpdate requests -------------------------------------------------------------------------


def grid_range(sheet_id: int, r0: int | None, r1: int | None, c0: int, c1: int) -> dict[str, int]:
    """A GridRange; None leaves that end open (the whole column)."""
    where = {"sheetId": sheet_id, "startColumnIndex": c0, "endColumnIndex": c1}
    if r0 is not None:
        where["startRowIndex"] = r0
    if r1 is not None:
        where["endRowIndex"] = r1
    return where


def _range_key(where: dict[str, Any]) -> tuple[Any, ...]:
    # Google leaves zero indexes out of its answers.
    return (
        where.get("sheetId", 0),
        where.get("startRowIndex", 0),
        where.get("endRowIndex"),
        where.get("startColumnIndex", 0),
        where.get("endColumnIndex"),
    )


def positions_of(header: Sequence[Value]) -> dict[str, int]:
    """Column index by header text; the first wins if a header appears twice."""
    found: dict[str, int] = {}
    for i, text in enumerate(header):
        if isinstance(text, str) and text and text not in found:
            found[text] = i
    return found


def column_requests(
    sheet_id: int, tab: Tab, positions: dict[str, int], r0: int, r1: int | None
) -> list[dict[str, Any]]:
    """Grey fill on read-only columns, date formats and data validation, on rows r0..r1.

    Run by setup on every data row, and by a write on the rows it adds at the end of the grid:
    Google keeps formats and validation per cell, and appended rows inherit none (rows inserted
    among the data take their neighbour's, see ``_structure``)."""
    found: list[dict[str, Any]] = []
    for column in tab.columns:
        c = positions.get(column.header)
        if c is None:
            continue
        where = grid_range(sheet_id, r0, r1, c, c + 1)
        fmt: dict[str, Any] = {}
        if not column.editable:
            fmt["backgroundColorStyle"] = {"rgbColor": READ_ONLY_GREY}
        if column.kind is Kind.DATE:
            fmt["numberFormat"] = {"type": "DATE", "pattern": "yyyy-mm-dd"}
        if fmt:
            found.append(
                {
                    "repeatCell": {
                        "range": where,
                        "cell": {"userEnteredFormat": fmt},
                        "fields": f"userEnteredFormat({','.join(fmt)})",
                    }
                }
            )
        rule = validation_rule(column.kind, column.choices) if column.editable else None
        if rule is not None:
            found.append({"setDataValidation": {"range": where, "rule": rule}})
    return found


def validation_rule(kind: Kind, choices: tuple[str, ...]) -> dict[str, Any] | None:
    if kind is Kind.BOOL:
        return {"condition": {"type": "BOOLEAN"}}
    if choices:
        # Not strict: a typed "move to PO:LINE" is allowed and checked by the sync.
        values = [{"userEnteredValue": choice} for choice in choices]
        return {
            "condition": {"type": "ONE_OF_LIST", "values": values},
            "strict": False,
            "showCustomUi": True,
        }
    if kind is Kind.DATE:
        return {"condition": {"type": "DATE_IS_VALID"}, "strict": False}
    return None


# --- the backend ----------------------------------------------------------------------------------


@dataclass
class _TabState:
    """What this object knows of one tab."""

    sheet_id: int | None = None  # None: unknown, or (once listed) the tab does not exist
    rows: int | None = None  # grid size
    cols: int | None = None
    length: int | None = None  # rows as last read, header included: where appends go
    header: list[Value] = field(default_factory=list)
    layout: Tab | None = None
    protected: list[dict[str, Any]] = field(default_factory=list)  # ours, from the metadata


@dataclass
class _TabWrite:
    """One tab's changes, translated to where they land after the deletions and insertions."""

    name: str
    moves: Moves
    start: int  # where the appended rows go
    append: list[list[Value]]
    cells: dict[tuple[int, int], Value]

    @property
    def deleted(self) -> list[int]:
        return self.moves.deleted

    @property
    def restructures(self) -> bool:
        return bool(self.moves.deleted or self.moves.anchors)

    @property
    def width(self) -> int:
        new = (values for _, values in self.moves.new_rows())
        return max((len(row) for row in (*self.append, *new)), default=0)

    def pieces(self) -> Iterator[Piece]:
        for r0, c0, rows in cell_blocks(self.cells):
            yield from block_pieces(self.name, r0, c0, rows)
        if self.append:
            yield from block_pieces(self.name, self.start, 0, self.append)


class GoogleSheet:
    """A Google spreadsheet, reached with a service account's key file (see the README)."""

    def __init__(
        self,
        spreadsheet_id: str,
        credentials_file: Path,
        *,
        api_url: str = GOOGLE_API_URL,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.credentials_file = Path(credentials_file)
        key = _load_key(self.credentials_file)
        self.client_email = str(key.get("client_email", ""))
        self._token_uri = str(key.get("token_uri", ""))
        try:
            credentials = service_account.Credentials.from_service_account_info(
                key, scopes=[SPREADSHEETS_SCOPE]
            )
        except (ValueError, auth_exceptions.GoogleAuthError) as exc:
            raise SheetsError(
                f"the Google service-account key file {self.credentials_file} is not usable: {exc}"
            ) from None
        self._session = ApiSession(credentials, api_url)
        self._client = RetryingHTTPClient(
            self._session, max_attempts=max_attempts, max_wait=max_wait, sleep=sleep, rng=rng
        )
        self._client.set_timeout(timeout)
        self._tabs: dict[str, _TabState] = {}
        self._listed = False  # the metadata was read: every existing tab's sheetId is known

    @property
    def label(self) -> str:
        return f"spreadsheet {self.spreadsheet_id}"

    @property
    def mirror(self) -> str:
        return f"google:{self.spreadsheet_id}"

    @property
    def requests(self) -> int:
        return self._session.sent

    def close(self) -> None:
        self._session.close()

    # --- read ---------------------------------------------------------------------------------

    def read(self, tabs: Sequence[Tab]) -> dict[str, Grid]:
        names = list(dict.fromkeys(tab.name for tab in tabs))
        for tab in tabs:
            self._tab(tab.name).layout = tab
        with self._errors():
            try:
                grids = self._batch_get(names)
            except APIError as error:
                # A range naming a tab that does not exist fails the whole batch: only then is
                # it worth a metadata read to find out which tabs exist.
                if status_of(error) != 400 or "Unable to parse range" not in api_message(error):
                    raise
                self._fetch_metadata()
                present = [name for name in names if self._tabs[name].sheet_id is not None]
                grids = self._batch_get(present) if present else {}
        for name in names:
            if name not in grids:
                self._tabs[name].length = None
        return {name: grids.get(name, []) for name in names}

    def _batch_get(self, names: list[str]) -> dict[str, Grid]:
        params: dict[str, Any] = {
            "valueRenderOption": "UNFORMATTED_VALUE",
            "dateTimeRenderOption": "SERIAL_NUMBER",
            "majorDimension": "ROWS",
        }
        answer = self._client.values_batch_get(
            self.spreadsheet_id, [quote(name) for name in names], params
        )
        grids: dict[str, Grid] = {}
        for name, found in zip(names, answer.get("valueRanges") or [], strict=False):
            grid: Grid = [[None if v == "" else v for v in row] for row in found.get("values", [])]
            state = self._tab(name)
            state.length = len(grid)
            state.header = list(grid[0]) if grid else []
            size = grid_size(found.get("range", ""))
            if size is not None:
                state.rows, state.cols = size
            grids[name] = grid
        return grids

    # --- setup --------------------------------------------------------------------------------

    def setup(self, tabs: Sequence[Tab], grids: dict[str, Grid]) -> dict[str, Grid]:
        result = dict(grids)
        with self._errors():
            if not self._listed:
                self._fetch_metadata()
            changes: list[dict[str, Any]] = []
            headers: list[Piece] = []
            for tab in tabs:
                grid = grids.get(tab.name) or []
                header = list(grid[0]) if grid else []
                used = max((i + 1 for i, v in enumerate(header) if v not in (None, "")), default=0)
                header = header[:used]
                positions = positions_of(header)
                missing = [h for h in tab.headers if h not in positions]
                positions.update({h: used + k for k, h in enumerate(missing)})
                changes += self._shape(tab.name, used + len(missing))
                changes += self._decorate(tab, positions)
                if missing:
                    headers += block_pieces(tab.name, 0, used, [missing])
                result[tab.name] = [[*header, *missing], *grid[1:]]
            try:
                answer = self._client.batch_update(self.spreadsheet_id, {"requests": changes})
            except (APIError, SheetsError):
                # _shape counted on the batch: what it assumed (new sheetIds, sizes) is unknown.
                self._listed = False
                for state in self._tabs.values():
                    state.sheet_id = None
                raise
            self._note_protections(changes, answer.get("replies") or [])
            self._write_values(headers)
        for tab in tabs:
            state = self._tabs[tab.name]
            state.layout = tab
            state.header = list(result[tab.name][0])
            state.length = len(result[tab.name])
        return result

    def _shape(self, name: str, width: int) -> list[dict[str, Any]]:
        """Create the tab or make room for its headers, and freeze its header row."""
        state = self._tab(name)
        if state.sheet_id is None:
            state.sheet_id = self._new_sheet_id(name)
            state.rows, state.cols = NEW_TAB_ROWS, max(NEW_TAB_COLUMNS, width)
            grid = {"rowCount": state.rows, "columnCount": state.cols}
            grid["frozenRowCount"] = FROZEN_ROWS
            props = {"sheetId": state.sheet_id, "title": name, "gridProperties": grid}
            return [{"addSheet": {"properties": props}}]
        assert state.rows is not None and state.cols is not None
        found: list[dict[str, Any]] = []
        if width > state.cols:
            found.append(_append_dimension(state.sheet_id, "COLUMNS", width - state.cols))
            state.cols = width
        if state.rows <= FROZEN_ROWS:  # Google refuses to freeze every row of a tab
            found.append(_append_dimension(state.sheet_id, "ROWS", FROZEN_ROWS + 1 - state.rows))
            state.rows = FROZEN_ROWS + 1
        props = {"sheetId": state.sheet_id, "gridProperties": {"frozenRowCount": FROZEN_ROWS}}
        found.append(
            {
                "updateSheetProperties": {
                    "properties": props,
                    "fields": "gridProperties.frozenRowCount",
                }
            }
        )
        return found

    def _decorate(self, tab: Tab, positions: dict[str, int]) -> list[dict[str, Any]]:
        """Header look and notes, the hidden Key, protection, formats and validation."""
        state = self._tabs[tab.name]
        sheet_id = state.sheet_id
        assert sheet_id is not None
        found: list[dict[str, Any]] = []
        for column in tab.columns:
            c = positions[column.header]
            fmt = {
                "backgroundColorStyle": {"rgbColor": READ_ONLY_GREY},
                "textFormat": {"bold": True},
            }
            found.append(
                {
                    "repeatCell": {
                        "range": grid_range(sheet_id, 0, 1, c, c + 1),
                        "cell": {"userEnteredFormat": fmt},
                        "fields": "userEnteredFormat(backgroundColorStyle,textFormat.bold)",
                    }
                }
            )
            if column.note:
                start = {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": c}
                rows = [{"values": [{"note": column.note}]}]
                found.append({"updateCells": {"start": start, "rows": rows, "fields": "note"}})
            if column.header == KEY:
                found.append(
                    {
                        "updateDimensionProperties": {
                            "range": {
                                "sheetId": sheet_id,
                                "dimension": "COLUMNS",
                                "startIndex": c,
                                "endIndex": c + 1,
                            },
                            "properties": {"hiddenByUser": True},
                            "fields": "hiddenByUser",
                        }
                    }
                )
        found += self._protect(state, tab, positions)
        found += column_requests(sheet_id, tab, positions, 1, None)
        return found

    def _protect(
        self, state: _TabState, tab: Tab, positions: dict[str, int]
    ) -> list[dict[str, Any]]:
        """One warning-only protected range per column: the whole column when the sync owns it,
        the header cell when people edit it. One range per column moves with its column when a
        person drags it, so a rerun finds every range where it wants it and adds nothing."""
        assert state.sheet_id is not None
        wanted = {}
        for column in tab.columns:
            c = positions[column.header]
            rows: tuple[int | None, int | None] = (None, None) if not column.editable else (0, 1)
            where = grid_range(state.sheet_id, *rows, c, c + 1)
            wanted[_range_key(where)] = where
        found: list[dict[str, Any]] = []
        for existing in state.protected:
            key = _range_key(existing.get("range") or {})
            if key in wanted and existing.get("warningOnly"):
                del wanted[key]
            else:  # ours, left over from another layout
                found.append(
                    {"deleteProtectedRange": {"protectedRangeId": existing["protectedRangeId"]}}
                )
        for where in wanted.values():
            protected = {"range": where, "description": PROTECTION, "warningOnly": True}
            found.append({"addProtectedRange": {"protectedRange": protected}})
        return found

    def _note_protections(self, sent: list[dict[str, Any]], replies: list[dict[str, Any]]) -> None:
        by_id = {s.sheet_id: s for s in self._tabs.values() if s.sheet_id is not None}
        for request in sent:
            gone = request.get("deleteProtectedRange", {}).get("protectedRangeId")
            if gone is not None:
                for state in by_id.values():
                    state.protected = [
                        p for p in state.protected if p.get("protectedRangeId") != gone
                    ]
        for reply in replies:
            added = (reply or {}).get("addProtectedRange", {}).get("protectedRange")
            if added is not None:
                owner = by_id.get(added.get("range", {}).get("sheetId", 0))
                if owner is not None:
                    owner.protected.append(added)

    def _new_sheet_id(self, name: str) -> int:
        # Chosen here rather than by Google so that the same batch can refer to the new tab.
        used = {s.sheet_id for s in self._tabs.values() if s.sheet_id is not None}
        candidate = zlib.crc32(name.encode()) & 0x7FFFFFFF
        while candidate in used:
            candidate = (candidate + 1) & 0x7FFFFFFF
        return candidate

    # --- write --------------------------------------------------------------------------------

    def writes_for(self, changes: dict[str, TabChanges]) -> int:
        """Requests ``write(changes)`` makes when the guesses about tab ids hold: the values
        batches, plus one structural batch for deletions or growth."""
        plans = [self._plan(name, change) for name, change in changes.items() if change]
        if not plans:
            return 0
        values = sum(1 for _ in pack(piece for plan in plans for piece in plan.pieces()))
        structural = any(p.restructures or self._needs_room(p) for p in plans)
        return values + (1 if structural else 0)

    def write(self, changes: dict[str, TabChanges]) -> None:
        plans = [self._plan(name, change) for name, change in changes.items() if change]
        if not plans:
            return
        with self._errors():
            if any(p.restructures or self._needs_room(p) for p in plans):
                self._restructure(plans)
            self._write_values(piece for plan in plans for piece in plan.pieces())
        for plan in plans:
            self._tabs[plan.name].length = plan.start + len(plan.append)

    def _plan(self, name: str, change: TabChanges) -> _TabWrite:
        state = self._tabs.get(name)
        if state is None or state.length is None:
            raise SheetsError(
                f"{self.label} has no tab {name!r} as read; set the spreadsheet up first"
            )
        change = self._keep_a_row(state, change)
        moves = Moves(name, change, state.length)
        gone = set(moves.deleted)
        cells: dict[tuple[int, int], Value] = {}
        for row, col, value in change.cells:
            if row in gone:
                raise ValueError(f"{name}: row {row} is both updated and deleted")
            cells[(moves.row(row), col)] = value
        # The inserted rows' values go in with the other cells, in the same values batch.
        for row, values in moves.new_rows():
            for col, value in enumerate(values):
                cells[(row, col)] = value
        return _TabWrite(name, moves, moves.length, [list(r) for r in change.append], cells)

    def _keep_a_row(self, state: _TabState, change: TabChanges) -> TabChanges:
        """``change`` with at least one row kept below the frozen header: Google refuses to
        delete every non-frozen row, which a tab grown to fit its rows meets when they all go.
        The last of them stays, cleared, or holding the first appended row."""
        deleted = sorted(set(change.delete))
        if not deleted:
            return change
        if state.rows is None or state.cols is None:
            self._fetch_metadata()
        assert state.rows is not None and state.cols is not None
        if state.rows - len(deleted) > FROZEN_ROWS:
            return change
        kept, append = deleted[-1], list(change.append)
        values = append.pop(0) if append and len(append[0]) <= state.cols else []
        cleared = [*values, *[None] * (state.cols - len(values))]
        return TabChanges(
            cells=[*change.cells, *((kept, c, v) for c, v in enumerate(cleared))],
            append=append,
            delete=deleted[:-1],
            insert=change.insert,
        )

    def _needs_room(self, plan: _TabWrite) -> bool:
        if not plan.append:
            return False
        state = self._tabs[plan.name]
        if state.rows is None or state.cols is None:
            self._fetch_metadata()
        assert state.rows is not None and state.cols is not None
        rows_after = state.rows - len(plan.deleted) + plan.moves.inserted
        return plan.start + len(plan.append) > rows_after or plan.width > state.cols

    def _restructure(self, plans: list[_TabWrite]) -> None:
        """Delete, insert and add rows of every tab in one batchUpdate (atomic at Google)."""
        for attempt in (1, 2):
            if not self._listed:
                if attempt == 1:
                    # Tabs the sync created carry the ids it gave them: try those before
                    # paying a metadata read. A wrong guess fails the whole batch on its title
                    # check, and the retry learns the real ids.
                    for plan in plans:
                        state = self._tabs[plan.name]
                        if state.sheet_id is None:
                            state.sheet_id = zlib.crc32(plan.name.encode()) & 0x7FFFFFFF
                else:
                    self._fetch_metadata()
            changes, sizes = self._structure(plans)
            try:
                self._client.batch_update(self.spreadsheet_id, {"requests": changes})
            except APIError as error:
                # A person deleted or renamed a tab since we learned its sheetId: learn again.
                said = api_message(error)
                stale = status_of(error) == 400 and (
                    "No grid with id" in said or "already exists" in said
                )
                if attempt == 1 and stale:
                    self._listed = False
                    continue
                raise
            for state, rows, cols in sizes:
                state.rows, state.cols = rows, cols
            return

    def _structure(
        self, plans: list[_TabWrite]
    ) -> tuple[list[dict[str, Any]], list[tuple[_TabState, int, int]]]:
        changes: list[dict[str, Any]] = []
        sizes: list[tuple[_TabState, int, int]] = []
        for plan in plans:
            state = self._tabs[plan.name]
            if state.sheet_id is None:
                raise SheetsError(f"{self.label} has no tab {plan.name!r} any more")
            assert state.rows is not None and state.cols is not None
            sheet_id = state.sheet_id
            # Setting the title it should already have makes the whole batch fail, rather than
            # change another tab, if a person renamed the tab and gave its name to a new one.
            changes.append(
                {
                    "updateSheetProperties": {
                        "properties": {"sheetId": sheet_id, "title": plan.name},
                        "fields": "title",
                    }
                }
            )
            # Bottom-up, so the indexes of the rows still to delete stay valid.
            for start, end in _runs_descending(plan.deleted):
                where = {
                    "sheetId": sheet_id,
                    "dimension": "ROWS",
                    "startIndex": start,
                    "endIndex": end,
                }
                changes.append({"deleteDimension": {"range": where}})
            # Bottom-up too, counted after the deletions, so each index is still where it was.
            for anchor in reversed(plan.moves.anchors):
                at = plan.moves.after_deletions(anchor)
                count = len(plan.moves.above[anchor])
                where = {
                    "sheetId": sheet_id,
                    "dimension": "ROWS",
                    "startIndex": at,
                    "endIndex": at + count,
                }
                # The new rows take the formats and dropdowns of the row below them, as
                # insertDimension documents (inheritFromBefore false): that row is a data row
                # that stays, where the row above may be the header.
                changes.append({"insertDimension": {"range": where, "inheritFromBefore": False}})
            rows = state.rows - len(plan.deleted) + plan.moves.inserted
            cols = state.cols
            more_rows = plan.start + len(plan.append) - rows
            if plan.width > cols:
                changes.append(_append_dimension(sheet_id, "COLUMNS", plan.width - cols))
                cols = plan.width
            grown = rows  # the first row new to the grid, if any
            if more_rows > 0:
                changes.append(_append_dimension(sheet_id, "ROWS", more_rows))
                rows += more_rows
            if state.layout is not None and state.header and grown < rows:
                positions = positions_of(state.header)
                changes += column_requests(sheet_id, state.layout, positions, grown, rows)
            sizes.append((state, rows, cols))
        return changes, sizes

    def _write_values(self, pieces: Iterable[Piece]) -> None:
        url = SPREADSHEET_VALUES_BATCH_UPDATE_URL % self.spreadsheet_id
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        for body, expected in pack(pieces):
            answer = self._client.request("post", url, data=body, headers=headers).json()
            # Google counts every cell given a value, "" (an emptied cell) included.
            written = sum(r.get("updatedCells", 0) for r in answer.get("responses") or [])
            if written != expected:
                raise SheetsError(
                    f"Google Sheets reported {written} cells written, expected {expected}"
                )

    # --- metadata and errors ------------------------------------------------------------------

    def _tab(self, name: str) -> _TabState:
        return self._tabs.setdefault(name, _TabState())

    def _fetch_metadata(self) -> None:
        params: dict[str, Any] = {"includeGridData": "false", "fields": METADATA_FIELDS}
        answer = self._client.fetch_sheet_metadata(self.spreadsheet_id, params)
        for state in self._tabs.values():
            state.sheet_id = None
        for sheet in answer.get("sheets") or []:
            props = sheet.get("properties") or {}
            grid = props.get("gridProperties") or {}
            state = self._tab(props.get("title", ""))
            state.sheet_id = props.get("sheetId", 0)
            state.rows = grid.get("rowCount", 0)
            state.cols = grid.get("columnCount", 0)
            state.protected = [
                p for p in sheet.get("protectedRanges") or [] if p.get("description") == PROTECTION
            ]
        self._listed = True

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn what Google and google-auth raise into one sentence for the user."""
        try:
            yield
        except APIError as error:
            raise SheetsError(self._explain(error)) from None
        except auth_exceptions.RefreshError as error:
            detail = error.args[0] if error.args else str(error)
            raise SheetsError(
                f"Google refused the service-account key in {self.credentials_file} "
                f"({self.client_email}): {detail}"
            ) from None
        except auth_exceptions.TransportError as error:
            raise SheetsError(
                f"could not reach Google's token endpoint {self._token_uri}: {error}"
            ) from None

    def _explain(self, error: APIError) -> str:
        status = status_of(error)
        said = api_message(error)
        if status in (401, 403):
            return (
                f"Google Sheets refused access to {self.label} ({status}: {said}); share the "
                f"spreadsheet with the service account {self.client_email} as an editor"
            )
        if status == 404:
            return f"no spreadsheet with id {self.spreadsheet_id} ({status}: {said})"
        return f"Google Sheets refused a request to {self.label} ({status}: {said})"


def _append_dimension(sheet_id: int, dimension: str, length: int) -> dict[str, Any]:
    return {"appendDimension": {"sheetId": sheet_id, "dimension": dimension, "length": length}}


def _runs_descending(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row indexes as (start, end) runs of adjacent rows, the last run first."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs[::-1]


def _load_key(path: Path) -> dict[str, Any]:
    """The service-account key file, or a SheetsError saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SheetsError(f"the Google service-account key file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = getattr(exc, "strerror", None) or exc
        raise SheetsError(
            f"cannot read the Google service-account key file {path}: {problem}"
        ) from None
    try:
        key = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SheetsError(
            f"the Google service-account key file {path} is not JSON ({exc})"
        ) from None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        kind = key.get("type") if isinstance(key, dict) else type(key).__name__
        raise SheetsError(
            f"{path} is not a Google service-account key (type {kind!r}, expected "
            "'service_account'); create a key for the service account in the Cloud console"
        )
    return key
