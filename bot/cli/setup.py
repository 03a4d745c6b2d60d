"""Commands that set a database up or fill it: init, import, demo."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

import engine as e
from bot import text
from bot.cli.context import (
    App,
    console,
    echo_json,
    fail,
    parse_whole,
    pass_app,
    shown_url,
)
from engine.importer import staged_files
from engine.models import purchase_orders, sales_orders
from engine.records import placed_at_window

PROGRESS_FROM = 200  # records; below this an import is over before a bar is worth drawing
DEMO_FILE = "preorder-demo.db"


@click.command()
@pass_app
def init(app: App) -> None:
    """Create the database schema, or migrate it to this version. Safe to rerun.

    \b
    Example:
      preorder --db sqlite:///preorder.db init
    """
    db = app.database(need_schema=False)
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
@pass_app
def import_(
    app: App,
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
    db = app.database()
    with (
        nullcontext() if any_placed_at else placed_at_window(),
        staged_files(files) as staged,
    ):
        purchase, sales = staged.count("po"), staged.count("order")
        with _progress(purchase + sales) as tick:
            outcome = e.apply_import(
                db, app.actor, staged, rebalance=rebalance, dry_run=dry_run, progress=tick
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


@click.command()
@click.option(
    "--db",
    "url",
    metavar="URL",
    help=f"Run on this (empty) database instead of a fresh ./{DEMO_FILE}.",
)
@click.option("--seed", default="7", metavar="N", show_default=True, help="Sample data seed.")
@pass_app
def demo(app: App, url: str | None, seed: str) -> None:
    """Walk through the product on sample data: FIFO auto-allocation, a review, a cancelled PO
    and its stranded orders allocated by hand, a moved arrival date synced, allocations
    removed for in-store sales, and a sweep that skips parked lines.

    Needs no configuration: it (re)creates ./preorder-demo.db in the current directory
    (PREORDER_DATABASE_URL is ignored); --db runs it on another database, which must be empty.

    \b
    Example:
      preorder demo
      preorder demo --seed 3
    """
    from bot.cli.demo import run_demo

    number = parse_whole(seed, "--seed", minimum=0)
    target = url or app.url
    fresh = target is None
    if fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{DEMO_FILE}{suffix}").unlink(missing_ok=True)
        target = f"sqlite:///{DEMO_FILE}"
    app.url = target
    db = app.database(need_schema=False)
    e.upgrade(db)
    if _has_data(db):
        fail(
            f"the demo needs an empty database, but {shown_url(db.url)} already holds orders; "
            "leave --db out to use a fresh ./preorder-demo.db"
        )
    run_demo(db, e.Actor(app.actor_name, e.Source.CLI), console(), seed=number)
    if fresh:
        console().print(
            f"\nThe demo data stays in ./{DEMO_FILE}: try "
            f"'preorder --db sqlite:///{DEMO_FILE} review PO-1001 1'."
        )


def _has_data(db: e.Database) -> bool:
    with db.read() as conn:
        pos = conn.execute(select(func.count()).select_from(purchase_orders)).scalar_one()
        sos = conn.execute(select(func.count()).select_from(sales_orders)).scalar_one()
    return bool(pos or sos)


COMMANDS = [init, import_, demo]
