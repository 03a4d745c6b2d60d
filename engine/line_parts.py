"""The parts of split SO lines (rule 10) as the faces show them, read in the caller's
transaction: one query per chunk of lines, and none at all when no line asked about is split."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, bindparam, select

from engine.models import allocation_parts, po_lines, so_lines
from engine.results import LinePart

# SQLite's bound parameters per statement are limited; a page or a sheet of lines is chunked.
_CHUNK = 500

_PARTS = (
    select(
        allocation_parts.c.so_line_id,
        po_lines.c.po_number,
        po_lines.c.line,
        allocation_parts.c.quantity,
        po_lines.c.arrival_date,
        allocation_parts.c.ready_at.is_not(None),
    )
    .join(po_lines, po_lines.c.id == allocation_parts.c.po_line_id)
    .where(allocation_parts.c.so_line_id.in_(bindparam("ids", expanding=True)))
    .order_by(
        allocation_parts.c.so_line_id,
        po_lines.c.arrival_date,
        po_lines.c.po_number,
        po_lines.c.line,
    )
)

# Every split line's parts at once, by order line (the sheet's whole state).
_ALL_PARTS = (
    select(
        so_lines.c.order_number,
        so_lines.c.line,
        po_lines.c.po_number,
        po_lines.c.line,
        allocation_parts.c.quantity,
        po_lines.c.arrival_date,
        allocation_parts.c.ready_at.is_not(None),
    )
    .join(po_lines, po_lines.c.id == allocation_parts.c.po_line_id)
    .join(so_lines, so_lines.c.id == allocation_parts.c.so_line_id)
    .order_by(
        allocation_parts.c.so_line_id,
        po_lines.c.arrival_date,
        po_lines.c.po_number,
        po_lines.c.line,
    )
)


def line_parts(conn: Connection, so_line_ids: Collection[int]) -> dict[int, tuple[LinePart, ...]]:
    """Each of these SO lines' parts, earliest first (rule 1's order of their PO lines)."""
    found: dict[int, list[LinePart]] = {}
    wanted = sorted(set(so_line_ids))
    for i in range(0, len(wanted), _CHUNK):
        for sid, po, line, units, arrives, ready in conn.execute(
            _PARTS, {"ids": wanted[i : i + _CHUNK]}
        ):
            found.setdefault(sid, []).append(LinePart(po, line, units, arrives, bool(ready)))
    return {sid: tuple(parts) for sid, parts in found.items()}


def every_split_line(conn: Connection) -> dict[tuple[str, int], tuple[LinePart, ...]]:
    """Every split line's parts, by (order, line), earliest first: empty, and one small read
    of an empty table, while no line is split."""
    found: dict[tuple[str, int], list[LinePart]] = {}
    for order, so_line, po, line, units, arrives, ready in conn.execute(_ALL_PARTS):
        found.setdefault((order, so_line), []).append(
            LinePart(po, line, units, arrives, bool(ready))
        )
    return {key: tuple(parts) for key, parts in found.items()}


__all__ = ["every_split_line", "line_parts"]
