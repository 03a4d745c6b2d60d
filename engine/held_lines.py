"""An order intake's new SO lines on PostgreSQL, held back until its sweep has placed them.

Written first as queued lines, the lines an intake places at once would be written twice: the
insert, then the sweep's update pointing each at its PO line, which on PostgreSQL is a new
version of the row with new entries in every index of ``so_lines``, the foreign keys checked
again (a row inserted by the same transaction is always checked anew) and the queue's tallies
changed twice. Held back, each line is written once, as the sweep leaves it: at its PO line
with its promised date, or queued.

Their ids are reserved from the table's sequence when they are held, so that the sweep plans
them as it plans any line (by id), and the lines are written before the allocations that name
them. A line that a rule 10 split could take is never held (``may_hold``): the split's
statements read the line from the table.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Integer, bindparam, func, select

from engine import bulk
from engine.db import scalar_later
from engine.lines import Demand, Supply
from engine.models import so_lines
from engine.unit import Unit

# A reserved id for each of :n lines, as one value (an array).
_RESERVE = select(
    func.array_agg(func.nextval(func.pg_get_serial_sequence("so_lines", "id")))
).select_from(func.generate_series(1, bindparam("n", type_=Integer())))

_FIFO = attrgetter("placed_at", "order", "line")


def may_hold(unit: Unit, rows: Sequence[dict[str, Any]]) -> bool:
    """Whether an intake's new line ``rows`` may be held back: on PostgreSQL, in an intake
    (``unit.yielding``), none of them a line that may split (rule 10)."""
    return (
        unit.is_postgres
        and unit.yielding
        and not unit.split_lines
        and not any(row["allow_split"] for row in rows)
    )


def hold(unit: Unit, rows: list[dict[str, Any]]) -> None:
    """Hold ``rows`` (so_lines rows without ids, in the order given) back; their ids are
    reserved now."""
    unit.held_lines = rows
    # Sent now, read when the sweep first needs them: by then the answer has come with the
    # lock's (no round trip of its own).
    unit.held_ids = scalar_later(unit.conn, _RESERVE, {"n": len(rows)})


def queued(unit: Unit, skus: Iterable[str], most: int) -> dict[str, list[Demand]]:
    """The held lines of ``skus`` of at most ``most`` units, by SKU, each in FIFO order."""
    if not unit.held_lines:
        return {}
    _assign_ids(unit)
    wanted = set(skus)
    found: dict[str, list[Demand]] = {}
    for row in unit.held_lines:
        if row["sku"] in wanted and row["quantity"] <= most:
            found.setdefault(row["sku"], []).append(
                Demand(
                    row["id"],
                    row["order_number"],
                    row["line"],
                    row["sku"],
                    row["quantity"],
                    row["placed_at"],
                )
            )
    for lines in found.values():
        lines.sort(key=_FIFO)
    return found


def merged(stored: list[Demand], held: list[Demand], cap: int) -> list[Demand]:
    """The first ``cap`` lines of two queues of one SKU, each in FIFO order, in FIFO order."""
    return list(heapq.merge(stored, held, key=_FIFO))[:cap]


def write(unit: Unit, pairs: Sequence[tuple[Demand, Supply]]) -> set[int]:
    """Write every held line, those of ``pairs`` at their PO line with its arrival date as the
    promise, the others queued; the ids of those written at a PO line."""
    if not unit.held_lines:
        return set()
    _assign_ids(unit)
    at = {d.id: s for d, s in pairs}
    rows = []
    for row in unit.held_lines:
        supply = at.get(row["id"])
        rows.append(
            {
                **row,
                "po_line_id": supply.id if supply else None,
                "promised_date": supply.arrival_date if supply else None,
            }
        )
    unit.held_lines = []
    bulk.insert_rows(unit.conn, so_lines, rows)
    return {row["id"] for row in rows if row["po_line_id"] is not None}


def _assign_ids(unit: Unit) -> None:
    rows = unit.held_lines
    if rows and "id" not in rows[0]:
        assert unit.held_ids is not None
        ids = unit.held_ids()
        assert len(ids) == len(rows)
        for row, line_id in zip(rows, ids, strict=True):
            row["id"] = line_id
