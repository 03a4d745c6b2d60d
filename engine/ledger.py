"""The primitives every operation composes: read supply, allocate, release and move SO lines.

They run inside a ``Unit`` whose SKUs are already locked, keep ``po_lines.allocated`` equal to the
sum of the line's allocations, and write the audit events and promise history as they go.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Integer,
    String,
    any_,
    bindparam,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement, Select

from engine import parts
from engine.db import UNREAD
from engine.lines import (
    DEMAND_COLUMNS,
    SUPPLY_COLUMNS,
    Demand,
    Supply,
    demand_from,
    supply_from,
)
from engine.models import (
    allocations,
    audit_events,
    po_lines,
    promise_changes,
    purchase_orders,
    so_lines,
)
from engine.results import DETAIL_LIMIT, DateChange, FieldChange, Move, Placement
from engine.tallies import CHUNK, Tallies, chunks, placed_at_of, unpoint
from engine.types import IdList, UTCDateTime, bound_ids, in_bound
from engine.unit import Actor, Unit

__all__ = [
    "CHUNK",
    "DEMAND_COLUMNS",
    "SUPPLY_COLUMNS",
    "Demand",
    "Supply",
    "Tallies",
    "chunks",
    "demand_from",
    "placed_at_of",
    "supply_from",
]


def open_supply(unit: Unit, skus: Collection[str]) -> dict[str, list[Supply]]:
    """Open PO lines on open POs of ``skus``, each SKU's list in rule 1's order."""
    found: dict[str, list[Supply]] = {s: [] for s in skus}
    for chunk in chunks(sorted(skus)):
        for row in unit.conn.execute(_open_supply(unit.is_postgres), {"skus": chunk}):
            found[row.sku].append(supply_from(row))
    return found


# Statements on the path of every order intake are built once (here, and below): building
# them anew on each call was a tenth of an intake's time.
@functools.cache
def _open_supply(postgres: bool) -> Select[Any]:
    return (
        select(*SUPPLY_COLUMNS)
        .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
        .where(
            in_bound(po_lines.c.sku, "skus", postgres),
            po_lines.c.status == "open",
            purchase_orders.c.status == "open",
        )
        .order_by(po_lines.c.sku, po_lines.c.arrival_date, po_lines.c.po_number, po_lines.c.line)
    )


def po_line_by_id(unit: Unit, po_line_id: int) -> Supply:
    row = unit.conn.execute(select(*SUPPLY_COLUMNS).where(po_lines.c.id == po_line_id)).one()
    return supply_from(row)


def allocate(
    unit: Unit,
    pairs: Sequence[tuple[Demand, Supply]],
    reason: str,
    *,
    pointed: Collection[int] = (),
) -> None:
    """Allocate each SO line, whole, to its PO line; ``promised_date := arrival_date`` (rule 1/3).

    Set-based so that a sweep of 200,000 lines costs about what writing them costs: the allocation
    rows go in through one executemany, then one UPDATE ... FROM points the SO lines at them, and
    two INSERT ... SELECTs write their promise history and audit events. The SO lines
    ``pointed`` (ids) were written at their PO line already (an intake's new lines,
    engine.held_lines): the UPDATE leaves them out.
    """
    if not pairs:
        return
    if unit.placed_lines is not None:
        unit.placed_lines.extend(d.id for d, _ in pairs)
    conn = unit.conn
    small = len(pairs) <= CHUNK
    stmts = _allocate_statements(unit.is_postgres, small)
    params: dict[str, Any] = {
        "operation_id": unit.id,
        "operation": unit.operation,
        "actor": unit.actor.name,
        "source": unit.actor.source.value,
        "at": unit.at,
        "reason": reason,
    }
    to_point = True
    if small or unit.is_postgres:
        # A small batch (an order's lines) is named by its SO lines, each of which has one
        # allocation at most: no need to find where the batch starts. On PostgreSQL a big one
        # too, as one array: "this operation's rows above a mark" would walk the operation's
        # index through every row of its earlier batches (a sweep in batches shares one
        # operation id), which made a 200,000-line sweep a third slower.
        params["so_line_ids"] = [d.id for d, _ in pairs]
        params["point_ids"] = [d.id for d, _ in pairs if d.id not in pointed]
        to_point = bool(params["point_ids"])
    else:
        # This batch's rows are this operation's rows above the highest id there is now (ids
        # only grow). The plain max is one index probe; "max(id) WHERE operation_id = ..." is
        # not: for an operation with no rows yet, PostgreSQL may walk the primary key backwards
        # through every row looking for one (seen: 160 ms per order intake on a million
        # allocations).
        params["mark"] = conn.execute(_TOP_ALLOCATION).scalar_one()
    write_allocations(
        conn,
        [(d.id, s.id, d.sku, d.quantity) for d, s in pairs],
        operation_id=unit.id,
        actor=unit.actor,
        at=unit.at,
    )
    if to_point:
        conn.execute(stmts.point, params)
    tallies = Tallies()
    stocked: dict[int, Supply] = {}
    for d, s in pairs:
        tallies.add(s.id, d.quantity)
        if s.received:
            stocked[s.id] = s
    tallies.apply(unit)
    # Write the events buffered so far first, so that the audit log keeps the order of the
    # changes (a line released and allocated again in one operation ends on "allocate").
    unit.flush()
    conn.execute(stmts.promises, params)
    conn.execute(stmts.events, params)
    # Details for the first lines only: a big sweep reports counts. Each placed line's first
    # promise is among them, as every other change of a promised date is (rule 4).
    details = pairs[: unit.outcome.detail_room]
    unit.outcome.promises.extend(
        DateChange(d.order, d.line, None, s.arrival_date, reason) for d, s in details
    )
    placed = placed_at_of(unit, [d.id for d, _ in details if d.placed_at is None])
    unit.outcome.note_allocated(
        len(pairs),
        sum(d.quantity for d, _ in pairs),
        [
            Placement(
                d.order,
                d.line,
                d.sku,
                d.quantity,
                s.po,
                s.line,
                d.placed_at or placed[d.id],
                s.arrival_date,
            )
            for d, s in details
        ],
    )
    # Lines placed where stock is already in (rule 9) are ready at once.
    for s in stocked.values():
        cover(unit, s)


_TOP_ALLOCATION = select(func.coalesce(func.max(allocations.c.id), 0))


@dataclass(frozen=True)
class _AllocateStatements:
    point: Any  # the SO lines at their allocations, promised the arrival date
    promises: Any  # the first promise of each (none -> arrival date, rule 4's history)
    events: Any  # an "allocate" audit event each


# The audit columns a set-based insert fills, in order, and the first five of them: when, and
# the operation's id, name, actor and source, bound once per statement.
AUDIT_COLUMNS = [
    "at",
    "operation_id",
    "operation",
    "actor",
    "source",
    "action",
    "sku",
    "po_number",
    "po_line",
    "order_number",
    "so_line",
    "quantity",
    "before",
    "after",
    "reason",
]


def _by_whom(at: ColumnElement[Any]) -> tuple[ColumnElement[Any], ...]:
    return (
        at,
        bindparam("operation_id", type_=String()),
        bindparam("operation", type_=String()),
        bindparam("actor", type_=String()),
        bindparam("source", type_=String()),
    )


@functools.cache
def _allocate_statements(postgres: bool, small: bool) -> _AllocateStatements:
    """``allocate``'s statements, built once (their values are bound by name)."""

    def lines_in(name: str) -> ColumnElement[bool]:
        if postgres:
            # One array, small batch or big: the statement's text stays the same, so the
            # driver prepares it and the server parses it once (an expanding IN is a new text,
            # parsed and planned again, for each number of lines).
            return allocations.c.so_line_id == any_(bindparam(name, type_=IdList()))
        if small:
            return allocations.c.so_line_id.in_(bindparam(name, expanding=True))
        return (allocations.c.operation_id == bindparam("operation_id")) & (
            allocations.c.id > bindparam("mark")
        )

    this_batch = lines_in("so_line_ids")
    at = bindparam("at", type_=UTCDateTime())
    point = (
        update(so_lines)
        .where(
            so_lines.c.id == allocations.c.so_line_id,
            allocations.c.po_line_id == po_lines.c.id,
            lines_in("point_ids"),
        )
        .values(po_line_id=allocations.c.po_line_id, promised_date=po_lines.c.arrival_date)
    )
    promises = insert(promise_changes).from_select(
        ["so_line_id", "at", "operation_id", "actor", "source", "old_date", "new_date", "reason"],
        select(
            allocations.c.so_line_id,
            at,
            bindparam("operation_id", type_=String()),
            bindparam("actor", type_=String()),
            bindparam("source", type_=String()),
            null(),
            po_lines.c.arrival_date,
            bindparam("reason", type_=String()),
        )
        .where(this_batch, allocations.c.po_line_id == po_lines.c.id)
        .order_by(allocations.c.id),
    )
    after = _json_object(
        postgres,
        po=po_lines.c.po_number,
        line=po_lines.c.line,
        promised_date=po_lines.c.arrival_date,
    )
    events = insert(audit_events).from_select(
        AUDIT_COLUMNS,
        select(
            *_by_whom(at),
            literal("allocate"),
            allocations.c.sku,
            po_lines.c.po_number,
            po_lines.c.line,
            so_lines.c.order_number,
            so_lines.c.line,
            allocations.c.quantity,
            null(),
            after,
            bindparam("reason", type_=String()),
        )
        .where(
            this_batch,
            allocations.c.po_line_id == po_lines.c.id,
            allocations.c.so_line_id == so_lines.c.id,
        )
        # Events and promise rows get ids in allocation (FIFO) order on every database.
        .order_by(allocations.c.id),
    )
    return _AllocateStatements(point, promises, events)


def write_allocations(
    conn: Connection,
    rows: Sequence[tuple[int, int, str, int]],
    *,
    operation_id: str,
    actor: Actor,
    at: datetime,
) -> None:
    """Insert allocation ``rows`` (SO line, PO line, SKU, units) of one operation, in order.

    On PostgreSQL one statement whatever their number: the SO lines, PO lines and units bound
    as three arrays (``IdList``), each row's SKU its PO line's (one SKU, as a foreign key of
    the table requires). An executemany there is an execution a row, and the driver's
    adaptation of eight parameters a row in Python. On SQLite the driver's executemany, with
    nothing done per row in Python: a loop in C."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            _ALLOCATION_ROWS,
            {
                "so_line_ids": [r[0] for r in rows],
                "po_line_ids": [r[1] for r in rows],
                "quantities": [r[3] for r in rows],
                "operation_id": operation_id,
                "actor": actor.name,
                "source": actor.source.value,
                "at": at,
            },
        )
        return
    # Straight to the driver: per-row bind processing in SQLAlchemy costs as much as SQLite's
    # own insert on a 200,000-line sweep. The one typed value is converted once, in the format
    # pysqlite would give the same instant once per row.
    created_at = bind_value(conn, allocations.c.created_at, at)
    if isinstance(created_at, datetime):
        created_at = created_at.isoformat(" ")
    fixed = (operation_id, actor.name, actor.source.value, created_at)
    conn.exec_driver_sql(
        ALLOCATION_INSERT[conn.dialect.paramstyle],
        [(*r, *fixed) for r in rows],
        execution_options={UNREAD: True},
    )


ALLOCATION_COLUMNS = (
    "so_line_id, po_line_id, sku, quantity, operation_id, actor, source, created_at"
)
_ROWS = (
    func.unnest(
        bindparam("so_line_ids", type_=IdList()),
        bindparam("po_line_ids", type_=IdList()),
        bindparam("quantities", type_=IdList()),
    )
    .table_valued("so_line_id", "po_line_id", "quantity", with_ordinality="n")
    .render_derived(name="u")
)
_ALLOCATION_ROWS = insert(allocations).from_select(
    [
        "so_line_id",
        "po_line_id",
        "sku",
        "quantity",
        "operation_id",
        "actor",
        "source",
        "created_at",
    ],
    select(
        _ROWS.c.so_line_id,
        _ROWS.c.po_line_id,
        po_lines.c.sku,
        _ROWS.c.quantity,
        bindparam("operation_id", type_=String()),
        bindparam("actor", type_=String()),
        bindparam("source", type_=String()),
        bindparam("at", type_=UTCDateTime()),
    )
    .join_from(_ROWS, po_lines, po_lines.c.id == _ROWS.c.po_line_id)
    # Ids in the order given (FIFO): the promise history and events follow them.
    .order_by(_ROWS.c.n),
)

ALLOCATION_INSERT = {
    style: f"INSERT INTO allocations ({ALLOCATION_COLUMNS}) VALUES ({', '.join([mark] * 8)})"
    for style, mark in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
}


def bind_value(conn: Any, column: Any, value: Any) -> Any:
    """``value`` as the driver wants it for ``column`` (the column type's bind processing)."""
    processor = column.type.bind_processor(conn.dialect)
    return processor(value) if processor else value


def release(
    unit: Unit,
    lines: Sequence[tuple[Demand, Supply]],
    *,
    park: bool,
    reason: str,
    cancel: bool = False,
) -> None:
    """Unallocate SO lines: delete the allocation, clear the promise, optionally park or cancel.

    Releases in cancellations and quantity cuts leave the line in the queue (not parked, rule 6);
    a person's removal parks it (rule 5); a customer's cancellation closes it (rule 8).
    """
    if not lines:
        return
    if any(d.split for d, _ in lines):
        split = [d for d, _ in lines if d.split]
        if cancel:
            unit.cancelled_lines.extend(d.id for d in split)
        for po_line_id in parts.release(unit, split, park=park, reason=reason, cancel=cancel):
            cover(unit, po_line_by_id(unit, po_line_id))
        lines = [(d, s) for d, s in lines if not d.split]
        if not lines:
            return
    ids = [d.id for d, _ in lines]
    if cancel:
        unit.cancelled_lines.extend(ids)
    unpoint(unit, allocations, ids, park=park, cancel=cancel)
    tallies = Tallies()
    stocked: dict[int, Supply] = {}
    for d, s in lines:
        tallies.add(s.id, -d.quantity, out_of_sync=-(d.promised_date != s.arrival_date))
        if d.ready_at is not None:
            stocked[s.id] = s
    tallies.apply(unit)
    for d, s in lines:
        # Released lines are allocated ones, always read with every column: only the sweep's
        # queue (never allocated) leaves placed_at out.
        assert d.placed_at is not None, "release of a line read without placed_at"
        unit.event(
            "release",
            sku=d.sku,
            po=s.po,
            po_line=s.line,
            order=d.order,
            so_line=d.line,
            quantity=d.quantity,
            before={"po": s.po, "line": s.line, "promised_date": d.promised_date},
            after={"po": None, "line": None, "promised_date": None, "parked": park},
            reason=reason,
        )
        if d.promised_date is not None:
            unit.promise(d.id, d.order, d.line, d.promised_date, None, reason)
        unit.outcome.released.append(
            Placement(
                d.order, d.line, d.sku, d.quantity, s.po, s.line, d.placed_at, d.promised_date
            )
        )
        if park:
            unit.outcome.parked.append(d.ref)
    # The received units a ready line held are in stock still: they cover the next lines.
    for s in stocked.values():
        cover(unit, s)


def move(unit: Unit, moves: Sequence[tuple[Demand, Supply, Supply]], reason: str) -> None:
    """Move allocated SO lines to another PO line of the SKU, keeping their promised dates."""
    if not moves:
        return
    conn = unit.conn
    params = [{"sid": d.id, "target": to.id} for d, _, to in moves]
    conn.execute(
        update(allocations)
        .where(allocations.c.so_line_id == bindparam("sid"))
        .values(po_line_id=bindparam("target"), operation_id=unit.id),
        params,
    )
    conn.execute(
        update(so_lines)
        .where(so_lines.c.id == bindparam("sid"))
        .values(po_line_id=bindparam("target")),
        params,
    )
    tallies = Tallies()
    for d, frm, to in moves:
        tallies.add(frm.id, -d.quantity, out_of_sync=-(d.promised_date != frm.arrival_date))
        tallies.add(to.id, d.quantity, out_of_sync=d.promised_date != to.arrival_date)
        unit.event(
            "move",
            sku=d.sku,
            po=to.po,
            po_line=to.line,
            order=d.order,
            so_line=d.line,
            quantity=d.quantity,
            before={"po": frm.po, "line": frm.line, "promised_date": d.promised_date},
            after={"po": to.po, "line": to.line, "promised_date": d.promised_date},
            reason=reason,
        )
        unit.outcome.moved.append(
            Move(d.order, d.line, d.sku, d.quantity, frm.po, frm.line, to.po, to.line)
        )
    tallies.apply(unit)
    for to in {to.id: to for _, _, to in moves if to.received}.values():
        cover(unit, to)


def allocate_split(
    unit: Unit, splits: Sequence[tuple[Demand, list[tuple[Supply, int]]]], reason: str
) -> None:
    """Allocate split lines in their parts (rule 10, ``parts.allocate``); a part placed where
    stock is already in is covered at once, as a whole line is (rule 9)."""
    if unit.placed_lines is not None:
        unit.placed_lines.extend(d.id for d, _ in splits)
    parts.allocate(unit, splits, reason)
    stocked = {s.id: s for _, held in splits for s, _ in held if s.received}
    for s in stocked.values():
        cover(unit, s)


def move_split(unit: Unit, moves: Sequence[tuple[Demand, Supply]], reason: str) -> None:
    """Move split lines (rule 10), each whole, onto one PO line that holds it (``parts.merge``);
    received units their parts left cover the next lines."""
    for po_line_id in parts.merge(unit, moves, reason):
        cover(unit, po_line_by_id(unit, po_line_id))


def cover(unit: Unit, target: Supply) -> None:
    """Rule 9: the units received on ``target`` cover its allocations in FIFO order, whole
    lines only, stopping at the first line they cannot cover (who ordered first ships first).
    Lines already ready keep their units; those newly covered become ready."""
    conn = unit.conn
    received = conn.execute(_RECEIVED, {"pid": target.id}).scalar_one()
    room = received - conn.execute(_READY_UNITS, {"pid": target.id}).scalar_one()
    room -= parts.ready_units(unit, target.id)
    covered: list[Demand] = []
    # Split lines (rule 10) whose part here the units cover, in FIFO order with the others.
    covered_parts: list[Demand] = []
    if room > 0:
        for d in allocations_of(unit, [target.id]):
            if d.part is not None:
                if d.part_ready:
                    continue
                if d.part > room:
                    break
                room -= d.part
                covered_parts.append(d)
                continue
            if d.ready_at is not None:
                continue
            if d.quantity > room:
                break
            room -= d.quantity
            covered.append(d)
    mark_ready(unit, target, covered)
    parts.mark_ready(unit, target, covered_parts)


RECEIVED = "received"


@dataclass(frozen=True)
class _ReadyStatements:
    mark: Any  # the lines' ready_at
    events: Any  # a "ready" audit event each, in FIFO order


@functools.cache
def _ready_statements(postgres: bool) -> _ReadyStatements:
    ids = bound_ids(postgres, "ids")
    at = bindparam("at", type_=UTCDateTime())
    mark = update(so_lines).where(so_lines.c.id.in_(ids)).values(ready_at=at)
    events = insert(audit_events).from_select(
        AUDIT_COLUMNS,
        select(
            *_by_whom(at),
            literal("ready"),
            so_lines.c.sku,
            bindparam("po", type_=String()),
            bindparam("po_line", type_=Integer()),
            so_lines.c.order_number,
            so_lines.c.line,
            so_lines.c.quantity,
            literal({"ready": False}, JSON),
            literal({"ready": True}, JSON),
            literal(RECEIVED),
        )
        .where(so_lines.c.id.in_(ids))
        .order_by(so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line),
    )
    return _ReadyStatements(mark, events)


_RECEIVED = select(po_lines.c.received).where(po_lines.c.id == bindparam("pid"))
# Whole lines only: a split line's units here are its part's (engine.parts.ready_units).
_READY_UNITS = select(func.coalesce(func.sum(so_lines.c.quantity), 0)).where(
    so_lines.c.po_line_id == bindparam("pid"),
    so_lines.c.ready_at.is_not(None),
    so_lines.c.split.is_(False),
)


def mark_ready(unit: Unit, target: Supply, lines: Sequence[Demand]) -> None:
    """Mark allocated SO lines of ``target`` ready (their stock is in), with an audit event
    each and an ``order.ready`` event per order."""
    if not lines:
        return
    ids = [d.id for d in lines]
    unit.touch([target.id])
    unit.ready_lines.extend(ids)
    for d in lines:
        d.ready_at = unit.at
    if len(ids) <= CHUNK:
        unit.conn.execute(update(so_lines).where(so_lines.c.id.in_(ids)).values(ready_at=unit.at))
        for d in lines:
            unit.event(
                "ready",
                sku=d.sku,
                po=target.po,
                po_line=target.line,
                order=d.order,
                so_line=d.line,
                quantity=d.quantity,
                before={"ready": False},
                after={"ready": True},
                reason=RECEIVED,
            )
    else:
        # A receipt covering a big line: one UPDATE and one INSERT ... SELECT for them all
        # (the lines named by one array, or JSON text on SQLite), not a row each through Python.
        unit.flush()  # the events written so far come first in the log
        stmts = _ready_statements(unit.is_postgres)
        params = {
            "ids": ids if unit.is_postgres else json.dumps(ids),
            "at": unit.at,
            "operation_id": unit.id,
            "operation": unit.operation,
            "actor": unit.actor.name,
            "source": unit.actor.source.value,
            "po": target.po,
            "po_line": target.line,
        }
        unit.conn.execute(stmts.mark, params)
        unit.conn.execute(stmts.events, params)
    outcome = unit.outcome
    room = max(0, DETAIL_LIMIT - len(outcome.ready))
    outcome.ready.extend(d.ref for d in lines[:room])
    outcome.ready_count += len(lines)


def set_promises(unit: Unit, lines: Iterable[tuple[Demand, date]], reason: str) -> None:
    """Change promised dates, recording each change (rule 4)."""
    changes = [(d, new) for d, new in lines if d.promised_date != new]
    if not changes:
        return
    unit.conn.execute(
        update(so_lines)
        .where(so_lines.c.id == bindparam("sid"))
        .values(promised_date=bindparam("d")),
        [{"sid": d.id, "d": new} for d, new in changes],
    )
    recount_out_of_sync(unit, {d.po_line_id for d, _ in changes if d.po_line_id is not None})
    for d, new in changes:
        unit.promise(d.id, d.order, d.line, d.promised_date, new, reason)
        unit.event(
            "promise",
            sku=d.sku,
            order=d.order,
            so_line=d.line,
            quantity=d.quantity,
            before={"promised_date": d.promised_date},
            after={"promised_date": new},
            reason=reason,
        )


def set_field(unit: Unit, target: Supply, column: str, value: Any, reason: str) -> None:
    """Change one field of a PO line, with its audit event."""
    before = getattr(target, column)
    if before == value:
        return
    unit.touch([target.id])
    unit.conn.execute(
        update(po_lines)
        .where(po_lines.c.id == target.id)
        .values({column: value, "updated_at": unit.at})
    )
    if column == "arrival_date":
        # Split lines with a part here may have another latest part now (rule 10).
        recount_out_of_sync(unit, {target.id} | parts.reanchor(unit, target.id))
    setattr(target, column, value)
    unit.event(
        "po-line",
        sku=target.sku,
        po=target.po,
        po_line=target.line,
        before={column: before},
        after={column: value},
        reason=reason,
    )
    unit.outcome.po_changes.append(FieldChange(target.po, target.line, column, before, value))


def set_parked(unit: Unit, lines: Sequence[Demand], *, parked: bool) -> None:
    """Park or unpark unallocated SO lines (parked lines are skipped by rule 1)."""
    ids = [d.id for d in lines if d.parked != parked]
    for chunk in chunks(ids):
        unit.conn.execute(update(so_lines).where(so_lines.c.id.in_(chunk)).values(parked=parked))
    for d in lines:
        if d.parked == parked:
            continue
        unit.event(
            "park" if parked else "unpark",
            sku=d.sku,
            order=d.order,
            so_line=d.line,
            quantity=d.quantity,
            before={"parked": d.parked},
            after={"parked": parked},
        )
        (unit.outcome.parked if parked else unit.outcome.unparked).append(d.ref)


def allocations_of(
    unit: Unit, po_line_ids: Collection[int], *, newest_first: bool = False
) -> list[Demand]:
    """The SO lines allocated to these PO lines, in FIFO order (or its reverse)."""
    order = (so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)
    found: list[Demand] = []
    for chunk in chunks(sorted(po_line_ids)):
        rows = unit.conn.execute(
            select(*DEMAND_COLUMNS)
            .where(so_lines.c.po_line_id.in_(chunk))
            .order_by(*(c.desc() for c in order) if newest_first else order)
        )
        found.extend(demand_from(r) for r in rows)
    if len(po_line_ids) > CHUNK:
        found.sort(key=lambda d: d.fifo_key, reverse=newest_first)
    return _with_parts(unit, po_line_ids, found, newest_first=newest_first)


def _with_parts(
    unit: Unit, po_line_ids: Collection[int], found: list[Demand], *, newest_first: bool
) -> list[Demand]:
    """``found`` (the lines these PO lines anchor) with every split line that has a part on
    them (rule 10), each once, its ``part`` its units on them. Reads nothing more while none
    of these PO lines holds a part."""
    held = parts.held_on(unit, po_line_ids)
    if not held:
        return found
    units: dict[int, int] = {}
    on: dict[int, int] = {}
    ready: dict[int, bool] = {}
    for so_line_id, po_line_id, quantity, is_ready in held:
        units[so_line_id] = units.get(so_line_id, 0) + quantity
        on.setdefault(so_line_id, po_line_id)
        ready[so_line_id] = ready.get(so_line_id, True) and is_ready
    have = {d.id for d in found}
    missing = sorted(set(units) - have)
    for chunk in chunks(missing):
        rows = unit.conn.execute(select(*DEMAND_COLUMNS).where(so_lines.c.id.in_(chunk)))
        found.extend(demand_from(r) for r in rows)
    for d in found:
        if d.id in units:
            d.part, d.part_on, d.part_ready = units[d.id], on[d.id], ready[d.id]
    if missing:
        found.sort(key=lambda d: d.fifo_key, reverse=newest_first)
    return found


def recount_out_of_sync(unit: Unit, po_line_ids: Collection[int]) -> None:
    """Count again the lines of these PO lines promised another date than the arrival date
    (after promises or an arrival date changed: every allocated line may have flipped)."""
    stale = (
        select(func.count())
        .where(
            so_lines.c.po_line_id == po_lines.c.id,
            so_lines.c.promised_date != po_lines.c.arrival_date,
        )
        .scalar_subquery()
    )
    unit.touch(po_line_ids)
    for chunk in chunks(sorted(po_line_ids)):
        unit.conn.execute(
            update(po_lines).where(po_lines.c.id.in_(chunk)).values(out_of_sync=stale)
        )


def _json_object(postgres: bool, **fields: ColumnElement[Any]) -> ColumnElement[Any]:
    args: list[Any] = []
    for key, col in fields.items():
        args.extend([literal(key), col])
    fn = func.json_build_object if postgres else func.json_object
    return fn(*args, type_=JSON)
