"""Changes customers make to their own orders (rule 8)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from engine import arguments, ledger, lookup
from engine.db import Database
from engine.errors import Refused
from engine.models import so_lines
from engine.results import LineRef, Outcome
from engine.sweep import sweep
from engine.unit import Actor, Unit, run_operation


def cancel_order(
    db: Database,
    actor: Actor,
    refs: Sequence[LineRef],
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 8: the customer cancels SO lines (``ORDER`` alone: all its open lines). Allocations
    are released and the freed ATP goes to the queue at once."""
    if not refs:
        raise Refused("name at least one order or order line to cancel")
    refs = arguments.refs(refs)

    def work(unit: Unit) -> None:
        lines = _expand(unit, refs)
        unit.lock_skus({d.sku for d in lines})
        lines = _expand(unit, refs)  # again, now that nobody else can change them
        problems = [
            f"{d.order}:{d.line} is already {d.status}" for d in lines if d.status != "open"
        ]
        if problems:
            raise Refused("cannot cancel", problems)
        held = [d for d in lines if d.po_line_id is not None]
        holders = {
            d.po_line_id: ledger.po_line_by_id(unit, d.po_line_id) for d in held if d.po_line_id
        }
        ledger.release(
            unit,
            [(d, holders[d.po_line_id]) for d in held if d.po_line_id],
            park=False,
            reason="customer cancelled",
            cancel=True,
        )
        free = [d.id for d in lines if d.po_line_id is None]
        unit.cancelled_lines.extend(free)
        for chunk in ledger.chunks(free):
            unit.conn.execute(
                update(so_lines)
                .where(so_lines.c.id.in_(chunk))
                .values(status="cancelled", parked=False)
            )
        for d in lines:
            unit.event(
                "order-line-cancelled",
                sku=d.sku,
                order=d.order,
                so_line=d.line,
                quantity=d.quantity,
                before={"status": d.status},
                after={"status": "cancelled"},
                reason="customer cancelled",
            )
            unit.outcome.cancelled.append(d.ref)
        sweep(unit, {s.sku for s in holders.values()})

    return run_operation(db, actor, "cancel-order", work, dry_run=dry_run, key=key)


def _expand(unit: Unit, refs: Sequence[LineRef]) -> list[ledger.Demand]:
    found: list[ledger.Demand] = []
    problems: list[str] = []
    for ref in refs:
        if ref.line is None:
            lines = lookup.order_lines(unit.conn, ref.order)
            open_lines = [d for d in lines if d.status == "open"]
            if not open_lines:
                problems.append(f"order {ref.order} has no open lines")
            found.extend(open_lines)
        else:
            lines, issues = lookup.resolve(unit.conn, [ref], None)
            found.extend(lines)
            problems.extend(issues)
    if problems:
        raise Refused("cannot cancel", problems)
    unique = {d.id: d for d in found}
    return list(unique.values())
