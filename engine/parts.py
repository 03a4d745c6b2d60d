"""Split lines (rule 10): an SO line allocated in parts, each part the units it takes from one
PO line of its SKU.

A split line has ``allocation_parts`` rows and no ``allocations`` row; its ``po_line_id`` is the
PO line of its latest part (the anchor: latest arrival, then PO number, line) and its promised
date that line's arrival date. Each PO line counts the parts it holds (``split_parts``): its
``allocated`` counts their units and ``allocated_lines`` counts each part as a line; only the
anchor counts the line in ``out_of_sync``. A split line is always released whole: every PO line
it was on gets its units back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update

from engine.lines import Demand, Supply
from engine.models import allocation_parts, allocations, po_lines, so_lines
from engine.results import DETAIL_LIMIT, DateChange, LinePart, Move, Placement
from engine.tallies import Tallies, chunks, placed_at_of, unpoint
from engine.unit import Unit

# How the audit log and the outcome name a split line's parts.
SPLIT = "split"


@dataclass(frozen=True)
class Part:
    """One part of a split line: its units on one PO line."""

    so_line_id: int
    po_line_id: int
    po: str
    line: int
    arrival_date: date
    quantity: int
    ready: bool


def allocate(
    unit: Unit, splits: Sequence[tuple[Demand, list[tuple[Supply, int]]]], reason: str
) -> None:
    """Allocate each SO line in its parts (in rule 1's order of their PO lines); the line's
    promised date is its latest part's arrival date. One audit event per part (its units and PO
    line), one promise change per line."""
    if not splits:
        return
    conn = unit.conn
    rows: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    tallies = Tallies()
    for d, parts in splits:
        anchor = parts[-1][0]
        for s, units in parts:
            rows.append(
                {
                    "so_line_id": d.id,
                    "po_line_id": s.id,
                    "sku": d.sku,
                    "quantity": units,
                    "operation_id": unit.id,
                    "actor": unit.actor.name,
                    "source": unit.actor.source.value,
                    "created_at": unit.at,
                }
            )
            tallies.add(s.id, units, parts=1)
            s.allocated += units
        points.append({"sid": d.id, "anchor": anchor.id, "promised": anchor.arrival_date})
    conn.execute(insert(allocation_parts), rows)
    conn.execute(_POINT, points)
    tallies.apply(unit)
    placed = placed_at_of(unit, [d.id for d, _ in splits if d.placed_at is None])
    room = unit.outcome.detail_room
    details: list[Placement] = []
    for d, parts in splits:
        anchor = parts[-1][0]
        for s, units in parts:
            unit.event(
                "allocate",
                sku=d.sku,
                po=s.po,
                po_line=s.line,
                order=d.order,
                so_line=d.line,
                quantity=units,
                before=None,
                after={
                    "po": s.po,
                    "line": s.line,
                    "promised_date": anchor.arrival_date,
                    SPLIT: True,
                    "line_quantity": d.quantity,
                },
                reason=reason,
            )
        unit.promise(d.id, d.order, d.line, None, anchor.arrival_date, reason)
        if len(details) < room:
            unit.outcome.promises.append(
                DateChange(d.order, d.line, None, anchor.arrival_date, reason)
            )
            details.append(
                Placement(
                    d.order,
                    d.line,
                    d.sku,
                    d.quantity,
                    anchor.po,
                    anchor.line,
                    d.placed_at or placed[d.id],
                    anchor.arrival_date,
                )
            )
    unit.outcome.note_allocated(len(splits), sum(d.quantity for d, _ in splits), details)


_POINT = (
    update(so_lines)
    .where(so_lines.c.id == bindparam("sid"))
    .values(po_line_id=bindparam("anchor"), promised_date=bindparam("promised"), split=True)
)


def _shown(parts: Sequence[Part]) -> tuple[LinePart, ...]:
    """A line's parts as its outcome tells them."""
    return tuple(LinePart(p.po, p.line, p.quantity, p.arrival_date, p.ready) for p in parts)


def parts_of(unit: Unit, so_line_ids: Collection[int]) -> dict[int, list[Part]]:
    """The parts of these SO lines, each line's in rule 1's order of their PO lines."""
    found: dict[int, list[Part]] = {i: [] for i in so_line_ids}
    for chunk in chunks(sorted(so_line_ids)):
        for r in unit.conn.execute(_PARTS, {"ids": list(chunk)}):
            found[r[0]].append(Part(*r))
    return found


_PARTS = (
    select(
        allocation_parts.c.so_line_id,
        allocation_parts.c.po_line_id,
        po_lines.c.po_number,
        po_lines.c.line,
        po_lines.c.arrival_date,
        allocation_parts.c.quantity,
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


def held_on(unit: Unit, po_line_ids: Collection[int]) -> list[tuple[int, int, int, bool]]:
    """(SO line id, PO line id, units, ready) of the parts on these PO lines, for those of them
    that hold any (``split_parts > 0``): none read at all while no line is split there."""
    found: list[tuple[int, int, int, bool]] = []
    for chunk in chunks(sorted(po_line_ids)):
        with_parts = list(unit.conn.execute(_WITH_PARTS, {"ids": list(chunk)}).scalars())
        if with_parts:
            found.extend(
                (r[0], r[1], r[2], r[3] is not None)
                for r in unit.conn.execute(_HELD_ON, {"ids": with_parts})
            )
    return found


_WITH_PARTS = select(po_lines.c.id).where(
    po_lines.c.id.in_(bindparam("ids", expanding=True)), po_lines.c.split_parts > 0
)
_HELD_ON = select(
    allocation_parts.c.so_line_id,
    allocation_parts.c.po_line_id,
    allocation_parts.c.quantity,
    allocation_parts.c.ready_at,
).where(allocation_parts.c.po_line_id.in_(bindparam("ids", expanding=True)))


def reanchor(unit: Unit, po_line_id: int) -> set[int]:
    """After this PO line's arrival date changed: point each split line with a part here at
    its latest part again (its promise stays, as any line's does, rule 4). Returns the PO
    lines that gained or lost an anchor, whose lines out of sync are to be counted again."""
    held = {so_line_id for so_line_id, *_ in held_on(unit, [po_line_id])}
    if not held:
        return set()
    now = dict(
        unit.conn.execute(
            select(so_lines.c.id, so_lines.c.po_line_id).where(so_lines.c.id.in_(sorted(held)))
        ).all()
    )
    changed: set[int] = set()
    moves = []
    for so_line_id, found in parts_of(unit, held).items():
        latest = found[-1].po_line_id
        if now[so_line_id] != latest:
            moves.append({"sid": so_line_id, "anchor": latest})
            changed |= {now[so_line_id], latest}
    if moves:
        unit.conn.execute(
            update(so_lines)
            .where(so_lines.c.id == bindparam("sid"))
            .values(po_line_id=bindparam("anchor")),
            moves,
        )
    return changed


def ready_units(unit: Unit, po_line_id: int) -> int:
    """The units of split lines' parts on this PO line that its received stock covers."""
    return int(unit.conn.execute(_READY_UNITS, {"pid": po_line_id}).scalar_one())


_READY_UNITS = select(func.coalesce(func.sum(allocation_parts.c.quantity), 0)).where(
    allocation_parts.c.po_line_id == bindparam("pid"), allocation_parts.c.ready_at.is_not(None)
)


def mark_ready(unit: Unit, target: Supply, lines: Sequence[Demand]) -> None:
    """Rule 9 on split lines: their parts on ``target`` are covered by its received stock (an
    audit event each); a line whose every part is covered is ready, as a whole line would be."""
    if not lines:
        return
    unit.touch([target.id])
    unit.conn.execute(
        update(allocation_parts)
        .where(
            allocation_parts.c.so_line_id.in_([d.id for d in lines]),
            allocation_parts.c.po_line_id == target.id,
        )
        .values(ready_at=unit.at)
    )
    waiting = set(
        unit.conn.execute(
            select(allocation_parts.c.so_line_id).where(
                allocation_parts.c.so_line_id.in_([d.id for d in lines]),
                allocation_parts.c.ready_at.is_(None),
            )
        ).scalars()
    )
    for d in lines:
        unit.event(
            "ready",
            sku=d.sku,
            po=target.po,
            po_line=target.line,
            order=d.order,
            so_line=d.line,
            quantity=d.part,
            before={"ready": False, SPLIT: True},
            after={"ready": d.id not in waiting, SPLIT: True, "part_ready": True},
            reason="received",
        )
    done = [d for d in lines if d.id not in waiting]
    _mark_whole_ready(unit, done)


def _mark_whole_ready(unit: Unit, lines: Sequence[Demand]) -> None:
    """Split lines whose every part is covered (rule 10 with rule 9): ready, with an
    ``order.ready`` event per order; their audit events are their parts'."""
    if not lines:
        return
    ids = [d.id for d in lines]
    unit.ready_lines.extend(ids)
    for d in lines:
        d.ready_at = unit.at
    for chunk in chunks(ids):
        unit.conn.execute(update(so_lines).where(so_lines.c.id.in_(chunk)).values(ready_at=unit.at))
    outcome = unit.outcome
    room = max(0, DETAIL_LIMIT - len(outcome.ready))
    outcome.ready.extend(d.ref for d in lines[:room])
    outcome.ready_count += len(lines)


def release(
    unit: Unit, lines: Sequence[Demand], *, park: bool, reason: str, cancel: bool
) -> list[int]:
    """Release split lines whole: every part goes, each PO line it was on gets its units back
    (a release event per part); the line's promise is cleared once. Returns the PO lines where
    a ready part's received units are free to cover the next lines (``ledger.cover``)."""
    if not lines:
        return []
    ids = [d.id for d in lines]
    parts = parts_of(unit, ids)
    anchors = {d.id: d.po_line_id for d in lines}
    tallies = Tallies()
    for d in lines:
        for p in parts[d.id]:
            stale = p.po_line_id == anchors[d.id] and d.promised_date != p.arrival_date
            tallies.add(p.po_line_id, -p.quantity, out_of_sync=-stale, parts=-1)
    unpoint(unit, allocation_parts, ids, park=park, cancel=cancel)
    tallies.apply(unit)
    # Received units a ready part held are in stock still: they cover the next lines there.
    stocked = sorted({p.po_line_id for d in lines for p in parts[d.id] if p.ready})
    for d in lines:
        assert d.placed_at is not None, "release of a line read without placed_at"
        anchor = parts[d.id][-1]
        for p in parts[d.id]:
            unit.event(
                "release",
                sku=d.sku,
                po=p.po,
                po_line=p.line,
                order=d.order,
                so_line=d.line,
                quantity=p.quantity,
                before={
                    "po": p.po,
                    "line": p.line,
                    "promised_date": d.promised_date,
                    SPLIT: True,
                    "line_quantity": d.quantity,
                },
                after={"po": None, "line": None, "promised_date": None, "parked": park},
                reason=reason,
            )
        if d.promised_date is not None:
            unit.promise(d.id, d.order, d.line, d.promised_date, None, reason)
        unit.outcome.released.append(
            Placement(
                d.order,
                d.line,
                d.sku,
                d.quantity,
                anchor.po,
                anchor.line,
                d.placed_at,
                d.promised_date,
                parts=_shown(parts[d.id]),
            )
        )
        if park:
            unit.outcome.parked.append(d.ref)
    return stocked


def merge(unit: Unit, moves: Sequence[tuple[Demand, Supply]], reason: str) -> list[int]:
    """Move split lines, each whole, onto one PO line that holds it (a person's move, or rule
    7's rebalance): its parts go, it becomes a whole line there, and its promised date stays
    (out of sync until synced, as any moved line). A "move" audit event each, naming the parts
    it leaves. Returns the PO lines whose received units are to cover their lines again
    (``ledger.cover``)."""
    if not moves:
        return []
    conn = unit.conn
    ids = [d.id for d, _ in moves]
    held = parts_of(unit, ids)
    tallies = Tallies()
    for d, to in moves:
        for p in held[d.id]:
            stale = p.po_line_id == d.po_line_id and d.promised_date != p.arrival_date
            tallies.add(p.po_line_id, -p.quantity, out_of_sync=-stale, parts=-1)
        tallies.add(to.id, d.quantity, out_of_sync=d.promised_date != to.arrival_date)
    conn.execute(delete(allocation_parts).where(allocation_parts.c.so_line_id.in_(ids)))
    conn.execute(
        update(so_lines)
        .where(so_lines.c.id == bindparam("sid"))
        .values(po_line_id=bindparam("target"), split=False, ready_at=None),
        [{"sid": d.id, "target": to.id} for d, to in moves],
    )
    conn.execute(
        insert(allocations),
        [
            {
                "so_line_id": d.id,
                "po_line_id": to.id,
                "sku": d.sku,
                "quantity": d.quantity,
                "operation_id": unit.id,
                "actor": unit.actor.name,
                "source": unit.actor.source.value,
                "created_at": unit.at,
            }
            for d, to in moves
        ],
    )
    tallies.apply(unit)
    for d, to in moves:
        anchor = held[d.id][-1]
        unit.event(
            "move",
            sku=d.sku,
            po=to.po,
            po_line=to.line,
            order=d.order,
            so_line=d.line,
            quantity=d.quantity,
            before={
                "po": anchor.po,
                "line": anchor.line,
                "promised_date": d.promised_date,
                SPLIT: True,
                "parts": [[p.po, p.line, p.quantity] for p in held[d.id]],
            },
            after={"po": to.po, "line": to.line, "promised_date": d.promised_date},
            reason=reason,
        )
        unit.outcome.moved.append(
            Move(
                d.order,
                d.line,
                d.sku,
                d.quantity,
                anchor.po,
                anchor.line,
                to.po,
                to.line,
                parts=_shown(held[d.id]),
            )
        )
        d.split, d.po_line_id, d.part, d.part_on = False, to.id, None, None
    stocked = {p.po_line_id for d, _ in moves for p in held[d.id] if p.ready}
    return sorted(stocked | {to.id for _, to in moves if to.received})
