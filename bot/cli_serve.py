"""``preorder serve``: run the Slack app (HTTP on PREORDER_PORT, or Socket Mode with an app
token, /healthz on the port either way) until SIGTERM or Ctrl-C. Slack, waitress and Bolt are
imported only when it runs, so the other commands start as fast as before."""

from __future__ import annotations

import logging

import click

from bot.cli_support import App, fail, pass_app


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (default: PREORDER_PORT, else 3000; 0 picks a free one).",
)
@pass_app
def serve(app: App, host: str, port: int | None) -> None:
    """Run the Slack app: Slack's requests at /slack/events, a health check at /healthz (200
    when the database answers, 503 otherwise). With PREORDER_SLACK_APP_TOKEN set it connects
    in Socket Mode instead, and the port answers only /healthz.

    \b
    Needs PREORDER_SLACK_BOT_TOKEN, PREORDER_SLACK_SIGNING_SECRET (HTTP) or
    PREORDER_SLACK_APP_TOKEN (Socket Mode), and PREORDER_SLACK_MERCHANDISERS and/or
    PREORDER_SLACK_MERCHANDISER_GROUP (who may change allocations).

    \b
    Example:
      PREORDER_SLACK_BOT_TOKEN=xoxb-... PREORDER_SLACK_SIGNING_SECRET=... \\
      PREORDER_SLACK_MERCHANDISERS=U012ABC preorder serve
    """
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.server import serve as run
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    db = app.database()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        run(settings, db, host=host, port=port, announce=lambda line: click.echo(line, err=True))
    except BoltError as exc:
        fail(f"Slack refused the bot token: {exc}")
    except SlackApiError as exc:
        fail(f"Slack refused to connect: {exc.response.get('error')}")
    except (SlackClientError, OSError) as exc:
        fail(f"cannot start: {exc}")


COMMANDS = [serve]
