"""The transactional outbox (DESIGN.md section 5): every operation that changes what a customer
was promised writes its events in its own transaction, so there is no event without its change
and no change without its event.

One event per order per operation, listing each of its lines whose promised date the operation
changed (first date before the operation, last date after it: a line released and placed again
on the same date in one operation did not change) and each line it cancelled. The event is
written by one ``INSERT ... SELECT`` at the end of the operation, from the ``promise_changes``
rows the operation wrote (rule 4's history, which every change of a promised date already goes
through), grouped by order, with its ``data`` object built as JSON by the database: a sync of
a PO line holding 100,000 orders writes its 100,000 events without a row passing through Python.

An operation that only places lines (a sweep, an order intake) has no other promise changes
than their first promises, so it need not find each line's first and last change:
``write_placed`` reads its events from the lines it placed, by id. An order intake whose lines
are all its own, placed whole (nearly always), knows its events outright:
``write_first_promises`` writes the same rows from what it holds (``FirstPromises``). Read back
from the history, an intake's events cost it about 1 ms of its 7 on PostgreSQL, most of it
planning: the statement's estimates depend on the mark, so the server plans it afresh each time.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import ColumnElement

from engine.bulk import insert_rows
from engine.models import (
    outbox_events,
    po_lines,
    promise_changes,
    sales_orders,
    so_lines,
)
from engine.results import Placement
from engine.types import IdList, UTCDateTime, bound_ids

PROMISE_CHANGED = "order.promise_changed"
READY = "order.ready"
CANCELLED = "order.cancelled"
EVENT_TYPES = (PROMISE_CHANGED, READY, CANCELLED)

# The highest promise_changes id when an operation starts: its own rows are above it.
TOP_PROMISE = select(func.coalesce(func.max(promise_changes.c.id), 0))


def write(
    conn: Connection,
    *,
    postgres: bool,
    mark: int | None,
    operation_id: str,
    at: datetime,
    cancelled: Collection[int] = (),
    part: int = 0,
) -> int:
    """Write the events of the operation ``operation_id`` (see the module docstring): its
    promise changes are those above ``mark`` (None: it writes no events), ``cancelled`` the SO
    lines it cancelled. Returns how many (one per order whose customer has something to be
    told). ``part`` numbers the transactions of an operation that takes several (a batched
    sweep's): each writes its own events, under ids of its own."""
    if mark is None:
        return 0
    lines = sorted(set(cancelled))
    statement = _statement(postgres, bool(lines))
    params: dict[str, Any] = {
        "mark": mark,
        "operation_id": operation_id,
        "at": at,
        "prefix": _prefix(operation_id, part),
    }
    if lines:
        params["cancelled"] = lines if postgres else json.dumps(lines)
    return int(conn.execute(statement, params).rowcount or 0)


@dataclass(frozen=True)
class FirstPromises:
    """All the promise changes of an operation, when each is the first promise of a line it
    placed whole (``placed``: one placement a line, each promised its PO line's arrival, none of
    it ready yet) and it cancelled nothing; ``customers``: each of those orders' customer and
    email."""

    customers: Mapping[str, tuple[str, str | None]]
    placed: Sequence[Placement]


def write_first_promises(
    conn: Connection, news: FirstPromises, *, operation_id: str, at: datetime, part: int = 0
) -> int:
    """``write`` for an operation whose changes ``news`` holds: the same events (one an order
    with a placed line, its lines in line order, each allocated, with no date before; numbered
    in order-number order), from ``news`` rather than read back. Returns how many."""
    by_order: defaultdict[str, list[Placement]] = defaultdict(list)
    for p in news.placed:
        by_order[p.order].append(p)
    prefix = _prefix(operation_id, part)
    rows = []
    # Order numbers in code point order: the statement's order, by the column's "C" collation
    # (UTF-8 bytes sort as their code points).
    for n, order in enumerate(sorted(by_order), start=1):
        customer, email = news.customers[order]
        lines = [
            {
                "line": p.line,
                "sku": p.sku,
                "quantity": p.quantity,
                "state": "allocated",
                "po": p.po,
                "po_line": p.po_line,
                "previous_promised_date": None,
                "promised_date": p.promised_date.isoformat() if p.promised_date else None,
            }
            for p in sorted(by_order[order], key=lambda p: p.line)
        ]
        data = {"order": order, "customer": customer, "email": email, "lines": lines}
        rows.append(
            {
                "event_id": f"{prefix}{n}",
                "type": PROMISE_CHANGED,
                "order_number": order,
                "operation_id": operation_id,
                "created_at": at,
                "data": json.dumps(data, ensure_ascii=False),
                "enqueued": False,
            }
        )
    if rows:
        insert_rows(conn, outbox_events, rows)
    return len(rows)


def write_placed(
    conn: Connection,
    *,
    postgres: bool,
    operation_id: str,
    at: datetime,
    lines: Collection[int],
    part: int = 0,
) -> int:
    """``write`` for an operation that only placed lines (a sweep): its promise changes are the
    first promises of the SO lines ``lines``, each now as the line stands (placed whole or in
    parts, ready or not), with no date before. The same events, read from the lines rather
    than from the history: none of the history's grouping of each line's first and last change,
    and the number of lines known to the planner. Returns how many."""
    # As they are: a line is among them at most once, and the statement orders the events.
    return _write_lines(conn, postgres, operation_id, at, lines, part, "placed")


def write_ready(
    conn: Connection,
    *,
    postgres: bool,
    operation_id: str,
    at: datetime,
    lines: Collection[int],
    part: int = 0,
) -> int:
    """Write one ``order.ready`` event per order of the SO lines ``lines`` (whose stock this
    operation received), each listing those lines in state "ready". Returns how many. ``part``
    as for ``write``."""
    return _write_lines(conn, postgres, operation_id, at, sorted(set(lines)), part, "ready")


def _write_lines(
    conn: Connection,
    postgres: bool,
    operation_id: str,
    at: datetime,
    ids: Collection[int],
    part: int,
    kind: str,
) -> int:
    """The events of the SO lines ``ids`` as they stand, ``kind`` "placed" or "ready"."""
    if not ids:
        return 0
    ready = kind == "ready"
    params: dict[str, Any] = {
        "operation_id": operation_id,
        "at": at,
        # Ready events apart from the same operation's promise events: an order can have both.
        "prefix": _prefix(operation_id, part, "r" if ready else ""),
        kind: ids if postgres else json.dumps(list(ids)),
    }
    statement = _statement(postgres, False, ready=ready, placed=not ready)
    return int(conn.execute(statement, params).rowcount or 0)


def _prefix(operation_id: str, part: int, kind: str = "") -> str:
    """Event ids: unique everywhere (96 random bits of the operation's UUID: a collision is not
    to be expected in any number of operations a shop will make), in the order of the events
    within the operation, and short enough to type."""
    return f"evt_{operation_id.replace('-', '')[:24]}_{kind}" + (f"{part}_" if part else "")


@functools.cache
def _statement(
    postgres: bool, with_cancelled: bool, *, ready: bool = False, placed: bool = False
) -> Any:
    pc = promise_changes
    # Each SO line's first and last promise change in this operation: its id range is above
    # the mark taken when the operation started (one index range, however big the table).
    bounds = (
        select(
            pc.c.so_line_id,
            func.min(pc.c.id).label("first_id"),
            func.max(pc.c.id).label("last_id"),
        )
        .where(pc.c.id > bindparam("mark", type_=Integer()))
        .where(pc.c.operation_id == bindparam("operation_id", type_=String()))
        .group_by(pc.c.so_line_id)
        # A subquery, not a CTE: a statement that starts with WITH has no row count on
        # pysqlite, which counts rows only for statements it sees start with INSERT.
        .subquery("bounds")
    )
    first, last = pc.alias("first_change"), pc.alias("last_change")
    changed = (
        select(
            bounds.c.so_line_id.label("id"),
            first.c.old_date.label("previous"),
            last.c.new_date.label("promised"),
        )
        .join_from(bounds, first, first.c.id == bounds.c.first_id)
        .join(last, last.c.id == bounds.c.last_id)
        .where(first.c.old_date.is_distinct_from(last.c.new_date))
    )
    lines: Any = changed
    if ready:
        # A ready line's promise stands: the event tells its stock is in.
        lines = select(
            so_lines.c.id.label("id"),
            so_lines.c.promised_date.label("previous"),
            so_lines.c.promised_date.label("promised"),
        ).where(so_lines.c.id.in_(bound_ids(postgres, "ready")))
    elif with_cancelled:
        # Lines cancelled while queued had no promise to change; they are news all the same.
        ids = bound_ids(postgres, "cancelled")
        nothing = cast(null(), Date())
        queued = select(so_lines.c.id, nothing, nothing).where(
            so_lines.c.id.in_(ids),
            so_lines.c.id.not_in(
                select(pc.c.so_line_id).where(
                    pc.c.id > bindparam("mark", type_=Integer()),
                    pc.c.operation_id == bindparam("operation_id", type_=String()),
                )
            ),
        )
        lines = union_all(changed, queued)
    s, h, p = so_lines, sales_orders, po_lines
    state = case(
        (s.c.status != "open", s.c.status),
        (s.c.po_line_id.is_not(None) & s.c.ready_at.is_not(None), literal("ready")),
        (s.c.po_line_id.is_not(None), literal("allocated")),
        (s.c.parked, literal("parked")),
        else_=literal("queued"),
    )
    columns = (
        s.c.order_number,
        h.c.customer,
        h.c.email,
        s.c.line,
        s.c.sku,
        s.c.quantity,
        s.c.status,
        state.label("state"),
        p.c.po_number,
        p.c.line.label("po_line"),
    )
    if placed:
        # First promises: none before, the line's own date now. Read from the lines alone, by
        # id: on PostgreSQL one array, which a plan for many ids probes as a hash table.
        placed_ids = (
            s.c.id == any_(bindparam("placed", type_=IdList()))
            if postgres
            else s.c.id.in_(bound_ids(postgres, "placed"))
        )
        detail = (
            select(
                *columns,
                cast(null(), Date()).label("previous"),
                s.c.promised_date.label("promised"),
            )
            .join_from(s, h, h.c.id == s.c.so_id)
            .outerjoin(p, p.c.id == s.c.po_line_id)
            .where(placed_ids)
            .subquery("detail")
        )
    else:
        lines = lines.subquery("lines")
        detail = (
            select(*columns, lines.c.previous, lines.c.promised)
            .join_from(lines, s, s.c.id == lines.c.id)
            .join(h, h.c.id == s.c.so_id)
            .outerjoin(p, p.c.id == s.c.po_line_id)
            .subquery("detail")
        )
    d = detail.c
    line = _object(
        postgres,
        line=d.line,
        sku=d.sku,
        quantity=d.quantity,
        state=d.state,
        po=d.po_number,
        po_line=d.po_line,
        previous_promised_date=d.previous,
        promised_date=d.promised,
    )
    # json_agg keeps the lines in line order; SQLite's json_group_array takes them as they come
    # (readers sort them: engine.deliveries.event_body).
    listed = (
        func.json_agg(aggregate_order_by(line, d.line)) if postgres else func.json_group_array(line)
    )
    data = _object(postgres, order=d.order_number, customer=d.customer, email=d.email, lines=listed)
    kind: Any = case(
        (func.max(case((d.status == "cancelled", 1), else_=0)) == 1, literal(CANCELLED)),
        else_=literal(PROMISE_CHANGED),
    )
    if ready:
        kind = literal(READY)
    grouped = (
        select(d.order_number, kind.label("type"), cast(data, Text()).label("data"))
        .group_by(d.order_number, d.customer, d.email)
        .subquery("grouped")
    )
    # Numbered outside the grouping: SQLite's window functions would otherwise take the JSON
    # built by json_group_array for text and quote it.
    number = func.row_number().over(order_by=grouped.c.order_number)
    events = select(
        bindparam("prefix", type_=String()) + cast(number, String()),
        grouped.c.type,
        grouped.c.order_number,
        bindparam("operation_id", type_=String()),
        bindparam("at", type_=UTCDateTime()),
        grouped.c.data,
    ).order_by(grouped.c.order_number)
    return (
        insert(outbox_events)
        .from_select(
            ["event_id", "type", "order_number", "operation_id", "created_at", "data"], events
        )
        # An INSERT's row count is kept only when asked for (SQLAlchemy 2.0.28+).
        .execution_options(preserve_rowcount=True)
    )


def _object(postgres: bool, **fields: ColumnElement[Any]) -> ColumnElement[Any]:
    args: list[Any] = []
    for key, value in fields.items():
        args.extend([literal(key), value])
    return (func.json_build_object if postgres else func.json_object)(*args)


# --- reading events back ----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """An event as it leaves the system: its id, type, when, and its ``data`` (JSON text as
    stored)."""

    event_id: str
    type: str
    created_at: datetime
    data: str

    def to_dict(self) -> dict[str, Any]:
        """DESIGN.md section 5's shape: ``{"id", "type", "created_at", "data"}``, the lines in
        line order."""
        data = json.loads(self.data)
        data["lines"] = sorted(data.get("lines") or [], key=lambda ln: ln["line"])
        return {
            "id": self.event_id,
            "type": self.type,
            "created_at": stamp(self.created_at),
            "data": data,
        }

    def body(self) -> bytes:
        """The JSON document a webhook posts (compact, UTF-8)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def stamp(moment: datetime) -> str:
    """``2026-12-05T09:00:00Z``: an instant in UTC to the second, as DESIGN.md writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
