"""Plain result objects returned by the operations and queries (no ORM objects leak out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

# A sweep over hundreds of thousands of lines reports its counts in full but keeps only this many
# per-line details, so that its memory stays flat.
DETAIL_LIMIT = 1000
# The most PO line headers an outcome carries (read in one statement at the end of the
# operation): a face shows a handful; a sweep or an import that touches more reports counts.
PO_LINE_LIMIT = 500


@dataclass(frozen=True)
class LineRef:
    """An SO line as a person writes it: ``ORDER:LINE``, or ``ORDER`` alone (``line`` is None)."""

    order: str
    line: int | None = None

    def __str__(self) -> str:
        return self.order if self.line is None else f"{self.order}:{self.line}"


@dataclass(frozen=True)
class LinePart:
    """One part of a split SO line (rule 10): its units on one PO line."""

    po: str
    po_line: int
    quantity: int
    arrival_date: date
    # The part's stock is in (rule 9).
    ready: bool = False


def parts_text(parts: Sequence[LinePart]) -> str:
    """``10 on PO-1:1, 5 on PO-2:1``: a split line's parts as every face words them."""
    return ", ".join(f"{p.quantity} on {p.po}:{p.po_line}" for p in parts)


@dataclass(frozen=True)
class Placement:
    """An SO line and the PO line it was allocated to (or released from)."""

    order: str
    line: int
    sku: str
    quantity: int
    po: str
    po_line: int
    placed_at: datetime
    promised_date: date | None
    # A split line released whole (rule 10): every part it had, earliest first; ``po`` and
    # ``po_line`` above are its latest part's. Empty for a whole line.
    parts: tuple[LinePart, ...] = ()


@dataclass(frozen=True)
class Move:
    order: str
    line: int
    sku: str
    quantity: int
    from_po: str
    from_line: int
    to_po: str
    to_line: int
    # A split line moved whole (rule 10): the parts it left, earliest first. Empty otherwise.
    parts: tuple[LinePart, ...] = ()


@dataclass(frozen=True)
class DateChange:
    order: str
    line: int
    old: date | None
    new: date | None
    reason: str


@dataclass(frozen=True)
class FieldChange:
    po: str
    line: int | None
    field: str
    before: Any
    after: Any


@dataclass
class Outcome:
    """What one operation changed (or, for a dry run, would change)."""

    operation: str
    operation_id: str
    actor: str
    source: str
    dry_run: bool = False
    # Nothing ran: an operation with the same idempotency key had already committed.
    replayed: bool = False
    allocated: list[Placement] = field(default_factory=list)
    released: list[Placement] = field(default_factory=list)
    moved: list[Move] = field(default_factory=list)
    promises: list[DateChange] = field(default_factory=list)
    po_changes: list[FieldChange] = field(default_factory=list)
    parked: list[LineRef] = field(default_factory=list)
    unparked: list[LineRef] = field(default_factory=list)
    cancelled: list[LineRef] = field(default_factory=list)
    # SO lines whose stock came in (rule 9): every one counted, the first DETAIL_LIMIT listed.
    ready: list[LineRef] = field(default_factory=list)
    ready_count: int = 0
    fulfilled: list[LineRef] = field(default_factory=list)
    allocated_count: int = 0
    allocated_units: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    # Records an import gave again exactly as stored, by table (a retried delivery).
    unchanged: dict[str, int] = field(default_factory=dict)
    # Events written to the outbox: one per order whose customer has news (DESIGN.md
    # section 5), so how many customers will be told.
    notified: int = 0
    # The headers of the PO lines the operation addressed or changed, as they stand after it
    # (for a dry run: as they would), read in its transaction, by PO and line: what a face
    # shows next. The first PO_LINE_LIMIT it touched; ``po_lines_truncated`` if it touched more.
    po_lines: list[POLineHeader] = field(default_factory=list)
    po_lines_truncated: bool = False
    # For an undo: the id of the operation it undid.
    undid: str | None = None
    # SKUs whose new lines an order intake left queued for a sweep to place, in SKU order: a
    # sweep held them, or their queue was long (engine.sweep). Whoever took the orders asks for
    # that sweep (the service does at once); rule 1 places the lines in FIFO order then.
    awaiting_sweep: list[str] = field(default_factory=list)
    # Committed transactions the operation took: more than one when its sweep ran in SKU
    # batches (engine.sweep), each batch whole, all under this one operation id.
    batches: int = 1

    def po_line(self, po: str, line: int) -> POLineHeader | None:
        """The header of PO line ``po``:``line`` after the operation, if it touched that line
        (None also for a replay, which ran nothing, and past PO_LINE_LIMIT)."""
        return next((h for h in self.po_lines if h.po == po and h.line == line), None)

    @property
    def detail_room(self) -> int:
        """How many more allocated lines may be kept in detail (DETAIL_LIMIT)."""
        return max(0, DETAIL_LIMIT - len(self.allocated))

    def note_allocated(self, count: int, units: int, details: Sequence[Placement] = ()) -> None:
        """Count allocations; keep per-line details only up to DETAIL_LIMIT."""
        self.allocated_count += count
        self.allocated_units += units
        self.allocated.extend(details[: self.detail_room])

    @property
    def allocated_truncated(self) -> bool:
        return self.allocated_count > len(self.allocated)

    @property
    def released_units(self) -> int:
        return sum(p.quantity for p in self.released)

    @property
    def changed(self) -> bool:
        return bool(
            self.allocated_count
            or self.released
            or self.moved
            or self.promises
            or self.po_changes
            or self.parked
            or self.unparked
            or self.cancelled
            or self.ready_count
            or self.fulfilled
            or any(self.created.values())
            or any(self.updated.values())
        )

    def absorb(self, later: Outcome) -> None:
        """Add what a later transaction of the same operation did (a sweep batch): counts in
        full, details up to their limits, the PO line headers as they stand after it."""
        self.note_allocated(later.allocated_count, later.allocated_units, later.allocated)
        for name in ("released", "moved", "po_changes", "parked", "unparked", "cancelled"):
            getattr(self, name).extend(getattr(later, name))
        self.promises.extend(later.promises[: max(0, DETAIL_LIMIT - len(self.promises))])
        for counts, more in (
            (self.created, later.created),
            (self.updated, later.updated),
            (self.unchanged, later.unchanged),
        ):
            for table, n in more.items():
                counts[table] = counts.get(table, 0) + n
        self.notified += later.notified
        headers = {(h.po, h.line): h for h in self.po_lines}
        headers.update({(h.po, h.line): h for h in later.po_lines})
        self.po_lines = list(headers.values())[:PO_LINE_LIMIT]
        self.po_lines_truncated = (
            self.po_lines_truncated or later.po_lines_truncated or len(headers) > PO_LINE_LIMIT
        )
        self.awaiting_sweep = sorted(set(self.awaiting_sweep) | set(later.awaiting_sweep))
        self.batches += later.batches

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON: ``"operation"`` is the operation's id, the one ``undo`` takes
        (DESIGN.md section 3; ``operation_id`` says the same), ``"operation_name"`` what it
        was (allocate, remove...)."""
        data = asdict(self)
        name = data.pop("operation")
        data = {"operation": self.operation_id, "operation_name": name, **data}
        data["allocated_truncated"] = self.allocated_truncated
        for kind in ("allocated", "released", "moved"):
            for entry in data[kind]:
                # Rule 10's key is there for split lines only: a whole line's entry is as it
                # always was.
                if not entry["parts"]:
                    del entry["parts"]
        return _jsonable(data)


@dataclass(frozen=True)
class POLineHeader:
    """A PO line's header (rule 2): what every face shows of a PO line. ``status`` is the PO's
    when the PO is not open; ``orders`` counts the allocated SO lines, ``out_of_sync`` those
    promised another date than ``arrival_date``."""

    po: str
    line: int
    sku: str
    status: str
    arrival_date: date
    quantity: int
    store_hold: int
    allocated: int
    atp: int
    orders: int
    out_of_sync: int
    # Units received so far (rule 9).
    received: int = 0

    @property
    def sellable(self) -> int:
        return self.quantity - self.store_hold


@dataclass(frozen=True)
class ReviewLine:
    order: str
    line: int
    customer: str
    placed_at: datetime
    quantity: int
    promised_date: date | None
    in_sync: bool
    email: str | None = None
    # Its stock is in (rule 9).
    ready: bool = False
    # A part of a split line (rule 10): ``quantity`` is the part on this PO line, and
    # ``line_quantity`` the whole line's; ``ready`` says whether the part's stock is in.
    split: bool = False
    line_quantity: int | None = None
    # Every part of the split line, this one included, earliest first.
    parts: tuple[LinePart, ...] = ()


@dataclass(frozen=True)
class Review:
    """A PO line's header and its allocations in FIFO order (rule 2), and its PO's supplier."""

    head: POLineHeader
    allocations: list[ReviewLine]
    supplier: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The ``review --json`` contract of DESIGN.md section 3, each allocation with its
        order's email too (None: none given)."""
        head = self.head
        return _jsonable(
            {
                "po": head.po,
                "line": head.line,
                "sku": head.sku,
                "status": head.status,
                "arrival_date": head.arrival_date,
                "quantity": head.quantity,
                "store_hold": head.store_hold,
                "allocated": head.allocated,
                "atp": head.atp,
                "orders": head.orders,
                "allocations": [_review_line(a) for a in self.allocations],
            }
        )


def _review_line(a: ReviewLine) -> dict[str, Any]:
    found: dict[str, Any] = {
        "order": a.order,
        "line": a.line,
        "customer": a.customer,
        "placed_at": a.placed_at,
        "quantity": a.quantity,
        "promised_date": a.promised_date,
        "in_sync": a.in_sync,
        "email": a.email,
    }
    if a.split:
        # Rule 10: keys added for parts only, so a whole line's entry is as it always was.
        found["split"] = True
        found["line_quantity"] = a.line_quantity
        found["parts"] = [
            {"po": p.po, "po_line": p.po_line, "quantity": p.quantity} for p in a.parts
        ]
    return found


@dataclass(frozen=True)
class QueuedLine:
    """An unallocated open SO line (rule 1's queue, parked lines included and marked)."""

    order: str
    line: int
    sku: str
    quantity: int
    placed_at: datetime
    customer: str
    parked: bool

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class OrderLineState:
    """Where an SO line stands: allocated to a PO line, waiting in the queue (parked or not),
    or closed (cancelled, fulfilled)."""

    order: str
    line: int
    sku: str
    quantity: int
    status: str
    parked: bool
    po: str | None
    po_line: int | None
    promised_date: date | None
    # When its stock came in (rule 9); None: not ready.
    ready_at: datetime | None = None

    @property
    def state(self) -> str:
        """allocated, ready, queued, parked, cancelled or fulfilled."""
        if self.status != "open":
            return self.status
        if self.po is not None:
            return "ready" if self.ready_at is not None else "allocated"
        return "parked" if self.parked else "queued"


@dataclass(frozen=True)
class ReadyLine:
    """An SO line that can ship now (rule 9): allocated, its stock received."""

    order: str
    line: int
    sku: str
    quantity: int
    placed_at: datetime
    customer: str
    po: str
    po_line: int
    ready_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class AllocatedLine:
    """An allocation with what a person needs to judge it: the PO line and the SO line."""

    po: str
    po_line: int
    sku: str
    order: str
    line: int
    customer: str
    placed_at: datetime
    quantity: int
    arrival_date: date
    promised_date: date | None
    # A split line (rule 10): its parts, earliest first; ``po``/``po_line`` are the latest
    # part's and ``quantity`` the whole line's. Empty for a whole line.
    parts: tuple[LinePart, ...] = ()

    @property
    def in_sync(self) -> bool:
        return self.promised_date == self.arrival_date


@dataclass(frozen=True)
class State:
    """Open PO lines, every allocation and the unallocated queue, read in one consistent view."""

    po_lines: list[POLineHeader]
    allocations: list[AllocatedLine]
    unallocated: list[QueuedLine]


@dataclass(frozen=True)
class PODetail:
    po: str
    supplier: str
    status: str
    lines: list[POLineHeader]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
