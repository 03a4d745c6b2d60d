"""``preorder serve``: the whole service in one process: the Slack app (HTTP on PREORDER_PORT,
or Socket Mode with an app token), /healthz, /metrics, the order intake at /orders and the
scheduler, until SIGTERM or Ctrl-C. Slack, waitress, Bolt and APScheduler are imported only
when it runs, so the other commands start as fast as before."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.errors import fail

if TYPE_CHECKING:
    from bot.settings import SlackSettings


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: PREORDER_PORT, else 3000; 0 picks a free one).",
)
@pass_cli
def serve(cli: CliContext, host: str, port: int | None) -> None:
    """Run the service: the Slack app, the scheduled jobs and the order intake, until SIGTERM
    or Ctrl-C. Several replicas may share one PostgreSQL database.

    \b
    Endpoints (on --port):
      /slack/events  Slack's requests, signed with the signing secret (HTTP mode only)
      /healthz       200 when the database answers, 503 when it does not
      /metrics       Prometheus counters: intake, allocations by source, job runs, API errors,
                     event deliveries by channel and result
      /orders        POST sales orders as JSON signed with PREORDER_INTAKE_SECRET (HMAC-SHA256
                     of the body, hex, in X-Preorder-Signature); 404 while no secret is set.
                     On PostgreSQL their transactions run in a process of their own, started
                     with the server (PREORDER_INTAKE_PROCESS=0: in the server's own)

    \b
    Scheduled jobs, in PREORDER_TIMEZONE (default UTC). Each run takes a lock in the database
    and claims its scheduled time, so replicas never run a job twice; a late run starts only
    within its grace (60 s; the digest 1 h) and missed runs are not piled up:
      digest      posts what needs attention to PREORDER_DIGEST_CHANNEL on PREORDER_DIGEST_CRON
                  (crontab, default "0 9 * * mon-fri"); off while no channel is set
      sweep       auto-allocates the queue every PREORDER_SWEEP_MINUTES (default 15; 0: off)
      sheet-sync  syncs the Google Sheet every PREORDER_SHEET_SYNC_MINUTES (default 5; 0: off)
                  when PREORDER_SHEET_ID and PREORDER_GOOGLE_CREDENTIALS are set
      rebalance   moves orders to earlier POs every PREORDER_REBALANCE_MINUTES (default 60)
                  when PREORDER_REBALANCE=1
      deliver     delivers events to PREORDER_WEBHOOK_URL and customers' email
                  (PREORDER_SMTP_URL) every PREORDER_DELIVER_SECONDS (default 10; 0: off);
                  replicas share the work
    PREORDER_SCHEDULER=0 runs none of them in this process.

    \b
    Slack: PREORDER_SLACK_BOT_TOKEN, and PREORDER_SLACK_SIGNING_SECRET (HTTP) or
    PREORDER_SLACK_APP_TOKEN (Socket Mode: Slack's requests come over its socket instead);
    PREORDER_SLACK_MERCHANDISERS and/or PREORDER_SLACK_MERCHANDISER_GROUP (who may change
    allocations). With no PREORDER_SLACK_* setting at all the Slack face is off: the intake,
    the jobs that need no Slack (all but the digest), /healthz and /metrics still run. Logs go
    to stderr as text, or one JSON object per line with PREORDER_LOG_FORMAT=json.

    \b
    SIGTERM or Ctrl-C: stop taking requests, finish those in flight and the running job, exit 0.

    \b
    Example:
      PREORDER_SLACK_BOT_TOKEN=xoxb-... PREORDER_SLACK_SIGNING_SECRET=... \\
      PREORDER_SLACK_MERCHANDISERS=U012ABC PREORDER_DIGEST_CHANNEL=C012DEF preorder serve
    """
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.service.logs import configure_logging
    from bot.service.server import serve as run
    from bot.service.settings import ServiceSettings
    from bot.settings import SlackSettings, complete
    from engine import Database
    from engine.config import SettingsError, load
    from engine.timeouts import SERVICE
    from notify.settings import NotifySettings, deliverable
    from sheets.settings import SheetsSettings

    # The service's configuration, read here once and handed down.
    try:
        settings = load(SlackSettings)
        slack = slack_wanted(settings)
        if slack:  # some given: all that Slack needs must be, or it is one clear error
            complete(settings)
        service = load(ServiceSettings)
        notify = deliverable(load(NotifySettings))
    except SettingsError as exc:
        fail(str(exc))
    try:
        sheets: SheetsSettings | str = load(SheetsSettings)
    except SettingsError as exc:
        sheets = str(exc)  # the sheet sync is off, saying why; the rest runs
    # Reachable and at the current schema (one error line otherwise); then opened again with
    # every wait on it bounded, so the service keeps answering while the database does not.
    checked = cli.database()
    db = Database(
        checked.url, timeouts=SERVICE, events=checked.events, split_lines=checked.split_lines
    )
    configure_logging(service.log_format, secrets=[cli.password])

    def announce(line: str) -> None:
        # A log collector reading JSON lines would choke on a bare line of text.
        if service.log_format == "json":
            logging.getLogger("bot.server").info(line)
        else:
            click.echo(line, err=True)

    try:
        run(
            settings,
            db,
            slack=slack,
            service=service,
            sheets=sheets,
            host=host,
            port=port,
            announce=announce,
            notify=notify,
        )
    except BoltError as exc:
        fail(f"Slack refused the bot token: {exc}")
    except SlackApiError as exc:
        fail(f"Slack refused to connect: {exc.response.get('error')}")
    except (SlackClientError, OSError) as exc:
        fail(f"cannot start: {exc}")
    finally:
        db.dispose()


def slack_wanted(settings: SlackSettings) -> bool:
    """Whether any ``PREORDER_SLACK_*`` setting is given (blank counts as not given): with
    none, serve runs without its Slack face."""
    return any(
        name.startswith("slack_") and str(getattr(settings, name)).strip()
        for name in settings.model_fields_set
    )


COMMANDS = [serve]
