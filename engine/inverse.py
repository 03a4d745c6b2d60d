"""Undo: the inverse of an operation, applied as a new operation (``preorder undo OP``). (The
module is not named ``undo``: importing it would shadow ``engine.undo``, the function.)

The inverse is read from the operation's own audit events, newest first, each set back by the
same primitives the operations use (so the undo writes its own audit events, promise history
and outbox events, as any change does):

* allocate -> release (not parked); release -> allocate to the same PO line again, unparked,
  with the promised date it had; move -> move back; promise -> the date before;
* a PO line's arrival date, quantity, store hold or status, and a PO's status -> the value
  before; park / unpark -> the other.

So removing lines is undone by putting them back on their PO line (and lowering the store hold
the removal raised); a manual allocation by releasing the lines (those it unparked are parked
again); a date change or sync by the dates before; a move by moving back; a quantity or store
hold change by the value before, the lines it released put back and the lines its sweep placed
released. A PO cancellation is undone by reopening its lines and running rule 1 for their SKUs
(the released lines take their place in the queue again, as the issue asks). An import, an
order intake and a customer's cancellation are refused, with the reason.

All or nothing: where the state has moved on since (a line was allocated elsewhere or
cancelled, the ATP was taken, a date or quantity was changed again), nothing changes and the
refusal names every conflict. An operation is undone at most once (``undo_links``); undoing an
undo applies the inverse of the undo, which redoes the operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import Row, insert, select, tuple_, update

from engine import ledger, parts
from engine.db import Database
from engine.errors import InvalidInput, NotFound, Refused
from engine.locks import waiting_lock
from engine.models import audit_events, po_lines, purchase_orders, so_lines, undo_links
from engine.results import FieldChange, Outcome
from engine.sweep import SWEEP_LOCK, sweep
from engine.unit import Actor, Unit, run_operation

# Kinds of operation that are not undone, and why (a face offers no Undo for them).
NOT_UNDONE = {
    "import": "an import is not undone: import the corrected records instead",
    "receive": "a receipt is not undone: stock that came in stays in (record a correction)",
    "fulfil": "a fulfilment is not undone: the order lines have shipped",
    "reopen-po": "a reopening is not undone: cancel the PO or line again",
    "intake": "an order intake is not undone: send the corrected order, or cancel it",
    "cancel-order": "a customer's cancellation is not undone: import the order line again",
}
# What an operation may have done that no undo sets back (rule 9: stock that came in).
KEPT = {"ready": "marked order lines ready (their stock came in)"}
# PO line fields an undo sets back.
PO_LINE_FIELDS = ("arrival_date", "quantity", "store_hold", "status")
REASON = "undo"
# The fewest leading characters of an operation id that name it, and all of them (UUIDs).
PREFIX = 8
WHOLE = 36


def undo(
    db: Database,
    operation_id: str,
    actor: Actor,
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Apply the inverse of operation ``operation_id`` as a new operation of ``actor`` (its own
    id, audited, with outbox events), all or nothing; refused, naming each conflict, when the
    state has moved on, and when the operation was undone already."""
    given = operation_id.strip().lower()
    if len(given) < PREFIX:
        raise InvalidInput(
            f"operation id {given!r} is too short: give at least its first {PREFIX} characters"
        )

    def work(unit: Unit) -> None:
        wanted = _operation(unit, given)
        events = unit.conn.execute(
            select(audit_events)
            .where(audit_events.c.operation_id == wanted)
            .order_by(audit_events.c.id)
        ).all()
        kind = events[0].operation
        if kind in NOT_UNDONE:
            raise Refused(f"cannot undo {kind} {wanted}", [NOT_UNDONE[kind]])
        kept = sorted({ev.action for ev in events} - set(_Inverse.ACTIONS))
        if kept:
            what = ", ".join(KEPT.get(action, f"wrote '{action}' events") for action in kept)
            raise Refused(f"cannot undo {kind} {wanted}", [f"it {what}, which is not undone"])
        done = unit.conn.execute(
            select(undo_links.c.undone_by).where(undo_links.c.operation_id == wanted)
        ).scalar_one_or_none()
        if done is not None:
            raise Refused(f"operation {wanted} ({kind}) was already undone by {done}")
        # Claimed first: a concurrent undo of the same operation waits on this row, then fails
        # on the key, and its retry finds the link and refuses.
        unit.conn.execute(
            insert(undo_links).values(operation_id=wanted, undone_by=unit.id, at=unit.at)
        )
        unit.lock_skus(
            {ev.sku for ev in events if ev.sku is not None},
            pos=sorted({ev.po_number for ev in events if ev.action == "po" and ev.po_number}),
        )
        inverse = _Inverse(unit, kind)
        inverse.apply(events)
        if inverse.problems:
            raise Refused(
                f"cannot undo {kind} {wanted}: the state has moved on since", inverse.problems
            )
        unit.outcome.undid = wanted

    # On PostgreSQL an operation's sweep may still be committing its SKU batches, each its own
    # transaction under the operation's id, the sweep lock held from the first to the last:
    # its events so far are not all of it. Holding that lock, the undo reads the whole
    # operation, and no batched sweep starts until it commits; its own rule 1 (undoing a PO
    # cancellation) runs whole in its transaction, never left to batches after it.
    with waiting_lock(db, SWEEP_LOCK) if db.is_postgres else nullcontext():
        return run_operation(
            db,
            actor,
            "undo",
            work,
            dry_run=dry_run,
            key=key,
            retry_unique=True,
            defer_long_sweeps=False,
        )


def _operation(unit: Unit, given: str) -> str:
    """The whole id of the operation ``given`` names (it, or the start of it): one range of the
    audit log's operation index. Ids are lowercase hex digits and hyphens, all sorting before
    "g" in any collation."""
    column = audit_events.c.operation_id
    if len(given) == WHOLE:  # one probe, however many events the operation wrote
        found = unit.conn.execute(select(column).where(column == given).limit(1)).first()
        if found is None:
            raise NotFound(f"unknown operation {given} (no change of it is recorded)")
        return given
    ids = [
        found
        for found in unit.conn.execute(
            select(column)
            .where(column >= given, column < given + "g")
            .group_by(column)
            .order_by(column)
            .limit(2)
        ).scalars()
        if found.startswith(given)
    ]
    if not ids:
        raise NotFound(f"unknown operation {given} (no change of it is recorded)")
    if len(ids) > 1:
        raise InvalidInput(f"operation id {given} is ambiguous: give more of it")
    return str(ids[0])


@dataclass
class _Inverse:
    """The inverse of one operation's events, applied newest first, collecting conflicts."""

    unit: Unit
    kind: str
    problems: list[str] = field(default_factory=list)
    # SKUs whose PO lines a PO cancellation's undo reopened: rule 1 runs for them at the end.
    reopened: set[str] = field(default_factory=set)

    # The audit actions an undo sets back (see apply).
    ACTIONS = ("allocate", "release", "move", "promise", "po-line", "po", "park", "unpark")

    def apply(self, events: Sequence[Row[Any]]) -> None:
        handlers: dict[str, Callable[[list[Row[Any]]], None]] = {
            "allocate": self._unallocate,
            "release": self._reallocate,
            "move": self._move_back,
            "promise": self._promise_back,
            "po-line": self._po_line_back,
            "po": self._po_back,
            "park": self._park_back,
            "unpark": self._park_back,
        }
        for action, group in groupby(reversed(events), key=lambda ev: ev.action):
            handler = handlers.get(action)
            batch = list(group)
            if handler is None:
                self.problems.append(
                    f"{self.kind} wrote '{action}' events, which undo cannot set back"
                )
                continue
            handler(batch)
        if self.reopened and not self.problems:
            sweep(self.unit, self.reopened)

    # --- reading the state now -----------------------------------------------------------------

    def _lines(self, events: Iterable[Row[Any]]) -> dict[tuple[str, int], ledger.Demand]:
        keys = sorted({(ev.order_number, ev.so_line) for ev in events})
        found: dict[tuple[str, int], ledger.Demand] = {}
        for chunk in ledger.chunks(keys):
            rows = self.unit.conn.execute(
                select(*ledger.DEMAND_COLUMNS).where(
                    tuple_(so_lines.c.order_number, so_lines.c.line).in_(chunk)
                )
            )
            for r in rows:
                d = ledger.demand_from(r)
                found[(d.order, d.line)] = d
        return found

    def _po_line(self, po: Any, line: Any) -> tuple[ledger.Supply, str] | None:
        row = self.unit.conn.execute(
            select(*ledger.SUPPLY_COLUMNS, purchase_orders.c.status.label("po_status"))
            .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
            .where(po_lines.c.po_number == po, po_lines.c.line == line)
        ).one_or_none()
        if row is None:
            self.problems.append(f"PO {po} has no line {line} any more")
            return None
        self.unit.touch([row.id])
        return ledger.supply_from(row[:-1]), row.po_status

    def _open_po_line(self, po: Any, line: Any) -> ledger.Supply | None:
        found = self._po_line(po, line)
        if found is None:
            return None
        target, po_status = found
        if target.status != "open" or po_status != "open":
            status = target.status if target.status != "open" else po_status
            self.problems.append(f"{po}:{line} is {status}")
            return None
        return target

    def _missing(self, ev: Row[Any]) -> str:
        return f"{ev.order_number}:{ev.so_line} no longer exists"

    # --- the inverses --------------------------------------------------------------------------

    def _split_lines(
        self, events: list[Row[Any]], side: str
    ) -> dict[tuple[str, int], list[tuple[Any, Any, int]]]:
        """Rule 10: the split lines these events name (their ``side`` says ``split``), each
        with its parts as the events give them: (PO, line, units)."""
        found: dict[tuple[str, int], list[tuple[Any, Any, int]]] = {}
        for ev in events:
            values = getattr(ev, side) or {}
            if values.get(parts.SPLIT):
                found.setdefault((ev.order_number, ev.so_line), []).append(
                    (values.get("po"), values.get("line"), ev.quantity)
                )
        return found

    def _unsplit(self, split: dict[tuple[str, int], list[tuple[Any, Any, int]]]) -> None:
        """Split lines allocated -> released whole, when each still has exactly those parts."""
        lines = self._lines_of(split)
        now = parts.parts_of(self.unit, [d.id for d in lines.values()])
        pairs: list[tuple[ledger.Demand, ledger.Supply]] = []
        for key, given in split.items():
            d = lines.get(key)
            if d is None:
                self.problems.append(f"{key[0]}:{key[1]} no longer exists")
                continue
            held = sorted((p.po, p.line, p.quantity) for p in now.get(d.id, []))
            if not d.split or held != sorted(given):
                self.problems.append(
                    f"{d.order}:{d.line} is no longer split across "
                    + ", ".join(f"{po}:{ln} ({n})" for po, ln, n in sorted(given))
                )
            elif d.po_line_id is not None:
                pairs.append((d, ledger.po_line_by_id(self.unit, d.po_line_id)))
        if not self.problems:
            ledger.release(self.unit, pairs, park=False, reason=REASON)

    def _resplit(
        self,
        split: dict[tuple[str, int], list[tuple[Any, Any, int]]],
        promised: dict[tuple[str, int], date | None],
        *,
        freed: dict[tuple[str, int], tuple[int, int]] | None = None,
    ) -> None:
        """Split lines released (or merged) -> their parts again, each PO line open with the
        ATP for its part (``freed``: a line whose units on a PO line come back first), then the
        promised date each had."""
        lines = self._lines_of(split)
        plans: list[tuple[ledger.Demand, list[tuple[ledger.Supply, int]]]] = []
        targets: dict[tuple[Any, Any], ledger.Supply | None] = {}
        asked: dict[tuple[Any, Any], int] = {}
        for key, given in split.items():
            d = lines.get(key)
            if d is None:
                self.problems.append(f"{key[0]}:{key[1]} no longer exists")
                continue
            if d.status != "open":
                self.problems.append(f"{d.order}:{d.line} is {d.status}")
                continue
            if freed is None and d.po_line_id is not None:
                self.problems.append(f"{d.order}:{d.line} has been allocated since")
                continue
            chosen: list[tuple[ledger.Supply, int]] = []
            for po, ln, units in given:
                if (po, ln) not in targets:
                    targets[(po, ln)] = self._open_po_line(po, ln)
                target = targets[(po, ln)]
                if target is not None:
                    chosen.append((target, units))
                    asked[(po, ln)] = asked.get((po, ln), 0) + units
            chosen.sort(key=lambda pair: pair[0].fifo_key)
            plans.append((d, chosen))
        back = {pid: units for pid, units in (freed or {}).values()}
        for (po, ln), units in asked.items():
            target = targets[(po, ln)]
            if target is not None and units > target.atp + back.get(target.id, 0):
                self.problems.append(
                    f"{units} units to put back on {po}:{ln}, {target.atp} ATP left "
                    f"(short by {units - target.atp - back.get(target.id, 0)})"
                )
        if self.problems:
            return
        if freed is not None:
            whole = [
                (d, ledger.po_line_by_id(self.unit, d.po_line_id)) for d, _ in plans if d.po_line_id
            ]
            ledger.release(self.unit, whole, park=False, reason=REASON)
            for t in targets.values():
                if t is not None:
                    t.allocated = ledger.po_line_by_id(self.unit, t.id).allocated
            for d, _ in plans:
                d.po_line_id, d.promised_date = None, None
        ledger.set_parked(self.unit, [d for d, _ in plans if d.parked], parked=False)
        ledger.allocate_split(self.unit, plans, reason=REASON)
        changes = []
        for d, chosen in plans:
            old = promised.get((d.order, d.line))
            latest = chosen[-1][0]
            if old is not None and old != latest.arrival_date:
                moved = replace(d, po_line_id=latest.id, promised_date=latest.arrival_date)
                changes.append((moved, old))
        ledger.set_promises(self.unit, changes, reason=REASON)

    def _lines_of(self, split: dict[tuple[str, int], Any]) -> dict[tuple[str, int], ledger.Demand]:
        found: dict[tuple[str, int], ledger.Demand] = {}
        for chunk in ledger.chunks(sorted(split)):
            rows = self.unit.conn.execute(
                select(*ledger.DEMAND_COLUMNS).where(
                    tuple_(so_lines.c.order_number, so_lines.c.line).in_(chunk)
                )
            )
            for r in rows:
                d = ledger.demand_from(r)
                found[(d.order, d.line)] = d
        return found

    def _unallocate(self, events: list[Row[Any]]) -> None:
        """Allocations made -> released, not parked."""
        split = self._split_lines(events, "after")
        if split:
            self._unsplit(split)
            events = [ev for ev in events if (ev.order_number, ev.so_line) not in split]
        lines = self._lines(events)
        pairs: list[tuple[ledger.Demand, ledger.Supply]] = []
        for (po, line), group in _by_po_line(events, "after"):
            found = self._po_line(po, line)
            for ev in group:
                d = lines.get((ev.order_number, ev.so_line))
                if d is None:
                    self.problems.append(self._missing(ev))
                elif found is None or d.po_line_id != found[0].id:
                    self.problems.append(
                        f"{d.order}:{d.line} is no longer allocated to {po}:{line}"
                        + (f" (it is {d.status})" if d.status != "open" else "")
                    )
                else:
                    pairs.append((d, found[0]))
        if not self.problems:
            ledger.release(self.unit, pairs, park=False, reason=REASON)

    def _reallocate(self, events: list[Row[Any]]) -> None:
        """Allocations released -> allocated to the same PO line again, unparked, with the
        promised date they had. A PO cancellation's releases are left to rule 1 instead."""
        if self.kind == "cancel-po":
            return
        split = self._split_lines(events, "before")
        if split:
            self._resplit(
                split,
                {
                    (ev.order_number, ev.so_line): _day((ev.before or {}).get("promised_date"))
                    for ev in events
                    if (ev.order_number, ev.so_line) in split
                },
            )
            events = [ev for ev in events if (ev.order_number, ev.so_line) not in split]
        lines = self._lines(events)
        pairs: list[tuple[ledger.Demand, ledger.Supply]] = []
        promised: list[tuple[ledger.Demand, date]] = []
        for (po, line), group in _by_po_line(events, "before"):
            target = self._open_po_line(po, line)
            units = 0
            for ev in group:
                d = lines.get((ev.order_number, ev.so_line))
                if d is None:
                    self.problems.append(self._missing(ev))
                elif d.status != "open":
                    self.problems.append(f"{d.order}:{d.line} is {d.status}")
                elif d.po_line_id is not None:
                    self.problems.append(f"{d.order}:{d.line} has been allocated since")
                elif target is not None and d.sku != target.sku:
                    self.problems.append(f"{d.order}:{d.line} is SKU {d.sku} now, not {target.sku}")
                elif target is not None:
                    pairs.append((d, target))
                    units += d.quantity
                    old = _day((ev.before or {}).get("promised_date"))
                    if old is not None and old != target.arrival_date:
                        promised.append(
                            (
                                replace(
                                    d,
                                    po_line_id=target.id,
                                    promised_date=target.arrival_date,
                                ),
                                old,
                            )
                        )
            if target is not None and units > target.atp:
                self.problems.append(
                    f"{units} units to put back on {po}:{line}, {target.atp} ATP left "
                    f"(short by {units - target.atp})"
                )
        if self.problems:
            return
        ledger.set_parked(self.unit, [d for d, _ in pairs if d.parked], parked=False)
        ledger.allocate(self.unit, pairs, reason=REASON)
        ledger.set_promises(self.unit, promised, reason=REASON)

    def _move_back(self, events: list[Row[Any]]) -> None:
        """Moves -> moved back, one at a time: each reads the ATP the one before left. A split
        line moved whole (rule 10) gets its parts back."""
        lines = self._lines(events)
        for ev in events:
            if (ev.before or {}).get(parts.SPLIT):
                self._split_back(ev, lines.get((ev.order_number, ev.so_line)))
                continue
            before, after = ev.before or {}, ev.after or {}
            d = lines.get((ev.order_number, ev.so_line))
            now = self._po_line(after.get("po"), after.get("line"))
            back = self._open_po_line(before.get("po"), before.get("line"))
            where = f"{after.get('po')}:{after.get('line')}"
            if d is None:
                self.problems.append(self._missing(ev))
            elif now is None or d.po_line_id != now[0].id:
                self.problems.append(f"{d.order}:{d.line} is no longer allocated to {where}")
            elif d.ready_at is not None:
                # Rule 9: its stock came in where it is now; moving it back would take a ready
                # line where nothing was received.
                self.problems.append(f"{d.order}:{d.line} is ready (its stock is in on {where})")
            elif back is not None and d.quantity > back.atp:
                self.problems.append(
                    f"{d.order}:{d.line} needs {d.quantity} units on {back.po}:{back.line}, "
                    f"{back.atp} ATP left"
                )
            elif back is not None and not self.problems:
                ledger.move(self.unit, [(d, now[0], back)], reason=REASON)

    def _split_back(self, ev: Row[Any], d: ledger.Demand | None) -> None:
        before, after = ev.before or {}, ev.after or {}
        now = self._po_line(after.get("po"), after.get("line"))
        if d is None:
            self.problems.append(self._missing(ev))
        elif now is None or d.po_line_id != now[0].id or d.split:
            where = f"{after.get('po')}:{after.get('line')}"
            self.problems.append(f"{d.order}:{d.line} is no longer allocated to {where}")
        else:
            key = (d.order, d.line)
            given = [(po, ln, int(n)) for po, ln, n in before.get("parts", [])]
            self._resplit(
                {key: given}, {key: d.promised_date}, freed={key: (now[0].id, d.quantity)}
            )

    def _promise_back(self, events: list[Row[Any]]) -> None:
        lines = self._lines(events)
        changes: list[tuple[ledger.Demand, date]] = []
        for ev in events:
            d = lines.get((ev.order_number, ev.so_line))
            old = _day((ev.before or {}).get("promised_date"))
            new = _day((ev.after or {}).get("promised_date"))
            if d is None:
                self.problems.append(self._missing(ev))
            elif d.po_line_id is None or d.promised_date != new or old is None:
                self.problems.append(
                    f"{d.order}:{d.line} is no longer promised {_shown(new)} "
                    f"(it is {'unallocated' if d.po_line_id is None else _shown(d.promised_date)})"
                )
            else:
                changes.append((d, old))
        if not self.problems:
            ledger.set_promises(self.unit, changes, reason=REASON)

    def _po_line_back(self, events: list[Row[Any]]) -> None:
        for ev in events:
            found = self._po_line(ev.po_number, ev.po_line)
            if found is None:
                continue
            target, _ = found
            where = f"{target.po}:{target.line}"
            for name in PO_LINE_FIELDS:
                if name not in (ev.after or {}):
                    continue
                old, new = (ev.before or {}).get(name), (ev.after or {}).get(name)
                if name == "arrival_date":
                    old, new = _day(old), _day(new)
                now = getattr(target, name)
                if now != new:
                    self.problems.append(
                        f"{where} {name.replace('_', ' ')} is {_shown(now)} now, not {_shown(new)}"
                    )
                    continue
                if not self._fits(target, name, old):
                    continue
                if self.problems:
                    continue
                ledger.set_field(self.unit, target, name, old, reason=REASON)
                if name == "status" and old == "open" and self.kind == "cancel-po":
                    self.reopened.add(target.sku)

    def _fits(self, target: ledger.Supply, name: str, value: Any) -> bool:
        """Whether setting ``name`` back to ``value`` keeps the PO line's rules."""
        where = f"{target.po}:{target.line}"
        quantity, hold = target.quantity, target.store_hold
        if name == "quantity":
            quantity = value
        elif name == "store_hold":
            hold = value
        elif name == "status" and value == "cancelled" and target.allocated:
            self.problems.append(
                f"{where} holds {target.allocated} units allocated since; it cannot be "
                "cancelled again"
            )
            return False
        if name in ("quantity", "store_hold") and target.allocated + hold > quantity:
            self.problems.append(
                f"{where}: quantity {quantity} with store hold {hold} leaves less than the "
                f"{target.allocated} units allocated now"
            )
            return False
        return True

    def _po_back(self, events: list[Row[Any]]) -> None:
        for ev in events:
            new = (ev.after or {}).get("status")
            old = (ev.before or {}).get("status", "open")
            now = self.unit.conn.execute(
                select(purchase_orders.c.status).where(purchase_orders.c.po_number == ev.po_number)
            ).scalar_one_or_none()
            if now is None:
                self.problems.append(f"PO {ev.po_number} no longer exists")
            elif now != new:
                self.problems.append(f"PO {ev.po_number} is {now} now, not {new}")
            elif not self.problems:
                _set_po_status(self.unit, ev.po_number, now, old)

    def _park_back(self, events: list[Row[Any]]) -> None:
        lines = self._lines(events)
        for parked, group in groupby(events, key=lambda ev: bool((ev.before or {}).get("parked"))):
            back: list[ledger.Demand] = []
            for ev in group:
                d = lines.get((ev.order_number, ev.so_line))
                if d is None:
                    self.problems.append(self._missing(ev))
                elif d.status != "open" or d.po_line_id is not None:
                    what = d.status if d.status != "open" else "allocated"
                    self.problems.append(f"{d.order}:{d.line} is {what} now")
                elif d.parked == parked:
                    pass  # already as it was before
                else:
                    back.append(d)
            if not self.problems:
                ledger.set_parked(self.unit, back, parked=parked)


def _set_po_status(unit: Unit, po: str, now: str, status: str) -> None:
    unit.conn.execute(
        update(purchase_orders)
        .where(purchase_orders.c.po_number == po)
        .values(status=status, updated_at=unit.at)
    )
    unit.event("po", po=po, before={"status": now}, after={"status": status})
    unit.outcome.po_changes.append(FieldChange(po, None, "status", now, status))


def _by_po_line(events: list[Row[Any]], side: str) -> list[tuple[tuple[Any, Any], list[Row[Any]]]]:
    """Events grouped by the PO line on their ``side`` (before or after), in first-seen order."""
    groups: dict[tuple[Any, Any], list[Row[Any]]] = {}
    for ev in events:
        values = getattr(ev, side) or {}
        groups.setdefault((values.get("po"), values.get("line")), []).append(ev)
    return list(groups.items())


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    return value.isoformat() if isinstance(value, date) else str(value)


def not_undone(operation: str) -> str | None:
    """Why an operation of this kind (its name: ``import``...) is never undone, or None when it
    can be (a face offers no Undo for the others)."""
    return NOT_UNDONE.get(operation)


__all__ = ["NOT_UNDONE", "not_undone", "undo"]
