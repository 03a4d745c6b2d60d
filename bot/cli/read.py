"""Commands that only read the database: review, unallocated, po, digest (which can post
what it read to Slack)."""

from __future__ import annotations

from dataclasses import asdict, replace

import click

import engine as e
from bot.cli import tables
from bot.cli.arguments import parse_line, parse_sku, parse_whole
from bot.cli.context import CliContext, pass_cli
from bot.cli.errors import fail
from bot.cli.output import console, echo_json
from bot.text import plural

JSON_HELP = "Print JSON instead of tables (a stable shape for scripts)."
LIMIT_HELP = "Rows shown in the table (0 shows all; --json always prints every row)."


def _limit(text: str) -> int | None:
    value = parse_whole(text, "--limit", minimum=0)
    return value or None


@click.command()
@click.argument("po")
@click.argument("line")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--limit", default="100", metavar="N", show_default=True, help=LIMIT_HELP)
@pass_cli
def review(cli: CliContext, po: str, line: str, as_json: bool, limit: str) -> None:
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
    db = cli.database()
    result = e.review(db, po, number, limit=None if rows is None else rows + 1)
    if as_json:
        echo_json(result.to_dict())
        return
    more = rows is not None and len(result.allocations) > rows
    note = ""
    if more:
        result = replace(result, allocations=result.allocations[:rows])
        note = f"first {rows} shown; --limit 0 shows them all"
    console().print(tables.review_view(result, note=note, zone=cli.zone()))


@click.command()
@click.option("--sku", metavar="SKU", help="Only this product's lines.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--limit", default="100", metavar="N", show_default=True, help=LIMIT_HELP)
@pass_cli
def unallocated(cli: CliContext, sku: str | None, as_json: bool, limit: str) -> None:
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
    db = cli.database()
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
    console().print(tables.queue_table(lines, note=note, zone=cli.zone()))


@click.command()
@click.option("--sku", metavar="SKU", help="Only this product's lines.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--limit", default="100", metavar="N", show_default=True, help=LIMIT_HELP)
@pass_cli
def ready(cli: CliContext, sku: str | None, as_json: bool, limit: str) -> None:
    """List order lines ready to ship now (allocated, their stock received), first in, first
    out, with the PO line their units came in on. 'preorder fulfil' closes them once shipped.

    \b
    Example:
      preorder ready --sku CHAIR-OAK
      preorder ready --json
    """
    product = parse_sku(sku)
    rows = None if as_json else _limit(limit)
    lines = e.ready(cli.database(), sku=product, limit=None if rows is None else rows + 1)
    if as_json:
        echo_json([r.to_dict() for r in lines])
        return
    if not lines:
        what = f" of SKU {product}" if product else ""
        console().print(f"No order lines{what} ready to ship.")
        return
    more = rows is not None and len(lines) > rows
    if more:
        lines = lines[:rows]
    note = f"the first {rows} shown; --limit 0 shows them all" if more else ""
    console().print(tables.ready_table(lines, note=note))


@click.command("po")
@click.argument("po")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_cli
def po_detail(cli: CliContext, po: str, as_json: bool) -> None:
    """Show purchase order PO: each line's SKU, arrival date, quantity, store hold, allocated,
    ATP, number of order lines allocated and how many of them are out of sync.

    \b
    Example:
      preorder po PO-1001
    """
    detail = e.purchase_order(cli.database(), po)
    if as_json:
        echo_json(asdict(detail))
        return
    console().print(tables.po_view(detail))


@click.command()
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option(
    "--post",
    is_flag=True,
    help="Post the digest to the Slack channel PREORDER_DIGEST_CHANNEL instead of printing it "
    "(needs PREORDER_SLACK_BOT_TOKEN; with --json, prints where it was posted).",
)
@pass_cli
def digest(cli: CliContext, as_json: bool, post: bool) -> None:
    """Show what needs attention: unallocated order lines by SKU (lines, units, parked, how
    long the oldest has waited, the ATP still open on the SKU's PO lines), parked lines, PO
    lines whose allocated orders are out of sync with the arrival date, open PO lines arriving
    in the next 7 days with ATP left, and cancelled POs whose orders still wait.

    \b
    Example:
      preorder digest
      preorder digest --json
      PREORDER_SLACK_BOT_TOKEN=xoxb-... PREORDER_DIGEST_CHANNEL=C0123ABC preorder digest --post
    """
    from engine.digest import digest as digest_data

    if post:
        _post(cli, as_json=as_json)
        return
    db = cli.database()
    now = db.clock()
    data = digest_data(db, today=now.date())
    if as_json:
        echo_json(data.to_dict())
        return
    console().print(tables.digest_view(data, now=now, zone=cli.zone()))


def _post(cli: CliContext, *, as_json: bool) -> None:
    """``digest --post``: every missing setting named in one line before anything is read,
    and a refusal from Slack as one line naming Slack's error. Slack's libraries load only
    here, so printing the digest stays quick."""
    from bot.app import web_client
    from bot.digest_post import DigestNotPosted, post_digest, sheet_url
    from bot.service.settings import ServiceSettings
    from bot.settings import SlackSettings
    from engine.config import SettingsError, load, variable
    from sheets.settings import SheetsSettings

    try:
        slack = load(SlackSettings)
        service = load(ServiceSettings)
        sheet = load(SheetsSettings).sheet_id  # for the digest's link to it
    except SettingsError as exc:
        fail(str(exc))
    missing = [
        variable(field)
        for field, value in (
            ("slack_bot_token", slack.slack_bot_token),
            ("digest_channel", service.digest_channel),
        )
        if not value.strip()
    ]
    if missing:
        fail(f"posting the digest needs {', '.join(missing)} (environment variables or .env)")
    channel = service.digest_channel.strip()
    db = cli.database()
    try:
        posted = post_digest(
            db, web_client(slack), channel, sheet_url=sheet_url(sheet), zone=cli.zone()
        )
    except DigestNotPosted as exc:
        fail(str(exc))
    if as_json:
        echo_json(asdict(posted))
        return
    shown = channel if channel == posted.channel else f"{channel} ({posted.channel})"
    click.echo(f"Posted the digest to {shown}: {plural(posted.blocks, 'block')}")


COMMANDS = [review, unallocated, ready, po_detail, digest]
