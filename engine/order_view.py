"""Where an order is, and why: each line's state, the reason it stands there, and the order's
history from the audit log (``preorder order``).

Everything is read in one consistent view. A queued line's place in its SKU's queue (the lines
and units ahead of it) is the sum of the queue's tallies by hour before the line's hour, plus a
count of the queue index inside its hour (``engine.queue_tallies``): it never walks the whole
queue ahead, nor reads the table; the history comes from the audit log's
order index, and the changes to the PO lines the order's lines were held by from its partial
index of PO events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, and_, bindparam, literal, or_, select

from engine.db import Database
from engine.errors import InvalidInput, NotFound
from engine.headers import headers_where
from engine.models import (
    allocation_parts,
    audit_events,
    po_lines,
    purchase_orders,
    sales_orders,
    so_lines,
)
from engine.queue_tallies import ahead as place_in_queue
from engine.results import POLineHeader, _jsonable

# allocated, ready (stock received; set by receiving), queued, parked, cancelled, fulfilled
STATES = ("allocated", "ready", "queued", "parked", "cancelled", "fulfilled")


@dataclass(frozen=True)
class HistoryEntry:
    """One audit event of the order (or of a PO line while it held one of the order's lines)."""

    at: datetime
    operation: str  # the operation's id, as ``undo`` takes it
    kind: str  # the operation's name: allocate, remove, import...
    actor: str
    source: str
    what: str
    line: int | None
    promised_before: date | None
    promised_after: date | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "operation": self.operation,
            "kind": self.kind,
            "actor": self.actor,
            "source": self.source,
            "what": self.what,
            "line": self.line,
            "promised_before": self.promised_before,
            "promised_after": self.promised_after,
        }


@dataclass(frozen=True)
class OrderLineView:
    """One SO line: its state, the PO line holding it, and why it stands where it does
    (``why`` in words; ``reason`` the same as data: a code and what it rests on)."""

    line: int
    sku: str
    quantity: int
    state: str
    po: str | None
    po_line: int | None
    promised_date: date | None
    in_sync: bool | None
    why: str
    reason: dict[str, Any]
    # The SKU's queued (unparked) lines and units before this one in FIFO order; queued only.
    ahead: tuple[int, int] | None = None
    # A split line's parts (rule 10), earliest first: {"po", "po_line", "quantity",
    # "arrival_date"}; ``po``/``po_line`` above are its latest part's. None: not split.
    parts: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        found = {
            "line": self.line,
            "sku": self.sku,
            "quantity": self.quantity,
            "state": self.state,
            "po": self.po,
            "po_line": self.po_line,
            "promised_date": self.promised_date,
            "in_sync": self.in_sync,
            "why": self.why,
            "reason": self.reason,
            "ahead": None
            if self.ahead is None
            else {"lines": self.ahead[0], "units": self.ahead[1]},
        }
        if self.parts is not None:
            # Only a split line has the key: every other line's entry is as it always was.
            found["parts"] = self.parts
        return found


@dataclass(frozen=True)
class OrderView:
    """An order as ``preorder order`` shows it: the ``order --json`` contract of DESIGN.md
    section 3 (each line also carries ``reason``, each history entry ``kind``)."""

    order: str
    customer: str
    email: str | None
    placed_at: datetime
    lines: list[OrderLineView]
    history: list[HistoryEntry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "order": self.order,
            "customer": self.customer,
            "email": self.email,
            "placed_at": self.placed_at,
            "lines": [line.to_dict() for line in self.lines],
            "history": [h.to_dict() for h in self.history],
        }
        result: dict[str, Any] = _jsonable(data)
        return result


def order(db: Database, number: str, *, zone: tzinfo = UTC) -> OrderView:
    """Order ``number``: its lines, why each stands where it does, and its history. The times
    in the words of ``why`` are told in ``zone`` (the team's); the data keeps instants."""
    with db.read() as conn:
        head = conn.execute(_HEAD.where(sales_orders.c.order_number == number)).first()
        if head is None:
            raise NotFound(f"unknown order {number}")
        return _view(conn, head, zone)


def orders_of(
    db: Database,
    *,
    customer: str | None = None,
    email: str | None = None,
    zone: tzinfo = UTC,
) -> list[OrderView]:
    """Every order of this customer name (or with this email address), newest first; an
    empty list when there is none. Either is matched exactly as stored, surrounding spaces
    aside (each by its index)."""
    if (customer is None) == (email is None):
        raise InvalidInput("give a customer name or an email address, not both")
    column = sales_orders.c.customer if customer is not None else sales_orders.c.email
    wanted = (customer if customer is not None else email or "").strip()
    if not wanted:
        raise InvalidInput(f"the {'customer name' if customer is not None else 'email'} is empty")
    query = _HEAD.where(column == wanted).order_by(
        sales_orders.c.placed_at.desc(), sales_orders.c.order_number.desc()
    )
    with db.read() as conn:
        return [_view(conn, head, zone) for head in conn.execute(query).all()]


_HEAD = select(
    sales_orders.c.order_number,
    sales_orders.c.customer,
    sales_orders.c.email,
    sales_orders.c.placed_at,
)

_LINES = (
    select(
        so_lines.c.line,
        so_lines.c.sku,
        so_lines.c.quantity,
        so_lines.c.status,
        so_lines.c.parked,
        so_lines.c.placed_at,
        so_lines.c.order_number,
        so_lines.c.promised_date,
        so_lines.c.ready_at,
        so_lines.c.split,
        so_lines.c.id,
        po_lines.c.po_number,
        po_lines.c.line.label("po_line"),
        po_lines.c.arrival_date,
    )
    .outerjoin(po_lines, po_lines.c.id == so_lines.c.po_line_id)
    .where(so_lines.c.order_number == bindparam("order"))
    .order_by(so_lines.c.line)
)

_EVENTS = (
    select(audit_events)
    .where(audit_events.c.order_number == bindparam("order"))
    .order_by(audit_events.c.id)
)


def _view(conn: Connection, head: Any, zone: tzinfo) -> OrderView:
    number = head.order_number
    rows = conn.execute(_LINES, {"order": number}).all()
    events = conn.execute(_EVENTS, {"order": number}).all()
    by_line: dict[int, list[Any]] = {}
    for ev in events:
        if ev.so_line is not None:
            by_line.setdefault(ev.so_line, []).append(ev)
    supply: dict[str, list[POLineHeader]] = {}
    lines = []
    for r in rows:
        if r.status == "open" and r.po_number is None and not r.parked and r.sku not in supply:
            supply[r.sku] = _open_supply(conn, r.sku)
        view = _line_view(conn, r, by_line.get(r.line, []), supply.get(r.sku, []), zone)
        if r.split:
            view = _with_parts(conn, r.id, view)
        lines.append(view)
    history = [_entry(ev) for ev in events] + _po_history(conn, events)
    history.sort(key=lambda pair: pair[0])
    return OrderView(
        order=number,
        customer=head.customer,
        email=head.email,
        placed_at=head.placed_at,
        lines=lines,
        history=[entry for _, entry in history],
    )


_PARTS = (
    select(
        po_lines.c.po_number,
        po_lines.c.line,
        allocation_parts.c.quantity,
        po_lines.c.arrival_date,
    )
    .join(po_lines, po_lines.c.id == allocation_parts.c.po_line_id)
    .where(allocation_parts.c.so_line_id == bindparam("sid"))
    .order_by(po_lines.c.arrival_date, po_lines.c.po_number, po_lines.c.line)
)


def _with_parts(conn: Connection, so_line_id: int, view: OrderLineView) -> OrderLineView:
    """A split line's view with its parts, and its ``why`` saying where they are."""
    found = [
        {"po": po, "po_line": ln, "quantity": n, "arrival_date": arrives}
        for po, ln, n, arrives in conn.execute(_PARTS, {"sid": so_line_id})
    ]
    where = ", ".join(f"{p['quantity']} on {p['po']}:{p['po_line']}" for p in found)
    return replace(view, parts=found, why=f"split: {where}; {view.why}")


def _open_supply(conn: Connection, sku: str) -> list[POLineHeader]:
    return headers_where(
        conn,
        and_(
            po_lines.c.sku == sku,
            po_lines.c.status == "open",
            purchase_orders.c.status == "open",
        ),
    )


def _line_view(
    conn: Connection,
    r: Any,
    events: Sequence[Any],
    supply: Sequence[POLineHeader],
    zone: tzinfo,
) -> OrderLineView:
    base: dict[str, Any] = {
        "line": r.line,
        "sku": r.sku,
        "quantity": r.quantity,
        "po": r.po_number,
        "po_line": r.po_line,
        "promised_date": r.promised_date,
        "in_sync": None,
    }
    if r.status != "open":
        why, reason = _closed(r.status, events, zone)
        return OrderLineView(state=r.status, why=why, reason=reason, **base)
    if r.po_number is not None:
        base["in_sync"] = r.promised_date == r.arrival_date
        why, reason = _allocated(r, events, zone)
        if r.ready_at is not None:  # rule 9: its stock came in
            stock = f"stock in since {r.ready_at.astimezone(zone):%Y-%m-%d %H:%M} {zone}"
            why, reason = f"{stock}, ready to ship; {why}", {**reason, "ready_at": r.ready_at}
            return OrderLineView(state="ready", why=why, reason=reason, **base)
        return OrderLineView(state="allocated", why=why, reason=reason, **base)
    if r.parked:
        why, reason = _parked(events, zone)
        return OrderLineView(state="parked", why=why, reason=reason, **base)
    lines_ahead, units_ahead = place_in_queue(conn, r.sku, r.placed_at, r.order_number, r.line)
    why, reason = _queued(r.sku, r.quantity, supply)
    place = (
        "first in its SKU's queue"
        if not lines_ahead
        else f"{_count(lines_ahead, 'line')} ({_count(units_ahead, 'unit')}) ahead of it"
    )
    return OrderLineView(
        state="queued",
        why=f"{place}; {why}",
        reason=reason,
        ahead=(lines_ahead, units_ahead),
        **base,
    )


def _who(ev: Any) -> dict[str, Any]:
    return {
        "actor": ev.actor,
        "source": ev.source,
        "at": ev.at,
        "operation": ev.operation_id,
        "kind": ev.operation,
    }


def _by(ev: Any, zone: tzinfo) -> str:
    return f"{ev.actor} ({ev.source}, {ev.at.astimezone(zone).strftime('%Y-%m-%d %H:%M')} {zone})"


def _allocated(r: Any, events: Sequence[Any], zone: tzinfo) -> tuple[str, dict[str, Any]]:
    last = next((ev for ev in reversed(events) if ev.action in ("allocate", "move")), None)
    where = f"{r.po_number}:{r.po_line}"
    sync = (
        ""
        if r.promised_date == r.arrival_date
        else f"; promised {_day(r.promised_date)} but arriving {_day(r.arrival_date)}: "
        "out of sync until someone syncs the PO line"
    )
    if last is None:
        return f"on {where}{sync}", {"by": "unknown"}
    if last.action == "move":
        frm = last.before or {}
        came = f" from {frm.get('po')}:{frm.get('line')}"
        if last.reason == "rebalance":
            by, words = "rebalanced", f"moved to the earlier {where}{came} by the rebalance"
        elif last.reason == "undo":
            by, words = "undo", f"moved back to {where}{came} by an undo ({_by(last, zone)})"
        else:
            by, words = "moved", f"moved to {where}{came} by {_by(last, zone)}"
    elif last.reason == "manual":
        by, words = "manual", f"allocated to {where} by hand by {_by(last, zone)}"
    elif last.reason == "undo":
        by, words = "undo", f"put back on {where} by an undo ({_by(last, zone)})"
    elif last.operation == "auto-allocate":
        by, words = (
            "sweep",
            f"placed on {where} first in, first out by the sweep of {_by(last, zone)}",
        )
    elif last.operation in ("import", "intake"):
        by, words = "fifo-on-arrival", f"placed on {where} first in, first out as it arrived"
        words += f" ({last.operation} by {_by(last, zone)})"
    else:
        by, words = "fifo", f"placed on {where} first in, first out after {last.operation}"
        words += f" by {_by(last, zone)}"
    return words + sync, {"by": by, **_who(last)}


def _parked(events: Sequence[Any], zone: tzinfo) -> tuple[str, dict[str, Any]]:
    last = next(
        (
            ev
            for ev in reversed(events)
            if ev.action == "park" or (ev.action == "release" and (ev.after or {}).get("parked"))
        ),
        None,
    )
    tail = "; the sweep skips it until someone allocates or unparks it"
    if last is None:
        return "parked" + tail, {"by": None, "from": None}
    before = last.before or {}
    source = f"{before.get('po')}:{before.get('line')}" if before.get("po") else None
    frm = f" from {source}" if source else ""
    words = (
        f"parked when {_by(last, zone)} removed it{frm}"
        if source
        else f"parked by {_by(last, zone)}"
    )
    return words + tail, {"from": source, **_who(last)}


def _closed(status: str, events: Sequence[Any], zone: tzinfo) -> tuple[str, dict[str, Any]]:
    last = next((ev for ev in reversed(events) if ev.action == "order-line-cancelled"), None)
    if status == "cancelled" and last is not None:
        return f"cancelled by {_by(last, zone)}", _who(last)
    return status, {}


def _queued(sku: str, quantity: int, supply: Sequence[POLineHeader]) -> tuple[str, dict[str, Any]]:
    lines = [
        {"po": s.po, "line": s.line, "arrival_date": s.arrival_date, "atp": s.atp} for s in supply
    ]
    if not supply:
        return f"no open PO line of SKU {sku}", {"reason": "no-po-line", "po_lines": []}
    best = max(supply, key=lambda s: s.atp)  # the first of the largest: rule 1's order
    fits = next((s for s in supply if s.atp >= quantity), None)
    if fits is None:
        return (
            f"needs {_count(quantity, 'unit')}; every open PO line of {sku} has less ATP, "
            f"the most {best.atp} on {best.po}:{best.line}",
            {
                "reason": "atp-short",
                "po_lines": lines,
                "largest": {"po": best.po, "line": best.line, "atp": best.atp},
            },
        )
    return (
        f"{fits.po}:{fits.line} has {fits.atp} ATP for its {_count(quantity, 'unit')}: the "
        "next sweep places it (after the lines ahead)",
        {"reason": "next-sweep", "po_lines": lines, "fits": {"po": fits.po, "line": fits.line}},
    )


# --- history ----------------------------------------------------------------------------------

FIELD_WORDS = {"arrival_date": "arrival date", "store_hold": "store hold"}


def _entry(ev: Any) -> tuple[int, HistoryEntry]:
    before, after = ev.before or {}, ev.after or {}
    promised_before = promised_after = None
    reason = f" ({ev.reason})" if ev.reason else ""
    action = ev.action
    if action == "order-line-created":
        what = f"line {ev.so_line} created: {_count(ev.quantity or 0, 'unit')} of {ev.sku}"
    elif action == "order-line":
        what = (
            f"line {ev.so_line} changed from {before.get('quantity')} of {before.get('sku')} "
            f"to {after.get('quantity')} of {after.get('sku')}"
        )
    elif action == "allocate":
        what = f"allocated to {after.get('po')}:{after.get('line')}{reason}"
        promised_after = after.get("promised_date")
    elif action == "release":
        parked = "; parked" if after.get("parked") else ""
        what = f"released from {before.get('po')}:{before.get('line')}{reason}{parked}"
        promised_before = before.get("promised_date")
    elif action == "move":
        what = (
            f"moved from {before.get('po')}:{before.get('line')} "
            f"to {after.get('po')}:{after.get('line')}{reason}"
        )
        promised_before, promised_after = before.get("promised_date"), after.get("promised_date")
    elif action == "promise":
        what = f"promised date changed{reason}"
        promised_before, promised_after = before.get("promised_date"), after.get("promised_date")
    elif action in ("park", "unpark"):
        what = f"{action}ed{reason}"
    elif action == "order-line-cancelled":
        what = f"cancelled{reason}"
    elif action == "order":
        changed = ", ".join(sorted(set(before) | set(after)))
        what = f"order changed: {changed}"
    else:
        what = f"{action}{reason}"
    return ev.id, HistoryEntry(
        at=ev.at,
        operation=ev.operation_id,
        kind=ev.operation,
        actor=ev.actor,
        source=ev.source,
        what=what,
        line=ev.so_line,
        promised_before=_as_date(promised_before),
        promised_after=_as_date(promised_after),
    )


def _po_history(conn: Connection, events: Sequence[Any]) -> list[tuple[int, HistoryEntry]]:
    """Changes to the PO lines (arrival date, quantity, status...) made while they held one of
    the order's lines: what moved a promise out of sync, or released it."""
    held: dict[tuple[str, int], list[tuple[int, int, float]]] = {}
    start: dict[int, tuple[tuple[str, int], int]] = {}

    def end(line: int, at_id: int) -> None:
        if line in start:
            key, since = start.pop(line)
            held.setdefault(key, []).append((line, since, at_id))

    for ev in events:
        if ev.so_line is None:
            continue
        if ev.action in ("release", "move"):
            end(ev.so_line, ev.id)
        if ev.action in ("allocate", "move"):
            after = ev.after or {}
            start[ev.so_line] = ((str(after.get("po")), int(after.get("line") or 0)), ev.id)
    for line, (key, since) in start.items():
        held.setdefault(key, []).append((line, since, float("inf")))
    if not held:
        return []
    rows = conn.execute(
        select(audit_events)
        .where(
            audit_events.c.order_number.is_(None),
            or_(
                *(
                    and_(audit_events.c.po_number == po, audit_events.c.po_line == ln)
                    for po, ln in held
                )
            ),
            audit_events.c.id > literal(min(s for spans in held.values() for _, s, _ in spans)),
        )
        .order_by(audit_events.c.id)
    ).all()
    found = []
    for ev in rows:
        for line, since, until in held.get((ev.po_number, ev.po_line), []):
            if since < ev.id < until:
                before, after = ev.before or {}, ev.after or {}
                changes = ", ".join(
                    f"{FIELD_WORDS.get(k, k)} {_shown(before.get(k))} -> {_shown(after.get(k))}"
                    for k in after
                )
                reason = f" ({ev.reason})" if ev.reason else ""
                found.append(
                    (
                        ev.id,
                        HistoryEntry(
                            at=ev.at,
                            operation=ev.operation_id,
                            kind=ev.operation,
                            actor=ev.actor,
                            source=ev.source,
                            what=f"{ev.po_number}:{ev.po_line} {changes}{reason}",
                            line=line,
                            promised_before=None,
                            promised_after=None,
                        ),
                    )
                )
    return found


def _as_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _shown(value: Any) -> str:
    return "-" if value is None else str(value)


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def _count(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


__all__ = ["STATES", "HistoryEntry", "OrderLineView", "OrderView", "order", "orders_of"]
