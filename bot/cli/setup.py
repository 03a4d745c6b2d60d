"""Commands that set a database up or fill it: init, import."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import engine as e
from bot import text
from bot.cli.context import CliContext, pass_cli
from bot.cli.output import console, echo_json
from engine.importer import staged_files
from engine.parsing import placed_at_window
from engine.redact import shown_url

PROGRESS_FROM = 200  # records; below this an import is over before a bar is worth drawing


@click.command()
@pass_cli
def init(cli: CliContext) -> None:
    """Create the database schema, or migrate it to this version. Safe to rerun.

    \b
    Example:
      preorder --db sqlite:///preorder.db init
    """
    db = cli.database(need_schema=False)
    before, after = e.upgrade(db)
    out = console()
    out.print(f"Database: {shown_url(db.url)}")
    if before == after:
        out.print(f"Schema already at revision {after}; nothing to do.")
    else:
        out.print(f"Schema revision: {before or '(none)'} → {after}")


@click.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--rebalance",
    is_flag=True,
    help="PO lines that arrive earlier than lines already holding orders take those orders.",
)
@click.option(
    "--any-placed-at",
    is_flag=True,
    help="Take any placed_at (old history); by default it must be from 2000 on and at most "
    "a day ahead.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@pass_cli
def import_(
    cli: CliContext,
    files: tuple[str, ...],
    rebalance: bool,
    any_placed_at: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import purchase orders and pre-orders from JSON or CSV files. Importing a record again
    updates it. New order lines are allocated first in, first out at once. If any row of any
    file is bad, nothing is imported and every bad row is reported with its file, row and
    reason. An order's placed_at must be from 2000 on and at most a day ahead, unless
    --any-placed-at.

    \b
    CSV headers (one row per line; columns in any order, the last one optional):
      po,line,sku,quantity,arrival_date,supplier
      order,line,sku,quantity,placed_at,customer
    JSON: {"purchase_orders": [...], "sales_orders": [...]}

    \b
    Example:
      preorder import purchase-orders.csv orders.json
    """
    db = cli.database()
    with (
        nullcontext() if any_placed_at else placed_at_window(),
        staged_files(files) as staged,
    ):
        purchase, sales = staged.count("po"), staged.count("order")
        with _progress(purchase + sales) as tick:
            outcome = e.apply_import(
                db, cli.actor, staged, rebalance=rebalance, dry_run=dry_run, progress=tick
            )
    if as_json:
        echo_json(outcome.to_dict())
        return
    out = console()
    summary = text.import_summary(
        outcome, files=len(files), purchase_orders=purchase, sales_orders=sales
    )
    for sentence in summary:
        out.print(sentence)
    if outcome.changed and not dry_run:
        # An import is not undone (engine.inverse says why), but its id finds it in the history.
        out.print(f"Operation {outcome.operation_id}.")


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for big imports at a terminal; nothing otherwise."""
    if total <= PROGRESS_FROM or not sys.stderr.isatty():
        yield None
        return
    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("import", total=total)
        yield lambda n: bar.advance(task, n)


COMMANDS = [init, import_]
