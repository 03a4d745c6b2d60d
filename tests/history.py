"""Readers of what the engine recorded: audit events, promise history, whole-table dumps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

import engine as e
from engine.models import audit_events, promise_changes, so_lines
from tests.helpers import dump as dump


@dataclass(frozen=True)
class Event:
    """One audit event row, as the tests compare it."""

    operation_id: str
    operation: str
    actor: str
    source: str
    action: str
    sku: str | None
    po: str | None
    po_line: int | None
    order: str | None
    so_line: int | None
    quantity: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class PromiseRow:
    """One row of ``promise_changes``, named by its SO line."""

    order: str
    line: int
    old: date | None
    new: date | None
    actor: str
    source: str
    reason: str
    operation_id: str


def events(db: e.Database, operation_id: str | None = None) -> list[Event]:
    """Audit events in the order they were written, optionally of one operation."""
    query = select(audit_events).order_by(audit_events.c.id)
    if operation_id is not None:
        query = query.where(audit_events.c.operation_id == operation_id)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        Event(
            operation_id=r.operation_id,
            operation=r.operation,
            actor=r.actor,
            source=r.source,
            action=r.action,
            sku=r.sku,
            po=r.po_number,
            po_line=r.po_line,
            order=r.order_number,
            so_line=r.so_line,
            quantity=r.quantity,
            before=r.before,
            after=r.after,
            reason=r.reason,
            at=r.at,
        )
        for r in rows
    ]


def actions(db: e.Database, operation_id: str) -> list[tuple[str, str | None, int | None]]:
    """``(action, order or PO, line)`` of one operation's events, in the order written."""
    return [
        (ev.action, ev.order or ev.po, ev.so_line if ev.order else ev.po_line)
        for ev in events(db, operation_id)
    ]


def promises(db: e.Database) -> list[PromiseRow]:
    """Every recorded change of a promised date, oldest first."""
    query = (
        select(promise_changes, so_lines.c.order_number, so_lines.c.line)
        .join(so_lines, so_lines.c.id == promise_changes.c.so_line_id)
        .order_by(promise_changes.c.id)
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        PromiseRow(
            order=r.order_number,
            line=r.line,
            old=r.old_date,
            new=r.new_date,
            actor=r.actor,
            source=r.source,
            reason=r.reason,
            operation_id=r.operation_id,
        )
        for r in rows
    ]


def promises_since(db: e.Database, before: list[PromiseRow]) -> list[PromiseRow]:
    """The promise changes recorded since ``before = promises(db)`` was read, oldest first.

    The history only grows: the rows read before must still be there, unchanged, ahead of them.
    """
    now = promises(db)
    assert now[: len(before)] == before, "recorded promise changes were altered or removed"
    return now[len(before) :]


def so_line_state(db: e.Database, order: str, line: int = 1) -> tuple[str, bool, date | None]:
    """``(status, parked, promised_date)`` of one SO line."""
    with db.read() as conn:
        row = conn.execute(
            select(so_lines.c.status, so_lines.c.parked, so_lines.c.promised_date).where(
                so_lines.c.order_number == order, so_lines.c.line == line
            )
        ).one()
    return row.status, row.parked, row.promised_date


def queue(db: e.Database, sku: str | None = None) -> list[tuple[str, int]]:
    """The unallocated queue as ``(order, line)`` pairs in FIFO order."""
    return [(q.order, q.line) for q in e.unallocated(db, sku=sku)]
