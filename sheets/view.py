"""A tab as read: its columns found by header, its rows found by key."""

from __future__ import annotations

from dataclasses import dataclass, field

from sheets.backend import Grid, Value
from sheets.layout import KEY, Tab


@dataclass
class TabView:
    tab: Tab
    grid: Grid
    columns: dict[str, int] = field(default_factory=dict)  # header -> 0-based column
    rows: dict[str, list[int]] = field(default_factory=dict)  # key -> 0-based rows, sheet order

    @classmethod
    def of(cls, tab: Tab, grid: Grid) -> TabView:
        view = cls(tab, grid)
        header = grid[0] if grid else []
        for i, cell in enumerate(header):
            name = str(cell).strip() if cell is not None else ""
            if name and name not in view.columns:
                view.columns[name] = i
        at = view.columns.get(KEY)
        if at is not None:
            for r in range(1, len(grid)):
                key = _cell(grid[r], at)
                if key is not None and str(key).strip():
                    view.rows.setdefault(str(key).strip(), []).append(r)
        return view

    @property
    def missing(self) -> list[str]:
        """Headers of the layout this tab lacks (the sync must set them up first)."""
        return [h for h in self.tab.headers if h not in self.columns]

    @property
    def width(self) -> int:
        header = len(self.grid[0]) if self.grid else 0
        return max(header, max(self.columns.values(), default=-1) + 1)

    def cell(self, row: int, header: str) -> Value:
        return _cell(self.grid[row], self.columns[header])

    def row_values(self, values: dict[str, Value]) -> list[Value]:
        """A new row in this tab's column order as read (unknown columns left empty)."""
        out: list[Value] = [None] * self.width
        for header, value in values.items():
            at = self.columns.get(header)
            if at is not None:
                out[at] = value
        return out


def _cell(row: list[Value], at: int) -> Value:
    value = row[at] if at < len(row) else None
    return None if value == "" else value
