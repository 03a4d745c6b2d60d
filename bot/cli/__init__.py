"""The ``preorder`` command line (DESIGN.md section 3): the click group and its global options
(``--db``, ``--actor``), and ``main``, the console script's entry point.

Exit codes: 0 success; 1 a refused operation or bad input, told in one ``error:`` line on
stderr (several problems follow it, one per line, indented); 2 bad usage (click's own).

The commands live in a module per group, each with its ``COMMANDS``: ``setup`` (init, import),
``read`` (review, unallocated, po, digest), ``write`` (the changes), ``sheets``, ``serve``,
``events`` (the outbox's deliveries) and ``demo``. What they share: ``context``
(``CliContext``: the options and the database), ``errors`` (failures as ``error:`` lines),
``arguments`` (parsing), ``output`` (stdout) and ``tables`` (the terminal tables).

A command's module is imported only when that command runs (``LazyGroup``): ``preorder --help``
lists the commands from ``COMMANDS``, a static table of names and summaries, and loads neither
the database's libraries nor Slack's, Google's or rich; ``preorder review`` loads the queries
it runs and the tables it prints, not the import, the migrations, Slack or the spreadsheets.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click

from bot.cli.context import CliContext, default_actor


class Entry(NamedTuple):
    """Where a command lives (``bot.cli.<module>.<function>``) and its line in ``--help``."""

    module: str
    function: str
    summary: str


# The command list of ``preorder --help``: DESIGN.md's order, then the extras, then the demo.
COMMANDS: dict[str, Entry] = {
    "init": Entry("setup", "init", "Create or migrate the database schema."),
    "import": Entry("setup", "import_", "Import POs and pre-orders from JSON or CSV files."),
    "review": Entry("read", "review", "Show a PO line and the order lines allocated to it."),
    "unallocated": Entry(
        "read", "unallocated", "List unallocated order lines, first in first out."
    ),
    "allocate": Entry("write", "allocate", "Allocate chosen order lines to a PO line."),
    "auto-allocate": Entry("write", "auto_allocate", "Allocate the queue first in, first out."),
    "remove": Entry("write", "remove", "Remove allocations from a PO line (and park them)."),
    "sync-date": Entry("write", "sync_date", "Set promised dates to the PO line's arrival date."),
    "set-arrival": Entry("write", "set_arrival", "Move a PO line's arrival date."),
    "cancel-po": Entry("write", "cancel_po", "Cancel a PO or one of its lines."),
    "digest": Entry("read", "digest", "Show what needs attention, or post it to Slack."),
    "sheets": Entry("sheets", "sheets", "Mirror allocations to a spreadsheet and apply its edits."),
    "serve": Entry("serve", "serve", "Run the service: Slack app, scheduled jobs, order intake."),
    "po": Entry("read", "po_detail", "Show a PO's lines: allocated, ATP, out of sync."),
    "set-quantity": Entry("write", "set_quantity", "Change a PO line's quantity."),
    "set-store-hold": Entry(
        "write", "set_store_hold", "Set the units a PO line keeps for in-store sales."
    ),
    "cancel-order": Entry("write", "cancel_order", "Cancel order lines for the customer."),
    "unpark": Entry("write", "unpark", "Return parked order lines to automatic allocation."),
    "rebalance": Entry("write", "rebalance", "Move orders to earlier-arriving PO lines."),
    "events": Entry("events", "events", "Deliver, list and retry webhook and email events."),
    "receive": Entry("write", "receive", "Record units received on a PO line."),
    "fulfil": Entry("write", "fulfil", "Mark ready order lines fulfilled (shipped)."),
    "ready": Entry("read", "ready", "List order lines ready to ship, first in first out."),
    "reopen-po": Entry("write", "reopen_po", "Reopen a cancelled PO or PO line."),
    "demo": Entry("demo", "demo", "Walk through the product on sample data."),
}


class LazyGroup(click.Group):
    """The ``preorder`` group: commands listed from ``COMMANDS`` in its order, each imported
    on first use, and every one run inside ``expected_failures``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if cmd_name not in self.commands:
            module = importlib.import_module(f"bot.cli.{entry.module}")
            command: click.Command = getattr(module, entry.function)
            command.short_help = entry.summary
            self.add_command(command, cmd_name)
        return self.commands[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list in ``--help``, from the table alone: no command module is imported."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.summary) for name, entry in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        from bot.cli.errors import expected_failures

        with expected_failures():
            return super().invoke(ctx)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    "url",
    metavar="URL",
    help="Database URL, e.g. sqlite:///preorder.db or postgresql+psycopg://host/db "
    "(default: PREORDER_DATABASE_URL, else sqlite:///preorder.db).",
)
@click.option(
    "--actor",
    metavar="NAME",
    default=default_actor,
    show_default="your user name",
    help="Who is making the change, as written in the audit log.",
)
@click.version_option(package_name="preorder")
@click.pass_context
def cli(ctx: click.Context, url: str | None, actor: str) -> None:
    """Pre-order allocation: match pre-order sales order lines to incoming purchase order
    lines, first in, first out, and review and correct the allocations.

    \b
    Example:
      preorder init && preorder import pos.csv orders.csv && preorder unallocated
    """
    if not actor.strip():
        raise click.BadParameter("must not be empty", param_hint="--actor")
    context = CliContext(url=url, actor_name=actor.strip())
    ctx.obj = context
    ctx.call_on_close(context.close)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="preorder")
