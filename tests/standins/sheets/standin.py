"""A local stand-in for the Google Sheets v4 API, for driving the real ``gspread`` in tests.

Google cannot be reached from the test machines, and mocking gspread would hide what breaks in
production: a write past the grid, ``=1+1`` or ``007`` changed by USER_ENTERED, the trailing
empty cells the API leaves out, a batch that counts differently than expected, a 429, a payload
over 2 MB. This server answers over real HTTP on 127.0.0.1 at the paths of
``sheets.googleapis.com`` (``/v4/spreadsheets/...``) plus an OAuth ``/token`` endpoint, holds
spreadsheets in memory, refuses what Google refuses in Google's words, records every request, and
fails on demand. Every request is checked against Google's discovery document of the API
(``tests.standins.sheets.discovery``): unknown fields and parameters are refused, deprecated
fields noted.
It also lets a test act as a person in the browser: type into cells, sort, insert and delete
rows, move columns. See DESIGN.md section 4.

Use it as a context manager (or the ``sheets_standin`` fixture)::

    with SheetsStandin() as sheets:
        key_file = sheets.service_account_file(tmp_path / "sa.json")
        spreadsheet_id = sheets.create_spreadsheet("Pre-orders", tabs=["PO lines"])
        ...  # production code, configured with sheets.base_url and key_file
        assert sheets.cells(spreadsheet_id, "PO lines")[0][0] == "PO"

Limits it enforces like Google: 60 read and 60 write requests per minute (a batch is one request;
switch off with ``enforce_quota(False)``), request bodies up to 2 MB (Google's hard limit is
larger, 2 MB is what it recommends and the app promises), 10 million cells per spreadsheet.
"""

from __future__ import annotations

import copy
import json
import random
import string
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.standins.local_server import LocalServer
from tests.standins.sheets import batch, discovery, routes, values
from tests.standins.sheets.auth import ServiceAccountKey, TokenAuthority
from tests.standins.sheets.cells import ApiError, column_index, person_input
from tests.standins.sheets.grid import CELL_LIMIT, DEFAULT_COLUMNS, DEFAULT_ROWS, Book, Sheet
from tests.standins.sheets.people import UNFORMATTED, cell_at, check_person_edit, column_at, guard
from tests.standins.sheets.routes import (
    JSON_BODIES,
    STATUS_MESSAGES,
    Answer,
    Handler,
    Route,
    error_answer,
    json_body,
    quota_error,
)

__all__ = ["PAYLOAD_LIMIT", "Recorded", "SheetsStandin"]

PAYLOAD_LIMIT = 2 * 1024 * 1024


@dataclass(frozen=True)
class Recorded:
    """One request as the stand-in saw it. ``kind``: read, write or token (quota kinds)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body_bytes: int
    kind: str
    op: str  # e.g. "values.batchUpdate", "spreadsheets.get"
    status: int
    time: float
    response_bytes: int
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The request body as JSON."""
        return json.loads(self.body)


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    times: int | None  # None: never clears
    body: Any
    kind: str | None
    applied: bool


class SheetsStandin(LocalServer):
    """Sheets v4 API stand-in on 127.0.0.1 (port 0); see the module docstring."""

    def __init__(
        self,
        *,
        enforce_quota: bool = True,
        reads_per_minute: int = 60,
        writes_per_minute: int = 60,
        payload_limit: int = PAYLOAD_LIMIT,
        cell_limit: int = CELL_LIMIT,
        project_id: str = "preorder-test",
        seed: int = 0,
    ) -> None:
        self.payload_limit = payload_limit
        self.cell_limit = cell_limit
        self.project_id = project_id
        self.internal_errors: list[str] = []  # stand-in bugs: the fixture fails the test on any
        # Fields the discovery document marks deprecated that requests set ("op: path").
        self.deprecated: list[str] = []
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._clock_offset = 0.0
        self.auth = TokenAuthority(clock=self.clock)
        self._books: dict[str, Book] = {}
        self._requests: list[Recorded] = []
        self._token_requests: list[Recorded] = []
        self._failures: deque[_Failure] = deque()
        self._quota = {"read": reads_per_minute, "write": writes_per_minute}
        self._quota_on = enforce_quota
        self._windows: dict[str, deque[float]] = {"read": deque(), "write": deque()}
        super().__init__()

    # --- lifecycle ----------------------------------------------------------------------------

    handler = Handler

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def clock(self) -> float:
        """Monotonic seconds, plus whatever :meth:`advance_clock` added (quota, token expiry)."""
        return time.monotonic() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Let ``seconds`` pass for the quota windows and token lifetimes, without sleeping."""
        with self._lock:
            self._clock_offset += seconds

    # --- credentials --------------------------------------------------------------------------

    def service_account_file(
        self,
        path: Path,
        *,
        email: str = "preorder-sync@preorder-test.iam.gserviceaccount.com",
        key_name: str = "default",
        register: bool = True,
    ) -> Path:
        """Write a service-account key file whose ``token_uri`` is this stand-in's, its public
        key registered (``register=False``: a key Google never issued, so tokens are refused)."""
        key = ServiceAccountKey.make(email, key_name)
        if register:
            with self._lock:
                self.auth.register(key)
        return key.write(path, self.token_uri, self.project_id)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (answers 401 from now on)."""
        with self._lock:
            self.auth.expire_all()

    # --- spreadsheets -------------------------------------------------------------------------

    def create_spreadsheet(
        self,
        title: str = "Pre-orders",
        tabs: Sequence[str] = ("Sheet1",),
        *,
        rows: int = DEFAULT_ROWS,
        cols: int = DEFAULT_COLUMNS,
    ) -> str:
        """A new spreadsheet shared with the service account; returns its id. Tabs are
        ``rows`` x ``cols`` (Google's default 1000 x 26); the first has sheetId 0."""
        with self._lock:
            book = self._new_book(title)
            for tab in tabs:
                book.add_sheet(tab, rows, cols)
            return book.id

    def _new_book(self, title: str) -> Book:
        alphabet = string.ascii_letters + string.digits + "-_"
        spreadsheet_id = "1" + "".join(self._rng.choice(alphabet) for _ in range(43))
        book = Book(spreadsheet_id, title, self._rng)
        book.cell_limit = self.cell_limit
        self._books[spreadsheet_id] = book
        return book

    def add_tab(
        self, spreadsheet_id: str, title: str, *, rows: int = DEFAULT_ROWS, cols: int = 26
    ) -> int:
        """Add a tab as a person would; returns its sheetId."""
        with self._lock:
            return self._book(spreadsheet_id).add_sheet(title, rows, cols).sheet_id

    def rename_tab(self, spreadsheet_id: str, tab: str, title: str) -> None:
        with self._lock:
            self._tab(spreadsheet_id, tab).title = title

    def set_shared(self, spreadsheet_id: str, shared: bool) -> None:
        """An unshared spreadsheet answers 403 PERMISSION_DENIED, as when nobody shared it with
        the service account."""
        with self._lock:
            self._book(spreadsheet_id).shared = shared

    def book(self, spreadsheet_id: str) -> Book:
        """The live model, for what the methods below do not cover (hold no reference across
        API calls: a batchUpdate replaces it)."""
        return self._book(spreadsheet_id)

    def _book(self, spreadsheet_id: str) -> Book:
        try:
            return self._books[spreadsheet_id]
        except KeyError:
            raise KeyError(f"no spreadsheet {spreadsheet_id!r}") from None

    def _tab(self, spreadsheet_id: str, tab: str) -> Sheet:
        return self._book(spreadsheet_id).tab(tab)

    # --- looking at a spreadsheet -------------------------------------------------------------

    def spreadsheet(self, spreadsheet_id: str) -> dict[str, Any]:
        """What ``spreadsheets.get`` answers, with row and column metadata (``data``)."""
        with self._lock:
            return batch.describe(self._book(spreadsheet_id), fields="sheets.data.rowMetadata")

    def tab_properties(self, spreadsheet_id: str, tab: str) -> dict[str, Any]:
        with self._lock:
            book = self._book(spreadsheet_id)
            sheet = book.tab(tab)
            return sheet.properties(book.index_of(sheet))

    def cells(
        self,
        spreadsheet_id: str,
        tab: str,
        *,
        render: str = "UNFORMATTED_VALUE",
        dates: str = "SERIAL_NUMBER",
    ) -> list[list[Any]]:
        """The whole tab as ``values.get`` returns it (trailing empties left out; empty cells
        inside a row are ``""``). Unformatted by default: dates as serial numbers."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            return sheet.read(0, sheet.row_count, 0, sheet.col_count, render, dates)

    def cell(
        self, spreadsheet_id: str, tab: str, a1: str, *, render: str = "UNFORMATTED_VALUE"
    ) -> Any:
        """One cell's value (``""`` when empty)."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            r, c = cell_at(sheet, a1)
            found = sheet.read(r, r + 1, c, c + 1, render, "SERIAL_NUMBER")
            return found[0][0] if found else ""

    def records(self, spreadsheet_id: str, tab: str, *, header_row: int = 1) -> list[dict]:
        """Rows below the header as dicts keyed by header (formatted header text)."""
        rows = self.cells(spreadsheet_id, tab)
        header = [str(h) for h in rows[header_row - 1]] if len(rows) >= header_row else []
        return [
            {h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h}
            for row in rows[header_row:]
        ]

    def find_row(self, spreadsheet_id: str, tab: str, column: str | int, value: Any) -> int:
        """The 1-based row number whose ``column`` (header, letter or number) holds ``value``."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            col = column_at(sheet, column)
            for r, row in enumerate(sheet.read(0, sheet.row_count, col, col + 1, *UNFORMATTED)):
                if row and row[0] == value:
                    return r + 1
        raise LookupError(f"no row of {tab!r} has {value!r} in column {column!r}")

    def hidden_columns(self, spreadsheet_id: str, tab: str) -> list[int]:
        """0-based indexes of the columns hidden by updateDimensionProperties."""
        with self._lock:
            props = self._tab(spreadsheet_id, tab).col_props
            return [i for i, p in enumerate(props) if p and p.get("hiddenByUser")]

    def protected_ranges(self, spreadsheet_id: str, tab: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._tab(spreadsheet_id, tab).protected)

    def validations(self, spreadsheet_id: str, tab: str) -> list[dict[str, Any]]:
        """``{"range", "rule"}`` in the order set; a later one wins where they overlap and
        ``rule`` None clears."""
        with self._lock:
            return copy.deepcopy(self._tab(spreadsheet_id, tab).validations)

    def developer_metadata(self, spreadsheet_id: str) -> list[dict[str, Any]]:
        """All developer metadata of the spreadsheet, wherever it is located."""
        with self._lock:
            return copy.deepcopy(list(self._book(spreadsheet_id).all_metadata()))

    # --- a person editing in the browser ------------------------------------------------------

    def set_cell(
        self, spreadsheet_id: str, tab: str, a1: str, value: Any, *, force: bool = False
    ) -> None:
        """Type ``value`` into a cell: strings as typed (``"5"`` a number, ``"2027-01-04"`` a
        date, ``"'007"`` text), ``datetime.date`` a date, bool a ticked checkbox, None clears.

        Like the browser, refuses (ValueError) input that a strict validation rejects and
        (PermissionError) cells in a protected range that is not warning-only, unless ``force``.
        """
        self.set_cells(spreadsheet_id, tab, a1, [[value]], force=force)

    def set_cells(
        self,
        spreadsheet_id: str,
        tab: str,
        a1: str,
        rows: Sequence[Sequence[Any]],
        *,
        force: bool = False,
    ) -> None:
        """Type (or paste) a block of values starting at ``a1``; see :meth:`set_cell`."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            r0, c0 = cell_at(sheet, a1)
            matrix = [[person_input(v) for v in row] for row in rows]
            width = max((len(row) for row in matrix), default=0)
            if r0 + len(matrix) > sheet.row_count or c0 + width > sheet.col_count:
                raise IndexError(f"{a1} + {len(matrix)}x{width} is outside the {tab!r} grid")
            for i, row in enumerate(matrix):
                for j, value in enumerate(row):
                    if not force:
                        check_person_edit(sheet, r0 + i, c0 + j, value)
            sheet.write(r0, c0, matrix)

    def sort_rows(
        self,
        spreadsheet_id: str,
        tab: str,
        by: str | int,
        *,
        descending: bool = False,
        header_rows: int = 1,
        columns: tuple[str | int, str | int] | None = None,
    ) -> None:
        """Data > Sort range on every row below the header, by one column (a header text, a
        column letter or a 1-based number). Cell values move; row properties stay put.
        ``columns``: the first and last column of the range selected (by default all), as when
        a person selects only the columns they see: the others keep their values."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            col = column_at(sheet, by)
            c0, c1 = 0, sheet.col_count
            if columns is not None:
                c0, c1 = column_at(sheet, columns[0]), column_at(sheet, columns[1]) + 1
            last = max((r + 1 for r, row in enumerate(sheet.cells) if row), default=0)
            sheet.sort(header_rows, max(last, header_rows), c0, c1, [(col, descending)])

    def insert_rows(
        self,
        spreadsheet_id: str,
        tab: str,
        before: int,
        count: int = 1,
        *,
        values: Sequence[Sequence[Any]] | None = None,
    ) -> None:
        """Insert ``count`` empty rows above 1-based row ``before`` (ranges below shift down),
        then type ``values`` into them if given."""
        with self._lock:
            book = self._book(spreadsheet_id)
            sheet = book.tab(tab)
            if not 1 <= before <= sheet.row_count + 1:
                raise IndexError(f"row {before} is outside {tab!r}")
            book.check_growth(count * sheet.col_count)
            sheet.insert("ROWS", before - 1, count)
        if values:
            self.set_cells(spreadsheet_id, tab, f"A{before}", values)

    def delete_rows(self, spreadsheet_id: str, tab: str, row: int, count: int = 1) -> None:
        """Delete 1-based rows ``row`` .. ``row + count - 1`` (ranges below shift up)."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            if not 1 <= row <= row + count - 1 <= sheet.row_count or count >= sheet.row_count:
                raise IndexError(f"rows {row}..{row + count - 1} are not deletable in {tab!r}")
            guard(sheet, row - 1, row - 1 + count, 0, sheet.col_count)
            sheet.delete("ROWS", row - 1, row - 1 + count)

    def move_column(self, spreadsheet_id: str, tab: str, column: str | int, to: str | int) -> None:
        """Drag a column (header text, letter or 1-based number) so it ends up at position
        ``to`` (letter or 1-based number); the columns between shift over. Its data, hidden
        state, protection and validation go with it."""
        with self._lock:
            sheet = self._tab(spreadsheet_id, tab)
            src = column_at(sheet, column)
            dest = column_index(to) if isinstance(to, str) else to - 1
            if not 0 <= dest < sheet.col_count:
                raise IndexError(f"column {to!r} is outside {tab!r}")
            guard(sheet, 0, sheet.row_count, min(src, dest), max(src, dest) + 1)
            sheet.move("COLUMNS", src, src + 1, dest if dest < src else dest + 1)

    # --- faults -------------------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 429,
        retry_after: int | None = None,
        times: int | None = 1,
        body: Any = None,
        *,
        kind: str | None = None,
        applied: bool = False,
    ) -> None:
        """Answer the next ``times`` Sheets requests (``kind`` "read"/"write": only those) with
        ``status``: 429 RESOURCE_EXHAUSTED with Google's quota message, 500 INTERNAL, 503
        UNAVAILABLE... ``retry_after`` adds a Retry-After header. ``times=None`` never clears
        (see :meth:`clear_failures`). ``body``: a dict replaces the JSON error, str/bytes are
        sent as an HTML page (as Google's front end does for some 502s). ``applied=True``
        performs the request before failing, as when the answer is lost on the way back."""
        with self._lock:
            self._failures.append(_Failure(status, retry_after, times, body, kind, applied))

    def fail_always(self, status: int = 429, retry_after: int | None = None, **kw: Any) -> None:
        """A failure that never clears: ``fail_next(status, retry_after, times=None)``."""
        self.fail_next(status, retry_after, None, **kw)

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def enforce_quota(self, on: bool = True, *, reads: int = 60, writes: int = 60) -> None:
        """Answer 429 beyond ``reads``/``writes`` requests per rolling minute (on by default)."""
        with self._lock:
            self._quota_on = on
            self._quota = {"read": reads, "write": writes}
            self.reset_quota()

    def reset_quota(self) -> None:
        """Start both quota windows afresh, as if a minute had passed."""
        with self._lock:
            for window in self._windows.values():
                window.clear()

    # --- accounting ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """Every Sheets API request so far (refused ones too), oldest first; no token requests."""
        with self._lock:
            return list(self._requests)

    @property
    def token_requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._token_requests)

    @property
    def reads(self) -> int:
        return sum(1 for r in self.requests if r.kind == "read")

    @property
    def writes(self) -> int:
        return sum(1 for r in self.requests if r.kind == "write")

    def clear_requests(self) -> None:
        """Forget recorded requests (the quota windows are kept; see :meth:`reset_quota`)."""
        with self._lock:
            self._requests.clear()
            self._token_requests.clear()

    # --- HTTP entry point (called by Handler) ------------------------------------------------

    def _serve(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        arrived = time.time()
        path, _, query_text = raw_path.partition("?")
        query = parse_qs(query_text, keep_blank_values=True)
        found = routes.route(method, path)
        if found is None:
            answer: Answer = error_answer(404, f"Method not found: {method} {path}")
        elif found.kind == "token":
            answer = self._token(body)
        else:
            try:
                answer = self._answer(found, query, headers, body)
            except Exception as exc:  # a stand-in bug must fail the test, not pass silently
                self.internal_errors.append(f"{found.op}: {exc!r}")
                answer = error_answer(500, f"Sheets stand-in failure: {exc!r}")
        status, _, payload = answer
        size = len(payload) if isinstance(payload, bytes) else len(json.dumps(payload))
        record = Recorded(
            method,
            path,
            query,
            len(body),
            found.kind if found else "unknown",
            found.op if found else "unknown",
            status,
            arrived,
            size,
            body,
        )
        with self._lock:
            (self._token_requests if record.kind == "token" else self._requests).append(record)
        return answer

    def _token(self, body: bytes) -> Answer:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        with self._lock:
            status, answer = self.auth.exchange(form, self.token_uri)
        return status, {}, answer

    def _answer(
        self, route: Route, query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> Answer:
        with self._lock:
            refused = self.auth.authorize(headers.get("authorization"), route.kind == "write")
            if refused is not None:
                extra = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
                return refused.code, extra if refused.code == 401 else {}, refused.body()
            failure = self._take_failure(route.kind)
            if failure is not None and not failure.applied:
                return self._failure_answer(failure, route.kind)
            if len(body) > self.payload_limit:
                return error_answer(
                    400, f"Request payload size exceeds the limit: {self.payload_limit} bytes."
                )
            if self._quota_on:
                window = self._windows[route.kind]
                now = self.clock()
                while window and window[0] <= now - 60:
                    window.popleft()
                if len(window) >= self._quota[route.kind]:
                    return self._failure_answer(
                        _Failure(429, None, 1, None, None, False), route.kind
                    )
                window.append(now)
            try:
                answer = self._call(route, query, body)
            except ApiError as error:
                return error.code, {}, error.body()
            if failure is not None:
                return self._failure_answer(failure, route.kind)
            return 200, {}, answer

    def _take_failure(self, kind: str) -> _Failure | None:
        for failure in self._failures:
            if failure.kind in (None, kind):
                if failure.times is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                return failure
        return None

    def _failure_answer(self, failure: _Failure, kind: str) -> Answer:
        extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        if isinstance(failure.body, str | bytes):
            page = failure.body.encode() if isinstance(failure.body, str) else failure.body
            return failure.status, {**extra, "Content-Type": "text/html; charset=UTF-8"}, page
        if isinstance(failure.body, dict):
            return failure.status, extra, failure.body
        if failure.status == 429:
            return 429, extra, quota_error(kind, self._quota[kind], self.project_id)
        message = STATUS_MESSAGES.get(failure.status, "Request failed.")
        status, _, error = error_answer(failure.status, message)
        return status, extra, error

    def _call(self, route: Route, query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
        data = json_body(body) if route.op in JSON_BODIES else {}
        discovery.check_query(route.op, query)
        self.deprecated += [f"{route.op}: {path}" for path in discovery.check_body(route.op, data)]
        if route.op == "spreadsheets.create":
            return self._create(data)
        book = self._books.get(route.spreadsheet_id)
        if book is None:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        if not book.shared:
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        target = route.target
        match route.op:
            case "spreadsheets.get":
                grid = (query.get("includeGridData") or ["false"])[-1].lower() == "true"
                fields = ",".join(query.get("fields", []))
                ranges = query.get("ranges") or None
                return batch.describe(book, ranges=ranges, fields=fields, grid=grid)
            case "spreadsheets.batchUpdate":
                new_book, answer = batch.batch_update(book, data)
                self._books[book.id] = new_book
                return answer
            case "values.get":
                return values.get(book, target, query)
            case "values.batchGet":
                return values.batch_get(book, query)
            case "values.update":
                return values.update(book, target, query, data)
            case "values.batchUpdate":
                return values.batch_update(book, data)
            case "values.append":
                return values.append(book, target, query, data)
            case "values.clear":
                return values.clear(book, target)
            case "values.batchClear":
                return values.batch_clear(book, data)
            case "developerMetadata.search":
                return batch.search_metadata(book, data)
            case "developerMetadata.get":
                found = [m for m in book.all_metadata() if str(m["metadataId"]) == target]
                if not found:
                    raise ApiError(404, f"No developer metadata with ID: {target}", "NOT_FOUND")
                return copy.deepcopy(found[0])
        raise AssertionError(f"unrouted {route.op}")

    def _create(self, data: dict[str, Any]) -> dict[str, Any]:
        title = (data.get("properties") or {}).get("title") or "Untitled spreadsheet"
        book = self._new_book(title)
        for i, entry in enumerate(data.get("sheets") or [{}]):
            props = entry.get("properties") or {}
            grid = props.get("gridProperties") or {}
            book.add_sheet(
                props.get("title") or f"Sheet{i + 1}",
                grid.get("rowCount", DEFAULT_ROWS),
                grid.get("columnCount", DEFAULT_COLUMNS),
                sheet_id=props.get("sheetId"),
            )
        return batch.describe(book)
