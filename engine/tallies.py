"""What every writer of allocations shares: the PO lines' counters (units, lines, lines out of
sync, parts of split lines) changed in one statement, statements in chunks, and the placed_at
of lines read without it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Table, bindparam, column, delete, select, update

from engine.bulk import records
from engine.models import po_lines, so_lines
from engine.unit import Unit

CHUNK = 500


class Tallies:
    """Changes to PO lines' counters (units and lines allocated, lines out of sync), applied in
    one statement: decrements before increments, so that no intermediate state of a move breaks
    the ATP check."""

    def __init__(self) -> None:
        self._delta: dict[int, list[int]] = {}
        # Parts of split lines (rule 10) gained or lost, by PO line: empty unless a line split.
        self._parts: dict[int, int] = {}

    def add(self, po_line_id: int, units: int, *, out_of_sync: int = 0, parts: int = 0) -> None:
        d = self._delta.setdefault(po_line_id, [0, 0, 0])
        d[0] += units
        d[1] += 1 if units > 0 else -1
        d[2] += out_of_sync
        if parts:
            self._parts[po_line_id] = self._parts.get(po_line_id, 0) + parts

    def apply(self, unit: Unit) -> None:
        unit.touch(self._delta)
        params = [
            {"pid": pid, "units": u, "lines": n, "oos": o}
            for pid, (u, n, o) in sorted(self._delta.items(), key=lambda kv: (kv[1][0] > 0, kv[0]))
            if u or n or o
        ]
        # A line counts no more parts than lines: parts lost go before the lines they were,
        # parts gained after.
        self._apply_parts(unit, lost=True)
        if len(params) > 1 and unit.is_postgres:
            # One statement (engine.bulk); each PO line appears once, so the order in which
            # PostgreSQL updates them changes nothing (their SKUs are locked already).
            unit.conn.execute(_TALLY_ROWS, {"rows": json.dumps(params)})
        elif params:
            unit.conn.execute(_TALLY, params)
        self._apply_parts(unit, lost=False)

    def _apply_parts(self, unit: Unit, *, lost: bool) -> None:
        params = [
            {"pid": pid, "parts": n} for pid, n in sorted(self._parts.items()) if (n < 0) == lost
        ]
        if params and any(p["parts"] for p in params):
            unit.conn.execute(_TALLY_PARTS, params)


_TALLY = (
    update(po_lines)
    .where(po_lines.c.id == bindparam("pid"))
    .values(
        allocated=po_lines.c.allocated + bindparam("units"),
        allocated_lines=po_lines.c.allocated_lines + bindparam("lines"),
        out_of_sync=po_lines.c.out_of_sync + bindparam("oos"),
    )
)

_DELTAS = records(
    column("pid", Integer),
    column("units", Integer),
    column("lines", Integer),
    column("oos", Integer),
)
_TALLY_ROWS = (
    update(po_lines)
    .where(po_lines.c.id == _DELTAS.c.pid)
    .values(
        allocated=po_lines.c.allocated + _DELTAS.c.units,
        allocated_lines=po_lines.c.allocated_lines + _DELTAS.c.lines,
        out_of_sync=po_lines.c.out_of_sync + _DELTAS.c.oos,
    )
)

_TALLY_PARTS = (
    update(po_lines)
    .where(po_lines.c.id == bindparam("pid"))
    .values(split_parts=po_lines.c.split_parts + bindparam("parts"))
)


def placed_at_of(unit: Unit, ids: Sequence[int]) -> dict[int, datetime]:
    """The placed_at instants of SO lines by id (for lines read without it)."""
    found: dict[int, datetime] = {}
    for chunk in chunks(ids):
        found.update(tuple(r) for r in unit.conn.execute(_PLACED_AT, {"ids": chunk}))
    return found


_PLACED_AT = select(so_lines.c.id, so_lines.c.placed_at).where(
    so_lines.c.id.in_(bindparam("ids", expanding=True))
)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def unpoint(unit: Unit, held_in: Table, ids: Sequence[int], *, park: bool, cancel: bool) -> None:
    """Take SO lines off what holds them: their rows of ``held_in`` (``allocations``, or a split
    line's ``allocation_parts``) deleted, no PO line, no promise, not ready, not split; parked
    or cancelled as asked. The caller writes the events and the PO lines' counters."""
    values: dict[str, Any] = {
        "po_line_id": None,
        "promised_date": None,
        "parked": park,
        "ready_at": None,
        "split": False,
    }
    if cancel:
        values["status"] = "cancelled"
    for chunk in chunks(ids):
        unit.conn.execute(delete(held_in).where(held_in.c.so_line_id.in_(chunk)))
        unit.conn.execute(update(so_lines).where(so_lines.c.id.in_(chunk)).values(**values))
