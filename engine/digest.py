"""What needs a merchandiser's attention, as aggregates: the data a digest is built from.

One read transaction, so every part describes the same moment; SQL aggregates only, so its
cost does not grow with the number of lines shown (a digest of a million queued lines is a few
rows per SKU, per PO line and per cancelled PO).

The parts:

* the unallocated queue by SKU (rule 1), parked lines counted apart, with the ATP still open
  on the SKU's PO lines: a line the sweep skipped because it is parked or bigger than any one
  PO line's ATP can often still be allocated by hand;
* parked lines (rule 5), by SKU;
* PO lines whose allocated orders are promised another date than the arrival date (rule 4);
* open PO lines arriving in the next ``ARRIVING_DAYS`` days with ATP left (units still to sell);
* cancelled POs whose orders are still waiting for another PO line (rule 6);
* dead-lettered deliveries of events (DESIGN.md section 5), by kind of channel, with the
  later events of those orders that wait behind them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, not_, select

from engine.db import Database
from engine.deliveries import DeadByChannel, dead_letters
from engine.models import allocation_parts, audit_events, po_lines, purchase_orders, so_lines
from engine.results import _jsonable
from engine.supply import PO_CANCELLED

ARRIVING_DAYS = 7

# Units a PO line can still promise, and the PO lines rule 1 allocates to.
ATP = po_lines.c.quantity - po_lines.c.store_hold - po_lines.c.allocated
OPEN_SUPPLY = and_(po_lines.c.status == "open", purchase_orders.c.status == "open", ATP > 0)
QUEUED = and_(so_lines.c.status == "open", so_lines.c.po_line_id.is_(None))


@dataclass(frozen=True)
class ATPLine:
    """An open PO line of an open PO with units left to promise."""

    po: str
    line: int
    arrival_date: date
    atp: int


@dataclass(frozen=True)
class QueueBySku:
    """A SKU's unallocated open SO lines (rule 1's queue, parked lines counted apart), and the
    ATP open on its PO lines: ``atp_open`` in all, ``atp_line`` the line with the most (the
    likeliest to take a line by hand; None when no line has ATP)."""

    sku: str
    lines: int
    units: int
    parked: int
    oldest_placed_at: datetime
    parked_units: int = 0
    atp_open: int = 0
    atp_line: ATPLine | None = None

    @property
    def waiting(self) -> int:
        """Lines the sweep would place if supply came: the unparked ones."""
        return self.lines - self.parked

    @property
    def waiting_units(self) -> int:
        return self.units - self.parked_units

    def age(self, now: datetime) -> timedelta:
        """How long the oldest line has waited at ``now``."""
        return now - self.oldest_placed_at


@dataclass(frozen=True)
class ParkedBySku:
    """A SKU's parked lines: taken off a PO line by a person, skipped by the sweep (rule 5)."""

    sku: str
    lines: int
    units: int


@dataclass(frozen=True)
class OutOfSyncLine:
    """A PO line with allocated SO lines whose promised date is not its arrival date (rule 4)."""

    po: str
    line: int
    sku: str
    arrival_date: date
    lines: int
    units: int
    earliest_promise: date
    latest_promise: date


@dataclass(frozen=True)
class ArrivingLine:
    """An open PO line of an open PO arriving soon with units still to promise."""

    po: str
    line: int
    sku: str
    arrival_date: date
    atp: int


@dataclass(frozen=True)
class StrandedByPO:
    """Order lines a cancellation of this PO (or of some of its lines) released and that are
    still unallocated. ``status`` is the PO's now: ``cancelled``, or ``open`` when only some
    of its lines were cancelled."""

    po: str
    status: str
    lines: int
    units: int
    skus: int
    oldest_placed_at: datetime


@dataclass(frozen=True)
class ReadyBySku:
    """A SKU's order lines received and ready to ship (rule 9), waiting to be fulfilled."""

    sku: str
    lines: int
    units: int
    oldest_ready_at: datetime


@dataclass(frozen=True)
class Digest:
    unallocated: list[QueueBySku]
    out_of_sync: list[OutOfSyncLine]
    arriving: list[ArrivingLine] = field(default_factory=list)
    stranded: list[StrandedByPO] = field(default_factory=list)
    today: date | None = None  # the day ``arriving`` counts from (None: built by hand)
    dead_letters: list[DeadByChannel] = field(default_factory=list)
    ready: list[ReadyBySku] = field(default_factory=list)
    # Open order lines allocated in parts across PO lines (rule 10): not a problem, but what
    # a person should know before removing or moving one (it goes whole).
    split_lines: int = 0

    @property
    def parked(self) -> list[ParkedBySku]:
        return [ParkedBySku(q.sku, q.parked, q.parked_units) for q in self.unallocated if q.parked]

    @property
    def arriving_until(self) -> date | None:
        """The last arrival date ``arriving`` takes in (inclusive)."""
        return self.today + timedelta(days=ARRIVING_DAYS) if self.today else None

    @property
    def is_empty(self) -> bool:
        """Nothing needs attention (parked lines are part of the queue)."""
        return not (
            self.unallocated
            or self.out_of_sync
            or self.arriving
            or self.stranded
            or self.dead_letters
            or self.ready
        )

    def to_dict(self) -> dict[str, Any]:
        parked = self.parked
        # Rule 10's count is there only while some line is split: otherwise the JSON is as it
        # always was.
        split = {"split_lines": self.split_lines} if self.split_lines else {}
        return _jsonable(
            {
                "today": self.today,
                "nothing_needs_attention": self.is_empty,
                "unallocated": [asdict(q) for q in self.unallocated],
                "parked": {
                    "lines": sum(p.lines for p in parked),
                    "units": sum(p.units for p in parked),
                    "by_sku": [asdict(p) for p in parked],
                },
                "out_of_sync": [asdict(o) for o in self.out_of_sync],
                "arriving_until": self.arriving_until,
                "arriving": [asdict(a) for a in self.arriving],
                "stranded": [asdict(s) for s in self.stranded],
                "dead_letters": [asdict(x) for x in self.dead_letters],
                "ready": {
                    "lines": sum(r.lines for r in self.ready),
                    "units": sum(r.units for r in self.ready),
                    "by_sku": [asdict(r) for r in self.ready],
                },
                **split,
            }
        )


def digest(db: Database, *, today: date | None = None) -> Digest:
    """Every part of the digest, read in one transaction. ``today`` (default: the date of the
    database's clock) is the first day of the arrival window."""
    today = today or db.clock().date()
    with db.read() as conn:
        if db.is_postgres:
            # The stranded count is one tiny index probe per queued line, which PostgreSQL's
            # cost model prices high enough to JIT-compile: compiling took as long as running.
            conn.exec_driver_sql("SET LOCAL jit = off")
        queue = _queue(conn)
        return Digest(
            unallocated=queue,
            out_of_sync=_out_of_sync(conn),
            arriving=_arriving(conn, today),
            stranded=_stranded(conn) if queue else [],
            today=today,
            dead_letters=dead_letters(conn),
            ready=_ready(conn),
            split_lines=_split_lines(conn),
        )


def _split_lines(conn: Connection) -> int:
    # From the parts, a small table, rather than a scan of every order line's split flag.
    query = (
        select(func.count(func.distinct(allocation_parts.c.so_line_id)))
        .join(so_lines, so_lines.c.id == allocation_parts.c.so_line_id)
        .where(so_lines.c.status == "open")
    )
    return int(conn.execute(query).scalar_one())


def queue_by_sku(db: Database) -> list[QueueBySku]:
    """The digest's first part alone, for callers that need only the queue's totals."""
    with db.read() as conn:
        return _queue(conn)


def _queue(conn: Connection) -> list[QueueBySku]:
    parked_units = func.sum(case((so_lines.c.parked, so_lines.c.quantity), else_=0))
    rows = conn.execute(
        select(
            so_lines.c.sku,
            func.count().label("lines"),
            func.sum(so_lines.c.quantity).label("units"),
            func.sum(case((so_lines.c.parked, 1), else_=0)).label("parked"),
            parked_units.label("parked_units"),
            func.min(so_lines.c.placed_at).label("oldest"),
        )
        .where(QUEUED)
        .group_by(so_lines.c.sku)
        .order_by(so_lines.c.sku)
    ).all()
    if not rows:
        return []
    supply = _supply_by_sku(conn)
    out: list[QueueBySku] = []
    for r in rows:
        atp_open, atp_line = supply.get(r.sku, (0, None))
        out.append(
            QueueBySku(
                r.sku,
                r.lines,
                int(r.units),
                int(r.parked),
                r.oldest,
                parked_units=int(r.parked_units),
                atp_open=atp_open,
                atp_line=atp_line,
            )
        )
    return out


def _supply_by_sku(conn: Connection) -> dict[str, tuple[int, ATPLine]]:
    """Per SKU with ATP: the ATP of all its open lines and the line with the most (ties: the
    earliest arrival, then PO number and line, as rule 1 orders supply)."""
    ranked = (
        select(
            po_lines.c.sku,
            po_lines.c.po_number,
            po_lines.c.line,
            po_lines.c.arrival_date,
            ATP.label("atp"),
            func.sum(ATP).over(partition_by=po_lines.c.sku).label("atp_open"),
            func.row_number()
            .over(
                partition_by=po_lines.c.sku,
                order_by=(
                    ATP.desc(),
                    po_lines.c.arrival_date,
                    po_lines.c.po_number,
                    po_lines.c.line,
                ),
            )
            .label("rank"),
        )
        .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
        .where(OPEN_SUPPLY)
        .subquery()
    )
    rows = conn.execute(select(ranked).where(ranked.c.rank == 1))
    return {
        r.sku: (int(r.atp_open), ATPLine(r.po_number, r.line, r.arrival_date, int(r.atp)))
        for r in rows
    }


def _ready(conn: Connection) -> list[ReadyBySku]:
    rows = conn.execute(
        select(
            so_lines.c.sku,
            func.count().label("lines"),
            func.sum(so_lines.c.quantity).label("units"),
            func.min(so_lines.c.ready_at).label("oldest"),
        )
        .where(so_lines.c.status == "open", so_lines.c.ready_at.is_not(None))
        .group_by(so_lines.c.sku)
        .order_by(so_lines.c.sku)
    )
    return [ReadyBySku(r.sku, r.lines, int(r.units), r.oldest) for r in rows]


def _out_of_sync(conn: Connection) -> list[OutOfSyncLine]:
    # The tally finds the few PO lines concerned; only their allocations are read.
    rows = conn.execute(
        select(
            po_lines.c.po_number,
            po_lines.c.line,
            po_lines.c.sku,
            po_lines.c.arrival_date,
            func.count().label("lines"),
            func.sum(so_lines.c.quantity).label("units"),
            func.min(so_lines.c.promised_date).label("earliest"),
            func.max(so_lines.c.promised_date).label("latest"),
        )
        .join(po_lines, po_lines.c.id == so_lines.c.po_line_id)
        .where(po_lines.c.out_of_sync > 0, so_lines.c.promised_date != po_lines.c.arrival_date)
        .group_by(po_lines.c.id, po_lines.c.po_number, po_lines.c.line, po_lines.c.sku)
        .group_by(po_lines.c.arrival_date)
        .order_by(po_lines.c.po_number, po_lines.c.line)
    )
    return [
        OutOfSyncLine(
            r.po_number,
            r.line,
            r.sku,
            r.arrival_date,
            r.lines,
            int(r.units),
            r.earliest,
            r.latest,
        )
        for r in rows
    ]


def _arriving(conn: Connection, today: date) -> list[ArrivingLine]:
    until = today + timedelta(days=ARRIVING_DAYS)
    rows = conn.execute(
        select(
            po_lines.c.po_number,
            po_lines.c.line,
            po_lines.c.sku,
            po_lines.c.arrival_date,
            ATP.label("atp"),
        )
        .join(purchase_orders, purchase_orders.c.id == po_lines.c.po_id)
        .where(OPEN_SUPPLY, po_lines.c.arrival_date.between(today, until))
        .order_by(po_lines.c.arrival_date, po_lines.c.po_number, po_lines.c.line)
    )
    return [ArrivingLine(r.po_number, r.line, r.sku, r.arrival_date, int(r.atp)) for r in rows]


def _stranded(conn: Connection) -> list[StrandedByPO]:
    """Queued lines whose latest allocation change in the audit log is a release by a PO
    cancellation, counted by that PO.

    Exact: a line the cancellation released and that has not been allocated since (by the
    sweep or a person) is waiting because of it, and one allocated since is not, even if it
    was released again later (it then waits for another reason). Guessing from supply instead
    ("SKUs whose only PO lines are cancelled") would miss orders of a SKU that another PO
    still supplies but cannot fit, and blame cancellations for orders that never had a PO.

    Cheap: one probe per queued, unparked line into the audit log's index by order line (a
    handful of events each), so the cost follows the queue, not the size of the log. Parked
    lines are left out: a line is parked only by a person's removal from a PO line, which is a
    later allocation change.
    """
    latest = (
        select(case((audit_events.c.reason == PO_CANCELLED, audit_events.c.po_number)))
        .where(
            audit_events.c.order_number == so_lines.c.order_number,
            audit_events.c.so_line == so_lines.c.line,
            audit_events.c.action.in_(("allocate", "release")),
        )
        .order_by(audit_events.c.id.desc())
        .limit(1)
        .correlate(so_lines)
        .scalar_subquery()
    )
    waiting = (
        select(
            latest.label("po"),
            so_lines.c.sku,
            so_lines.c.quantity,
            so_lines.c.placed_at,
        )
        .where(QUEUED, not_(so_lines.c.parked))
        # OFFSET 0 keeps PostgreSQL from merging this into the outer query, where it would
        # run the probe once per use of ``po`` (grouping, joining) instead of once per line.
        .offset(0)
        .subquery()
    )
    rows = conn.execute(
        select(
            waiting.c.po,
            purchase_orders.c.status,
            func.count().label("lines"),
            func.sum(waiting.c.quantity).label("units"),
            func.count(func.distinct(waiting.c.sku)).label("skus"),
            func.min(waiting.c.placed_at).label("oldest"),
        )
        .join(purchase_orders, purchase_orders.c.po_number == waiting.c.po)
        .group_by(waiting.c.po, purchase_orders.c.status)
        .order_by(waiting.c.po)
    )
    return [StrandedByPO(r.po, r.status, r.lines, int(r.units), r.skus, r.oldest) for r in rows]
