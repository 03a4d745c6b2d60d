"""The schema: typed SQLAlchemy 2 models.

Constraints carry the invariants of DESIGN.md section 1 wherever a constraint can express them:

* ``po_lines``: ``0 <= allocated`` and ``allocated + store_hold <= quantity`` (ATP never negative).
* ``allocations.so_line_id`` is unique (one allocation per SO line) and a composite foreign key ties
  each allocation to its SO line's pointer, SKU and quantity (the whole quantity, the same SKU).
* A second composite key ties each allocation to a PO line of the same SKU.
* ``so_lines``: only open lines may be allocated; parked lines are never allocated.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Numbers and SKUs compare byte by byte on both databases: FIFO breaks ties on the order and PO
# number, and a PostgreSQL database created with a language locale would otherwise sort
# "SO-10" and "so-9" differently from SQLite.
KEY = String(64).with_variant(String(64, collation="C"), "postgresql")
# The longest address SMTP carries (RFC 5321: a 256-octet path less its angle brackets).
EMAIL_LENGTH = 254


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Product(Base):
    """One row per SKU; operations lock these rows, in SKU order, before touching allocations."""

    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(KEY, primary_key=True)


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'cancelled', 'received')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_number: Mapped[str] = mapped_column(KEY, unique=True)
    supplier: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class POLine(Base):
    __tablename__ = "po_lines"
    __table_args__ = (
        UniqueConstraint("po_id", "line"),
        # Target of the allocations' (po_line_id, sku) key: an allocation can only name a PO
        # line of its own SKU.
        UniqueConstraint("id", "sku"),
        CheckConstraint("line >= 1", name="line_positive"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("store_hold >= 0", name="store_hold_not_negative"),
        CheckConstraint("allocated >= 0", name="allocated_not_negative"),
        CheckConstraint("allocated + store_hold <= quantity", name="atp_not_negative"),
        # Every allocated line holds at least one unit.
        CheckConstraint("allocated_lines BETWEEN 0 AND allocated", name="allocated_lines"),
        CheckConstraint("out_of_sync BETWEEN 0 AND allocated_lines", name="out_of_sync"),
        CheckConstraint("status IN ('open', 'cancelled', 'received')", name="status"),
        Index("ix_po_lines_supply", "sku", "arrival_date", "po_number", "line"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    po_id: Mapped[int] = mapped_column(ForeignKey("purchase_orders.id"))
    # Copied from the header: the PO number never changes and FIFO tie-breaks on it.
    po_number: Mapped[str] = mapped_column(KEY)
    line: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    store_hold: Mapped[int] = mapped_column(Integer, default=0)
    # Sum of the quantities allocated to this line, kept by the operations so that the ATP
    # check above is a constraint rather than a hope.
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    # How many SO lines are allocated here, and how many of them are promised another date than
    # the arrival date: kept with ``allocated`` so that a review's totals cost the same for a
    # line with 50,000 orders as for one with 10.
    allocated_lines: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    out_of_sync: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    arrival_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SalesOrder(Base):
    __tablename__ = "sales_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_number: Mapped[str] = mapped_column(KEY, unique=True)
    customer: Mapped[str] = mapped_column(String(200), default="")
    # Where the customer is told of changed promises (DESIGN.md section 5); None: nowhere.
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SOLine(Base):
    __tablename__ = "so_lines"
    __table_args__ = (
        UniqueConstraint("order_number", "line"),
        # Target of the allocations' composite key (see Allocation).
        UniqueConstraint("id", "po_line_id", "sku", "quantity"),
        CheckConstraint("line >= 1", name="line_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('open', 'cancelled', 'fulfilled')", name="status"),
        CheckConstraint("po_line_id IS NULL OR status = 'open'", name="allocated_only_open"),
        CheckConstraint("po_line_id IS NULL OR NOT parked", name="parked_unallocated"),
        CheckConstraint(
            "po_line_id IS NULL OR promised_date IS NOT NULL", name="allocated_promised"
        ),
        # The unallocated queue (rule 1) in FIFO order, small however many lines are allocated.
        Index(
            "ix_so_lines_queue",
            "sku",
            "placed_at",
            "order_number",
            "line",
            sqlite_where=text("status = 'open' AND po_line_id IS NULL"),
            postgresql_where=text("status = 'open' AND po_line_id IS NULL"),
        ),
        # A PO line's allocations in FIFO order, for review pages and releases.
        Index(
            "ix_so_lines_allocated",
            "po_line_id",
            "placed_at",
            "order_number",
            "line",
            sqlite_where=text("po_line_id IS NOT NULL"),
            postgresql_where=text("po_line_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    so_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"))
    # Copies of the header's FIFO keys so that one index orders the queue.
    order_number: Mapped[str] = mapped_column(KEY)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    line: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    parked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The PO line this SO line is allocated to, mirrored by its Allocation row.
    po_line_id: Mapped[int | None] = mapped_column(ForeignKey("po_lines.id"))
    promised_date: Mapped[date | None] = mapped_column(Date)


class Allocation(Base):
    """One SO line promised to one PO line, for the SO line's whole quantity."""

    __tablename__ = "allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["so_line_id", "po_line_id", "sku", "quantity"],
            ["so_lines.id", "so_lines.po_line_id", "so_lines.sku", "so_lines.quantity"],
            name="fk_allocations_so_line_agrees",
            # Checked at commit: a bulk allocation inserts these rows first and then points the
            # SO lines at them in one set-based UPDATE.
            deferrable=True,
            initially="DEFERRED",
        ),
        ForeignKeyConstraint(
            ["po_line_id", "sku"],
            ["po_lines.id", "po_lines.sku"],
            name="fk_allocations_po_line_same_sku",
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    so_line_id: Mapped[int] = mapped_column(Integer, unique=True)
    po_line_id: Mapped[int] = mapped_column(Integer, index=True)
    sku: Mapped[str] = mapped_column(KEY)
    quantity: Mapped[int] = mapped_column(Integer)
    operation_id: Mapped[str] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Every change: when, who, from where, what, before and after (DESIGN.md section 1)."""

    __tablename__ = "audit_events"
    # Only "what happened to this order" is indexed: each index costs every bulk allocation an
    # insert per row (the PO line and operation indexes were a twentieth of a 200,000-line
    # sweep), and no query reads the log by PO line or operation.
    __table_args__ = (Index("ix_audit_events_order", "order_number", "so_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    operation_id: Mapped[str] = mapped_column(String(36))
    operation: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str | None] = mapped_column(KEY)
    po_number: Mapped[str | None] = mapped_column(KEY)
    po_line: Mapped[int | None] = mapped_column(Integer)
    order_number: Mapped[str | None] = mapped_column(KEY)
    so_line: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


class PromiseChange(Base):
    """Each change of a promised date, so that customers can be told (rule 4)."""

    __tablename__ = "promise_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    so_line_id: Mapped[int] = mapped_column(ForeignKey("so_lines.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    operation_id: Mapped[str] = mapped_column(String(36))
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    old_date: Mapped[date | None] = mapped_column(Date)
    new_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(64))


class AppliedKey(Base):
    """The idempotency key of an operation that committed: a request delivered again (a Slack
    retry, a sheet edit read again after a crash) finds its key here and is not applied twice.
    Written in the operation's own transaction, so the key exists exactly when the change does."""

    __tablename__ = "applied_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    operation_id: Mapped[str] = mapped_column(String(36))
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class MirrorRow(Base):
    """A row as last written to an outside mirror of the data (a spreadsheet), by the mirror's
    name, its table and the row's key: what lets a sync tell a person's edit from a change in
    the database since the last write."""

    __tablename__ = "mirror_rows"

    mirror: Mapped[str] = mapped_column(String(300), primary_key=True)
    tab: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)


class OutboxEvent(Base):
    """What leaves the system (DESIGN.md section 5): one event per order per operation that
    changed what its customer was promised, written in that operation's transaction (a
    transactional outbox). ``data`` is the event's ``data`` object as JSON text, built by the
    database in the same statement that finds the changes."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        # The events no delivery run has fanned out to its channels yet: a small index
        # whatever the size of the history.
        Index(
            "ix_outbox_events_new",
            "id",
            sqlite_where=text("NOT enqueued"),
            postgresql_where=text("NOT enqueued"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    order_number: Mapped[str] = mapped_column(KEY, index=True)
    operation_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)
    enqueued: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class OutboxChannel(Base):
    """Where events go: ``webhook <url>`` for each webhook URL, ``email`` for customers."""

    __tablename__ = "outbox_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(1100), unique=True)


class OutboxDelivery(Base):
    """One event on its way to one channel: pending (``due_at`` is when it may next be tried,
    or when a claim on it lapses), delivered, dead (dead-lettered: kept with the last answer
    until someone retries it) or skipped (an email with nothing to tell or no one to tell)."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_id", "channel_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'dead', 'skipped')", name="status"),
        # What is due on a channel, soonest first.
        Index(
            "ix_outbox_deliveries_due",
            "channel_id",
            "due_at",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # An order's earlier deliveries still in the way of its next one (per-order order).
        Index(
            "ix_outbox_deliveries_waiting",
            "channel_id",
            "order_number",
            "outbox_id",
            sqlite_where=text("status IN ('pending', 'dead')"),
            postgresql_where=text("status IN ('pending', 'dead')"),
        ),
        Index(
            "ix_outbox_deliveries_dead",
            "id",
            sqlite_where=text("status = 'dead'"),
            postgresql_where=text("status = 'dead'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("outbox_channels.id"))
    order_number: Mapped[str] = mapped_column(KEY)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The receiver's last answer: an HTTP status or SMTP reply code, and the first 500 bytes
    # of what it said (or what went wrong: a timeout, a refused connection).
    answer_status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(Text)
    # An email that told the customer of this event with earlier ones (the debounce window).
    merged_into: Mapped[int | None] = mapped_column(Integer)


# A declarative class's ``__table__`` is typed ``FromClause`` (a class may be mapped to a join or
# a subquery), which insert(), update() and delete() do not take. These classes are all mapped to
# plain tables: the modules that build statements get each one typed ``Table`` here, checked once.
def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


purchase_orders = _table(PurchaseOrder)
po_lines = _table(POLine)
sales_orders = _table(SalesOrder)
so_lines = _table(SOLine)
allocations = _table(Allocation)
audit_events = _table(AuditEvent)
promise_changes = _table(PromiseChange)
products = _table(Product)
applied_keys = _table(AppliedKey)
mirror_rows = _table(MirrorRow)
outbox_events = _table(OutboxEvent)
outbox_channels = _table(OutboxChannel)
outbox_deliveries = _table(OutboxDelivery)
