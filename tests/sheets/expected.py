"""What a ``TabChanges`` should make of a grid, worked out by the plainest rules, and a
hypothesis strategy of changes: the backends' own arithmetic is checked against these."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sheets.backend import Grid, TabChanges, Value


def applied_rows(grid: Grid | list[list[Any]], change: TabChanges) -> list[list[Any]]:
    """The rows after ``change``: cells written where they were read, rows deleted, inserted
    rows above their rows (in the order given), appended rows at the end."""
    rows = [list(row) for row in grid]
    for r, c, value in change.cells:
        rows[r].extend([None] * (c + 1 - len(rows[r])))
        rows[r][c] = value
    gone = set(change.delete)
    out: list[list[Any]] = []
    for i, row in enumerate(rows):
        out += [list(values) for above, values in change.insert if above == i]
        if i not in gone:
            out.append(row)
    return out + [list(row) for row in change.append]


@st.composite
def changes(draw: st.DrawFn, length: int, width: int) -> TabChanges:
    """Any consistent change to a grid of ``length`` rows (the header first) and ``width``
    columns: cells and insertions on rows that stay, deletions, appends."""
    data = list(range(1, length))
    deleted = draw(st.lists(st.sampled_from(data), unique=True)) if data else []
    kept = [r for r in data if r not in deleted]
    value: st.SearchStrategy[Value] = st.one_of(
        st.none(), st.integers(-5, 500), st.text("abc-:", min_size=1, max_size=4)
    )
    new_row: st.SearchStrategy[list[Value]] = st.lists(value, min_size=1, max_size=width).map(
        lambda r: ["new", *r[1:]]
    )
    cells: list[tuple[int, int, Any]] = []
    insert: list[tuple[int, list[Any]]] = []
    if kept:
        spots = st.tuples(st.sampled_from(kept), st.integers(0, width - 1))
        cells = [(r, c, draw(value)) for r, c in draw(st.lists(spots, unique=True, max_size=6))]
        insert = draw(st.lists(st.tuples(st.sampled_from(kept), new_row), max_size=6))
    append = draw(st.lists(new_row, max_size=3))
    return TabChanges(cells=cells, delete=deleted, insert=insert, append=append)
