"""The ``preorder`` command line (DESIGN.md section 3): the click group and its global options
(``--db``, ``--actor``), and ``main``, the console script's entry point.

Exit codes: 0 success; 1 a refused operation or bad input, told in one ``error:`` line on
stderr (several problems follow it, one per line, indented); 2 bad usage (click's own).

The commands live in a module per group, each with its ``COMMANDS``: ``setup`` (init, import),
``read`` (review, unallocated, po, digest), ``write`` (the changes), ``sheets``, ``serve`` and
``demo``. What they share: ``context`` (``CliContext``: the options and the database),
``errors`` (failures as ``error:`` lines), ``arguments`` (parsing), ``output`` (stdout) and
``tables`` (the terminal tables).
"""

from __future__ import annotations

from typing import Any

import click

from bot.cli import demo, read, serve, setup, sheets, write
from bot.cli.context import CliContext, default_actor
from bot.cli.errors import expected_failures


class PreorderGroup(click.Group):
    """Runs every command inside ``expected_failures`` and lists commands in a useful order."""

    def invoke(self, ctx: click.Context) -> Any:
        with expected_failures():
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    cls=PreorderGroup,
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


# The command list of ``preorder --help``: DESIGN.md's order, then the extras, then the demo.
SUMMARIES = {
    "init": "Create or migrate the database schema.",
    "import": "Import POs and pre-orders from JSON or CSV files.",
    "review": "Show a PO line and the order lines allocated to it.",
    "unallocated": "List unallocated order lines, first in first out.",
    "allocate": "Allocate chosen order lines to a PO line.",
    "auto-allocate": "Allocate the queue first in, first out.",
    "remove": "Remove allocations from a PO line (and park them).",
    "sync-date": "Set promised dates to the PO line's arrival date.",
    "set-arrival": "Move a PO line's arrival date.",
    "cancel-po": "Cancel a PO or one of its lines.",
    "digest": "Show what needs attention, or post it to Slack.",
    "sheets": "Mirror allocations to a spreadsheet and apply its edits.",
    "serve": "Run the service: Slack app, scheduled jobs, order intake.",
    "po": "Show a PO's lines: allocated, ATP, out of sync.",
    "set-quantity": "Change a PO line's quantity.",
    "set-store-hold": "Set the units a PO line keeps for in-store sales.",
    "cancel-order": "Cancel order lines for the customer.",
    "unpark": "Return parked order lines to automatic allocation.",
    "rebalance": "Move orders to earlier-arriving PO lines.",
    "demo": "Walk through the product on sample data.",
}

_commands = {
    c.name: c
    for c in (
        *setup.COMMANDS,
        *read.COMMANDS,
        *write.COMMANDS,
        *serve.COMMANDS,
        *sheets.COMMANDS,
        *demo.COMMANDS,
    )
}
for _name, _summary in SUMMARIES.items():
    _commands[_name].short_help = _summary
    cli.add_command(_commands[_name])


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="preorder")
