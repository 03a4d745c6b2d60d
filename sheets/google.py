"""The Google Sheets backend: every tab in one read, changes in at most two writes.

Only gspread's low-level HTTP calls are used: ``open_by_key`` and Worksheet objects would cost a
metadata read on every run. The sheetIds and grid sizes that structural changes need are learned
when a run first needs them and kept for the object's lifetime; the grid size of each tab also
comes free with the read (a whole-tab range is answered with the range of the whole grid).

Values are written RAW, so a leading ``=`` or zero stays text, and read unformatted with dates as
serial numbers, so the sheet's locale cannot change them. What is sent is built by the pure
functions of ``sheets.google_requests``; this module sends it and keeps what it learns.
"""

from __future__ import annotations

import json
import random
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.urls import SPREADSHEET_VALUES_BATCH_UPDATE_URL

from sheets.backend import Grid, Moves, SheetsError, TabChanges, Value
from sheets.google_http import (
    GOOGLE_API_URL,
    SPREADSHEETS_SCOPE,
    ApiSession,
    RetryingHTTPClient,
    api_message,
    status_of,
)
from sheets.google_requests import (
    NEW_TAB_COLUMNS,
    NEW_TAB_ROWS,
    PROTECTION,
    Piece,
    Request,
    add_tab,
    append_dimension,
    block_pieces,
    cell_blocks,
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
from sheets.layout import Tab

if TYPE_CHECKING:
    from sheets.settings import SheetsSettings

METADATA_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount)),protectedRanges)"
)


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

    @classmethod
    def from_settings(cls, settings: SheetsSettings) -> GoogleSheet:
        """The spreadsheet ``settings`` name (checked with ``settings.problems()`` first)."""
        return cls(
            settings.sheet_id.strip(),
            settings.credentials_path,
            api_url=settings.google_api_url,
            max_wait=settings.google_max_wait,
        )

    @property
    def label(self) -> str:
        return f"spreadsheet {self.spreadsheet_id}"

    @property
    def mirror(self) -> str:
        return f"google:{self.spreadsheet_id}"

    @property
    def requests(self) -> int:
        return self._session.sent

    @property
    def layout_drift(self) -> dict[str, list[str]]:
        # Google keeps what setup made: only a person's deliberate change can undo it (and a
        # values read cannot see it; checking would cost a metadata read on every run).
        return {}

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
            changes: list[Request] = []
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

    def _shape(self, name: str, width: int) -> list[Request]:
        """Create the tab or make room for its headers, and freeze its header row."""
        state = self._tab(name)
        if state.sheet_id is None:
            state.sheet_id = self._new_sheet_id(name)
            state.rows, state.cols = NEW_TAB_ROWS, max(NEW_TAB_COLUMNS, width)
            return [add_tab(state.sheet_id, name, state.rows, state.cols)]
        assert state.rows is not None and state.cols is not None
        found, state.rows, state.cols = reshape_tab(state.sheet_id, state.rows, state.cols, width)
        return found

    def _decorate(self, tab: Tab, positions: dict[str, int]) -> list[Request]:
        """Header look and notes, the hidden Key, protection, formats and validation."""
        state = self._tabs[tab.name]
        assert state.sheet_id is not None
        return [
            *decorate(state.sheet_id, tab, positions),
            *protection_requests(state.sheet_id, tab, positions, state.protected),
        ]

    def _note_protections(self, sent: list[Request], replies: list[Request]) -> None:
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
        """``change`` with a row kept below the frozen header (see ``keep_a_row``)."""
        if not change.delete:
            return change
        if state.rows is None or state.cols is None:
            self._fetch_metadata()
        assert state.rows is not None and state.cols is not None
        return keep_a_row(change, state.rows, state.cols)

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
    ) -> tuple[list[Request], list[tuple[_TabState, int, int]]]:
        changes: list[Request] = []
        sizes: list[tuple[_TabState, int, int]] = []
        for plan in plans:
            state = self._tabs[plan.name]
            if state.sheet_id is None:
                raise SheetsError(f"{self.label} has no tab {plan.name!r} any more")
            assert state.rows is not None and state.cols is not None
            sheet_id = state.sheet_id
            changes.append(title_check(sheet_id, plan.name))
            changes += delete_rows(sheet_id, plan.deleted)
            changes += insert_rows(sheet_id, plan.moves)
            rows = state.rows - len(plan.deleted) + plan.moves.inserted
            cols = state.cols
            more_rows = plan.start + len(plan.append) - rows
            if plan.width > cols:
                changes.append(append_dimension(sheet_id, "COLUMNS", plan.width - cols))
                cols = plan.width
            grown = rows  # the first row new to the grid, if any
            if more_rows > 0:
                changes.append(append_dimension(sheet_id, "ROWS", more_rows))
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
