"""``preorder order`` (where an order is, why, and its history) and ``preorder undo`` (the
inverse of a change, as a new operation)."""

from __future__ import annotations

import click

import engine as e
from bot.cli import tables
from bot.cli.context import CliContext, pass_cli
from bot.cli.errors import fail
from bot.cli.output import console, echo_json


@click.command("order")
@click.argument("number", metavar="ORDER", required=False)
@click.option("--customer", metavar="NAME", help="Every order of this customer, newest first.")
@click.option("--email", metavar="ADDR", help="Every order with this email, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_cli
def order(
    cli: CliContext,
    number: str | None,
    customer: str | None,
    email: str | None,
    as_json: bool,
) -> None:
    """Show where each line of order ORDER is and why, and the order's history, oldest first.

    Each line's state is allocated, queued, parked, cancelled or fulfilled. The "why" says
    what allocated it (first in first out as it arrived, the sweep, by hand and by whom, moved,
    rebalanced), who parked it and from which PO line, or for a queued line its place in its
    SKU's queue (order lines and units ahead), the open PO lines of its SKU with their ATP and
    why it is not placed yet. The history lists every change to the order with its operation
    id, which 'preorder undo' takes. Give --customer or --email instead of ORDER for every
    matching order (matched as stored), newest first. Times are in PREORDER_TIMEZONE.

    \b
    Example:
      preorder order SO-77
      preorder order --customer "Ada Lovelace"
      preorder order --email ada@example.com --json
    """
    given = [x for x in (number, customer, email) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give ORDER, --customer NAME or --email ADDR (one of them)")
    zone = cli.zone()
    db = cli.database()
    if number is not None:
        view = e.order(db, number.strip(), zone=zone)
        if as_json:
            echo_json(view.to_dict())
            return
        console().print(tables.order_view(view, zone=zone))
        return
    views = e.orders_of(db, customer=customer, email=email, zone=zone)
    if as_json:
        echo_json([v.to_dict() for v in views])
        return
    if not views:
        fail(
            f"no order of customer {customer!r}"
            if customer is not None
            else f"no order with email {email!r}"
        )
    out = console()
    for i, view in enumerate(views):
        if i:
            out.print("")
        out.print(tables.order_view(view, zone=zone))


@click.command("undo")
@click.argument("operation", metavar="OP")
@click.option("--dry-run", is_flag=True, help="Show what would change and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_cli
def undo(cli: CliContext, operation: str, dry_run: bool, as_json: bool) -> None:
    """Set back the change OP made (its operation id, or its first 8 characters or more, as
    every change's output, 'preorder order' and the sheet's Status give it), as a new change
    of yours. A removal puts the lines back on their PO line with the promise they had (and
    lowers the store hold it raised); an allocation is released (not parked); a date change or
    a sync restores the dates; a move moves back; a PO cancellation reopens the lines and
    allocates first in first out; a quantity or store hold change is set back exactly. An
    import and a customer's cancellation are not undone.

    All or nothing: if anything has changed since (the ATP was taken, a line was cancelled or
    moved), nothing changes and the error names each conflict. A change is undone once;
    undoing an undo does the change again.

    \b
    Example:
      preorder undo 3f2a9c1e --dry-run
      preorder undo 3f2a9c1e-5b7d-4e21-9a0c-1d2e3f405060
    """
    # Imported here: 'order' only reads, and need not load what reporting a change loads.
    from bot.cli.write import report

    outcome = e.undo(cli.database(), operation, cli.actor, dry_run=dry_run)
    report(outcome, as_json)


COMMANDS = [order, undo]
