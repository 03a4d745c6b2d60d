"""Commands that only read: review, unallocated, po, digest."""

from __future__ import annotations

from dataclasses import asdict, replace

import click

import engine as e
from bot import render
from bot.cli_support import (
    App,
    console,
    echo_json,
    fail,
    parse_line,
    parse_sku,
    parse_whole,
    pass_app,
)
from engine.digest import digest as digest_data

JSON_HELP = "Print JSON instead of tables (a stable shape for scripts)."
LIMIT_HELP = "Rows shown in the table (0 shows all; --json always prints every row)."
POST_ERROR = (
    "posting needs the Slack settings (PREORDER_SLACK_BOT_TOKEN, PREORDER_DIGEST_CHANNEL); "
    "see the Slack app issue"
)


def _limit(text: str) -> int | None:
    value = parse_whole(text, "--limit", minimum=0)
    return value or None


@click.command()
@click.argument("po")
@click.argument("line")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--limit", default="100", metavar="N", show_default=True, help=LIMIT_HELP)
@pass_app
def review(app: App, po: str, line: str, as_json: bool, limit: str) -> None:
    """Review PO line LINE of purchase order PO: its header (SKU, quantity, store hold,
    allocated, ATP, arrival date, status), totals, and every allocated order line first in,
    first out, with its promised date and whether that is in sync with the arrival date.

    \b
    Example:
      preorder review PO-1001 1
      preorder review PO-1001 1 --json
    """
    number = parse_line(line)
    rows = None if as_json else _limit(limit)
    db = app.database()
    result = e.review(db, po, number, limit=None if rows is None else rows + 1)
    if as_json:
        echo_json(result.to_dict())
        return
    more = rows is not None and len(result.allocations) > rows
    note = ""
    if more:
        result = replace(result, allocations=result.allocations[:rows])
        note = f"first {rows} shown; --limit 0 shows them all"
    console().print(render.review_view(result, note=note))


@click.command()
@click.option("--sku", metavar="SKU", help="Only this product's lines.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--limit", default="100", metavar="N", show_default=True, help=LIMIT_HELP)
@pass_app
def unallocated(app: App, sku: str | None, as_json: bool, limit: str) -> None:
    """List open order lines that no PO line holds yet, first in, first out (the queue that
    automatic allocation works through). Parked lines are included and marked: automatic
    allocation skips them until someone allocates or unparks them.

    \b
    Example:
      preorder unallocated --sku CHAIR-OAK
      preorder unallocated --json
    """
    product = parse_sku(sku)
    rows = None if as_json else _limit(limit)
    db = app.database()
    lines = e.unallocated(db, sku=product, limit=None if rows is None else rows + 1)
    if as_json:
        echo_json([q.to_dict() for q in lines])
        return
    more = rows is not None and len(lines) > rows
    if not lines:
        what = f" of SKU {product}" if product else ""
        console().print(f"No unallocated order lines{what}.")
        return
    if more:
        lines = lines[:rows]
    note = f"the first {rows} shown; --limit 0 shows them all" if more else ""
    console().print(render.queue_table(lines, note=note))


@click.command("po")
@click.argument("po")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def po_detail(app: App, po: str, as_json: bool) -> None:
    """Show purchase order PO: each line's SKU, arrival date, quantity, store hold, allocated,
    ATP, number of order lines allocated and how many of them are out of sync.

    \b
    Example:
      preorder po PO-1001
    """
    detail = e.purchase_order(app.database(), po)
    if as_json:
        echo_json(asdict(detail))
        return
    console().print(render.po_view(detail))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the digest data as JSON.")
@click.option(
    "--post",
    is_flag=True,
    help="Post the digest to Slack. Not available yet: it needs the Slack settings "
    "(PREORDER_SLACK_BOT_TOKEN, PREORDER_DIGEST_CHANNEL) that the Slack app issue adds, "
    "and exits 1 until then.",
)
@pass_app
def digest(app: App, as_json: bool, post: bool) -> None:
    """Show what needs attention: unallocated order lines by SKU (lines, units, parked, oldest
    placed) and PO lines whose allocated orders are out of sync with the arrival date.

    Only printing is implemented; posting to Slack comes with the Slack app.

    \b
    Example:
      preorder digest
      preorder digest --json
    """
    if post:
        fail(POST_ERROR)
    data = digest_data(app.database())
    if as_json:
        echo_json(data.to_dict())
        return
    console().print(render.digest_view(data))


COMMANDS = [review, unallocated, po_detail, digest]
