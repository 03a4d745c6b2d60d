"""The invariants of DESIGN.md section 1, checked against the database itself."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, select, text

import engine as e
from engine.models import (
    outbox_events,
    promise_changes,
    queue_tallies,
    queue_tally_deltas,
    so_lines,
)


def check_invariants(db: e.Database) -> None:
    """Raise AssertionError naming every broken invariant."""
    problems: list[str] = []
    with db.read() as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(text(sql)).all()]

        for r in rows(
            "SELECT p.po_number, p.line, p.allocated, p.quantity - p.store_hold, "
            "COALESCE((SELECT SUM(a.quantity) FROM allocations a WHERE a.po_line_id = p.id), 0) "
            "+ COALESCE((SELECT SUM(t.quantity) FROM allocation_parts t "
            "WHERE t.po_line_id = p.id), 0) FROM po_lines p"
        ):
            po, line, allocated, sellable, summed = r
            if allocated != summed:
                problems.append(
                    f"{po}:{line} counter {allocated} != sum of allocations and parts {summed}"
                )
            if not 0 <= summed <= sellable:
                problems.append(f"{po}:{line} allocated {summed} outside 0..{sellable}")
        for r in rows(
            "SELECT p.po_number, p.line, p.allocated_lines, p.out_of_sync, p.split_parts, "
            "(SELECT COUNT(*) FROM so_lines s WHERE s.po_line_id = p.id AND NOT s.split), "
            "(SELECT COUNT(*) FROM so_lines s WHERE s.po_line_id = p.id "
            "AND s.promised_date != p.arrival_date), "
            "(SELECT COUNT(*) FROM allocation_parts t WHERE t.po_line_id = p.id) FROM po_lines p"
        ):
            po, line, lines, stale, parts, counted, counted_stale, counted_parts = r
            # A part counts as a line where it is; a split line is out of sync on its anchor.
            if (lines, stale, parts) != (counted + counted_parts, counted_stale, counted_parts):
                problems.append(
                    f"{po}:{line} tallies {lines} lines, {stale} out of sync, {parts} parts; "
                    f"the SO lines say {counted + counted_parts}, {counted_stale}, "
                    f"{counted_parts}"
                )
        # Rule 10: a split line's parts sum to exactly its quantity, on open lines of its SKU,
        # its anchor the latest part's PO line; it has no allocation row. A line not split has
        # no parts.
        for r in rows(
            "SELECT s.order_number, s.line, s.quantity, s.split, s.po_line_id, "
            "(SELECT SUM(t.quantity) FROM allocation_parts t WHERE t.so_line_id = s.id), "
            "(SELECT COUNT(*) FROM allocations a WHERE a.so_line_id = s.id) "
            "FROM so_lines s WHERE s.split OR EXISTS "
            "(SELECT 1 FROM allocation_parts t WHERE t.so_line_id = s.id)"
        ):
            order, ln, quantity, split, anchor, summed, whole = r
            if not split:
                problems.append(f"{order}:{ln} is not split but has parts")
            elif summed != quantity:
                problems.append(f"{order}:{ln} has parts of {summed} units, not {quantity}")
            if whole:
                problems.append(f"{order}:{ln} is split and has an allocation row")
        for r in rows(
            "SELECT s.order_number, s.line, s.po_line_id, (SELECT t.po_line_id FROM "
            "allocation_parts t JOIN po_lines p ON p.id = t.po_line_id WHERE t.so_line_id = s.id "
            "ORDER BY p.arrival_date DESC, p.po_number DESC, p.line DESC LIMIT 1), "
            "s.promised_date, (SELECT p.arrival_date FROM po_lines p WHERE p.id = s.po_line_id) "
            "FROM so_lines s WHERE s.split"
        ):
            order, ln, anchor, latest, _promised, _arrival = r
            if anchor != latest:
                problems.append(f"{order}:{ln} anchors PO line id {anchor}, not its latest part")
        for r in rows(
            "SELECT s.order_number, s.line, p.po_number, p.line FROM allocation_parts t "
            "JOIN so_lines s ON s.id = t.so_line_id JOIN po_lines p ON p.id = t.po_line_id "
            "JOIN purchase_orders h ON h.id = p.po_id "
            "WHERE p.sku != s.sku OR t.sku != s.sku "
            "OR NOT (s.status = 'open' OR (s.status = 'fulfilled' AND s.ready_at IS NOT NULL)) "
            "OR ((p.status != 'open' OR h.status != 'open') "
            "AND NOT (p.status = 'received' AND t.ready_at IS NOT NULL)) "
            "OR (s.ready_at IS NOT NULL AND t.ready_at IS NULL)"
        ):
            problems.append(f"{r[0]}:{r[1]} has a part on {r[2]}:{r[3]} it may not have there")
        for r in rows(
            "SELECT s.order_number, s.line FROM so_lines s WHERE s.split AND s.ready_at IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM allocation_parts t WHERE t.so_line_id = s.id "
            "AND t.ready_at IS NULL)"
        ):
            problems.append(f"{r[0]}:{r[1]} has every part ready but is not ready")
        for r in rows(
            "SELECT s.order_number, s.line FROM allocations a JOIN so_lines s "
            "ON s.id = a.so_line_id WHERE a.quantity != s.quantity OR a.sku != s.sku "
            "OR s.po_line_id IS NULL OR s.po_line_id != a.po_line_id "
            "OR NOT (s.status = 'open' OR (s.status = 'fulfilled' AND s.ready_at IS NOT NULL))"
        ):
            problems.append(f"allocation of {r[0]}:{r[1]} disagrees with its SO line")
        for r in rows(
            "SELECT s.order_number, s.line FROM so_lines s WHERE s.po_line_id IS NOT NULL "
            "AND NOT s.split AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.so_line_id = s.id)"
        ):
            problems.append(f"{r[0]}:{r[1]} points at a PO line without an allocation row")
        for r in rows(
            "SELECT s.order_number, s.line, p.po_number, p.line FROM allocations a "
            "JOIN so_lines s ON s.id = a.so_line_id JOIN po_lines p ON p.id = a.po_line_id "
            "JOIN purchase_orders h ON h.id = p.po_id "
            "WHERE p.sku != s.sku OR ((p.status != 'open' OR h.status != 'open') "
            "AND NOT (p.status = 'received' AND s.ready_at IS NOT NULL))"
        ):
            problems.append(
                f"{r[0]}:{r[1]} allocated to {r[2]}:{r[3]}, not an open line of its SKU"
            )
        # Rule 9: ready (and fulfilled) lines hold no more units than the line received, and a
        # closed received line holds ready lines only.
        for r in rows(
            "SELECT p.po_number, p.line, p.received, COALESCE((SELECT SUM(s.quantity) "
            "FROM so_lines s WHERE s.po_line_id = p.id AND s.ready_at IS NOT NULL "
            "AND NOT s.split), 0) + COALESCE((SELECT SUM(t.quantity) FROM allocation_parts t "
            "WHERE t.po_line_id = p.id AND t.ready_at IS NOT NULL), 0) FROM po_lines p"
        ):
            po, line, received, ready = r
            if ready > received:
                problems.append(f"{po}:{line} has {ready} units ready but received {received}")
        for r in rows(
            "SELECT s.order_number, s.line FROM so_lines s JOIN po_lines p "
            "ON p.id = s.po_line_id WHERE p.status = 'received' AND s.ready_at IS NULL "
            "AND NOT s.split"
        ):
            problems.append(f"{r[0]}:{r[1]} waits on a fully received PO line")
        for r in rows(
            "SELECT order_number, line FROM so_lines WHERE ready_at IS NOT NULL "
            "AND (po_line_id IS NULL OR status = 'cancelled')"
        ):
            problems.append(f"{r[0]}:{r[1]} is ready but not allocated")
        for r in rows(
            "SELECT so_line_id, COUNT(*) FROM allocations GROUP BY so_line_id HAVING COUNT(*) > 1"
        ):
            problems.append(f"SO line id {r[0]} has {r[1]} allocations")
        for r in rows(
            "SELECT order_number, line FROM so_lines WHERE status = 'open' AND po_line_id IS NULL "
            "AND promised_date IS NOT NULL"
        ):
            problems.append(f"unallocated {r[0]}:{r[1]} still has a promised date")
        for r in rows(
            "SELECT order_number, line FROM so_lines WHERE parked AND po_line_id IS NOT NULL"
        ):
            problems.append(f"{r[0]}:{r[1]} is parked and allocated")
        # The promise history has no foreign key (migration 0008): every row must still name a
        # line.
        for r in rows(
            "SELECT c.id, c.so_line_id FROM promise_changes c "
            "WHERE NOT EXISTS (SELECT 1 FROM so_lines s WHERE s.id = c.so_line_id)"
        ):
            problems.append(f"promise change {r[0]} names SO line id {r[1]}, which is not there")
        # The audit log accounts for every allocation that exists: the last allocate/move/release
        # event of each SO line leaves it where the database has it.
        last = {
            (o, ln): (action, po, pl)
            for o, ln, action, po, pl in rows(
                "SELECT order_number, so_line, action, po_number, po_line FROM audit_events "
                "WHERE action IN ('allocate', 'move', 'release') ORDER BY id"
            )
        }
        held = {
            (o, ln): (po, pl)
            for o, ln, po, pl in rows(
                "SELECT s.order_number, s.line, p.po_number, p.line FROM allocations a "
                "JOIN so_lines s ON s.id = a.so_line_id JOIN po_lines p ON p.id = a.po_line_id"
            )
        }
        split_on: dict[tuple[str, int], set[tuple[str, int]]] = {}
        for o, ln, po, pl in rows(
            "SELECT s.order_number, s.line, p.po_number, p.line FROM allocation_parts t "
            "JOIN so_lines s ON s.id = t.so_line_id JOIN po_lines p ON p.id = t.po_line_id"
        ):
            split_on.setdefault((o, ln), set()).add((po, pl))
        for key, on in split_on.items():
            event = last.get(key)
            if event is None or event[0] != "allocate" or (event[1], event[2]) not in on:
                problems.append(f"audit log does not account for split {key} on {on}: {event}")
        for key, (po, pl) in held.items():
            event = last.get(key)
            if event is None or event[0] == "release" or (event[1], event[2]) != (po, pl):
                problems.append(f"audit log does not account for {key} on {po}:{pl}: {event}")
        for key, event in last.items():
            if event[0] != "release" and key not in held and key not in split_on:
                problems.append(f"audit log says {key} is on {event[1]}:{event[2]}; it is not")
        # An undo names an operation that changed something, and is not itself that operation
        # (at most once is the table's key).
        for r in rows(
            "SELECT u.operation_id, u.undone_by FROM undo_links u WHERE u.operation_id = "
            "u.undone_by OR NOT EXISTS (SELECT 1 FROM audit_events a "
            "WHERE a.operation_id = u.operation_id)"
        ):
            problems.append(f"undo link {r[0]} -> {r[1]} names no recorded change")
        problems += queue_tally_problems(conn)
        problems += event_problems(conn)
    assert not problems, "invariants broken:\n" + "\n".join(problems)


def event_problems(conn: Any) -> list[str]:
    """The outbox against rule 4's history (DESIGN.md section 5): an operation that wrote
    events told, over all its events, exactly the lines whose promised date it changed (its
    first date before, its last after), however it wrote them (read back from the history,
    from the lines it placed, or from what an order intake placed). An operation that wrote
    none is not judged: events may be off."""
    pc = promise_changes
    bounds = (
        select(
            pc.c.operation_id,
            pc.c.so_line_id,
            func.min(pc.c.id).label("first"),
            func.max(pc.c.id).label("last"),
        )
        .group_by(pc.c.operation_id, pc.c.so_line_id)
        .subquery()
    )
    first, last = pc.alias("first"), pc.alias("last")
    changed: dict[str, set[tuple[Any, ...]]] = {}
    for op, order, line, old, new in conn.execute(
        select(
            bounds.c.operation_id,
            so_lines.c.order_number,
            so_lines.c.line,
            first.c.old_date,
            last.c.new_date,
        )
        .join_from(bounds, first, first.c.id == bounds.c.first)
        .join(last, last.c.id == bounds.c.last)
        .join(so_lines, so_lines.c.id == bounds.c.so_line_id)
        .where(first.c.old_date.is_distinct_from(last.c.new_date))
    ):
        changed.setdefault(op, set()).add((order, line, _iso(old), _iso(new)))
    # An operation in several transactions (an import and the sweep it left to after its
    # commit) writes the events of each in it, so a line's changes are followed through them
    # in the order written: its first date before, its last after.
    spans: dict[str, dict[tuple[str, int], list[Any]]] = {}
    for op, kind, data in conn.execute(
        select(outbox_events.c.operation_id, outbox_events.c.type, outbox_events.c.data).order_by(
            outbox_events.c.id
        )
    ):
        lines_of_op = spans.setdefault(op, {})
        if kind == "order.ready":  # stock in, no promise changed
            continue
        body = json.loads(data)
        for ln in body["lines"]:
            was, now = ln["previous_promised_date"], ln["promised_date"]
            if (was, now) == (None, None):  # a queued line cancelled: news, no promise
                continue
            lines_of_op.setdefault((body["order"], ln["line"]), [was, now])[1] = now
    told = {
        op: {(order, line, was, now) for (order, line), (was, now) in lines.items() if was != now}
        for op, lines in spans.items()
    }
    problems = []
    for op, lines in told.items():
        made = changed.get(op, set())
        if lines != made:
            untold, unmade = sorted(made - lines, key=str), sorted(lines - made, key=str)
            problems.append(
                f"operation {op}: events leave out {len(untold)} promise changes "
                f"{untold[:3]}, tell {len(unmade)} it did not make {unmade[:3]}"
            )
    return problems


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def queue_tally_problems(conn: Any) -> list[str]:
    """The queue's tallies by SKU and hour (folded and not yet folded) equal a recount of the
    queued lines (open, unallocated, unparked), hour by hour, worked out here in Python."""
    counted: Counter[tuple[str, Any]] = Counter()
    units: Counter[tuple[str, Any]] = Counter()
    for sku, placed_at, quantity in conn.execute(
        select(so_lines.c.sku, so_lines.c.placed_at, so_lines.c.quantity).where(
            so_lines.c.status == "open",
            so_lines.c.po_line_id.is_(None),
            so_lines.c.parked.is_(False),
        )
    ):
        key = (sku, placed_at.replace(minute=0, second=0, microsecond=0))
        counted[key] += 1
        units[key] += quantity
    stored: Counter[tuple[str, Any]] = Counter()
    stored_units: Counter[tuple[str, Any]] = Counter()
    for table in (queue_tallies, queue_tally_deltas):
        for sku, hour, lines, amount in conn.execute(
            select(table.c.sku, table.c.hour, table.c.lines, table.c.units)
        ):
            stored[(sku, hour)] += lines
            stored_units[(sku, hour)] += amount
    return [
        f"queue tally of {sku} at {hour:%Y-%m-%d %H}:00 says {stored[(sku, hour)]} lines, "
        f"{stored_units[(sku, hour)]} units; the queue holds {counted[(sku, hour)]}, "
        f"{units[(sku, hour)]}"
        for sku, hour in sorted(set(counted) | set(stored) | set(stored_units))
        if (stored[(sku, hour)], stored_units[(sku, hour)])
        != (counted[(sku, hour)], units[(sku, hour)])
    ]
