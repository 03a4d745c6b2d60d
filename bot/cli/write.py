"""Commands that change allocations or supply. Each calls one engine operation (one
transaction), then says in plain words what changed; ``--dry-run`` shows the same report and
changes nothing; ``--json`` prints the engine's ``Outcome``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.text import Text

import engine as e
from bot import text
from bot.cli import tables
from bot.cli.arguments import parse_day, parse_line, parse_refs, parse_sku, parse_whole
from bot.cli.context import CliContext, pass_cli
from bot.cli.output import console, echo_json
from engine.digest import queue_by_sku

F = TypeVar("F", bound=Callable[..., Any])

# Numbers may be negative ("-5"): let them through as arguments so that the engine's own
# message explains the refusal, instead of click reading them as unknown options.
NUMBERS = {"ignore_unknown_options": True}


def outcome_options(command: F) -> F:
    command = click.option(
        "--dry-run", is_flag=True, help="Show what would change and change nothing."
    )(command)
    return click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")(
        command
    )


def report(
    outcome: e.Outcome,
    as_json: bool,
    *,
    target: tuple[str, int] | None = None,
    atp_of: tuple[str, int] | None = None,
    hints: list[str] | None = None,
) -> None:
    """The outcome as JSON, or as sentences (with the ATP left on ``atp_of``), a table of the
    touched lines and the ``target`` PO line's state afterwards (from the outcome's headers)."""
    if as_json:
        echo_json(outcome.to_dict())
        return
    out = console()
    for sentence in text.describe(outcome, [atp_of] if atp_of else ()):
        out.print(sentence)
    table = tables.changes_table(outcome)
    if table is not None:
        out.print(table)
    head = outcome.po_line(*target) if target is not None and not outcome.dry_run else None
    if head is not None:
        status = "" if head.status == "open" else f" ({head.status})"
        received = f", received {head.received}" if head.received else ""
        out.print(
            f"{head.po}:{head.line} now{status}: quantity {head.quantity}{received}, store hold "
            f"{head.store_hold}, allocated {head.allocated}, ATP {head.atp}, "
            f"{head.out_of_sync} out of sync"
        )
    for hint in hints or []:
        out.print(Text(hint, style="dim"))


@click.command()
@click.argument("po")
@click.argument("line")
@click.argument("order_lines", nargs=-1, required=True, metavar="ORDER:LINE...")
@outcome_options
@pass_cli
def allocate(
    cli: CliContext, po: str, line: str, order_lines: tuple[str, ...], as_json: bool, dry_run: bool
) -> None:
    """Allocate unallocated order lines (parked or not) of the PO line's SKU to PO line LINE
    of purchase order PO. All or nothing: if any line is unknown, not open, already allocated,
    of another SKU, or they need more than the ATP, nothing changes and the error names each.
    Write ORDER alone when the order has one line of that SKU.

    \b
    Example:
      preorder allocate PO-1001 1 SO-5001:1 SO-5002
    """
    number = parse_line(line)
    refs = parse_refs(order_lines)
    outcome = e.allocate(cli.database(), cli.actor, po, number, refs, dry_run=dry_run)
    report(outcome, as_json, atp_of=(po, number))


@click.command("auto-allocate")
@click.option("--sku", metavar="SKU", help="Only this product.")
@outcome_options
@pass_cli
def auto_allocate(cli: CliContext, sku: str | None, as_json: bool, dry_run: bool) -> None:
    """Allocate the unallocated queue first in, first out: each open, unparked order line
    goes whole to the earliest-arriving open PO line of its SKU with ATP for it. Lines that
    fit nowhere keep their place in the queue.

    \b
    Example:
      preorder auto-allocate --sku CHAIR-OAK --dry-run
    """
    product = parse_sku(sku)
    db = cli.database()
    outcome = e.auto_allocate(
        db, cli.actor, skus=None if product is None else [product], dry_run=dry_run
    )
    hints = []
    if not as_json and not dry_run:
        queue = [q for q in queue_by_sku(db) if product in (None, q.sku)]
        lines = sum(q.lines for q in queue)
        parked = sum(q.parked for q in queue)
        hints.append(
            f"Still unallocated: {text.plural(lines, 'order line')} "
            f"({text.plural(sum(q.units for q in queue), 'unit')}), {parked} of them parked."
        )
    report(outcome, as_json, hints=hints)


@click.command()
@click.argument("po")
@click.argument("line")
@click.argument("order_lines", nargs=-1, required=True, metavar="ORDER:LINE...")
@click.option(
    "--hold-for-store",
    is_flag=True,
    help="Put the freed units in the PO line's store hold (for in-store sales) instead of "
    "returning them to ATP.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also remove lines that are ready to ship (their stock is in); recorded as forced.",
)
@outcome_options
@pass_cli
def remove(
    cli: CliContext,
    po: str,
    line: str,
    order_lines: tuple[str, ...],
    hold_for_store: bool,
    force: bool,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Remove the allocations of the given order lines from PO line LINE of PO. Their promised
    dates are cleared and they are parked: automatic allocation leaves them alone until someone
    allocates or unparks them. A line ready to ship (its stock received) is removed only with
    --force; its received units then go to the next lines first in, first out.

    \b
    Example:
      preorder remove PO-1001 1 SO-5001:1 SO-5007 --hold-for-store
      preorder remove PO-1001 1 SO-5003 --force
    """
    number = parse_line(line)
    refs = parse_refs(order_lines)
    outcome = e.remove(
        cli.database(),
        cli.actor,
        po,
        number,
        refs,
        hold_for_store=hold_for_store,
        force=force,
        dry_run=dry_run,
    )
    report(outcome, as_json, target=(po, number))


@click.command("sync-date")
@click.argument("po")
@click.argument("line")
@outcome_options
@pass_cli
def sync_date(cli: CliContext, po: str, line: str, as_json: bool, dry_run: bool) -> None:
    """Set the promised date of every order line allocated to PO line LINE of PO to the line's
    arrival date. Each changed promise is recorded (old, new, who, why).

    \b
    Example:
      preorder sync-date PO-1001 1
    """
    number = parse_line(line)
    outcome = e.sync_date(cli.database(), cli.actor, po, number, dry_run=dry_run)
    report(outcome, as_json, target=(po, number))


@click.command("set-arrival")
@click.argument("po")
@click.argument("line")
@click.argument("arrival", metavar="YYYY-MM-DD")
@click.option("--sync", is_flag=True, help="Also sync the allocated lines' promised dates.")
@click.option(
    "--rebalance",
    is_flag=True,
    help="If the date moves earlier, move orders from later PO lines of the SKU onto this "
    "one, first in first out, while it has ATP.",
)
@click.option(
    "--allow-past",
    is_flag=True,
    help="Accept a date before today (UTC), e.g. to record a late delivery's true date.",
)
@outcome_options
@pass_cli
def set_arrival(
    cli: CliContext,
    po: str,
    line: str,
    arrival: str,
    sync: bool,
    rebalance: bool,
    allow_past: bool,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Move the expected arrival date of PO line LINE of PO. Promises do not follow silently:
    the allocated lines show as out of sync until you sync them (or pass --sync). A date in
    the past is refused, as in the sheet, unless --allow-past.

    \b
    Example:
      preorder set-arrival PO-1001 1 2027-03-15 --sync
    """
    number = parse_line(line)
    when = parse_day(arrival, "arrival date")
    outcome = e.set_arrival(
        cli.database(),
        cli.actor,
        po,
        number,
        when,
        sync=sync,
        rebalance=rebalance,
        allow_past=allow_past,
        dry_run=dry_run,
    )
    hints = []
    head = outcome.po_line(po, number)
    if not sync and not dry_run and head is not None and head.out_of_sync:
        hints.append(
            f"{text.plural(head.out_of_sync, 'allocated line')} out of sync; "
            f"'preorder sync-date {po} {number}' gives them the new date."
        )
    report(outcome, as_json, target=(po, number), hints=hints)


@click.command("set-quantity", context_settings=NUMBERS)
@click.argument("po")
@click.argument("line")
@click.argument("quantity", metavar="N")
@outcome_options
@pass_cli
def set_quantity(
    cli: CliContext, po: str, line: str, quantity: str, as_json: bool, dry_run: bool
) -> None:
    """Change the ordered quantity of PO line LINE of PO to N. A cut below what is allocated
    releases the most recently placed allocations first; an increase allocates the queue.

    \b
    Example:
      preorder set-quantity PO-1001 1 80
    """
    number = parse_line(line)
    value = parse_whole(quantity, "quantity", minimum=0)
    outcome = e.set_quantity(cli.database(), cli.actor, po, number, value, dry_run=dry_run)
    report(outcome, as_json, target=(po, number))


@click.command("set-store-hold", context_settings=NUMBERS)
@click.argument("po")
@click.argument("line")
@click.argument("units", metavar="N")
@outcome_options
@pass_cli
def set_store_hold(
    cli: CliContext, po: str, line: str, units: str, as_json: bool, dry_run: bool
) -> None:
    """Set aside N units of PO line LINE of PO for in-store sales (never pre-sold). Raising it
    past the free units releases the most recently placed allocations first; lowering it
    allocates the queue.

    \b
    Example:
      preorder set-store-hold PO-1001 1 10
    """
    number = parse_line(line)
    value = parse_whole(units, "store hold", minimum=0)
    outcome = e.set_store_hold(cli.database(), cli.actor, po, number, value, dry_run=dry_run)
    report(outcome, as_json, target=(po, number))


@click.command("cancel-po")
@click.argument("po")
@click.option("--line", metavar="N", help="Cancel only this line of the PO.")
@outcome_options
@pass_cli
def cancel_po(cli: CliContext, po: str, line: str | None, as_json: bool, dry_run: bool) -> None:
    """Cancel purchase order PO (or one line of it). Its allocations are released; those order
    lines become unallocated (not parked) and wait for auto-allocate or a person.

    \b
    Example:
      preorder cancel-po PO-1002
      preorder cancel-po PO-1003 --line 2
    """
    number = None if line is None else parse_line(line, "--line")
    outcome = e.cancel_po(cli.database(), cli.actor, po, line=number, dry_run=dry_run)
    hints = []
    if outcome.released and not dry_run:
        hints.append(
            "The released lines wait in the queue: 'preorder unallocated' lists them, "
            "'preorder allocate' or 'preorder auto-allocate' places them."
        )
    report(outcome, as_json, hints=hints)


@click.command("cancel-order")
@click.argument("order_lines", nargs=-1, required=True, metavar="ORDER[:LINE]...")
@outcome_options
@pass_cli
def cancel_order(
    cli: CliContext, order_lines: tuple[str, ...], as_json: bool, dry_run: bool
) -> None:
    """The customer cancels order lines (ORDER alone cancels all its open lines). Their
    allocations are released and the freed units go to the queue at once.

    \b
    Example:
      preorder cancel-order SO-5001 SO-5002:2
    """
    refs = parse_refs(order_lines)
    outcome = e.cancel_order(cli.database(), cli.actor, refs, dry_run=dry_run)
    report(outcome, as_json)


@click.command()
@click.argument("order_lines", nargs=-1, required=True, metavar="ORDER:LINE...")
@outcome_options
@pass_cli
def unpark(cli: CliContext, order_lines: tuple[str, ...], as_json: bool, dry_run: bool) -> None:
    """Return parked order lines to automatic allocation, which then runs for them at once.

    \b
    Example:
      preorder unpark SO-5001:1 SO-5007
    """
    refs = parse_refs(order_lines)
    outcome = e.unpark(cli.database(), cli.actor, refs, dry_run=dry_run)
    report(outcome, as_json)


@click.command("rebalance")
@click.option("--sku", metavar="SKU", help="Only this product.")
@outcome_options
@pass_cli
def rebalance(cli: CliContext, sku: str | None, as_json: bool, dry_run: bool) -> None:
    """Move orders to PO lines arriving earlier than the lines that hold them, first in first
    out while the earlier line has ATP, so early customers get the early stock. Moved lines
    are out of sync until synced.

    \b
    Example:
      preorder rebalance --sku CHAIR-OAK --dry-run
    """
    product = parse_sku(sku)
    outcome = e.rebalance(cli.database(), cli.actor, sku=product, dry_run=dry_run)
    report(outcome, as_json)


@click.command(context_settings=NUMBERS)
@click.argument("po")
@click.argument("line")
@click.argument("quantity", metavar="QTY")
@click.option(
    "--final",
    is_flag=True,
    help="Nothing more will come for this line: lines the received units cannot cover go back "
    "to the queue (latest placed first) and the line closes.",
)
@click.option("--date", "on", metavar="YYYY-MM-DD", help="When it arrived (default: today, UTC).")
@click.option("--key", metavar="ID", help="A receipt id: the same id again records nothing.")
@outcome_options
@pass_cli
def receive(
    cli: CliContext,
    po: str,
    line: str,
    quantity: str,
    final: bool,
    on: str | None,
    key: str | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Record QTY units received on PO line LINE of PO. They cover the line's allocations first
    in, first out: each order line covered whole is ready to ship. A line that has received its
    whole quantity closes (ATP 0); more than ordered adds the extra units and allocates the
    queue to them. A short delivery that is all there will be: --final.

    \b
    Example:
      preorder receive PO-1001 1 40
      preorder receive PO-1001 2 35 --final --date 2027-01-12
    """
    number = parse_line(line)
    value = parse_whole(quantity, "quantity", minimum=0)
    when = None if on is None else parse_day(on, "--date")
    outcome = e.receive(
        cli.database(),
        cli.actor,
        po,
        number,
        value,
        final=final,
        received_on=when,
        dry_run=dry_run,
        key=None if key is None else f"receipt:{key}",
    )
    hints = []
    if outcome.replayed:
        hints.append(f"Receipt {key} was recorded before (operation {outcome.operation_id}).")
    report(outcome, as_json, target=(po, number), hints=hints)


@click.command()
@click.argument("order_lines", nargs=-1, required=True, metavar="ORDER:LINE...")
@outcome_options
@pass_cli
def fulfil(cli: CliContext, order_lines: tuple[str, ...], as_json: bool, dry_run: bool) -> None:
    """Mark order lines fulfilled (shipped; closed). Only lines ready to ship (their stock
    received) can be fulfilled; if any named line is not, nothing changes and the error names
    each. Write ORDER alone when the order has one line.

    \b
    Example:
      preorder fulfil SO-5001:1 SO-5002
    """
    refs = parse_refs(order_lines)
    outcome = e.fulfil(cli.database(), cli.actor, refs, dry_run=dry_run)
    report(outcome, as_json)


@click.command("reopen-po")
@click.argument("po")
@click.option("--line", metavar="N", help="Reopen only this line of the PO.")
@outcome_options
@pass_cli
def reopen_po(cli: CliContext, po: str, line: str | None, as_json: bool, dry_run: bool) -> None:
    """Reopen the cancelled lines of purchase order PO (or one line): their units are available
    to promise again and the queue of their SKUs is allocated at once. A received line stays
    closed.

    \b
    Example:
      preorder reopen-po PO-1002
      preorder reopen-po PO-1003 --line 2
    """
    number = None if line is None else parse_line(line, "--line")
    outcome = e.reopen_po(cli.database(), cli.actor, po, line=number, dry_run=dry_run)
    report(outcome, as_json)


COMMANDS = [
    allocate,
    auto_allocate,
    remove,
    sync_date,
    set_arrival,
    set_quantity,
    set_store_hold,
    cancel_po,
    cancel_order,
    unpark,
    rebalance,
    receive,
    fulfil,
    reopen_po,
]
