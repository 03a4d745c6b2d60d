"""In-memory spreadsheets for the Sheets stand-in: tabs, their grids, A1 ranges, structural edits.

A tab holds one list per row (``len(cells)`` is the row count; a row list may be shorter than the
column count, the rest being empty). Inserting, deleting and moving rows or columns carry along
what Sheets anchors to the grid: protected ranges, data validation, number formats, conditional
formats, filters and row/column developer metadata, which shift, grow, shrink or vanish with
their cells. A person sorting a range moves cell values only; row properties stay put.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.standins.sheets.cells import (
    SKIP,
    DateCell,
    Formula,
    a1_box,
    column_index,
    invalid,
    render,
    sheet_prefix,
)

DEFAULT_ROWS = 1000
DEFAULT_COLUMNS = 26
CELL_LIMIT = 10_000_000
_GRID_KEYS = {
    "ROWS": ("startRowIndex", "endRowIndex"),
    "COLUMNS": ("startColumnIndex", "endColumnIndex"),
}
Span = Callable[[int, int | None], tuple[int, int | None] | None]
# What Sheets keeps per cell (a new row inherits it from its neighbour), and what is anchored to
# ranges, for ``Sheet._remap``.
CELL_FORMATS = frozenset({"validations", "formats"})
OTHER_ANCHORED = frozenset(
    {"protected", "merges", "banded", "conditional", "basic_filter", "metadata"}
)


def exceeds(title: str, box: str, rows: int, cols: int) -> Exception:
    quoted = title.replace("'", "''")
    return invalid(
        f"Range ('{quoted}'!{box}) exceeds grid limits. Max rows: {rows}, max columns: {cols}"
    )


@dataclass
class Area:
    """A range on one tab; ``None`` ends run to the edge of the grid. ``anchor``: one cell given,
    from which a write may extend."""

    sheet: Sheet
    r0: int
    r1: int | None
    c0: int
    c1: int | None
    anchor: bool = False

    def bounds(self) -> tuple[int, int, int, int]:
        """``(r0, r1, c0, c1)`` within the grid; 400 "exceeds grid limits" when it is not."""
        rows, cols = self.sheet.row_count, self.sheet.col_count
        r1 = rows if self.r1 is None else self.r1
        c1 = cols if self.c1 is None else self.c1
        if r1 > rows or c1 > cols or self.r0 >= rows or self.c0 >= cols:
            box = a1_box(self.r0, max(r1, self.r0 + 1), self.c0, max(c1, self.c0 + 1))
            raise exceeds(self.sheet.title, box, rows, cols)
        return self.r0, r1, self.c0, c1

    def text(self) -> str:
        return self.sheet.ref(*self.bounds())


_CELL = re.compile(r"([A-Za-z]{0,3})(\d*)")


def split_range(text: str) -> tuple[str | None, str | None]:
    """``'It''s'!A1`` -> ("It's", "A1"); ``Tab`` -> (None, "Tab"); ``'Tab'`` -> ("Tab", None)."""
    if text.startswith("'"):
        quoted: list[str] = []
        i = 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    quoted.append("'")
                    i += 2
                    continue
                rest = text[i + 1 :]
                if rest == "":
                    return "".join(quoted), None
                if rest.startswith("!") and len(rest) > 1:
                    return "".join(quoted), rest[1:]
                break
            quoted.append(text[i])
            i += 1
        raise invalid(f"Unable to parse range: {text}")
    if "!" in text:
        name, _, ref = text.partition("!")
        # Names with spaces or quotes must be quoted; gspread always quotes.
        if not name or not ref or re.search(r"[\s']", name):
            raise invalid(f"Unable to parse range: {text}")
        return name, ref
    return None, text


def parse_a1(sheet: Sheet, ref: str) -> Area | None:
    parts = ref.split(":")
    if len(parts) > 2:
        return None
    matches = [_CELL.fullmatch(p) for p in parts]
    if any(m is None or m.group() == "" for m in matches):
        return None
    (sc, sr), *rest = (m.groups() for m in matches if m is not None)
    if any(r and int(r) == 0 for r in [sr] + [e[1] for e in rest]):
        return None
    if not rest:
        if not (sc and sr):
            return None
        return Area(sheet, int(sr) - 1, int(sr), column_index(sc), column_index(sc) + 1, True)
    ec, er = rest[0]
    if bool(sc) != bool(ec) or (not sr and er):
        return None  # "2:C5" and "A:C5" are not ranges
    r0, r1 = (int(sr) - 1 if sr else 0), (int(er) if er else None)
    c0, c1 = (column_index(sc) if sc else 0), (column_index(ec) + 1 if ec else None)
    if r1 is not None and r1 <= r0:
        r0, r1 = r1 - 1, r0 + 1
    if c1 is not None and c1 <= c0:
        c0, c1 = c1 - 1, c0 + 1
    return Area(sheet, r0, r1, c0, c1)


def _trim(row: list[Any]) -> None:
    while row and row[-1] is None:
        row.pop()


def _move_block(items: list[Any], start: int, end: int, to: int) -> None:
    block = items[start:end]
    del items[start:end]
    items[to:to] = block


def _insert_span(s: int, n: int) -> Span:
    def span(a: int, b: int | None) -> tuple[int, int | None]:
        return (a if a < s else a + n), (None if b is None else b if b <= s else b + n)

    return span


def _inherit_span(s: int, n: int, before: bool) -> Span:
    """Like ``_insert_span``, but a range holding the row the new ones inherit from (``s - 1``
    before, ``s`` after) grows over them."""

    def span(a: int, b: int | None) -> tuple[int, int | None]:
        if before:
            return (a if a < s else a + n), (None if b is None else b if b < s else b + n)
        return (a if a <= s else a + n), (None if b is None else b if b <= s else b + n)

    return span


def _delete_span(s: int, e: int) -> Span:
    def edge(i: int) -> int:
        return i if i <= s else max(s, i - (e - s))

    def span(a: int, b: int | None) -> tuple[int, int | None] | None:
        na, nb = edge(a), (None if b is None else edge(b))
        return None if nb is not None and nb <= na else (na, nb)

    return span


def _move_index(s: int, e: int, dest: int) -> Callable[[int], int]:
    n = e - s
    to = dest if dest < s else dest - n

    def where(i: int) -> int:
        if s <= i < e:
            return to + i - s
        j = i if i < s else i - n
        return j if j < to else j + n

    return where


class Sheet:
    """One tab: properties, cells, row/column properties and what is anchored to the grid."""

    def __init__(self, sheet_id: int, title: str, rows: int, cols: int) -> None:
        self.sheet_id = sheet_id
        self.title = title
        self.col_count = cols
        self.cells: list[list[Any]] = [[] for _ in range(rows)]
        self.row_props: list[dict[str, Any] | None] = [None] * rows
        self.col_props: list[dict[str, Any] | None] = [None] * cols
        self.extra: dict[str, Any] = {}  # hidden, tabColor... as last set
        self.grid_extra: dict[str, Any] = {}  # frozenRowCount, hideGridlines...
        self.protected: list[dict[str, Any]] = []
        self.validations: list[dict[str, Any]] = []  # {"range", "rule"}, later wins
        self.formats: list[dict[str, Any]] = []  # {"range", "pattern"}: date formats set
        self.conditional: list[dict[str, Any]] = []
        self.merges: list[dict[str, Any]] = []
        self.banded: list[dict[str, Any]] = []
        self.basic_filter: dict[str, Any] | None = None
        self.metadata: list[dict[str, Any]] = []  # located on this sheet or its rows/columns

    @property
    def row_count(self) -> int:
        return len(self.cells)

    def size(self, dimension: str) -> int:
        return self.row_count if dimension == "ROWS" else self.col_count

    def ref(self, r0: int, r1: int, c0: int, c1: int) -> str:
        return f"{sheet_prefix(self.title)}!{a1_box(r0, r1, c0, c1)}"

    def properties(self, index: int) -> dict[str, Any]:
        grid = {"rowCount": self.row_count, "columnCount": self.col_count, **self.grid_extra}
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": grid,
            **self.extra,
        }

    def clone(self) -> Sheet:
        other = copy.copy(self)
        other.cells = [row.copy() for row in self.cells]
        other.row_props = self.row_props.copy()  # elements are replaced, never changed
        other.col_props = self.col_props.copy()
        for name in ("extra", "grid_extra", "protected", "validations", "formats"):
            setattr(other, name, copy.deepcopy(getattr(self, name)))
        for name in ("conditional", "merges", "banded", "basic_filter", "metadata"):
            setattr(other, name, copy.deepcopy(getattr(self, name)))
        return other

    # --- values ---------------------------------------------------------------------------------

    def write(self, r0: int, c0: int, matrix: list[list[Any]]) -> None:
        """Store converted values (SKIP leaves a cell); a number keeps a date cell's format."""
        for i, values in enumerate(matrix):
            row = self.cells[r0 + i]
            if len(row) < c0 + len(values):
                row.extend([None] * (c0 + len(values) - len(row)))
            for j, value in enumerate(values):
                if value is SKIP:
                    continue
                old = row[c0 + j]
                if type(old) is DateCell and type(value) in (int, float):
                    value = DateCell(value, old.pattern)
                row[c0 + j] = value
            _trim(row)

    def clear(self, r0: int, r1: int, c0: int, c1: int) -> None:
        for row in self.cells[r0:r1]:
            end = min(c1, len(row))
            if end > c0:
                row[c0:end] = [None] * (end - c0)
                _trim(row)

    def stored(self, r0: int, r1: int, c0: int, c1: int) -> list[list[Any]]:
        """Stored values, each row without trailing empties, no trailing empty rows."""
        rows = [row[c0:c1] for row in self.cells[r0:r1]]
        for row in rows:
            _trim(row)
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def read(
        self, r0: int, r1: int, c0: int, c1: int, option: str, dates: str, major: str = "ROWS"
    ) -> list[list[Any]]:
        """Values as the API returns them: trailing empty cells and rows omitted."""
        rows: list[list[Any]] = self.stored(r0, r1, c0, c1)
        if self.formats:  # a number in a date-formatted cell reads as a date
            rows = [
                [self._dated(v, r0 + i, c0 + j) for j, v in enumerate(row)]
                for i, row in enumerate(rows)
            ]
        if major == "COLUMNS":
            width = max((len(r) for r in rows), default=0)
            rows = [[r[j] if j < len(r) else None for r in rows] for j in range(width)]
            for col in rows:
                _trim(col)
        return [[render(v, option, dates) for v in row] for row in rows]

    def _dated(self, value: Any, row: int, col: int) -> Any:
        if type(value) in (int, float) and (pattern := self.date_pattern(row, col)):
            return DateCell(value, pattern)
        return value

    def date_pattern(self, row: int, col: int) -> str | None:
        for fmt in reversed(self.formats):
            if contains(fmt["range"], row, col):
                return fmt["pattern"]
        return None

    def rule_at(self, row: int, col: int) -> dict[str, Any] | None:
        for validation in reversed(self.validations):
            if contains(validation["range"], row, col):
                return validation["rule"]
        return None

    def protection_at(self, row: int, col: int) -> dict[str, Any] | None:
        for protected in self.protected:
            if contains(protected["range"], row, col):
                return protected
        return None

    def sort(self, r0: int, r1: int, c0: int, c1: int, specs: list[tuple[int, bool]]) -> None:
        """Sort rows [r0, r1) by ``specs`` (column, descending), moving cells in [c0, c1) only.
        Numbers and dates before text before booleans; empty cells last either way."""
        r1 = min(r1, self.row_count)
        order = list(range(r0, r1))
        for col, descending in reversed(specs):
            blank = [r for r in order if self._value(r, col) is None]
            filled = [r for r in order if self._value(r, col) is not None]

            def key(r: int, col: int = col) -> tuple[int, Any]:
                return sort_key(self._value(r, col))

            filled.sort(key=key, reverse=descending)
            order = filled + blank
        whole = c0 == 0 and c1 >= self.col_count
        if whole:
            self.cells[r0:r1] = [self.cells[r] for r in order]
            return
        segments = [self.cells[r][c0:c1] for r in order]
        for r, segment in zip(range(r0, r1), segments, strict=True):
            row = self.cells[r]
            if len(row) < c1:
                row.extend([None] * (c1 - len(row)))
            row[c0:c1] = segment + [None] * (c1 - c0 - len(segment))
            _trim(row)

    def _value(self, row: int, col: int) -> Any:
        cells = self.cells[row]
        return cells[col] if col < len(cells) else None

    # --- structure ------------------------------------------------------------------------------

    def insert(self, dimension: str, start: int, count: int, *, inherit: str | None = None) -> None:
        """Insert ``count`` rows or columns at ``start``. ``inherit`` "before" or "after": the
        new ones take the formats and data validation of the row (column) before or after
        them, as insertDimension's ``inheritFromBefore`` documents; None: they take none."""
        if inherit is not None:
            self._remap(dimension, _inherit_span(start, count, inherit == "before"), CELL_FORMATS)
            self._remap(dimension, _insert_span(start, count), OTHER_ANCHORED)
        else:
            self._remap(dimension, _insert_span(start, count))
        if dimension == "ROWS":
            self.cells[start:start] = [[] for _ in range(count)]
            self.row_props[start:start] = [None] * count
        else:
            for row in self.cells:
                if len(row) > start:
                    row[start:start] = [None] * count
            self.col_props[start:start] = [None] * count
            self.col_count += count

    def delete(self, dimension: str, start: int, end: int) -> None:
        if dimension == "ROWS":
            del self.cells[start:end]
            del self.row_props[start:end]
        else:
            for row in self.cells:
                del row[start:end]
                _trim(row)
            del self.col_props[start:end]
            self.col_count -= end - start
        self._remap(dimension, _delete_span(start, end))

    def move(self, dimension: str, start: int, end: int, dest: int) -> None:
        """moveDimension: ``dest`` counts in the grid as it was before the move."""
        if start <= dest <= end:
            return
        to = dest if dest < start else dest - (end - start)
        if dimension == "ROWS":
            _move_block(self.cells, start, end, to)
            _move_block(self.row_props, start, end, to)
        else:
            _move_block(self.col_props, start, end, to)
            for row in self.cells:
                if len(row) > min(start, to):
                    row.extend([None] * (self.col_count - len(row)))
                    _move_block(row, start, end, to)
                    _trim(row)
        where = _move_index(start, end, dest)
        size = self.size(dimension)

        def span(a: int, b: int | None) -> tuple[int, int | None]:
            moved = [where(i) for i in range(a, size if b is None else b)]
            if not moved:
                return a, b
            return min(moved), (None if b is None else max(moved) + 1)

        self._remap(dimension, span)

    def resize(self, rows: int, cols: int) -> None:
        for dimension, want in (("ROWS", rows), ("COLUMNS", cols)):
            have = self.size(dimension)
            if want > have:
                self.insert(dimension, have, want - have)
            elif want < have:
                self.delete(dimension, want, have)

    def _remap(
        self, dimension: str, span: Span, which: frozenset[str] = CELL_FORMATS | OTHER_ANCHORED
    ) -> None:
        """Move what is anchored to the grid (``which`` of it) by ``span``."""
        first, last = _GRID_KEYS[dimension]

        def fix(grid: dict[str, Any], start: str = first, end: str = last) -> bool:
            moved = span(grid.get(start, 0), grid.get(end))
            if moved is None:
                return False
            if moved[0] or start in grid:
                grid[start] = moved[0]
            if moved[1] is not None:
                grid[end] = moved[1]
            return True

        if "validations" in which:
            self.validations = [v for v in self.validations if fix(v["range"])]
            self.formats = [f for f in self.formats if fix(f["range"])]
        if "protected" not in which:
            return
        self.protected = [p for p in self.protected if fix(p["range"])]
        self.merges = [m for m in self.merges if fix(m)]
        self.banded = [b for b in self.banded if fix(b["range"])]
        for rule in self.conditional:
            rule["ranges"] = [r for r in rule["ranges"] if fix(r)]
        self.conditional = [rule for rule in self.conditional if rule["ranges"]]
        if self.basic_filter is not None and not fix(self.basic_filter["range"]):
            self.basic_filter = None
        self.metadata = [md for md in self.metadata if self._keep(md, dimension, fix)]

    @staticmethod
    def _keep(md: dict[str, Any], dimension: str, fix: Callable[..., bool]) -> bool:
        where = md["location"].get("dimensionRange")
        if where is None or where["dimension"] != dimension:
            return True
        return fix(where, "startIndex", "endIndex")

    def dimension_props(self, dimension: str) -> list[dict[str, Any] | None]:
        return self.row_props if dimension == "ROWS" else self.col_props


def contains(grid: dict[str, Any], row: int, col: int) -> bool:
    return grid.get("startRowIndex", 0) <= row < grid.get("endRowIndex", row + 1) and grid.get(
        "startColumnIndex", 0
    ) <= col < grid.get("endColumnIndex", col + 1)


def sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, Formula):
        value = value.value
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, DateCell):
        return (0, value.serial)
    return (1, str(getattr(value, "code", value)).casefold())


class Book:
    """One spreadsheet: its properties, tabs in order, named ranges, and metadata on itself."""

    def __init__(self, spreadsheet_id: str, title: str, rng: random.Random) -> None:
        self.id = spreadsheet_id
        self.props: dict[str, Any] = {
            "title": title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Etc/GMT",
        }
        self.sheets: list[Sheet] = []
        self.named_ranges: list[dict[str, Any]] = []
        self.metadata: list[dict[str, Any]] = []  # located on the spreadsheet itself
        self.rng = rng
        self.cell_limit = CELL_LIMIT
        self.shared = True
        self.issued: set[int] = set()  # ids given out or chosen by callers, never reused

    def clone(self) -> Book:
        other = copy.copy(self)
        other.props = copy.deepcopy(self.props)
        other.sheets = [s.clone() for s in self.sheets]
        other.named_ranges = copy.deepcopy(self.named_ranges)
        other.metadata = copy.deepcopy(self.metadata)
        other.issued = set(self.issued)
        return other

    def new_id(self) -> int:
        """A fresh positive 31-bit id, as Google gives sheets, protected ranges and metadata."""
        while True:
            candidate = self.rng.randrange(1, 2**31 - 1)
            if candidate not in self.issued:
                self.issued.add(candidate)
                return candidate

    def add_sheet(
        self,
        title: str,
        rows: int = DEFAULT_ROWS,
        cols: int = DEFAULT_COLUMNS,
        *,
        sheet_id: int | None = None,
        index: int | None = None,
    ) -> Sheet:
        if self.by_title(title) is not None:
            raise invalid(
                f'A sheet with the name "{title}" already exists. Please enter another name.'
            )
        if sheet_id is not None and any(s.sheet_id == sheet_id for s in self.sheets):
            raise invalid(f"Sheet with id {sheet_id} already exists.")
        if rows < 1 or cols < 1:
            raise invalid("A sheet must have at least one row and one column.")
        self.check_growth(rows * cols)
        if sheet_id is None:
            sheet_id = 0 if not self.sheets else self.new_id()
        self.issued.add(sheet_id)
        sheet = Sheet(sheet_id, title, rows, cols)
        self.sheets.insert(len(self.sheets) if index is None else index, sheet)
        return sheet

    def sheet(self, sheet_id: Any) -> Sheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise invalid(f"No grid with id: {sheet_id}")

    def by_title(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def tab(self, title: str) -> Sheet:
        sheet = self.by_title(title)
        if sheet is None:
            raise KeyError(f"no tab {title!r}; tabs: {[s.title for s in self.sheets]}")
        return sheet

    def index_of(self, sheet: Sheet) -> int:
        return self.sheets.index(sheet)

    def cells_in_use(self) -> int:
        return sum(s.row_count * s.col_count for s in self.sheets)

    def check_growth(self, added: int) -> None:
        if self.cells_in_use() + added > self.cell_limit:
            raise invalid(
                "This action would increase the number of cells in the workbook above the "
                f"limit of {self.cell_limit} cells."
            )

    def all_metadata(self) -> Iterator[dict[str, Any]]:
        yield from self.metadata
        for sheet in self.sheets:
            yield from sheet.metadata

    def parse_range(self, text: str) -> Area:
        """An A1 range as the API accepts it; 400 "Unable to parse range" otherwise."""
        text = text.strip()
        name, ref = split_range(text)
        if name is None and ref is not None:
            whole = self.by_title(ref)
            if whole is not None:
                return Area(whole, 0, None, 0, None)
            named = next((n for n in self.named_ranges if n["name"] == ref), None)
            if named is not None:
                return self.grid_area(named["range"])
            visible = [s for s in self.sheets if not s.extra.get("hidden")]
            sheet = (visible or self.sheets)[0]
        else:
            found = self.by_title(name or "")
            if found is None:
                raise invalid(f"Unable to parse range: {text}")
            sheet = found
            if ref is None:
                return Area(sheet, 0, None, 0, None)
        area = parse_a1(sheet, ref or "")
        if area is None:
            raise invalid(f"Unable to parse range: {text}")
        return area

    def grid_area(self, grid: dict[str, Any]) -> Area:
        sheet = self.sheet(grid.get("sheetId", 0))
        return Area(
            sheet,
            grid.get("startRowIndex", 0),
            grid.get("endRowIndex"),
            grid.get("startColumnIndex", 0),
            grid.get("endColumnIndex"),
        )

    def grid_bounds(self, grid: dict[str, Any]) -> tuple[Sheet, int, int, int, int]:
        area = self.grid_area(grid)
        return (area.sheet, *area.bounds())
