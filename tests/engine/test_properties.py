"""Model-based property test: a hypothesis state machine drives the real engine on a real database.

Every step reads the database, predicts with a plain reference model of DESIGN.md section 1
(written here, independently of ``engine/fifo.py``) what the operation must do, runs it, and then
compares the whole state: PO headers, PO lines, SO lines (status, parked, holder, promised date).
A refused operation must be predicted as refused and must leave a dump of every table identical.
After every step the invariants hold and nothing is lost (every open SO line is allocated or in
``engine.unallocated``). After every auto-allocation the allocation map equals the reference's.

Runs on SQLite and on PostgreSQL, a fresh database per example. Random locally; reproducible
(``derandomize``) when the environment variable ``CI`` is set.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

import engine as e
from engine.models import allocation_parts, po_lines, purchase_orders, sales_orders, so_lines
from tests.fixtures.databases import fresh_postgres, fresh_sqlite
from tests.helpers import T0, allocation_map, dump, po, so
from tests.invariants import check_invariants

POKey = tuple[str, int]
SOKey = tuple[str, int]

SKUS = ("A", "B", "C")
DATES = tuple(date(2027, 1, d) for d in (5, 10, 10, 20, 31))
# Wall-clock minutes after T0 and UTC offsets: the same instant is written many ways (ties), and
# wall-clock order often disagrees with the order of the instants.
WALL_MINUTES = tuple(range(0, 300, 30))
OFFSETS = tuple(timedelta(minutes=m) for m in (0, 60, 120, -300, 330))

CI = bool(os.environ.get("CI"))
_extra: dict[str, Any] = {"database": None} if CI else {}
SETTINGS = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    derandomize=CI,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    **_extra,
)


# --- the reference model -------------------------------------------------------------------


@dataclass
class PO:
    supplier: str
    status: str


@dataclass
class POL:
    sku: str
    quantity: int
    store_hold: int
    allocated: int
    arrival: date
    status: str
    received: int = 0

    @property
    def atp(self) -> int:
        if self.status != "open":  # rule 11
            return 0
        return self.quantity - self.store_hold - self.allocated


@dataclass
class SOL:
    sku: str
    quantity: int
    placed_at: datetime
    status: str
    parked: bool
    holder: POKey | None
    promised: date | None
    ready: bool = False
    # A split line's parts (rule 10), earliest first: (PO line, units). ``holder`` is then
    # the latest part's PO line.
    parts: tuple[tuple[POKey, int], ...] = ()


@dataclass
class State:
    """Everything the rules decide on, read from the database or predicted by the model."""

    pos: dict[str, PO] = field(default_factory=dict)
    po_lines: dict[POKey, POL] = field(default_factory=dict)
    orders: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    so_lines: dict[SOKey, SOL] = field(default_factory=dict)

    def copy(self) -> State:
        return copy.deepcopy(self)

    def fifo(self, key: SOKey) -> tuple[datetime, str, int]:
        return (self.so_lines[key].placed_at, key[0], key[1])

    def open_supply(self, sku: str) -> list[POKey]:
        """Open lines of ``sku`` on open POs in rule 1's order: arrival date, PO, line."""
        keys = [
            k
            for k, p in self.po_lines.items()
            if p.sku == sku and p.status == "open" and self.pos[k[0]].status == "open"
        ]
        return sorted(keys, key=lambda k: (self.po_lines[k].arrival, k[0], k[1]))

    def held_by(self, po_key: POKey) -> list[SOKey]:
        """SO lines allocated to a PO line, in FIFO order."""
        return sorted((k for k, s in self.so_lines.items() if s.holder == po_key), key=self.fifo)

    def skus_with_supply(self) -> list[str]:
        return sorted({p.sku for k, p in self.po_lines.items() if k in self.open_supply(p.sku)})

    def lines_of(self, order: str) -> list[SOKey]:
        return sorted(k for k in self.so_lines if k[0] == order)

    # primitives

    def place(self, key: SOKey, po_key: POKey) -> None:
        s, p = self.so_lines[key], self.po_lines[po_key]
        assert s.holder is None and s.status == "open" and p.atp >= s.quantity
        s.holder, s.promised, s.parked = po_key, p.arrival, False
        p.allocated += s.quantity

    def unplace(self, key: SOKey, *, park: bool, cancel: bool = False) -> None:
        s = self.so_lines[key]
        holder, ready = s.holder, s.ready
        assert holder is not None
        self.po_lines[holder].allocated -= s.quantity
        s.holder, s.promised, s.parked, s.ready = None, None, park, False
        if cancel:
            s.status = "cancelled"
        if ready:  # its received units, in stock still, cover the next lines
            self.cover(holder)

    def move(self, key: SOKey, to: POKey) -> None:
        s = self.so_lines[key]
        assert s.holder is not None
        self.po_lines[s.holder].allocated -= s.quantity
        self.po_lines[to].allocated += s.quantity
        s.holder = to  # the promised date stays: the line is out of sync until synced

    def sync(self, po_key: POKey) -> None:
        for k in self.held_by(po_key):
            self.so_lines[k].promised = self.po_lines[po_key].arrival

    def ready_units(self, po_key: POKey) -> int:
        return sum(
            self.so_lines[k].quantity for k in self.held_by(po_key) if self.so_lines[k].ready
        )

    def cover(self, po_key: POKey) -> None:
        """Rule 9: received units cover the line's allocations in FIFO order, whole lines,
        stopping at the first that does not fit."""
        room = self.po_lines[po_key].received - self.ready_units(po_key)
        for k in self.held_by(po_key):
            s = self.so_lines[k]
            if s.ready:
                continue
            if s.quantity > room:
                break
            room -= s.quantity
            s.ready = True

    def settle(self, po: str) -> None:
        """A PO's status from its lines': open while one is; else received or cancelled."""
        statuses = {p.status for k, p in self.po_lines.items() if k[0] == po}
        self.pos[po].status = (
            "open" if "open" in statuses else "received" if "received" in statuses else "cancelled"
        )

    def closed(self, po_key: POKey) -> bool:
        return self.po_lines[po_key].status != "open" or self.pos[po_key[0]].status != "open"


def ref_sweep(state: State, skus: Iterable[str]) -> None:
    """Rule 1, plainly: the queue in FIFO order, each line to the first PO line with room."""
    for sku in sorted(set(skus)):
        supply = state.open_supply(sku)
        queue = sorted(
            (
                k
                for k, s in state.so_lines.items()
                if s.sku == sku and s.status == "open" and s.holder is None and not s.parked
            ),
            key=state.fifo,
        )
        placed: set[POKey] = set()
        for k in queue:
            for p in supply:
                if state.po_lines[p].atp >= state.so_lines[k].quantity:
                    state.place(k, p)
                    placed.add(p)
                    break
        for p in sorted(placed):
            if state.po_lines[p].received:  # stock already in: ready at once
                state.cover(p)


def ref_rebalance(state: State, sku: str) -> None:
    """Rule 7: earlier lines with ATP take orders held by later lines, in FIFO order; then the
    units this frees are swept (rule 1)."""
    supply = state.open_supply(sku)
    if len(supply) < 2:
        return
    held = sorted(
        (k for k, s in state.so_lines.items() if s.holder in supply and not s.ready),
        key=state.fifo,
    )
    moved: set[POKey] = set()
    for target in supply:
        t = state.po_lines[target]
        for k in held:
            s = state.so_lines[k]
            assert s.holder is not None
            if state.po_lines[s.holder].arrival > t.arrival and s.quantity <= t.atp:
                state.move(k, target)
                moved.add(target)
    for target in sorted(moved):
        if state.po_lines[target].received:
            state.cover(target)
    if moved:
        ref_sweep(state, [sku])


def ref_change_supply(state: State, key: POKey, quantity: int, store_hold: int) -> bool:
    """Rule 6: cut below what is allocated releases the latest placed first until it fits.
    Returns whether the line's sellable units grew on an open line (a sweep is due)."""
    p = state.po_lines[key]
    grows = quantity - store_hold > p.quantity - p.store_hold
    excess = p.allocated - (quantity - store_hold)
    if state.ready_units(key) > quantity - store_hold:
        raise ModelRefused(f"{key} has ready units")
    for k in reversed(state.held_by(key)):
        if excess <= 0:
            break
        if state.so_lines[k].ready:
            continue
        excess -= state.so_lines[k].quantity
        state.unplace(k, park=False)
    p.quantity, p.store_hold = quantity, store_hold
    return grows and p.status == "open"


def ref_receive(state: State, key: POKey, total: int, *, final: bool) -> None:
    """Rule 9 on an open line: ``total`` received in all (not less than before)."""
    p = state.po_lines[key]
    p.received = total
    if total > p.quantity:  # an over-receipt is supply, and rule 1 places the queue on it
        p.quantity = total
        ref_sweep(state, [p.sku])
    if final:  # release the latest placed lines not ready until the rest fits what came
        for k in reversed(state.held_by(key)):
            if p.allocated <= total:
                break
            if not state.so_lines[k].ready:
                state.unplace(k, park=False)
    state.cover(key)
    if final or total >= p.quantity:
        p.status = "received"
        state.settle(key[0])


class ModelRefused(Exception):
    """The reference model predicts a refusal."""


def ref_cancel_lines(state: State, keys: Sequence[POKey]) -> None:
    for key in keys:
        for k in state.held_by(key):
            state.unplace(k, park=False)
        state.po_lines[key].status = "cancelled"


def ref_intake(
    state: State, purchase: Sequence[e.PORecord], sales: Sequence[e.SORecord], rebalance: bool
) -> None:
    """Import: create or update, then rebalance (if asked) and sweep every SKU that may gain."""
    to_sweep: set[str] = set()
    to_rebalance: set[str] = set()
    for rec in purchase:
        if rec.po in state.pos:
            if rec.supplier is not None:  # no supplier given keeps the PO's
                state.pos[rec.po].supplier = rec.supplier
        else:
            state.pos[rec.po] = PO(rec.supplier or "", "open")
        for ln in rec.lines:
            key = (rec.po, ln.line)
            p = state.po_lines.get(key)
            if p is None:
                if state.pos[rec.po].status == "received":  # open again for its new line
                    state.pos[rec.po].status = "open"
                state.po_lines[key] = POL(ln.sku, ln.quantity, 0, 0, ln.arrival_date, "open")
                to_sweep.add(ln.sku)
                if rebalance:
                    to_rebalance.add(ln.sku)
                if ln.received_quantity:
                    ref_receive(state, key, ln.received_quantity, final=False)
                continue
            # A received line's quantity is what came: the file's is history.
            quantity = p.quantity if p.status == "received" else ln.quantity
            if p.status != "open" and (p.sku, p.arrival, p.quantity) != (
                ln.sku,
                ln.arrival_date,
                quantity,
            ):
                raise ModelRefused(f"{key} is closed")
            if p.sku != ln.sku:
                if p.received:
                    raise ModelRefused(f"{key} has stock in")
                for k in state.held_by(key):
                    state.unplace(k, park=False)
                to_sweep.update({p.sku, ln.sku})
                p.sku = ln.sku
            if ln.arrival_date != p.arrival:
                earlier = ln.arrival_date < p.arrival
                p.arrival = ln.arrival_date
                if earlier and rebalance and p.status == "open":
                    to_rebalance.add(p.sku)
            received = ln.received_quantity
            if received is not None and received != p.received and p.status != "open":
                raise ModelRefused(f"{key} is closed: it cannot receive")
            if quantity != p.quantity and ref_change_supply(
                state, key, ln.quantity, min(p.store_hold, ln.quantity)
            ):
                to_sweep.add(p.sku)
            if received is not None and received != p.received:
                if received < p.received:
                    raise ModelRefused(f"{key} cannot receive less")
                ref_receive(state, key, received, final=False)
    to_fulfil: list[SOKey] = []
    for sale in sales:
        known = state.orders.get(sale.order)
        # No customer given: a new order's is empty, an existing order keeps its own.
        customer = sale.customer if sale.customer is not None else known[0] if known else ""
        if known is None:
            state.orders[sale.order] = (customer, sale.placed_at)
        elif known != (customer, sale.placed_at):
            state.orders[sale.order] = (customer, sale.placed_at)
            for k in state.lines_of(sale.order):
                state.so_lines[k].placed_at = sale.placed_at
        for sl in sale.lines:
            key = (sale.order, sl.line)
            s = state.so_lines.get(key)
            if sl.status == "fulfilled" and (s is None or s.status != "fulfilled"):
                to_fulfil.append(key)
            if s is None:
                state.so_lines[key] = SOL(
                    sl.sku, sl.quantity, sale.placed_at, "open", False, None, None
                )
                to_sweep.add(sl.sku)
            elif (s.sku, s.quantity) != (sl.sku, sl.quantity):
                if s.status == "fulfilled":
                    raise ModelRefused(f"{key} is fulfilled")
                if s.holder is not None:
                    to_sweep.add(state.po_lines[s.holder].sku)
                    state.unplace(key, park=False)
                s.sku, s.quantity = sl.sku, sl.quantity
                to_sweep.add(sl.sku)
    for sku in sorted(to_rebalance):
        ref_rebalance(state, sku)
    ref_sweep(state, to_sweep)
    for key in to_fulfil:  # after the sweep: only ready lines ship
        s = state.so_lines[key]
        if s.status != "open" or s.holder is None or not s.ready:
            raise ModelRefused(f"{key} is not ready")
        s.status = "fulfilled"


def ref_resolve(
    state: State, refs: Sequence[e.LineRef], sku: str | None
) -> tuple[list[SOKey], list[str]]:
    """``ORDER[:LINE]`` references to SO lines; ``ORDER`` alone is the order's one line of ``sku``.
    Returns the lines found and the references that could not be used."""
    found: list[SOKey] = []
    bad: list[str] = []
    for ref in refs:
        lines = state.lines_of(ref.order)
        if not lines:
            bad.append(ref.order)  # "unknown order SO99"
            continue
        if ref.line is not None:
            match = [k for k in lines if k[1] == ref.line]
        else:
            match = [k for k in lines if sku is None or state.so_lines[k].sku == sku]
        if len(match) != 1:
            bad.append(ref.order)  # "order SO01 has no line 9", "... has 2 lines of SKU A"
            continue
        if match[0] in found:
            bad.append(f"{match[0][0]}:{match[0][1]}")  # "SO01:1 is named twice"
            continue
        found.append(match[0])
    return found, bad


# --- reading the database ------------------------------------------------------------------


def read_state(db: e.Database) -> State:
    state = State()
    holder = po_lines.alias("holder")
    with db.read() as conn:
        for r in conn.execute(select(purchase_orders)):
            state.pos[r.po_number] = PO(r.supplier, r.status)
        for r in conn.execute(select(po_lines)):
            state.po_lines[(r.po_number, r.line)] = POL(
                r.sku, r.quantity, r.store_hold, r.allocated, r.arrival_date, r.status, r.received
            )
        for r in conn.execute(select(sales_orders)):
            state.orders[r.order_number] = (r.customer, r.placed_at)
        rows = conn.execute(
            select(so_lines, holder.c.po_number.label("h_po"), holder.c.line.label("h_line"))
            .select_from(so_lines)
            .outerjoin(holder, holder.c.id == so_lines.c.po_line_id)
        )
        split: dict[int, list[tuple[POKey, int]]] = {}
        for so_line_id, po_number, line, units in conn.execute(
            select(
                allocation_parts.c.so_line_id,
                po_lines.c.po_number,
                po_lines.c.line,
                allocation_parts.c.quantity,
            )
            .join(po_lines, po_lines.c.id == allocation_parts.c.po_line_id)
            .order_by(po_lines.c.arrival_date, po_lines.c.po_number, po_lines.c.line)
        ):
            split.setdefault(so_line_id, []).append(((po_number, line), units))
        for r in rows:
            state.so_lines[(r.order_number, r.line)] = SOL(
                r.sku,
                r.quantity,
                r.placed_at,
                r.status,
                r.parked,
                None if r.h_po is None else (r.h_po, r.h_line),
                r.promised_date,
                r.ready_at is not None,
                tuple(split.get(r.id, ())),
            )
    return state


def differences(expected: State, actual: State) -> list[str]:
    found = []
    for part in ("pos", "po_lines", "orders", "so_lines"):
        want, got = getattr(expected, part), getattr(actual, part)
        for k in sorted(set(want) | set(got), key=str):
            if want.get(k) != got.get(k):
                found.append(f"{part} {k}:\n  expected {want.get(k)}\n  actual   {got.get(k)}")
    return found


def nothing_lost(db: e.Database, state: State) -> None:
    """Every open SO line is allocated or in the unallocated queue, once, in FIFO order."""
    queue = e.unallocated(db)
    keys = [(q.order, q.line) for q in queue]
    assert len(keys) == len(set(keys)), f"queue lists a line twice: {keys}"
    waiting = {k for k, s in state.so_lines.items() if s.status == "open" and s.holder is None}
    assert set(keys) == waiting, f"queue {sorted(keys)} != unallocated open lines {waiting}"
    fifo = [(q.placed_at, q.order, q.line) for q in queue]
    assert fifo == sorted(fifo), "queue is not in FIFO order"
    for q in queue:
        assert q.parked == state.so_lines[(q.order, q.line)].parked
    for k, s in state.so_lines.items():
        if s.status == "open":
            assert (s.holder is None) == (k in waiting), f"{k} is lost"


# --- strategies ----------------------------------------------------------------------------

sku_st = st.sampled_from(SKUS)
placed_st = st.tuples(st.sampled_from(WALL_MINUTES), st.sampled_from(OFFSETS))
so_lines_st = st.lists(st.tuples(sku_st, st.integers(1, 4)), min_size=1, max_size=2)
po_lines_st = st.lists(
    st.tuples(sku_st, st.integers(0, 8), st.sampled_from(DATES)), min_size=1, max_size=2
)
order_st = st.tuples(st.integers(0, 59), placed_st, so_lines_st)
po_st = st.tuples(st.integers(0, 19), po_lines_st)
index_st = st.integers(0, 63)
picks_st = st.lists(index_st, min_size=1, max_size=3)
rarely = st.sampled_from((False,) * 7 + (True,))


def placed(wall_minutes: int, offset: timedelta) -> datetime:
    """A wall-clock time written with a UTC offset (the instant is wall time minus offset)."""
    wall = (T0 + timedelta(minutes=wall_minutes)).replace(tzinfo=None)
    return wall.replace(tzinfo=timezone(offset))


def pick(items: Sequence[Any], index: int) -> Any:
    return items[index % len(items)]


def pick_many(items: Sequence[Any], indexes: Sequence[int], *, distinct: bool) -> list[Any]:
    chosen = [pick(items, i) for i in indexes]
    return list(dict.fromkeys(chosen)) if distinct else chosen


# --- the machine ---------------------------------------------------------------------------

DbFactory = Callable[[], tuple[e.Database, Callable[[], None]]]


class EngineMachine(RuleBasedStateMachine):
    make_db: DbFactory

    def __init__(self) -> None:
        super().__init__()
        self.db, self._cleanup = type(self).make_db()
        self.state = State()
        self.actor = e.Actor("property", e.Source.CLI)
        # Operations that committed, newest last, each with the state before it (for undo).
        self.done: list[tuple[e.Outcome, State]] = []
        self.undone: set[str] = set()
        # Receipt ids used so far: the same id again changes nothing.
        self.receipts: set[str] = set()

    def teardown(self) -> None:
        self.db.dispose()
        self._cleanup()

    # helpers

    def _number(self, prefix: str, n: int, taken: Iterable[str]) -> str:
        used = set(taken)
        while f"{prefix}{n:02d}" in used:
            n += 1
        return f"{prefix}{n:02d}"

    def _po_records(self, pos: Sequence[tuple[int, list[tuple[str, int, date]]]]) -> list[Any]:
        records = []
        taken = set(self.state.pos)
        for n, lines in pos:
            number = self._number("PO", n, taken)
            taken.add(number)
            records.append(
                e.PORecord(
                    po=number,
                    supplier="Acme",
                    lines=[
                        e.POLineRecord(line=i, sku=sku, quantity=q, arrival_date=d)
                        for i, (sku, q, d) in enumerate(lines, 1)
                    ],
                )
            )
        return records

    def _so_records(self, orders: Sequence[tuple[int, Any, list[tuple[str, int]]]]) -> list[Any]:
        records = []
        taken = set(self.state.orders)
        for n, (wall, offset), lines in orders:
            number = self._number("SO", n, taken)
            taken.add(number)
            records.append(
                e.SORecord(
                    order=number,
                    customer=f"customer of {number}",
                    placed_at=placed(wall, offset),
                    lines=[
                        e.SOLineRecord(line=i, sku=sku, quantity=q)
                        for i, (sku, q) in enumerate(lines, 1)
                    ],
                )
            )
        return records

    def _po_line(self, index: int, ghost: bool) -> POKey:
        if ghost:
            return ("PO99", 1) if index % 2 else (pick(sorted(self.state.pos), index), 9)
        return pick(sorted(self.state.po_lines), index)

    def _refs(self, keys: Sequence[SOKey], bare: bool, ghost: bool) -> list[e.LineRef]:
        refs = [e.LineRef(o, None if bare else ln) for o, ln in keys]
        if ghost:
            refs.append(e.LineRef("SO99", 1) if len(keys) % 2 else e.LineRef(keys[0][0], 9))
        return refs

    def step(
        self,
        call: Callable[[], Any],
        expected: State | None,
        refusal: type[e.EngineError] | None = None,
        offenders: Sequence[str] = (),
    ) -> Any:
        """Run one operation: predicted refusals must happen and change nothing; predicted
        successes must leave exactly the predicted state."""
        before = dump(self.db) if refusal is not None else None
        try:
            result = call()
        except e.EngineError as exc:
            assert refusal is not None, f"unexpected refusal: {exc!r}"
            # Closed (a closed PO line) is a Refused; NotFound and InvalidInput are not.
            assert isinstance(exc, refusal), f"expected {refusal.__name__}, got {exc!r}"
            for name in offenders:
                assert name in str(exc), f"refusal does not name {name}: {exc}"
            assert dump(self.db) == before, "a refused operation changed the database"
            return exc
        assert refusal is None, f"expected {refusal.__name__}, but the operation succeeded"
        actual = read_state(self.db)
        assert expected is not None
        problems = differences(expected, actual)
        assert not problems, "state differs from the reference model:\n" + "\n".join(problems)
        self._committed(result, actual)
        return result

    def _committed(self, result: Any, actual: State) -> None:
        if isinstance(result, e.Outcome) and not result.dry_run:
            self.done.append((result, self.state))
            if result.undid:
                self.undone.add(result.undid)
        self.state = actual

    # rules

    @initialize(
        pos=st.lists(po_st, min_size=1, max_size=3),
        orders=st.lists(order_st, min_size=1, max_size=6),
        rebalance=st.booleans(),
    )
    def seed(self, pos: list[Any], orders: list[Any], rebalance: bool) -> None:
        self._intake(self._po_records(pos), self._so_records(orders), rebalance)

    def _intake(self, purchase: list[Any], sales: list[Any], rebalance: bool) -> None:
        expected = self.state.copy()
        call = lambda: e.apply_records(  # noqa: E731
            self.db, self.actor, purchase, sales, rebalance=rebalance
        )
        try:
            ref_intake(expected, purchase, sales, rebalance)
        except ModelRefused:
            self.step(call, None, e.Refused)
            return
        self.step(call, expected)

    @rule(orders=st.lists(order_st, min_size=1, max_size=3))
    def new_orders(self, orders: list[Any]) -> None:
        self._intake([], self._so_records(orders), False)

    @rule(pos=st.lists(po_st, min_size=1, max_size=2), rebalance=st.booleans())
    def new_purchase_orders(self, pos: list[Any], rebalance: bool) -> None:
        self._intake(self._po_records(pos), [], rebalance)

    @precondition(lambda self: self.state.po_lines)
    @rule(
        index=index_st,
        changes=st.lists(
            st.tuples(
                index_st,
                st.one_of(st.none(), st.integers(0, 8)),
                st.one_of(st.none(), st.sampled_from(DATES)),
                st.one_of(st.none(), sku_st),
            ),
            max_size=2,
        ),
        add_line=st.one_of(st.none(), st.tuples(sku_st, st.integers(0, 8), st.sampled_from(DATES))),
        rebalance=st.booleans(),
        received=st.one_of(st.none(), st.integers(0, 10)),
    )
    def reimport_purchase_order(
        self, index: int, changes: list[Any], add_line: Any, rebalance: bool, received: Any
    ) -> None:
        """The same PO again: changed quantities, dates or SKUs, perhaps a new line."""
        po = pick(sorted(self.state.pos), index)
        keys = sorted(k for k in self.state.po_lines if k[0] == po)
        lines: dict[int, e.POLineRecord] = {}
        for i, qty, when, sku in changes:
            key = pick(keys, i)
            p = self.state.po_lines[key]
            lines[key[1]] = e.POLineRecord(
                line=key[1],
                sku=sku or p.sku,
                quantity=p.quantity if qty is None else qty,
                arrival_date=when or p.arrival,
            )
        if add_line is not None:
            sku, qty, when = add_line
            n = max(k[1] for k in keys) + 1
            lines[n] = e.POLineRecord(line=n, sku=sku, quantity=qty, arrival_date=when)
        if not lines:
            p = self.state.po_lines[keys[0]]
            lines[keys[0][1]] = e.POLineRecord(
                line=keys[0][1], sku=p.sku, quantity=p.quantity, arrival_date=p.arrival
            )
        if received is not None:  # the first line given carries a received total (rule 9)
            first = min(lines)
            lines[first] = lines[first].model_copy(update={"received_quantity": received})
        record = e.PORecord(po=po, supplier=self.state.pos[po].supplier, lines=list(lines.values()))
        unchanged = all(
            (held := self.state.po_lines.get((po, ln.line))) is not None
            and (held.sku, held.quantity, held.arrival) == (ln.sku, ln.quantity, ln.arrival_date)
            and ln.received_quantity in (None, held.received)
            for ln in record.lines
        )
        before = dump(self.db) if unchanged else None
        self._intake([record], [], rebalance)
        if unchanged:  # the same record again is no change at all: no events, no sweep
            assert dump(self.db) == before, "re-importing an unchanged PO changed the database"

    @precondition(lambda self: self.state.orders)
    @rule(
        index=index_st,
        line=index_st,
        quantity=st.one_of(st.none(), st.integers(1, 4)),
        sku=st.one_of(st.none(), sku_st),
        moved=st.one_of(st.none(), placed_st),
        shipped=rarely,
    )
    def reimport_order(
        self,
        index: int,
        line: int,
        quantity: int | None,
        sku: str | None,
        moved: Any,
        shipped: bool,
    ) -> None:
        """The same order again: perhaps a changed line, a corrected ``placed_at``, or a line
        given as fulfilled (status, rule 9)."""
        order = pick(sorted(self.state.orders), index)
        customer, placed_at = self.state.orders[order]
        keys = self.state.lines_of(order)
        changed = pick(keys, line)
        lines = []
        for k in keys:
            s = self.state.so_lines[k]
            if k == changed:
                lines.append(
                    e.SOLineRecord(
                        line=k[1],
                        sku=sku or s.sku,
                        quantity=quantity or s.quantity,
                        status="fulfilled" if shipped else None,
                    )
                )
            else:
                lines.append(e.SOLineRecord(line=k[1], sku=s.sku, quantity=s.quantity))
        when = placed_at if moved is None else placed(*moved)
        record = e.SORecord(order=order, customer=customer, placed_at=when, lines=lines)
        s = self.state.so_lines[changed]
        unchanged = (
            when == placed_at
            and (sku or s.sku, quantity or s.quantity) == (s.sku, s.quantity)
            and not (shipped and s.status != "fulfilled")
        )
        before = dump(self.db) if unchanged else None
        self._intake([], [record], False)
        if unchanged:  # the same record again, even with placed_at in another UTC offset
            assert dump(self.db) == before, "re-importing an unchanged order changed the database"

    @precondition(lambda self: self.state.so_lines)
    @rule(orders=st.lists(order_st, min_size=1, max_size=2))
    def intake_during_sweep(self, orders: list[Any]) -> None:
        """Orders taken between two batches of a sweep in progress (a SKU a batch): the first
        batch's SKU is swept before them, the others after; rule 1 in FIFO order throughout."""
        records = self._so_records(orders)
        expected = self.state.copy()
        # The sweep's plan, made as it starts: SKUs with ATP somewhere and an unparked queue.
        planned = [
            sku
            for sku in SKUS
            if any(expected.po_lines[p].atp > 0 for p in expected.open_supply(sku))
            and any(
                s.sku == sku and s.status == "open" and s.holder is None and not s.parked
                for s in expected.so_lines.values()
            )
        ]
        ref_sweep(expected, planned[:1])
        ref_intake(expected, [], records, False)
        ref_sweep(expected, planned[1:])

        def call() -> e.Outcome:
            steps = e.sweep_batches(self.db, self.actor, batch_lines=1)
            first = next(steps)
            assert first.batches == 1
            taken, _ = e.apply_orders(self.db, self.actor, records)
            # Nothing held the SKUs between batches and no queue here is long: none waits.
            assert taken.awaiting_sweep == []
            rest = list(steps)
            assert (rest[-1] if rest else first).batches == max(1, len(planned))
            return taken

        self.step(call, expected)

    @precondition(lambda self: self.state.so_lines)
    @rule(sku=st.one_of(st.none(), sku_st))
    def auto_allocate(self, sku: str | None) -> None:
        expected = self.state.copy()
        ref_sweep(expected, SKUS if sku is None else [sku])
        skus = None if sku is None else [sku]
        self.step(lambda: e.auto_allocate(self.db, self.actor, skus=skus), expected)
        want = {k: s.holder for k, s in expected.so_lines.items() if s.holder is not None}
        assert allocation_map(self.db) == want

    @precondition(lambda self: self.state.po_lines and self.state.so_lines)
    @rule(
        index=index_st,
        picks=picks_st,
        valid=st.booleans(),
        bare=rarely,
        ghost=rarely,
        ghost_line=rarely,
    )
    def allocate(
        self, index: int, picks: list[int], valid: bool, bare: bool, ghost: bool, ghost_line: bool
    ) -> None:
        """Rule 3, with valid picks (the SKU's unallocated lines) and arbitrary ones."""
        po_key = self._po_line(index, ghost_line)
        state = self.state
        target = state.po_lines.get(po_key)
        candidates = sorted(
            (
                k
                for k, s in state.so_lines.items()
                if target is not None
                and s.sku == target.sku
                and s.status == "open"
                and s.holder is None
            ),
            key=state.fifo,
        )
        pool = candidates if valid and candidates else sorted(state.so_lines)
        keys = pick_many(pool, picks, distinct=valid)
        refs = self._refs(keys, bare, ghost)
        call = lambda: e.allocate(self.db, self.actor, po_key[0], po_key[1], refs)  # noqa: E731
        if target is None:
            self.step(call, None, e.NotFound)
            return
        found, bad = ref_resolve(state, refs, target.sku)
        offenders = list(bad)
        for k in found:
            s = state.so_lines[k]
            if s.status != "open" or s.holder is not None or s.sku != target.sku:
                offenders.append(f"{k[0]}:{k[1]}")
        total = sum(state.so_lines[k].quantity for k in found)
        shortfall = max(0, total - target.atp)
        closed = target.status != "open" or state.pos[po_key[0]].status != "open"
        if offenders or shortfall or closed:
            exc = self.step(call, None, e.Refused, offenders)
            if not offenders and not closed:
                assert exc.shortfall == shortfall
                assert f"short by {shortfall}" in str(exc)
            return
        expected = state.copy()
        for k in found:
            expected.place(k, po_key)
        if target.received:
            expected.cover(po_key)
        self.step(call, expected)

    @precondition(lambda self: self.state.po_lines and self.state.so_lines)
    @rule(
        index=index_st,
        picks=picks_st,
        valid=st.booleans(),
        hold_for_store=st.booleans(),
        force=st.booleans(),
        bare=rarely,
        ghost=rarely,
    )
    def remove(
        self,
        index: int,
        picks: list[int],
        valid: bool,
        hold_for_store: bool,
        force: bool,
        bare: bool,
        ghost: bool,
    ) -> None:
        """Rule 5: unallocate and park, the freed units back to ATP or to the store hold."""
        state = self.state
        held = [k for k in state.po_lines if state.held_by(k)]
        po_key = pick(sorted(held), index) if valid and held else self._po_line(index, False)
        target = state.po_lines[po_key]
        pool = state.held_by(po_key) if valid and state.held_by(po_key) else sorted(state.so_lines)
        keys = pick_many(pool, picks, distinct=valid)
        refs = self._refs(keys, bare, ghost)
        found, bad = ref_resolve(state, refs, target.sku)
        offenders = list(bad) + [
            f"{k[0]}:{k[1]}"
            for k in found
            if state.so_lines[k].holder != po_key
            or state.so_lines[k].status != "open"
            or (state.so_lines[k].ready and not force)
        ]

        def call() -> Any:
            return e.remove(
                self.db,
                self.actor,
                po_key[0],
                po_key[1],
                refs,
                hold_for_store=hold_for_store,
                force=force,
            )

        if offenders:
            self.step(call, None, e.Refused, offenders)
            return
        expected = state.copy()
        for k in found:
            expected.unplace(k, park=True)
        if hold_for_store:
            expected.po_lines[po_key].store_hold += sum(state.so_lines[k].quantity for k in found)
        self.step(call, expected)

    @precondition(lambda self: self.state.pos)
    @rule(index=index_st, line=st.one_of(st.none(), index_st), ghost=rarely)
    def cancel_po(self, index: int, line: int | None, ghost: bool) -> None:
        """Rule 6: cancelling a PO or a line releases its allocations, unparked, no sweep."""
        state = self.state
        expected = state.copy()
        if line is None:
            po = "PO99" if ghost else pick(sorted(state.pos), index)
            call = lambda: e.cancel_po(self.db, self.actor, po)  # noqa: E731
            open_lines = [k for k, p in state.po_lines.items() if k[0] == po and p.status == "open"]
            if po not in state.pos:
                self.step(call, None, e.NotFound)
            elif (
                state.pos[po].status == "cancelled"
                or not open_lines
                or any(state.po_lines[k].received for k in open_lines)
            ):
                self.step(call, None, e.Refused)
            else:
                ref_cancel_lines(expected, open_lines)
                expected.settle(po)
                self.step(call, expected)
            return
        po_key = self._po_line(line, ghost)
        call = lambda: e.cancel_po(self.db, self.actor, po_key[0], line=po_key[1])  # noqa: E731
        target = state.po_lines.get(po_key)
        if target is None:
            self.step(call, None, e.NotFound)
        elif (
            target.status != "open" or state.pos[po_key[0]].status == "cancelled" or target.received
        ):
            self.step(call, None, e.Refused)
        else:
            ref_cancel_lines(expected, [po_key])
            expected.settle(po_key[0])
            self.step(call, expected)

    @precondition(lambda self: self.state.po_lines)
    @rule(index=index_st, quantity=st.integers(-1, 10), ghost=rarely)
    def set_quantity(self, index: int, quantity: int, ghost: bool) -> None:
        po_key = self._po_line(index, ghost)
        call = lambda: e.set_quantity(self.db, self.actor, *po_key, quantity)  # noqa: E731
        target = self.state.po_lines.get(po_key)
        if quantity < 0:
            self.step(call, None, e.InvalidInput)
        elif target is None:
            self.step(call, None, e.NotFound)
        elif target.store_hold > quantity or self.state.closed(po_key):
            self.step(call, None, e.Refused)
        else:
            self._change_supply(call, po_key, quantity, target.store_hold)

    def _change_supply(
        self, call: Callable[[], Any], po_key: POKey, quantity: int, store_hold: int
    ) -> None:
        expected = self.state.copy()
        try:
            if ref_change_supply(expected, po_key, quantity, store_hold):
                ref_sweep(expected, [expected.po_lines[po_key].sku])
        except ModelRefused:
            self.step(call, None, e.Refused)
            return
        self.step(call, expected)

    @precondition(lambda self: self.state.po_lines)
    @rule(index=index_st, store_hold=st.integers(-1, 8), ghost=rarely)
    def set_store_hold(self, index: int, store_hold: int, ghost: bool) -> None:
        po_key = self._po_line(index, ghost)
        call = lambda: e.set_store_hold(self.db, self.actor, *po_key, store_hold)  # noqa: E731
        target = self.state.po_lines.get(po_key)
        if store_hold < 0:
            self.step(call, None, e.InvalidInput)
        elif target is None:
            self.step(call, None, e.NotFound)
        elif store_hold > target.quantity or self.state.closed(po_key):
            self.step(call, None, e.Refused)
        else:
            self._change_supply(call, po_key, target.quantity, store_hold)

    @precondition(lambda self: self.state.po_lines)
    @rule(
        index=index_st,
        arrival=st.sampled_from(DATES),
        sync=st.booleans(),
        rebalance=st.booleans(),
        ghost=rarely,
    )
    def set_arrival(
        self, index: int, arrival: date, sync: bool, rebalance: bool, ghost: bool
    ) -> None:
        """Rule 4: promises do not follow a new date unless synced; rule 7 if asked."""
        po_key = self._po_line(index, ghost)

        def call() -> Any:
            return e.set_arrival(
                self.db, self.actor, *po_key, arrival, sync=sync, rebalance=rebalance
            )

        target = self.state.po_lines.get(po_key)
        if target is None:
            self.step(call, None, e.NotFound)
            return
        if self.state.closed(po_key):
            self.step(call, None, e.Refused)
            return
        expected = self.state.copy()
        earlier = arrival < target.arrival
        expected.po_lines[po_key].arrival = arrival
        if rebalance and earlier:
            ref_rebalance(expected, target.sku)
        if sync:
            expected.sync(po_key)
        self.step(call, expected)

    @precondition(lambda self: self.state.po_lines)
    @rule(index=index_st, ghost=rarely)
    def sync_date(self, index: int, ghost: bool) -> None:
        po_key = self._po_line(index, ghost)
        call = lambda: e.sync_date(self.db, self.actor, *po_key)  # noqa: E731
        if po_key not in self.state.po_lines:
            self.step(call, None, e.NotFound)
            return
        expected = self.state.copy()
        expected.sync(po_key)
        self.step(call, expected)

    @precondition(lambda self: self.state.so_lines)
    @rule(picks=picks_st, valid=st.booleans(), bare=rarely, ghost=rarely)
    def cancel_order(self, picks: list[int], valid: bool, bare: bool, ghost: bool) -> None:
        """Rule 8: released, closed, and the freed units swept at once."""
        state = self.state
        open_lines = sorted(k for k, s in state.so_lines.items() if s.status == "open")
        pool = open_lines if valid and open_lines else sorted(state.so_lines)
        keys = pick_many(pool, picks, distinct=valid)
        refs = self._refs(keys, bare, ghost)
        call = lambda: e.cancel_order(self.db, self.actor, refs)  # noqa: E731
        lines: list[SOKey] = []
        bad: list[str] = []
        for ref in refs:
            if ref.line is None:
                of_order = state.lines_of(ref.order)
                if not of_order:
                    self.step(call, None, e.NotFound)
                    return
                opened = [k for k in of_order if state.so_lines[k].status == "open"]
                if not opened:
                    bad.append(ref.order)
                lines.extend(opened)
            else:
                found, unknown = ref_resolve(state, [ref], None)
                lines.extend(found)
                bad.extend(unknown)
        lines = list(dict.fromkeys(lines))
        if not bad:
            bad = [f"{k[0]}:{k[1]}" for k in lines if state.so_lines[k].status != "open"]
        if bad:
            self.step(call, None, e.Refused, bad)
            return
        expected = state.copy()
        swept = set()
        for k in lines:
            s = expected.so_lines[k]
            if s.holder is not None:
                swept.add(expected.po_lines[s.holder].sku)
                expected.unplace(k, park=False, cancel=True)
            else:
                s.status, s.parked = "cancelled", False
        ref_sweep(expected, swept)
        self.step(call, expected)

    @precondition(lambda self: self.state.so_lines)
    @rule(picks=picks_st, valid=st.booleans(), bare=rarely, ghost=rarely)
    def unpark(self, picks: list[int], valid: bool, bare: bool, ghost: bool) -> None:
        state = self.state
        parked = sorted(k for k, s in state.so_lines.items() if s.parked)
        pool = parked if valid and parked else sorted(state.so_lines)
        keys = pick_many(pool, picks, distinct=valid)
        refs = self._refs(keys, bare, ghost)
        call = lambda: e.unpark(self.db, self.actor, refs)  # noqa: E731
        found, bad = ref_resolve(state, refs, None)
        bad += [f"{k[0]}:{k[1]}" for k in found if not state.so_lines[k].parked]
        if bad:
            self.step(call, None, e.Refused, bad)
            return
        expected = state.copy()
        for k in found:
            expected.so_lines[k].parked = False
        ref_sweep(expected, {state.so_lines[k].sku for k in found})
        self.step(call, expected)

    @precondition(lambda self: self.state.po_lines)
    @rule(sku=st.one_of(st.none(), sku_st))
    def rebalance(self, sku: str | None) -> None:
        expected = self.state.copy()
        skus = [sku] if sku else expected.skus_with_supply()
        for s in skus:
            ref_rebalance(expected, s)
        self.step(lambda: e.rebalance(self.db, self.actor, sku=sku), expected)

    @precondition(lambda self: self.done)
    @rule(back=st.integers(0, 3))
    def undo(self, back: int) -> None:
        """Undo a recent operation. The latest one (but a PO cancellation, whose undo runs
        rule 1 rather than putting each line back) is set back exactly to the state before it;
        an older one is set back or refused, and a refusal changes nothing. An import is
        refused, an operation undone already too, and one that changed nothing is unknown."""
        outcome, before = self.done[-1 - min(back, len(self.done) - 1)]
        latest = outcome is self.done[-1][0]

        def call() -> Any:
            return e.undo(self.db, outcome.operation_id, self.actor)

        if not outcome.changed:
            self.step(call, None, e.NotFound, ["unknown operation"])
        elif e.not_undone(outcome.operation):  # an import, an intake, a customer's cancel
            self.step(call, None, e.Refused, ["is not undone"])
        elif outcome.operation_id in self.undone:
            self.step(call, None, e.Refused, ["already undone"])
        elif latest and outcome.operation != "cancel-po":
            snapshot = dump(self.db)
            try:
                result = call()
            except e.Refused as exc:
                # It marked lines ready (stock that came in stays in), or it took lines off a
                # PO line that was closed already (a forced removal from a received line),
                # which takes no allocation back (rule 11).
                closed = {
                    f"{po}:{ln} is {p.status if p.status != 'open' else before.pos[po].status}"
                    for (po, ln), p in before.po_lines.items()
                    if before.closed((po, ln))
                }
                assert "is not undone" in str(exc) or closed & set(exc.problems), exc
                assert dump(self.db) == snapshot, "a refused undo changed the database"
                return
            actual = read_state(self.db)
            problems = differences(before, actual)
            assert not problems, "undo did not restore the state before:\n" + "\n".join(problems)
            self._committed(result, actual)
        else:
            snapshot = dump(self.db)
            try:
                result = call()
            except e.Refused as exc:
                assert "the state has moved on" in str(exc), exc
                assert dump(self.db) == snapshot, "a refused undo changed the database"
                return
            self._committed(result, read_state(self.db))

    @precondition(lambda self: self.state.po_lines)
    @rule(
        index=index_st,
        quantity=st.integers(0, 6),
        final=rarely,
        ghost=rarely,
        key=st.one_of(st.none(), st.sampled_from(("R-1", "R-2"))),
    )
    def receive(self, index: int, quantity: int, final: bool, ghost: bool, key: str | None) -> None:
        """Rule 9: received units cover allocations FIFO; final short releases the latest
        placed; an over-receipt places the queue; whole or final closes the line. A receipt
        id already used replays (changes nothing)."""
        po_key = self._po_line(index, ghost)

        def call() -> Any:
            return e.receive(self.db, self.actor, *po_key, quantity, final=final, key=key)

        state = self.state
        target = state.po_lines.get(po_key)
        if quantity == 0 and not final:  # refused before the operation looks at its key
            self.step(call, None, e.Refused)
            return
        if key is not None and key in self.receipts:
            before = dump(self.db)
            assert call().replayed
            assert dump(self.db) == before
            return
        if target is None:
            self.step(call, None, e.NotFound)
            return
        if state.closed(po_key):
            self.step(call, None, e.Refused)
            return
        expected = state.copy()
        ref_receive(expected, po_key, target.received + quantity, final=final)
        self.step(call, expected)
        if key is not None:
            self.receipts.add(key)

    @precondition(lambda self: self.state.so_lines)
    @rule(picks=picks_st, valid=st.booleans(), bare=rarely)
    def fulfil(self, picks: list[int], valid: bool, bare: bool) -> None:
        """Ready lines close as fulfilled, keeping their allocation; others refuse them all."""
        state = self.state
        ready = sorted(k for k, s in state.so_lines.items() if s.ready and s.status == "open")
        pool = ready if valid and ready else sorted(state.so_lines)
        keys = pick_many(pool, picks, distinct=valid)
        refs = self._refs(keys, bare, False)
        call = lambda: e.fulfil(self.db, self.actor, refs)  # noqa: E731
        found, bad = ref_resolve(state, refs, None)
        bad += [
            f"{k[0]}:{k[1]}"
            for k in found
            if state.so_lines[k].status != "open" or not state.so_lines[k].ready
        ]
        if bad:
            self.step(call, None, e.Refused, bad)
            return
        expected = state.copy()
        for k in found:
            expected.so_lines[k].status = "fulfilled"
        self.step(call, expected)

    @precondition(lambda self: self.state.pos)
    @rule(index=index_st, line=st.one_of(st.none(), index_st), ghost=rarely)
    def reopen_po(self, index: int, line: int | None, ghost: bool) -> None:
        """Rule 11: cancelled lines open again and rule 1 runs for their SKUs."""
        state = self.state
        if line is None:
            po = "PO99" if ghost else pick(sorted(state.pos), index)
            call = lambda: e.reopen_po(self.db, self.actor, po)  # noqa: E731
            keys = sorted(
                k for k, p in state.po_lines.items() if k[0] == po and p.status == "cancelled"
            )
            if po not in state.pos:
                self.step(call, None, e.NotFound)
                return
        else:
            po_key = self._po_line(line, ghost)
            call = lambda: e.reopen_po(self.db, self.actor, po_key[0], line=po_key[1])  # noqa: E731
            if po_key not in state.po_lines:
                self.step(call, None, e.NotFound)
                return
            po = po_key[0]
            keys = [po_key] if state.po_lines[po_key].status == "cancelled" else []
        if not keys:
            self.step(call, None, e.Refused)
            return
        expected = state.copy()
        for k in keys:
            expected.po_lines[k].status = "open"
        expected.settle(po)
        ref_sweep(expected, {expected.po_lines[k].sku for k in keys})
        self.step(call, expected)

    @rule()
    def fold_queue_tallies(self) -> None:
        """The queue's tallies folded (PostgreSQL; nothing to fold on SQLite): nothing else
        changes, and the invariants check the folded tallies against a recount."""
        e.fold_queue_tallies(self.db)
        actual = read_state(self.db)
        assert not differences(self.state, actual), "a fold changed the data"

    @precondition(lambda self: self.state.orders)
    @rule(index=index_st)
    def look_up_order(self, index: int) -> None:
        """Each queued line's place (the lines and units of its SKU ahead of it) is the
        reference's count of the queued, unparked lines before it in FIFO order."""
        number = pick(sorted(self.state.orders), index)
        view = e.order(self.db, number)
        for line in view.lines:
            key = (number, line.line)
            mine = self.state.so_lines[key]
            if line.state != "queued":
                assert line.ahead is None, f"{key} is {line.state} yet has a place in the queue"
                continue
            before = [
                s
                for k, s in self.state.so_lines.items()
                if s.sku == mine.sku
                and s.status == "open"
                and s.holder is None
                and not s.parked
                and self.state.fifo(k) < self.state.fifo(key)
            ]
            want = (len(before), sum(s.quantity for s in before))
            assert line.ahead == want, f"{key}: ahead {line.ahead}, the reference {want}"

    # checked after every step

    @invariant()
    def invariants_hold(self) -> None:
        check_invariants(self.db)
        nothing_lost(self.db, self.state)  # read after the last change (a refusal changes nothing)


# --- the tests -----------------------------------------------------------------------------


def _sqlite_factory(template: Path, folder: Path) -> DbFactory:
    def make() -> tuple[e.Database, Callable[[], None]]:
        place = folder / uuid.uuid4().hex
        place.mkdir()
        return fresh_sqlite(template, place), lambda: shutil.rmtree(place, ignore_errors=True)

    return make


def _postgres_factory(url: str) -> DbFactory:
    def make() -> tuple[e.Database, Callable[[], None]]:
        return fresh_postgres(url), lambda: None

    return make


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_engine_follows_the_reference_model(
    backend: str, request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> None:
    if backend == "sqlite":
        factory = _sqlite_factory(sqlite_template, tmp_path)
    else:
        factory = _postgres_factory(request.getfixturevalue("pg_url"))
    name = "EngineMachineOn" + backend.title()
    machine = type(name, (EngineMachine,), {"make_db": staticmethod(factory)})
    run_state_machine_as_test(machine, settings=SETTINGS)


class SplitMachine(EngineMachine):
    """Rule 10 under every operation the machine has: lines split (the setting on, or orders
    that allow it), then removed, moved, cut, cancelled, received, rebalanced and undone.

    The reference model knows whole lines only, so here it is no oracle: an operation either
    refuses and changes nothing, or commits leaving every invariant (parts included) true; a
    sweep leaves no queued line that the supply left could take, whole or split; an undo of
    the latest operation restores the state before it exactly, parts included."""

    # Whether PREORDER_SPLIT_LINES is on; off: every other order allows splitting.
    split_all = True

    def __init__(self) -> None:
        super().__init__()
        self.db.split_lines = self.split_all

    def _so_records(self, orders: Sequence[tuple[int, Any, list[tuple[str, int]]]]) -> list[Any]:
        records = super()._so_records(orders)
        if self.split_all:
            return records
        return [
            r.model_copy(update={"allow_split": True}) if int(r.order[2:]) % 2 == 0 else r
            for r in records
        ]

    def step(
        self,
        call: Callable[[], Any],
        expected: State | None,
        refusal: type[e.EngineError] | None = None,
        offenders: Sequence[str] = (),
    ) -> Any:
        before = dump(self.db)
        try:
            result = call()
        except e.EngineError as exc:
            assert dump(self.db) == before, "a refused operation changed the database"
            return exc
        self._committed(result, read_state(self.db))
        return result

    @rule(
        sku=sku_st,
        first=st.integers(1, 3),
        second=st.integers(1, 3),
        dates=st.tuples(st.sampled_from(DATES), st.sampled_from(DATES)),
        when=placed_st,
    )
    def split_line(
        self, sku: str, first: int, second: int, dates: tuple[date, date], when: Any
    ) -> None:
        """A PO of two lines of a SKU and an order that only both together hold: the split
        lines the other rules then work on."""
        purchase = self._po_records([(0, [(sku, first, dates[0]), (sku, second, dates[1])])])
        sales = self._so_records([(0, when, [(sku, first + second)])])
        sales = [r.model_copy(update={"allow_split": True}) for r in sales]
        self.step(lambda: e.apply_records(self.db, self.actor, purchase, sales), None)

    @precondition(lambda self: self.state.so_lines)
    @rule(sku=st.one_of(st.none(), sku_st))
    def auto_allocate(self, sku: str | None) -> None:
        skus = None if sku is None else [sku]
        self.step(lambda: e.auto_allocate(self.db, self.actor, skus=skus), None)
        self._swept(SKUS if sku is None else [sku])

    @precondition(lambda self: False)
    @rule()
    def intake_during_sweep(self) -> None:
        """Its plan is the model's, which knows no split lines (the concurrency tests race
        intakes with split sweeps instead)."""

    @precondition(lambda self: False)
    @rule()
    def allocate(self) -> None:
        """Rule 3 is unchanged by rule 10 (whole lines onto one PO line); the reference
        machine covers it."""

    def _swept(self, skus: Sequence[str]) -> None:
        """After a sweep no queued, unparked line fits the ATP left: not on one PO line, nor
        (when it may split) on its SKU's lines together. ATP only falls as a sweep goes, so a
        line that fits now would have fitted when its turn came."""
        state = self.state
        with self.db.read() as conn:
            flagged = {
                (o, ln)
                for o, ln in conn.execute(
                    select(so_lines.c.order_number, so_lines.c.line).where(so_lines.c.allow_split)
                )
            }
        for k, s in state.so_lines.items():
            if s.status != "open" or s.holder is not None or s.parked or s.sku not in skus:
                continue
            atps = [state.po_lines[p].atp for p in state.open_supply(s.sku)]
            assert s.quantity > max(atps, default=0), f"{k} fits a PO line after a sweep"
            if self.split_all or k in flagged:
                assert s.quantity > sum(atps), f"{k} could be split after a sweep"


@pytest.mark.slow
@pytest.mark.parametrize("split_all", [True, False], ids=["setting", "orders"])
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_split_lines_keep_every_invariant_under_every_operation(
    backend: str,
    split_all: bool,
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    if backend == "sqlite":
        factory = _sqlite_factory(sqlite_template, tmp_path)
    else:
        factory = _postgres_factory(request.getfixturevalue("pg_url"))
    name = "SplitMachineOn" + backend.title()
    machine = type(
        name, (SplitMachine,), {"make_db": staticmethod(factory), "split_all": split_all}
    )
    # Four variants: together as many examples as the reference machine's two.
    run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=30))


# --- regressions the state machine found ---------------------------------------------------


def test_import_sweeps_once_after_all_its_changes(db: e.Database, actor: e.Actor) -> None:
    """A grown line and a new earlier line in one import: the waiting order gets the earlier
    line, whatever the order of the records (it used to be swept mid-import onto the later)."""
    e.apply_records(
        db, actor, [po("PO-1", (1, "A", 0, "2027-01-20"))], [so("SO-1", 0, (1, "A", 2))]
    )
    e.apply_records(
        db, actor, [po("PO-1", (1, "A", 2, "2027-01-20")), po("PO-2", (1, "A", 2, "2027-01-05"))]
    )
    assert allocation_map(db) == {("SO-1", 1): ("PO-2", 1)}
    check_invariants(db)


def test_import_rebalances_before_it_sweeps(db: e.Database, actor: e.Actor) -> None:
    """A line grown and moved earlier with rebalance: the first order moves to it (rule 7); it
    used to go to the next order in the queue."""
    e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "B", 0, "2027-01-10"), (2, "B", 1, "2027-01-10"))],
        [so("SO-1", 0, (1, "B", 1), (2, "B", 1))],
    )
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 2)}
    e.apply_records(db, actor, [po("PO-1", (1, "B", 1, "2027-01-05"))], rebalance=True)
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-1", 2): ("PO-1", 2)}
    check_invariants(db)


def test_po_line_sku_change_sweeps_the_old_sku(db: e.Database, actor: e.Actor) -> None:
    e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "A", 2, "2027-01-05")), po("PO-2", (1, "A", 2, "2027-01-10"))],
        [so("SO-1", 0, (1, "A", 2))],
    )
    e.apply_records(db, actor, [po("PO-1", (1, "B", 2, "2027-01-05"))])
    assert allocation_map(db) == {("SO-1", 1): ("PO-2", 1)}
    check_invariants(db)
