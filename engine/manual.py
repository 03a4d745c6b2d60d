"""What a merchandiser does by hand: allocate, remove, sync dates, unpark (rules 3, 4, 5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine import arguments, ledger, lookup, parts
from engine.db import Database
from engine.errors import Refused
from engine.results import LineRef, Outcome
from engine.unit import Actor, Unit, run_operation


def allocate(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    refs: Sequence[LineRef],
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 3: allocate the chosen unallocated SO lines (parked or not) of the PO line's SKU to
    it, all or nothing. A refusal names every offending line and the shortfall in units."""
    if not refs:
        raise Refused("name at least one order line to allocate")
    line, refs = arguments.line_number(line), arguments.refs(refs)

    def work(unit: Unit) -> None:
        target, demands, problems = _target_and_lines(unit, po, line, refs)
        names = lookup.po_line_names(unit.conn, [d.po_line_id for d in demands if d.po_line_id])

        def unfit(d: ledger.Demand) -> str | None:
            if d.status != "open":
                return f"{d.order}:{d.line} is {d.status}"
            if d.po_line_id is not None:
                other_po, other_line = names[d.po_line_id]
                return f"{d.order}:{d.line} is already allocated to {other_po}:{other_line}"
            return None

        _judge(f"cannot allocate to {po}:{line}", target, demands, problems, unfit)
        # A person chose these lines: parked ones stop being parked.
        ledger.set_parked(unit, [d for d in demands if d.parked], parked=False)
        ledger.allocate(unit, [(d, target) for d in demands], reason="manual")

    return run_operation(db, actor, "allocate", work, dry_run=dry_run, key=key)


# The reason of a forced removal of ready lines: the audit log tells it from a plain one.
FORCED = "removed, forced (ready)"


def remove(
    db: Database,
    actor: Actor,
    po: str,
    line: int,
    refs: Sequence[LineRef],
    *,
    hold_for_store: bool = False,
    force: bool = False,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Rule 5: unallocate the chosen SO lines from the PO line, clear their promised dates and
    park them. With ``hold_for_store`` the freed units go to the store hold, else back to ATP.

    A ready line (its stock is in, rule 9) is removed only with ``force``: a person's
    deliberate choice, audited as such; its received units then cover the next lines in FIFO
    order (``ledger.release``). A fulfilled line has shipped and is never removed."""
    if not refs:
        raise Refused("name at least one order line to remove")
    line, refs = arguments.line_number(line), arguments.refs(refs)

    def work(unit: Unit) -> None:
        target, _ = lookup.po_line(unit, po, line)
        demands, problems = lookup.resolve(unit.conn, refs, target.sku)
        # A split line (rule 10) is removed from any PO line it has a part on, whole.
        here = {
            so_line_id: sum(p.quantity for p in found if p.po_line_id == target.id)
            for so_line_id, found in parts.parts_of(
                unit, [d.id for d in demands if d.split]
            ).items()
        }
        for d in demands:
            if not (here.get(d.id) if d.split else d.po_line_id == target.id):
                problems.append(f"{d.order}:{d.line} is not allocated to {po}:{line}")
            elif d.status != "open":
                problems.append(f"{d.order}:{d.line} is {d.status}")
            elif d.ready_at is not None and not force:
                problems.append(f"{d.order}:{d.line} is ready (its stock is in): use force")
        if problems:
            raise Refused(f"cannot remove allocations from {po}:{line}", problems)
        ready = [d for d in demands if d.ready_at is not None]
        plain = [d for d in demands if d.ready_at is None]
        ledger.release(unit, [(d, target) for d in plain], park=True, reason="removed")
        ledger.release(unit, [(d, target) for d in ready], park=True, reason=FORCED)
        # Only the units on this PO line (a split line's part here) are this line's to hold.
        freed = sum(here.get(d.id, 0) if d.split else d.quantity for d in demands)
        target.allocated -= freed
        if hold_for_store:
            ledger.set_field(
                unit, target, "store_hold", target.store_hold + freed, reason="removed"
            )

    return run_operation(db, actor, "remove", work, dry_run=dry_run, key=key)


def sync_date(
    db: Database, actor: Actor, po: str, line: int, *, dry_run: bool = False, key: str | None = None
) -> Outcome:
    """Rule 4: every SO line allocated to the PO line gets ``promised_date := arrival_date``."""
    line = arguments.line_number(line)

    def work(unit: Unit) -> None:
        target, _ = lookup.po_line(unit, po, line)
        sync_line(unit, target)

    return run_operation(db, actor, "sync-date", work, dry_run=dry_run, key=key)


def sync_line(unit: Unit, target: ledger.Supply) -> None:
    # A split line (rule 10) is promised its latest part's date: synced on that PO line only.
    lines = [d for d in ledger.allocations_of(unit, [target.id]) if d.po_line_id == target.id]
    ledger.set_promises(unit, [(d, target.arrival_date) for d in lines], reason="sync")


def unpark(
    db: Database,
    actor: Actor,
    refs: Sequence[LineRef],
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Return parked SO lines to the automatic queue (rule 1 skips parked lines until then).
    The lines are then swept at once, like any other change that can place orders."""
    from engine.sweep import sweep

    if not refs:
        raise Refused("name at least one order line to unpark")
    refs = arguments.refs(refs)

    def work(unit: Unit) -> None:
        demands, problems = lookup.resolve(unit.conn, refs, None)
        unit.lock_skus({d.sku for d in demands})
        demands, problems = lookup.resolve(unit.conn, refs, None)
        problems += [f"{d.order}:{d.line} is not parked" for d in demands if not d.parked]
        if problems:
            raise Refused("cannot unpark", problems)
        ledger.set_parked(unit, demands, parked=False)
        sweep(unit, {d.sku for d in demands})

    return run_operation(db, actor, "unpark", work, dry_run=dry_run, key=key)


def move(
    db: Database,
    actor: Actor,
    refs: Sequence[LineRef],
    po: str,
    line: int,
    *,
    dry_run: bool = False,
    key: str | None = None,
) -> Outcome:
    """Move allocated SO lines, each whole, to the PO line ``po``:``line`` of their SKU, all or
    nothing (as rule 3: the target must be open with ATP for them all). Their promised dates
    stay as they are: moved lines show as out of sync until someone syncs (rule 4)."""
    if not refs:
        raise Refused("name at least one order line to move")
    line, refs = arguments.line_number(line), arguments.refs(refs)

    def work(unit: Unit) -> None:
        target, demands, problems = _target_and_lines(unit, po, line, refs)

        # A split line (rule 10) moves whole onto the target, which its part there (if any)
        # helps hold: it becomes a whole line there.
        here = {
            so_line_id: sum(p.quantity for p in found if p.po_line_id == target.id)
            for so_line_id, found in parts.parts_of(
                unit, [d.id for d in demands if d.split]
            ).items()
        }

        def unfit(d: ledger.Demand) -> str | None:
            if d.po_line_id is None:
                return f"{d.order}:{d.line} is not allocated"
            if d.po_line_id == target.id and not d.split:
                return f"{d.order}:{d.line} is already allocated to {po}:{line}"
            if d.ready_at is not None:
                return f"{d.order}:{d.line} is ready (its stock is in where it is)"
            return None

        _judge(
            f"cannot move to {po}:{line}",
            target,
            demands,
            problems,
            unfit,
            need=lambda d: d.quantity - here.get(d.id, 0),
        )
        whole = [d for d in demands if d.po_line_id is not None and not d.split]
        holders = {
            d.po_line_id: ledger.po_line_by_id(unit, d.po_line_id) for d in whole if d.po_line_id
        }
        ledger.move(
            unit,
            [(d, holders[d.po_line_id], target) for d in whole if d.po_line_id],
            reason="moved",
        )
        ledger.move_split(unit, [(d, target) for d in demands if d.split], reason="moved")

    return run_operation(db, actor, "move", work, dry_run=dry_run, key=key)


def _target_and_lines(
    unit: Unit, po: str, line: int, refs: Sequence[LineRef]
) -> tuple[ledger.Supply, list[ledger.Demand], list[str]]:
    """The target PO line (locked), the named SO lines, and the problems found so far."""
    target, po_status = lookup.po_line(unit, po, line)
    demands, problems = lookup.resolve(unit.conn, refs, target.sku)
    if po_status != "open" or target.status != "open":
        status = target.status if target.status != "open" else po_status
        problems.insert(0, f"PO {po} line {line} is {status}")
    return target, demands, problems


def _judge(
    refusal: str,
    target: ledger.Supply,
    demands: Sequence[ledger.Demand],
    problems: list[str],
    unfit: Callable[[ledger.Demand], str | None],
    *,
    need: Callable[[ledger.Demand], int] = lambda d: d.quantity,
) -> None:
    """Rule 3's all or nothing: every line must fit (``unfit`` says why one does not, the SKU
    is checked here) and together within the target's ATP; else refuse naming them all."""
    total = 0
    for d in demands:
        found = [p for p in (unfit(d),) if p]
        if d.sku != target.sku:
            found.append(f"{d.order}:{d.line} is SKU {d.sku}, not {target.sku}")
        problems += found
        if not found:  # only lines that could go count to the total
            total += need(d)
    # A closed target is refused as such (above); its ATP of 0 is no shortfall to report.
    shortfall = max(0, total - target.atp) if target.status == "open" else 0
    if shortfall:
        where = f"{target.po}:{target.line}"
        problems.append(
            f"{total} units asked, {target.atp} ATP left on {where} (short by {shortfall})"
        )
    if problems:
        raise Refused(refusal, problems, shortfall=shortfall)
