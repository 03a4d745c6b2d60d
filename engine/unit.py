"""The unit of work every operation runs in: one transaction, one actor, one audit trail."""

from __future__ import annotations

import logging
import uuid
from array import array
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from engine import outbox
from engine.bulk import insert_rows
from engine.db import Database, scalar_later
from engine.headers import headers_by_id
from engine.models import (
    applied_keys,
    audit_events,
    po_lines,
    products,
    promise_changes,
    so_lines,
)
from engine.results import PO_LINE_LIMIT, DateChange, Outcome
from engine.types import Source

T = TypeVar("T")
log = logging.getLogger("engine")

# Called with each committed operation's outcome (not dry runs, not replays): how the service
# counts allocations by source without the engine knowing of metrics.
_listeners: list[Callable[[Outcome], None]] = []


def on_commit(listener: Callable[[Outcome], None]) -> Callable[[], None]:
    """Call ``listener(outcome)`` after every operation that commits; returns its remover."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def announce(outcome: Outcome) -> None:
    """Call the ``on_commit`` listeners with ``outcome``: done after every operation that
    commits, and by a process for an operation another process ran for it (an order intake's
    worker, ``bot.intake.worker``), since what the listeners count is this process's to tell."""
    for listener in list(_listeners):
        try:
            listener(outcome)
        except Exception:
            log.exception("an on_commit listener failed for %s", outcome.operation)


@dataclass(frozen=True)
class Actor:
    """Who asked for a change and from where: carried into every audit event."""

    name: str
    source: Source

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an actor needs a name")


@dataclass
class Unit:
    """State of one running operation inside its transaction."""

    conn: Connection
    actor: Actor
    operation: str
    outcome: Outcome
    at: datetime
    is_postgres: bool
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # The highest promise_changes id before this operation (None: it writes no events): the
    # outbox finds the operation's own changes above it (engine.outbox).
    promise_mark: int | None = None
    # SO lines this operation cancelled: news for their customers even without a promise.
    cancelled_lines: list[int] = field(default_factory=list)
    # SO lines whose stock this operation received (rule 9): an ``order.ready`` event each order.
    ready_lines: list[int] = field(default_factory=list)
    # Set by an operation that knows its promise changes are all first promises of lines it
    # placed: its events are written from these rather than read back (engine.outbox).
    first_promises: outbox.FirstPromises | None = None
    # An operation that only places lines (a sweep, an order intake) lists them here (None:
    # any other): its events are the first promises of these lines (engine.outbox). Ids in an
    # array of machine integers: a sweep of a million lines on SQLite is one transaction.
    placed_lines: array[int] | None = None
    # An order intake gives way to other operations on PostgreSQL: a SKU another operation holds
    # (a sweep batch, an import) is not waited for; its new lines stay queued (``busy``) and the
    # outcome names it in ``awaiting_sweep``. Others wait for each other as before.
    yielding: bool = False
    busy: set[str] = field(default_factory=set)
    # A long queue found by an operation's sweep is swept after its commit, in SKU batches of
    # their own (engine.sweep); not in a dry run, nor inside a batch.
    defer_long_sweeps: bool = False
    # Called with the committed outcome, in order (the deferred sweep).
    after_commit: list[Callable[[Outcome], None]] = field(default_factory=list)
    # The SKUs whose long queues are swept after the commit.
    deferred_sweep: set[str] = field(default_factory=set)
    # What the operation holds beyond its transaction (the lock of its deferred sweep), let go
    # once it has ended, committed or not.
    release: ExitStack = field(default_factory=ExitStack)
    # Whether every queued line may be split across PO lines (rule 10; PREORDER_SPLIT_LINES,
    # as the database was opened with); lines of orders that allow it may be regardless.
    split_lines: bool = False
    # New SO lines of an order intake on PostgreSQL not written yet, their ids reserved: their
    # rows, in the order given. The intake's sweep places them with the queued lines and
    # writes each once, already at its PO line, rather than writing it queued and then
    # updating it (engine.held_lines).
    held_lines: list[dict[str, Any]] = field(default_factory=list)
    held_ids: Callable[[], list[int]] | None = None
    # The database the operation runs on: what a deferred sweep opens its batches on.
    db: Database | None = field(default=None, repr=False)
    _events: list[dict[str, Any]] = field(default_factory=list)
    _promises: list[dict[str, Any]] = field(default_factory=list)
    _locked: set[str] = field(default_factory=set)
    # The first PO_LINE_LIMIT PO lines addressed or changed, by id, in the order first touched
    # (a dict keeps it; bounded, so that a sweep's or an import's memory stays flat): their
    # headers end the outcome.
    _touched: dict[int, None] = field(default_factory=dict)

    def touch(self, po_line_ids: Iterable[int]) -> None:
        """Note PO lines this operation addressed or changed: the outcome carries their
        headers as they stand at its end."""
        touched = self._touched
        for po_line_id in po_line_ids:
            if po_line_id in touched:
                continue
            if len(touched) >= PO_LINE_LIMIT:
                self.outcome.po_lines_truncated = True
                return
            touched[po_line_id] = None

    def read_headers(self) -> None:
        """Put the touched PO lines' headers in the outcome: one statement, in this
        transaction, after every change."""
        self.outcome.po_lines = headers_by_id(self.conn, list(self._touched))

    def event(
        self,
        action: str,
        *,
        sku: str | None = None,
        po: str | None = None,
        po_line: int | None = None,
        order: str | None = None,
        so_line: int | None = None,
        quantity: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        self._events.append(
            {
                "at": self.at,
                "operation_id": self.id,
                "operation": self.operation,
                "actor": self.actor.name,
                "source": self.actor.source.value,
                "action": action,
                "sku": sku,
                "po_number": po,
                "po_line": po_line,
                "order_number": order,
                "so_line": so_line,
                "quantity": quantity,
                "before": _plain(before),
                "after": _plain(after),
                "reason": reason,
            }
        )

    def promise(
        self,
        so_line_id: int,
        order: str,
        line: int,
        old: date | None,
        new: date | None,
        reason: str,
    ) -> None:
        """Record a changed promised date (rule 4: old, new, who, why)."""
        self._promises.append(
            {
                "so_line_id": so_line_id,
                "at": self.at,
                "operation_id": self.id,
                "actor": self.actor.name,
                "source": self.actor.source.value,
                "old_date": old,
                "new_date": new,
                "reason": reason,
            }
        )
        self.outcome.promises.append(DateChange(order, line, old, new, reason))

    def lock_skus(
        self,
        skus: Collection[str],
        *,
        orders: Sequence[str] = (),
        pos: Sequence[str] = (),
    ) -> bool:
        """Serialise work per product: lock the SKUs' rows in SKU order (no deadlock cycles),
        with the SKUs the lines of ``orders`` and ``pos`` hold now, in the same pass.

        Every operation that changes allocations takes these locks before it reads the rows it
        decides on, so under READ COMMITTED it decides on the latest committed state. On SQLite
        the whole database is already held by ``BEGIN IMMEDIATE``. Returns whether a SKU not
        held before was locked on PostgreSQL: rows of it read before may have changed since.
        """
        wanted = sorted(set(skus) - self._locked - self.busy)
        if not self.is_postgres:
            self.add_products(wanted)
            self._locked.update(wanted)
            return False
        if self.yielding and wanted and not (orders or pos):
            # An intake's new orders: their products exist (added before), and a SKU held by
            # anyone (advisory lock or row lock: a sweep batch, an import, another intake) is
            # left to a sweep rather than waited for. One statement.
            locked = set(self.conn.execute(_YIELDING_LOCK, {"skus": wanted}).scalars())
            self.busy.update(s for s in wanted if s not in locked)
            new = locked - self._locked
            self._locked.update(new)
            return bool(new)
        if wanted:
            wanted = self._claim(wanted)
        if orders or pos:
            query, params = _LOCK_HELD, {"skus": wanted, "orders": list(orders), "pos": list(pos)}
        elif wanted:
            query, params = _LOCK_SKUS, {"skus": wanted}
        else:
            return False
        # Nearly always every SKU has its row already: lock them in one statement, and add
        # (and lock) only the new ones. A new row is locked by its insert, after the others;
        # the rare deadlock that can make is detected by PostgreSQL and the operation retried.
        locked = set(self.conn.execute(query, params).scalars())
        missing = [s for s in wanted if s not in locked]
        if missing:
            self.add_products(missing)
            self.conn.execute(_LOCK_SKUS, {"skus": missing}).all()
        new = (locked | set(missing)) - self._locked
        self._locked.update(new)
        return bool(new)

    def _claim(self, skus: list[str]) -> list[str]:
        """Take the SKUs' advisory locks (PostgreSQL), before any row lock; returns the SKUs
        this operation may go on to lock.

        These locks tell who must not be waited for. Every operation but an order intake takes
        them exclusively (waiting, in key order, so never in a cycle); an intake takes them
        shared and without waiting, and leaves out the SKUs another operation holds: it never
        waits behind a sweep batch or an import, and intakes do not exclude each other here
        (they still meet on the row locks, each held for a few milliseconds)."""
        if not self.yielding:
            self.conn.execute(_ADVISORY_LOCK, {"skus": skus}).all()
            return skus
        busy = set(self.conn.execute(_ADVISORY_TRY_SHARED, {"skus": skus}).scalars())
        if not busy:
            return skus
        self.busy |= busy
        return [s for s in skus if s not in busy]

    def add_products(self, skus: Collection[str]) -> None:
        """Make sure the SKUs have their product rows (lines refer to them), locking none."""
        if not skus:
            return
        # In SKU order: two operations adding the same new SKUs wait for each other in turn.
        ordered = sorted(skus)
        if self.is_postgres:
            # One statement for them all: an executemany runs a statement per SKU, and an
            # order intake names SKUs that nearly all exist (a tenth of its database time).
            self.conn.execute(_ADD_PRODUCTS, {"skus": ordered})
        else:
            self.conn.execute(sqlite.insert(products).on_conflict_do_nothing(), _rows(ordered))

    def flush(self) -> None:
        if self._promises:
            insert_rows(self.conn, promise_changes, self._promises)
            self._promises.clear()
        if self._events:
            insert_rows(self.conn, audit_events, self._events)
            self._events.clear()


_ADD_PRODUCTS = (
    postgresql.insert(products)
    .from_select(
        ["sku"],
        select(func.unnest(bindparam("skus", type_=postgresql.ARRAY(products.c.sku.type)))),
    )
    .on_conflict_do_nothing()
)
_LOCK_SKUS = (
    select(products.c.sku)
    .where(products.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(products.c.sku)
    # NO KEY UPDATE: as exclusive as FOR UPDATE between operations, but new lines' foreign
    # keys (KEY SHARE) to these rows do not wait for it (see engine.intake._new_orders).
    .with_for_update(key_share=True)
)
_LOCK_HELD = (
    select(products.c.sku)
    .where(
        products.c.sku.in_(bindparam("skus", expanding=True))
        | products.c.sku.in_(
            select(so_lines.c.sku).where(
                so_lines.c.order_number.in_(bindparam("orders", expanding=True))
            )
        )
        | products.c.sku.in_(
            select(po_lines.c.sku).where(po_lines.c.po_number.in_(bindparam("pos", expanding=True)))
        )
    )
    .order_by(products.c.sku)
    .with_for_update(of=products, key_share=True)
)


# A SKU's advisory lock key: its name and the schema's (deployments sharing a server in
# different schemas do not exclude each other), hashed by the server, so no round trip for it.
_SKU_KEY = "hashtextextended(current_schema() || ':sku:' || s, 0)"
_ADVISORY_LOCK = text(
    f"SELECT pg_advisory_xact_lock(k) FROM (SELECT {_SKU_KEY} AS k "
    "FROM unnest(CAST(:skus AS text[])) AS s) AS keys ORDER BY k"
)
# The SKUs whose shared lock could not be had at once: another operation holds them.
_ADVISORY_TRY_SHARED = text(
    "SELECT s FROM unnest(CAST(:skus AS text[])) AS s "
    f"WHERE NOT pg_try_advisory_xact_lock_shared({_SKU_KEY})"
)


# The rows of the SKUs nobody holds, locked; a SKU another operation holds is not returned.
_YIELDING_LOCK = text(
    "SELECT sku FROM products WHERE sku = ANY(CAST(:skus AS text[])) "
    "AND pg_try_advisory_xact_lock_shared("
    "hashtextextended(current_schema() || ':sku:' || sku, 0)) "
    "ORDER BY sku FOR NO KEY UPDATE SKIP LOCKED"
)


def _rows(skus: Collection[str]) -> list[dict[str, str]]:
    return [{"sku": s} for s in skus]


def run_operation(
    db: Database,
    actor: Actor,
    operation: str,
    work: Callable[[Unit], None],
    *,
    dry_run: bool = False,
    retry_unique: bool = False,
    key: str | None = None,
    operation_id: str | None = None,
    part: int = 0,
    yielding: bool = False,
    defer_long_sweeps: bool = True,
    headers: bool = True,
    pipeline: bool = False,
    placing: bool = False,
) -> Outcome:
    """Run ``work`` as one transaction; a dry run does everything, reports it, and rolls back.
    The outcome ends with the headers of the PO lines ``work`` touched, read in the same
    transaction (a dry run's: as they would be). ``retry_unique``: a unique violation is a
    race to retry (see ``Database.run``).

    ``key`` makes the operation idempotent: if an operation with this key has committed, nothing
    runs and the outcome says ``replayed`` (with the first run's operation id and actor).

    ``operation_id`` continues an operation in another transaction (a sweep's next batch,
    numbered ``part``);
    ``yielding`` makes the operation give way on busy SKUs (see ``Unit.yielding``); with
    ``defer_long_sweeps`` a sweep of a long queue runs after the commit, in batches. Without
    ``headers`` the outcome carries no PO line headers (a face that shows none saves the read).
    ``pipeline`` sends the writes without waiting for each answer (PostgreSQL; see
    ``Database.run``). ``placing``: ``work`` only places queued or new lines (rule 1, whole or
    in parts), which is all its events tell (``Unit.placed_lines``)."""
    # Every attempt's unit (the last one committed): what they hold is let go at the end.
    units: list[Unit] = []

    def attempt(conn: Connection) -> Outcome:
        outcome = Outcome(
            operation=operation,
            operation_id="",
            actor=actor.name,
            source=actor.source.value,
            dry_run=dry_run,
        )
        unit = Unit(
            conn=conn,
            actor=actor,
            operation=operation,
            outcome=outcome,
            at=db.clock(),
            is_postgres=db.is_postgres,
            yielding=yielding and db.is_postgres,
            defer_long_sweeps=defer_long_sweeps and db.is_postgres and not dry_run,
            split_lines=db.split_lines,
            placed_lines=array("q") if placing else None,
            db=db,
        )
        if operation_id is not None:
            unit.id = operation_id
        units.append(unit)
        outcome.operation_id = unit.id
        if key is not None:
            first = conn.execute(
                select(applied_keys.c.operation_id, applied_keys.c.actor).where(
                    applied_keys.c.key == key
                )
            ).first()
            if first is not None:
                outcome.operation_id, outcome.actor = first
                outcome.replayed = True
                return outcome
            # Claimed before the work: a concurrent run of the same key waits on this row and
            # then fails on the primary key, and its retry finds the key and replays.
            conn.execute(
                insert(applied_keys).values(
                    key=key,
                    operation=operation,
                    operation_id=unit.id,
                    actor=actor.name,
                    source=actor.source.value,
                    at=unit.at,
                )
            )
        # Sent now, read once the work is done: in a pipelined transaction its answer comes
        # with the work's first read's, not in a round trip of its own. (An operation that only
        # places lines knows its promise changes without it.)
        mark = scalar_later(conn, outbox.TOP_PROMISE) if db.events and not placing else None
        work(unit)
        unit.flush()
        if mark is not None:
            unit.promise_mark = int(mark())
        outcome.notified = _write_events(unit, part) if db.events else 0
        if headers:
            unit.read_headers()
        outcome.awaiting_sweep = sorted(unit.busy | set(outcome.awaiting_sweep))
        return outcome

    try:
        outcome = db.run(
            attempt,
            commit=not dry_run,
            retry_unique=retry_unique or key is not None,
            pipeline=pipeline,
        )
        if not dry_run and units:
            for then in units[-1].after_commit:
                then(outcome)
    finally:
        for unit in units:
            unit.release.close()
    if not dry_run and not outcome.replayed:
        announce(outcome)
    return outcome


def _write_events(unit: Unit, part: int) -> int:
    """The operation's events (engine.outbox), as it can tell them most cheaply; how many."""
    conn, postgres, op, at = unit.conn, unit.is_postgres, unit.id, unit.at
    if unit.first_promises is not None:
        written = outbox.write_first_promises(
            conn, unit.first_promises, operation_id=op, at=at, part=part
        )
    elif unit.placed_lines is not None:
        assert not unit.cancelled_lines, "an operation that only places lines cancels none"
        written = outbox.write_placed(
            conn, postgres=postgres, operation_id=op, at=at, lines=unit.placed_lines, part=part
        )
    else:
        written = outbox.write(
            conn,
            postgres=postgres,
            mark=unit.promise_mark,
            operation_id=op,
            at=at,
            cancelled=unit.cancelled_lines,
            part=part,
        )
    return written + outbox.write_ready(
        conn, postgres=postgres, operation_id=op, at=at, lines=unit.ready_lines, part=part
    )


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in value.items()}
