"""The allocation engine: pre-order SO lines matched to incoming PO lines, first in, first out.

Every operation here is one database transaction, takes an ``Actor`` (who, and from where),
writes audit events, and returns an ``Outcome``; ``dry_run=True`` reports the same ``Outcome``
and changes nothing; ``key=...`` makes a change idempotent (a second call with the same key
changes nothing and its outcome says ``replayed``). The rules they apply are numbered as in
DESIGN.md section 1. An operation's ``Outcome`` ends with the headers of the PO lines it
touched (``outcome.po_line(po, line)``), read in its transaction, so a face shows the state
after a change without reading again.

The database is the engine's alone: no caller needs SQLAlchemy. Reads are functions here
(``review``, ``po_line``, ``unallocated``...), ``db.ping()`` checks the database answers, and
every database failure reaches the caller as ``StorageError`` (after the engine has retried
the transient ones), never as a driver's or SQLAlchemy's exception.

Each name is imported from its module on first use (PEP 562), so that a caller pays only for
the modules it uses: ``engine.review`` loads the queries, not the import, the migrations or the
record models. ``_MODULES`` says where each name lives.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.db import Database
    from engine.deliveries import DeliveryRow, list_events, retry_events
    from engine.errors import (
        Closed,
        Conflict,
        ConstraintViolation,
        Difference,
        EngineError,
        InvalidInput,
        NotFound,
        Refused,
        StorageError,
    )
    from engine.intake import apply_import, apply_orders, apply_records
    from engine.inverse import not_undone, undo
    from engine.manual import allocate, move, remove, sync_date, unpark
    from engine.order_view import HistoryEntry, OrderLineView, OrderView, order, orders_of
    from engine.orders import cancel_order
    from engine.queries import (
        applied_keys,
        is_empty,
        open_po_lines,
        order_lines,
        po_line,
        po_lines_of_sku,
        purchase_order,
        review,
        state,
        unallocated,
        unallocated_count,
    )
    from engine.queue_tallies import fold_queue_tallies
    from engine.receiving import fulfil, ready, receive, record_received
    from engine.records import POLineRecord, PORecord, SOLineRecord, SORecord
    from engine.results import (
        AllocatedLine,
        DateChange,
        FieldChange,
        LinePart,
        LineRef,
        Move,
        OrderLineState,
        Outcome,
        Placement,
        PODetail,
        POLineHeader,
        QueuedLine,
        ReadyLine,
        Review,
        ReviewLine,
        State,
        parts_text,
    )
    from engine.supply import (
        cancel_po,
        rebalance,
        reopen_po,
        set_arrival,
        set_quantity,
        set_store_hold,
    )
    from engine.sweep import auto_allocate, sweep_batches
    from engine.types import POStatus, SOStatus, Source
    from engine.unit import Actor, announce, on_commit

_MODULES = {
    "engine.db": ["Database"],
    "engine.deliveries": ["DeliveryRow", "list_events", "retry_events"],
    "engine.errors": [
        "Closed",
        "Conflict",
        "ConstraintViolation",
        "Difference",
        "EngineError",
        "InvalidInput",
        "NotFound",
        "Refused",
        "StorageError",
    ],
    "engine.intake": ["apply_import", "apply_orders", "apply_records"],
    "engine.manual": ["allocate", "move", "remove", "sync_date", "unpark"],
    "engine.order_view": ["HistoryEntry", "OrderLineView", "OrderView", "order", "orders_of"],
    "engine.orders": ["cancel_order"],
    "engine.queries": [
        "applied_keys",
        "is_empty",
        "open_po_lines",
        "order_lines",
        "po_line",
        "po_lines_of_sku",
        "purchase_order",
        "review",
        "state",
        "unallocated",
        "unallocated_count",
    ],
    "engine.queue_tallies": ["fold_queue_tallies"],
    "engine.receiving": ["fulfil", "ready", "receive", "record_received"],
    "engine.records": ["POLineRecord", "PORecord", "SOLineRecord", "SORecord"],
    "engine.results": [
        "AllocatedLine",
        "DateChange",
        "FieldChange",
        "LinePart",
        "LineRef",
        "Move",
        "OrderLineState",
        "Outcome",
        "Placement",
        "PODetail",
        "POLineHeader",
        "QueuedLine",
        "ReadyLine",
        "Review",
        "ReviewLine",
        "State",
        "parts_text",
    ],
    "engine.supply": [
        "cancel_po",
        "rebalance",
        "reopen_po",
        "set_arrival",
        "set_quantity",
        "set_store_hold",
    ],
    "engine.sweep": ["auto_allocate", "sweep_batches"],
    "engine.types": ["POStatus", "SOStatus", "Source"],
    "engine.inverse": ["not_undone", "undo"],
    "engine.unit": ["Actor", "announce", "on_commit"],
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once; later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or migrate the schema (Alembic, imported only when needed: it is slow to load)."""
    from engine.migrate import upgrade as _upgrade

    return _upgrade(db, revision)


__all__ = [
    "Actor",
    "AllocatedLine",
    "Closed",
    "Conflict",
    "ConstraintViolation",
    "Database",
    "DateChange",
    "DeliveryRow",
    "Difference",
    "EngineError",
    "FieldChange",
    "HistoryEntry",
    "InvalidInput",
    "LinePart",
    "LineRef",
    "Move",
    "NotFound",
    "OrderLineState",
    "OrderLineView",
    "OrderView",
    "Outcome",
    "PODetail",
    "POLineHeader",
    "POLineRecord",
    "PORecord",
    "POStatus",
    "Placement",
    "QueuedLine",
    "ReadyLine",
    "Refused",
    "Review",
    "ReviewLine",
    "SOLineRecord",
    "SORecord",
    "SOStatus",
    "Source",
    "State",
    "StorageError",
    "allocate",
    "announce",
    "applied_keys",
    "apply_import",
    "apply_orders",
    "apply_records",
    "auto_allocate",
    "cancel_order",
    "cancel_po",
    "fold_queue_tallies",
    "fulfil",
    "is_empty",
    "list_events",
    "move",
    "not_undone",
    "on_commit",
    "open_po_lines",
    "order",
    "order_lines",
    "orders_of",
    "parts_text",
    "po_line",
    "po_lines_of_sku",
    "purchase_order",
    "ready",
    "rebalance",
    "receive",
    "record_received",
    "remove",
    "reopen_po",
    "retry_events",
    "review",
    "set_arrival",
    "set_quantity",
    "set_store_hold",
    "state",
    "sweep_batches",
    "sync_date",
    "unallocated",
    "unallocated_count",
    "undo",
    "unpark",
    "upgrade",
]
