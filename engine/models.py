"""The schema: SQLAlchemy Core tables (every statement is built on these; no row is mapped to
an object, so the ORM is never loaded: a command that only reads starts sooner without it).

Constraints carry the invariants of DESIGN.md section 1 wherever a constraint can express them:

* ``po_lines``: ``0 <= allocated`` and ``allocated + store_hold <= quantity`` (ATP never negative).
* ``allocations.so_line_id`` is unique (one allocation per SO line) and a composite foreign key ties
  each allocation to its SO line's pointer, SKU and quantity (the whole quantity, the same SKU).
* A second composite key ties each allocation to a PO line of the same SKU.
* ``so_lines``: only open lines may be allocated; parked lines are never allocated.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.compiler import DDLCompiler

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


metadata = MetaData(naming_convention=NAMING)


def _partial(name: str, *columns: str, where: str) -> Index:
    """An index of the rows ``where`` holds. Given in ``info`` rather than as ``sqlite_where``
    and ``postgresql_where``: a dialect option loads its dialect as it is declared, and
    PostgreSQL's would add a tenth to the start of every command on SQLite. ``_create_index``
    writes the ``WHERE``, which both databases put last."""
    return Index(name, *columns, info={"where": text(where)})


@compiles(CreateIndex)
def _create_index(create: CreateIndex, compiler: DDLCompiler, **kw: Any) -> str:
    ddl: str = compiler.visit_create_index(create, **kw)
    where = create.element.info.get("where")
    if where is None:
        return ddl
    condition = compiler.sql_compiler.process(where, include_table=False, literal_binds=True)
    return f"{ddl} WHERE {condition}"


def _required(name: str, *args: Any, **kw: Any) -> Column[Any]:
    """A NOT NULL column (Core columns are nullable unless told otherwise)."""
    return Column(name, *args, nullable=False, **kw)


def _optional(name: str, *args: Any, **kw: Any) -> Column[Any]:
    return Column(name, *args, nullable=True, **kw)


# One row per SKU; operations lock these rows, in SKU order, before touching allocations.
products = Table("products", metadata, Column("sku", KEY, primary_key=True))

purchase_orders = Table(
    "purchase_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("po_number", KEY, unique=True),
    _required("supplier", String(200), default=""),
    _required("status", String(16), default="open"),
    _required("created_at", UTCDateTime()),
    _required("updated_at", UTCDateTime()),
    CheckConstraint("status IN ('open', 'cancelled', 'received')", name="status"),
)

po_lines = Table(
    "po_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("po_id", ForeignKey("purchase_orders.id")),
    # Copied from the header: the PO number never changes and FIFO tie-breaks on it.
    _required("po_number", KEY),
    _required("line", Integer),
    _required("sku", ForeignKey("products.sku")),
    _required("quantity", Integer),
    _required("store_hold", Integer, default=0),
    # Sum of the quantities allocated to this line, kept by the operations so that the ATP
    # check above is a constraint rather than a hope.
    _required("allocated", Integer, default=0),
    # How many SO lines are allocated here, and how many of them are promised another date than
    # the arrival date: kept with ``allocated`` so that a review's totals cost the same for a
    # line with 50,000 orders as for one with 10.
    _required("allocated_lines", Integer, default=0, server_default="0"),
    _required("out_of_sync", Integer, default=0, server_default="0"),
    _required("arrival_date", Date),
    _required("status", String(16), default="open"),
    _required("updated_at", UTCDateTime()),
    # Units received so far (rule 9): they cover the line's allocations in FIFO order.
    _required("received", Integer, default=0, server_default="0"),
    # How many parts of split SO lines (rule 10) sit on this line: while it is 0, every reader
    # of this line's allocations keeps its whole-line query and the parts are never read.
    _required("split_parts", Integer, default=0, server_default="0"),
    UniqueConstraint("po_id", "line"),
    # Target of the allocations' (po_line_id, sku) key: an allocation can only name a PO
    # line of its own SKU.
    UniqueConstraint("id", "sku"),
    CheckConstraint("line >= 1", name="line_positive"),
    CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    CheckConstraint("store_hold >= 0", name="store_hold_not_negative"),
    CheckConstraint("allocated >= 0", name="allocated_not_negative"),
    CheckConstraint("received >= 0", name="received_not_negative"),
    CheckConstraint("allocated + store_hold <= quantity", name="atp_not_negative"),
    # Every allocated line holds at least one unit.
    CheckConstraint("allocated_lines BETWEEN 0 AND allocated", name="allocated_lines"),
    CheckConstraint("split_parts BETWEEN 0 AND allocated_lines", name="split_parts"),
    CheckConstraint("out_of_sync BETWEEN 0 AND allocated_lines", name="out_of_sync"),
    CheckConstraint("status IN ('open', 'cancelled', 'received')", name="status"),
    Index("ix_po_lines_supply", "sku", "arrival_date", "po_number", "line"),
)

sales_orders = Table(
    "sales_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("order_number", KEY, unique=True),
    _required("customer", String(200), default=""),
    # Where the customer is told of changed promises (DESIGN.md section 5); None: nowhere.
    _optional("email", String(EMAIL_LENGTH)),
    _required("placed_at", UTCDateTime()),
    _required("created_at", UTCDateTime()),
    # Its lines may be allocated in parts (rule 10) even when PREORDER_SPLIT_LINES is off.
    _required("allow_split", Boolean, default=False, server_default=false()),
    # An order looked up by its customer or address (``preorder order --customer/--email``),
    # newest first.
    Index("ix_sales_orders_customer", "customer", "placed_at"),
    Index("ix_sales_orders_email", "email", "placed_at"),
)

so_lines = Table(
    "so_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("so_id", ForeignKey("sales_orders.id")),
    # Copies of the header's FIFO keys so that one index orders the queue.
    _required("order_number", KEY),
    _required("placed_at", UTCDateTime()),
    _required("line", Integer),
    _required("sku", ForeignKey("products.sku")),
    _required("quantity", Integer),
    _required("status", String(16), default="open"),
    _required("parked", Boolean, default=False, server_default=false()),
    # The PO line this SO line is allocated to, mirrored by its allocations row.
    _optional("po_line_id", ForeignKey("po_lines.id")),
    _optional("promised_date", Date),
    # When the stock of this line's allocation came in (rule 9): a ready line is no longer
    # moved by rebalance or quantity cuts. A fulfilled line keeps its allocation and this
    # mark: its units left from that PO line and must never count as ATP again.
    _optional("ready_at", UTCDateTime()),
    # The order's allow_split, copied as placed_at is: the sweep finds the queued lines that
    # may split from a small index of their own, and reads nothing more while there are none.
    _required("allow_split", Boolean, default=False, server_default=false()),
    # Allocated in parts (rule 10): the parts are allocation_parts rows and there is no
    # allocations row; po_line_id is the PO line of the latest part (its anchor) and
    # promised_date that line's arrival date, so "in sync" and the queue keep their meaning.
    _required("split", Boolean, default=False, server_default=false()),
    UniqueConstraint("order_number", "line"),
    # Target of the allocations' composite key (see allocations).
    UniqueConstraint("id", "po_line_id", "sku", "quantity"),
    CheckConstraint("line >= 1", name="line_positive"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("status IN ('open', 'cancelled', 'fulfilled')", name="status"),
    CheckConstraint(
        "po_line_id IS NULL OR status = 'open' OR (status = 'fulfilled' AND ready_at IS NOT NULL)",
        name="allocated_only_open",
    ),
    CheckConstraint("ready_at IS NULL OR po_line_id IS NOT NULL", name="ready_allocated"),
    CheckConstraint("po_line_id IS NULL OR NOT parked", name="parked_unallocated"),
    CheckConstraint("po_line_id IS NULL OR promised_date IS NOT NULL", name="allocated_promised"),
    CheckConstraint("po_line_id IS NOT NULL OR NOT split", name="split_allocated"),
    # The unallocated queue (rule 1) in FIFO order, small however many lines are allocated.
    # The other columns ride along so that a line's place in the queue (the lines and units
    # ahead of it, ``preorder order``) and the sweep's read of it come from the index alone:
    # SQLite reads the table for any column the query names that the index lacks, even the two
    # its condition fixes.
    _partial(
        "ix_so_lines_queue",
        "sku",
        "placed_at",
        "order_number",
        "line",
        "parked",
        "quantity",
        "status",
        "po_line_id",
        where="status = 'open' AND po_line_id IS NULL",
    ),
    # The queued lines that may be split (rule 10) though the setting is off: usually none, so
    # the sweep's look for them is one probe of an empty index.
    _partial(
        "ix_so_lines_split_queue",
        "sku",
        "placed_at",
        "order_number",
        "line",
        "quantity",
        where="status = 'open' AND po_line_id IS NULL AND allow_split AND NOT parked",
    ),
    # What can ship now (rule 9), in FIFO order.
    _partial(
        "ix_so_lines_ready",
        "placed_at",
        "order_number",
        "line",
        where="status = 'open' AND ready_at IS NOT NULL",
    ),
    # A PO line's allocations in FIFO order, for review pages and releases.
    _partial(
        "ix_so_lines_allocated",
        "po_line_id",
        "placed_at",
        "order_number",
        "line",
        where="po_line_id IS NOT NULL",
    ),
)

# The size of each SKU's queue by hour of placed_at: the queued (open, unallocated, unparked)
# lines and their units placed in that hour, so that a line's place in its queue is a sum of a
# few of these and a count inside its own hour (``engine.queue_tallies``). Database triggers on
# ``so_lines`` keep them, whatever statement changes the queue. On SQLite the triggers add to
# these rows; on PostgreSQL they only append to ``queue_tally_deltas`` (a row per SKU and hour
# a statement changed), which ``engine.fold_queue_tallies`` sums into these rows: a writer never
# waits for another's lock on a tally.
queue_tallies = Table(
    "queue_tallies",
    metadata,
    Column("sku", KEY, primary_key=True),
    Column("hour", UTCDateTime(), primary_key=True),
    _required("lines", BigInteger),
    _required("units", BigInteger),
)

queue_tally_deltas = Table(
    "queue_tally_deltas",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    _required("sku", KEY),
    _required("hour", UTCDateTime()),
    _required("lines", BigInteger),
    _required("units", BigInteger),
    Index("ix_queue_tally_deltas_sku", "sku", "hour", "lines", "units"),
)

# One SO line promised to one PO line, for the SO line's whole quantity.
allocations = Table(
    "allocations",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("so_line_id", Integer, unique=True),
    _required("po_line_id", Integer, index=True),
    _required("sku", KEY),
    _required("quantity", Integer),
    _required("operation_id", String(36), index=True),
    _required("actor", String(200)),
    _required("source", String(16)),
    _required("created_at", UTCDateTime()),
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

# One part of a split SO line (rule 10): the units it takes from one PO line. A split line's
# parts sum to its quantity; it has no allocations row.
allocation_parts = Table(
    "allocation_parts",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("so_line_id", ForeignKey("so_lines.id")),
    _required("po_line_id", Integer, index=True),
    _required("sku", KEY),
    _required("quantity", Integer),
    _required("operation_id", String(36)),
    _required("actor", String(200)),
    _required("source", String(16)),
    _required("created_at", UTCDateTime()),
    # When this part's stock came in (rule 9); the line is ready once every part is.
    _optional("ready_at", UTCDateTime()),
    UniqueConstraint("so_line_id", "po_line_id"),
    ForeignKeyConstraint(
        ["po_line_id", "sku"],
        ["po_lines.id", "po_lines.sku"],
        name="fk_allocation_parts_po_line_same_sku",
    ),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

# Every change: when, who, from where, what, before and after (DESIGN.md section 1).
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("at", UTCDateTime()),
    _required("operation_id", String(36)),
    _required("operation", String(32)),
    _required("actor", String(200)),
    _required("source", String(16)),
    _required("action", String(32)),
    _optional("sku", KEY),
    _optional("po_number", KEY),
    _optional("po_line", Integer),
    _optional("order_number", KEY),
    _optional("so_line", Integer),
    _optional("quantity", Integer),
    _optional("before", JSON),
    _optional("after", JSON),
    _optional("reason", Text),
    # "What happened to this order" (``preorder order``), and "what did this operation do"
    # (``preorder undo`` inverts it from its events). Each index costs every bulk allocation an
    # insert per row, so the PO line's is partial: only the PO's own events (arrival dates,
    # quantities, statuses), never the allocations, for an order's history of its PO lines.
    Index("ix_audit_events_order", "order_number", "so_line"),
    Index("ix_audit_events_operation", "operation_id"),
    _partial(
        "ix_audit_events_po_line",
        "po_number",
        "po_line",
        where="order_number IS NULL",
    ),
)

# An operation undone, and the operation that undid it: an operation is undone at most once
# (the primary key holds that even under concurrent undos). Undoing an undo is an undo too.
undo_links = Table(
    "undo_links",
    metadata,
    Column("operation_id", String(36), primary_key=True),
    _required("undone_by", String(36), unique=True),
    _required("at", UTCDateTime()),
)

# Each change of a promised date, so that customers can be told (rule 4). No foreign key to
# the SO line: a sweep writes a row for every line it places, and the check of each row against
# so_lines was most of that insert's time. SO lines are never deleted, every row is written from
# the line it names in the transaction that changes it, and the tests' invariant checker holds
# every row to a line (migration 0008).
promise_changes = Table(
    "promise_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("so_line_id", Integer, index=True),
    _required("at", UTCDateTime()),
    _required("operation_id", String(36)),
    _required("actor", String(200)),
    _required("source", String(16)),
    _optional("old_date", Date),
    _optional("new_date", Date),
    _required("reason", String(64)),
)

# The idempotency key of an operation that committed: a request delivered again (a Slack
# retry, a sheet edit read again after a crash) finds its key here and is not applied twice.
# Written in the operation's own transaction, so the key exists exactly when the change does.
applied_keys = Table(
    "applied_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    _required("operation", String(32)),
    _required("operation_id", String(36)),
    _required("actor", String(200)),
    _required("source", String(16)),
    _required("at", UTCDateTime()),
)

# A row as last written to an outside mirror of the data (a spreadsheet), by the mirror's name,
# its table and the row's key: what lets a sync tell a person's edit from a change in the
# database since the last write.
mirror_rows = Table(
    "mirror_rows",
    metadata,
    Column("mirror", String(300), primary_key=True),
    Column("tab", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    _required("data", JSON),
)

# What leaves the system (DESIGN.md section 5): one event per order per operation that changed
# what its customer was promised, written in that operation's transaction (a transactional
# outbox). ``data`` is the event's ``data`` object as JSON text, built by the database in the
# same statement that finds the changes.
outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("event_id", String(64), unique=True),
    _required("type", String(32)),
    _required("order_number", KEY, index=True),
    _required("operation_id", String(36)),
    _required("created_at", UTCDateTime()),
    _required("data", Text),
    _required("enqueued", Boolean, default=False, server_default=false()),
    # The events no delivery run has fanned out to its channels yet: a small index whatever
    # the size of the history.
    _partial("ix_outbox_events_new", "id", where="NOT enqueued"),
)

# Where events go: ``webhook <url>`` for each webhook URL, ``email`` for customers.
outbox_channels = Table(
    "outbox_channels",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("name", String(1100), unique=True),
)

# One event on its way to one channel: pending (``due_at`` is when it may next be tried, or
# when a claim on it lapses), delivered, dead (dead-lettered: kept with the last answer until
# someone retries it) or skipped (an email with nothing to tell or no one to tell).
outbox_deliveries = Table(
    "outbox_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    _required("outbox_id", ForeignKey("outbox_events.id")),
    _required("channel_id", ForeignKey("outbox_channels.id")),
    _required("order_number", KEY),
    _required("status", String(16), default="pending"),
    _required("due_at", UTCDateTime()),
    _required("attempts", Integer, default=0, server_default="0"),
    _optional("first_attempt_at", UTCDateTime()),
    _optional("last_attempt_at", UTCDateTime()),
    _optional("done_at", UTCDateTime()),
    # The receiver's last answer: an HTTP status or SMTP reply code, and the first 500 bytes of
    # what it said (or what went wrong: a timeout, a refused connection).
    _optional("answer_status", Integer),
    _optional("answer", Text),
    # An email that told the customer of this event with earlier ones (the debounce window).
    _optional("merged_into", Integer),
    UniqueConstraint("outbox_id", "channel_id"),
    CheckConstraint("status IN ('pending', 'delivered', 'dead', 'skipped')", name="status"),
    # What is due on a channel, soonest first.
    _partial("ix_outbox_deliveries_due", "channel_id", "due_at", "id", where="status = 'pending'"),
    # An order's earlier deliveries still in the way of its next one (per-order order).
    _partial(
        "ix_outbox_deliveries_waiting",
        "channel_id",
        "order_number",
        "outbox_id",
        where="status IN ('pending', 'dead')",
    ),
    _partial("ix_outbox_deliveries_dead", "id", where="status = 'dead'"),
)
