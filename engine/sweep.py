"""Rule 1: FIFO auto-allocation of the unallocated queue.

A sweep of a long queue on PostgreSQL commits in SKU batches, each a transaction of its own
holding the locks of its SKUs only (``sweep_batches``), so that no order waits behind the whole
sweep: an order intake gives way to a batch that holds its SKU (``Unit.yielding``) and leaves
its new lines queued for the next sweep, behind the lines already queued, as rule 1 wants. Every
batch is whole: one killed between two batches leaves the SKUs it committed swept and the others
untouched, and the next sweep finishes them (a sweep is idempotent: it places what fits). One
sweep runs at a time (an advisory lock held for the whole sweep), and all its batches share one
operation id and add up to one outcome.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Generator, Iterator
from contextlib import AbstractContextManager, nullcontext
from itertools import groupby, starmap
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, text

from engine import fifo, held_lines, ledger
from engine.db import Database, rows_later
from engine.locks import job_lock, waiting_lock
from engine.models import applied_keys, po_lines, purchase_orders, so_lines
from engine.results import Outcome
from engine.types import in_bound
from engine.unit import Actor, Unit, run_operation

# SKUs planned together: bounds the rows held in memory on a sweep of a million lines.
SKU_BATCH = 128
# A sweep of at most this many SKUs reads the queue's placed_at (see _queue).
FEW_SKUS = 8
# Queued lines a batch of a batched sweep takes on (whole SKUs: one with more is a batch of its
# own). No order waits for a batch (an intake leaves a held SKU to a sweep), so a batch is as
# long as it may be without costing more than one transaction: each batch writes its rows,
# events and outbox in statements of its own and commits. Measured on PostgreSQL, a
# 200,000-line sweep took about a third more than one transaction in batches of 10,000 lines,
# and 3-14% more in batches of 20,000 than in batches of 50,000 (alternating, 3 pairs), which
# are level with one transaction (bench/README.md).
BATCH_LINES = 50_000
# An operation's own sweep (an import's, a cancellation's) leaves a SKU with at least this many
# queued lines that could fit to a batched sweep after its commit, rather than holding the
# operation's transaction and locks for the whole queue.
LONG_QUEUE = 2_000
# An order intake reads at most this many queued lines of a SKU: a SKU with more is a sweep's
# work, and its new lines wait for that sweep (in FIFO order, behind the others).
INTAKE_QUEUE = 100
# The lock a sweep in batches holds from start to end (not the scheduled job's "sweep").
SWEEP_LOCK = "sweep-batches"


def auto_allocate(
    db: Database,
    actor: Actor,
    *,
    skus: Collection[str] | None = None,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 1: allocate unallocated, open, unparked SO lines in FIFO order, each whole, to the
    earliest-arriving open PO line of its SKU with ATP for it. ``skus`` limits the sweep;
    ``key`` makes it run once (a scheduled sweep's time, so replicas never repeat it)."""
    if dry_run or not db.is_postgres:
        # A dry run rolls back whatever it does; SQLite has one writer at a time anyway, so
        # batches would only make the sweep longer.
        return run_operation(
            db,
            actor,
            "auto-allocate",
            lambda unit: sweep(unit, skus),
            dry_run=dry_run,
            key=key,
            defer_long_sweeps=False,
            placing=True,
        )
    return whole(sweep_batches(db, actor, skus, key=key))


def whole(steps: Iterator[Outcome]) -> Outcome:
    """Run a batched sweep to its end; its outcome (every batch added up)."""
    last = None
    for step in steps:
        last = step
    assert last is not None, "a batched sweep yields at least once"
    return last


def sweep_batches(
    db: Database,
    actor: Actor,
    skus: Collection[str] | None = None,
    *,
    key: str | None = None,
    batch_lines: int | None = None,
    operation: str = "auto-allocate",
    operation_id: str | None = None,
    part: int = 0,
    locked: bool = False,
) -> Generator[Outcome, None, None]:
    """Rule 1 in SKU batches of about ``batch_lines`` (BATCH_LINES) queued lines, each its own
    transaction;
    yields the outcome so far (all batches added up) after each commits. Stopping early (or
    being killed) leaves the committed batches whole and the rest to the next sweep.

    Waits for a sweep running elsewhere to finish first. ``key`` is claimed with the last batch,
    so a sweep stopped early and run again with it finishes the work; one that finished
    replays. ``operation``/``operation_id`` continue an operation that left its sweep to after
    its commit (see ``sweep``), from its transaction number ``part``; ``locked``: the caller
    holds the lock that keeps sweeps to one at a time (``sweep_lock``)."""
    op_id = operation_id or str(uuid.uuid4())

    def batch(chosen: list[str]) -> Callable[[Unit], None]:
        return lambda unit: sweep(unit, chosen)

    with nullcontext() if locked else _one_sweep_at_a_time(db):
        if key is not None and _claimed(db, key):
            yield run_operation(db, actor, operation, lambda unit: None, key=key)
            return
        plan = _plan(db, skus, batch_lines or BATCH_LINES)
        total: Outcome | None = None
        for i, chosen in enumerate(plan or [[]]):
            done = run_operation(
                db,
                actor,
                operation,
                batch(chosen),
                key=key if i == len(plan) - 1 or not plan else None,
                operation_id=op_id,
                part=i + part,
                defer_long_sweeps=False,
                placing=True,
            )
            if total is None:
                total = done
            else:
                total.absorb(done)
            yield total


def sweep_lock(db: Database) -> AbstractContextManager[bool]:
    """The lock a sweep in batches holds from start to end (never waits: yields whether it
    got it)."""
    return job_lock(db, SWEEP_LOCK)


def _one_sweep_at_a_time(db: Database) -> AbstractContextManager[None]:
    # Waiting in turn: the sweep an import left to after its commit queues up before the
    # follow-up sweeps its news makes intakes ask for, and takes on its own work.
    return waiting_lock(db, SWEEP_LOCK)


def _claimed(db: Database, key: str) -> bool:
    with db.read() as conn:
        found = conn.execute(select(applied_keys.c.key).where(applied_keys.c.key == key))
        return found.first() is not None


def _plan(db: Database, skus: Collection[str] | None, batch_lines: int) -> list[list[str]]:
    """The SKUs with work, in SKU order, cut into batches of about ``batch_lines`` queued
    lines (and at most SKU_BATCH SKUs)."""
    with db.read() as conn:
        candidates = sorted(set(skus)) if skus is not None else _skus_with_work(conn)
        sizes: dict[str, int] = {}
        for chunk in ledger.chunks(candidates):
            sizes.update(tuple(r) for r in conn.execute(_QUEUE_SIZES, {"skus": list(chunk)}))
    plan: list[list[str]] = []
    lines = 0
    for sku in candidates:
        if sku not in sizes:
            continue
        if not plan or lines >= batch_lines or len(plan[-1]) >= SKU_BATCH:
            plan.append([])
            lines = 0
        plan[-1].append(sku)
        lines += sizes[sku]
    return plan


_QUEUE_SIZES = (
    select(so_lines.c.sku, func.count())
    .where(
        so_lines.c.sku.in_(bindparam("skus", expanding=True)),
        so_lines.c.status == "open",
        so_lines.c.po_line_id.is_(None),
        so_lines.c.parked.is_(False),
    )
    .group_by(so_lines.c.sku)
)


def sweep(unit: Unit, skus: Collection[str] | None = None) -> None:
    """Run rule 1 inside an operation, for ``skus`` or for every SKU that could gain.

    An order intake (``unit.yielding``) places the lines of SKUs whose queue is short and
    leaves the others (and the SKUs another operation holds) to a sweep; another operation on
    PostgreSQL (``unit.defer_long_sweeps``) sweeps a long queue after its commit, in batches."""
    candidates = sorted(set(skus)) if skus is not None else _skus_with_work(unit.conn)
    if not candidates:
        return
    unit.lock_skus(candidates)
    if unit.busy:
        candidates = [s for s in candidates if s not in unit.busy]
    for batch in _batches(candidates, SKU_BATCH):
        # With the setting off, the lines that may split are read for the whole batch, sent
        # with the supply's read: one round trip for both in a pipelined intake.
        may_split = None if unit.split_lines else _splittable_read(unit, batch)
        supply = ledger.open_supply(unit, batch)
        split_rows = None if may_split is None else may_split()  # came with the supply
        room = {sku: max((s.atp for s in lines), default=0) for sku, lines in supply.items()}
        wanted = [sku for sku in batch if room[sku] > 0]
        if not wanted:
            continue
        most = max(room[s] for s in wanted)
        total = {sku: sum(s.atp for s in supply[sku]) for sku in wanted}
        # Rule 10: the SKUs whose queue may hold a line to split, and which lines may split
        # (None: all of them, the setting is on). With the setting off these are the lines of
        # orders that allow it, found in their own small index.
        splitting: dict[str, set[int] | None] = {}
        if split_rows is None:
            splitting = {sku: None for sku in wanted if total[sku] > room[sku]}
        else:
            splitting = _splittable(split_rows, room, total)
        if splitting:
            # The queue is read up to what the SKU's lines hold together, not the biggest one:
            # an intake's read too, so that its new lines never take what an earlier line that
            # may split is covered by (the plan below takes the queue in FIFO order).
            most = max(most, *(total[sku] for sku in splitting))
        if unit.yielding:
            queue = _short_queues(unit, wanted, most)
            wanted = [s for s in wanted if s not in unit.busy]
        else:
            if unit.defer_long_sweeps:
                wanted = _without_long_queues(unit, wanted, most)
                if not wanted:
                    continue
            queue = _queue(unit, wanted, most)
        pairs = []
        splits: list[tuple[ledger.Demand, fifo.Parts[ledger.Supply]]] = []
        for sku in wanted:
            if sku in splitting:
                whole_fits, split = fifo.plan_split(
                    supply[sku], queue.get(sku, []), _may_split(splitting[sku])
                )
                pairs.extend(whole_fits)
                splits.extend(split)
            else:
                pairs.extend(fifo.plan(supply[sku], queue.get(sku, [])))
        # An intake's new lines are written now, those placed at their PO line already.
        pointed = held_lines.write(unit, pairs)
        ledger.allocate(unit, pairs, reason="fifo", pointed=pointed)
        if splits:
            ledger.allocate_split(unit, splits, reason="fifo")


def _may_split(flagged: set[int] | None) -> Callable[[ledger.Demand], bool]:
    """Whether a queued line may split: any (the setting is on), or those ``flagged``."""
    if flagged is None:
        return lambda d: True
    return lambda d: d.id in flagged


def _splittable_read(unit: Unit, skus: list[str]) -> Callable[[], list[tuple[Any, ...]]]:
    """The queued lines of ``skus`` of orders that allow splitting (rule 10): one probe of an
    index that is empty while no order allows it; sent now, read when called."""
    return rows_later(unit.conn, _splittable_lines(unit.is_postgres), {"skus": skus})


def _splittable(
    rows: list[tuple[Any, ...]], room: dict[str, int], total: dict[str, int]
) -> dict[str, set[int] | None]:
    """Of the lines ``rows`` (id, SKU, units) that may split, those that fit no single PO line
    of their SKU but fit its lines together, by SKU (``total`` names the SKUs with ATP)."""
    found: dict[str, set[int] | None] = {}
    for line_id, sku, quantity in rows:
        if sku in total and room[sku] < quantity <= total[sku]:
            flagged = found.setdefault(sku, set())
            assert flagged is not None
            flagged.add(line_id)
    return found


# The condition is the index's own words (engine.models, ix_so_lines_split_queue): SQLite uses a
# partial index only for a query that says what its WHERE says, and "allow_split = 1" does not.
@functools.cache
def _splittable_lines(postgres: bool) -> Select[Any]:
    return select(so_lines.c.id, so_lines.c.sku, so_lines.c.quantity).where(
        in_bound(so_lines.c.sku, "skus", postgres),
        text("status = 'open' AND po_line_id IS NULL AND allow_split AND NOT parked"),
    )


def _short_queues(unit: Unit, skus: list[str], most: int) -> dict[str, list[ledger.Demand]]:
    """An intake's read of the queue: the first INTAKE_QUEUE lines of each SKU; a SKU that has
    that many goes to ``unit.busy``, for a sweep."""
    rows = unit.conn.execute(_SHORT_QUEUES, {"skus": skus, "most": most, "cap": INTAKE_QUEUE})
    found = {
        sku: list(starmap(ledger.Demand, lines)) for sku, lines in groupby(rows, itemgetter(3))
    }
    # The intake's own new lines, not written yet, take their FIFO places among them.
    for sku, held in held_lines.queued(unit, skus, most).items():
        found[sku] = held_lines.merged(found.get(sku, []), held, INTAKE_QUEUE)
    for sku, lines in found.items():
        if len(lines) >= INTAKE_QUEUE:
            unit.busy.add(sku)
    return found


def _without_long_queues(unit: Unit, skus: list[str], most: int) -> list[str]:
    """``skus`` but those with a long queue, which are swept after the commit (see ``sweep``)."""
    long = set(
        unit.conn.execute(_LONG_QUEUES, {"skus": skus, "most": most, "long": LONG_QUEUE}).scalars()
    )
    if not long:
        return skus
    _sweep_later(unit, long)
    return [s for s in skus if s not in long]


def _sweep_later(unit: Unit, skus: set[str]) -> None:
    """Sweep ``skus`` after ``unit``'s operation commits, in batches, as part of it.

    The sweep lock is taken now if it is free, so that no other sweep (an intake's follow-up,
    the scheduled one) takes on this work between the commit and the sweep: the operation's
    outcome then tells what its sweep placed. Taken by another sweep, it is waited for after
    the commit (never here, inside the transaction, where that sweep may wait for our SKUs)."""
    deferred = unit.deferred_sweep
    if not deferred:
        db, actor, operation = unit.db, unit.actor, unit.operation
        assert db is not None, "a unit that defers a sweep knows its database"
        locked = unit.release.enter_context(sweep_lock(db))

        def then(outcome: Outcome) -> None:
            outcome.absorb(
                whole(
                    sweep_batches(
                        db,
                        actor,
                        deferred,
                        operation=operation,
                        operation_id=outcome.operation_id,
                        part=1,
                        locked=locked,
                    )
                )
            )

        unit.after_commit.append(then)
    deferred |= skus


def _queue(unit: Unit, skus: list[str], most: int) -> dict[str, list[ledger.Demand]]:
    # A line bigger than every PO line's ATP cannot be placed: leave it out of the read. After a
    # sweep that is every line still waiting, so the read stays small however long the queue.
    # Only the columns a queued line can differ in (the others are fixed by the WHERE clause:
    # open, unparked, unallocated, no promise), and not placed_at, which the ORDER BY uses:
    # the read is most of a big sweep's cost. A sweep of a few SKUs (an order's, as it arrives)
    # does read placed_at, which saves ``ledger.allocate`` reading it for the lines it places.
    query = _QUEUE_PLACED if len(skus) <= FEW_SKUS else _QUEUE
    rows = unit.conn.execute(query, {"skus": skus, "most": most})
    return {sku: list(starmap(ledger.Demand, lines)) for sku, lines in groupby(rows, itemgetter(3))}


def _queue_query(columns: int) -> Select[Any]:
    return (
        select(*ledger.DEMAND_COLUMNS[:columns])
        .where(
            so_lines.c.sku.in_(bindparam("skus", expanding=True)),
            so_lines.c.status == "open",
            so_lines.c.po_line_id.is_(None),
            so_lines.c.parked.is_(False),
            so_lines.c.quantity <= bindparam("most"),
        )
        .order_by(so_lines.c.sku, so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)
    )


# Built once: an order intake sweeps its SKUs, and building the query each time was a part of it.
_QUEUE = _queue_query(5)  # id, order, line, sku, quantity
_QUEUE_PLACED = _queue_query(6)  # and placed_at


# The queue read of an order intake: at most :cap lines of each SKU, so that the intake's cost
# never grows with a queue (a long one is a sweep's work).
_SHORT_QUEUES = text(
    "SELECT q.id, q.order_number, q.line, q.sku, q.quantity, q.placed_at "
    "FROM unnest(CAST(:skus AS text[])) AS s CROSS JOIN LATERAL ("
    "SELECT id, order_number, line, sku, quantity, placed_at FROM so_lines "
    "WHERE so_lines.sku = s AND status = 'open' AND po_line_id IS NULL AND NOT parked "
    "AND quantity <= :most ORDER BY placed_at, order_number, line LIMIT :cap) AS q "
    "ORDER BY q.sku, q.placed_at, q.order_number, q.line"
).columns(*ledger.DEMAND_COLUMNS[:6])
# The SKUs with at least :long queued lines that could fit (counting stops there).
_LONG_QUEUES = text(
    "SELECT s FROM unnest(CAST(:skus AS text[])) AS s WHERE (SELECT count(*) FROM ("
    "SELECT 1 FROM so_lines WHERE so_lines.sku = s AND status = 'open' "
    "AND po_line_id IS NULL AND NOT parked AND quantity <= :most LIMIT :long) AS q) >= :long"
)


def _skus_with_work(conn: Connection) -> list[str]:
    """SKUs with both an unparked queue and an open PO line with ATP left."""
    # One index probe per SKU with ATP rather than a DISTINCT over the whole queue, which a
    # 200,000-line queue makes a few percent of the sweep.
    waiting = (
        select(so_lines.c.id)
        .where(
            so_lines.c.sku == po_lines.c.sku,
            so_lines.c.status == "open",
            so_lines.c.po_line_id.is_(None),
            so_lines.c.parked.is_(False),
        )
        .exists()
    )
    with_work = (
        select(po_lines.c.sku)
        .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
        .where(
            po_lines.c.status == "open",
            purchase_orders.c.status == "open",
            po_lines.c.quantity - po_lines.c.store_hold - po_lines.c.allocated > 0,
            waiting,
        )
        .distinct()
    )
    return sorted(conn.execute(with_work).scalars())


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
