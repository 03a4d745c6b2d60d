"""``preorder events``: the outbox's events (DESIGN.md section 5) delivered, listed and retried.

``deliver`` sends what is due once (exit 0 when every delivery it tried was accepted, 1 when any
was not: to be retried, or dead-lettered); ``list`` shows events and where each stands on each
channel; ``retry`` puts dead-lettered deliveries back on their way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import click
from rich.table import Table

import engine as e
from bot.cli import tables
from bot.cli.arguments import parse_whole
from bot.cli.context import CliContext, pass_cli
from bot.cli.errors import fail
from bot.cli.output import console, echo_json
from bot.text import plural

JSON_HELP = "Print JSON instead of a table (a stable shape for scripts)."
ANSWER_SHOWN = 30  # characters of an answer in the table (--json has it whole)


@click.group()
def events() -> None:
    """Events for the store's webhooks and customers' emails: deliver what is due, list
    them, retry dead-lettered ones.

    \b
    Every change to what a customer was promised writes an event (order.promise_changed,
    order.cancelled) in the same transaction. `preorder serve` delivers them as they come;
    these commands do it by hand. Channels: PREORDER_WEBHOOK_URL (with
    PREORDER_WEBHOOK_SECRET) and PREORDER_SMTP_URL (with PREORDER_EMAIL_FROM).

    \b
    Example:
      preorder events deliver
      preorder events list --failed
      preorder events retry --failed
    """


@events.command()
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@pass_cli
def deliver(cli: CliContext, as_json: bool) -> None:
    """Deliver the events that are due, once: each webhook gets an order's events in order,
    each customer one email per order per PREORDER_NOTIFY_DELAY window. Exit 0 when every
    delivery tried was accepted, 1 when any was not (it is retried later with backoff, or
    dead-lettered: see `preorder events list --failed`).

    \b
    Example:
      PREORDER_WEBHOOK_URL=https://shop.example.com/hooks/preorder \\
      PREORDER_WEBHOOK_SECRET=... preorder events deliver
    """
    from engine.config import SettingsError, load
    from notify.deliver import Deliverer
    from notify.settings import NotifySettings, deliverable

    try:
        settings = deliverable(load(NotifySettings))
    except SettingsError as exc:
        fail(str(exc))
    if not settings.channels():
        fail(
            "no channel to deliver to: set PREORDER_WEBHOOK_URL (and PREORDER_WEBHOOK_SECRET) "
            "or PREORDER_SMTP_URL (and PREORDER_EMAIL_FROM)"
        )
    db = cli.database()
    with Deliverer(db, settings) as deliverer:
        report = deliverer.run()
    if as_json:
        echo_json(
            {
                "enqueued": report.enqueued,
                "deliveries": [
                    {"channel": kind, "result": result, "count": n}
                    for (kind, result), n in sorted(report.counts.items())
                ],
                "skipped_no_email": report.no_email,
                "skipped_no_change": report.no_change,
                "failed": report.failed,
            }
        )
    else:
        click.echo(f"Delivered: {report.summary()}")
    if report.failed:
        if not as_json:
            click.echo(
                "error: some deliveries were not accepted; "
                "'preorder events list --failed' shows the dead-lettered ones",
                err=True,
            )
        raise SystemExit(1)


@events.command("list")
@click.option("--failed", is_flag=True, help="Only dead-lettered deliveries.")
@click.option("--order", metavar="ORDER", help="Only this order's events.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.option("--limit", default="100", metavar="N", show_default=True, help="Rows shown.")
@pass_cli
def list_(cli: CliContext, failed: bool, order: str | None, as_json: bool, limit: str) -> None:
    """List the latest events, oldest first, and where each stands on each channel (a webhook
    by its host, or email): new (no delivery run has taken it up yet), due, "try N in ..."
    (after a failed attempt), held (waiting behind a dead-lettered event of its order),
    delivered, dead (dead-lettered, with the receiver's last answer) or skipped (an email with
    nothing to tell, or no address to tell it to). --json adds each event's type, times and
    attempts.

    \b
    Example:
      preorder events list --failed
      preorder events list --order SO-77 --json
    """
    rows = e.list_events(
        cli.database(),
        failed=failed,
        order=order.strip() if order else None,
        limit=parse_whole(limit, "--limit", minimum=1),
    )
    if as_json:
        echo_json([_row_json(r) for r in rows])
        return
    if not rows:
        click.echo("No dead-lettered deliveries." if failed else "No events.")
        return
    console().print(events_table(rows, datetime.now(UTC)))


@events.command("retry")
@click.argument("event_ids", nargs=-1, metavar="ID...")
@click.option("--failed", is_flag=True, help="Retry every dead-lettered delivery.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@pass_cli
def retry_(cli: CliContext, event_ids: tuple[str, ...], failed: bool, as_json: bool) -> None:
    """Put dead-lettered deliveries back on their way: those of the events ID... (as `events
    list` shows them), or every one (--failed). They are due at once, with a fresh allowance
    of attempts; on a webhook a retried event goes before its order's later events, which
    waited for it. The next delivery run (serve's, or `preorder events deliver`) sends them.

    \b
    Example:
      preorder events retry evt_3f2a..._1
      preorder events retry --failed && preorder events deliver
    """
    if bool(event_ids) == failed:
        fail("name the events to retry, or give --failed (not both)")
    db = cli.database()
    count = e.retry_events(db, [i.strip() for i in event_ids], failed=failed, now=db.clock())
    if as_json:
        echo_json({"retried": count})
        return
    click.echo(f"{plural(count, 'delivery', 'deliveries')} put back on their way.")


def _row_json(row: e.DeliveryRow) -> dict[str, object]:
    return {
        "id": row.event_id,
        "type": row.type,
        "order": row.order,
        "created_at": row.created_at,
        "channel": row.channel,
        "status": row.status,
        "held": row.held,
        "attempts": row.attempts,
        "next_attempt_at": row.due_at if row.status == "pending" else None,
        "last_attempt_at": row.last_attempt_at,
        "answer_status": row.answer_status,
        "answer": row.answer,
    }


def events_table(rows: Sequence[e.DeliveryRow], now: datetime) -> Table:
    """One row per event and channel: the event id whole (``events retry`` takes it), and the
    receiver's last answer beside it, its beginning (whole in ``--json``, with each event's
    type, times and attempts)."""
    out = tables.table(None, "event", "order", "channel", "status", "answer")
    # Never cut short: as wide as the longest id (folded only on a terminal narrower still).
    out.columns[0].no_wrap = False
    out.columns[0].overflow = "fold"
    out.columns[0].min_width = max((len(r.event_id) for r in rows), default=0)
    for r in rows:
        said = " ".join(
            part
            for part in (str(r.answer_status or ""), " ".join((r.answer or "").split()))
            if part
        )
        out.add_row(
            r.event_id,
            r.order,
            _channel(r.channel),
            _status(r, now),
            (said if len(said) <= ANSWER_SHOWN else said[: ANSWER_SHOWN - 1] + "…") or "-",
        )
    return out


def _status(row: e.DeliveryRow, now: datetime) -> str:
    if row.status != "pending":
        return f"{row.status} (order cancelled)" if row.cancelled else row.status
    if row.held:
        return "held"
    if row.due_at is None or row.due_at <= now:
        return "due"
    return f"try {row.attempts + 1} in {_span(row.due_at - now)}"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _channel(name: str | None) -> str:
    """``email``, or a webhook by its host (the whole URL may hold a token)."""
    if name is None:
        return "-"
    kind, _, url = name.partition(" ")
    if not url:
        return kind
    return urlsplit(url).hostname or kind


COMMANDS = [events]
