"""The Slack app: a ``slack_bolt.App`` wired to the engine, ready for HTTP or Socket Mode.

Bolt verifies every request's signature and age (401 otherwise), acks within its listener
runner, and runs each listener in a thread pool so the HTTP answer leaves as soon as the
listener acks. Around that this module adds the Web API client (Slack's URL or a stand-in's,
429s retried after Retry-After, a call that hangs given up after ``PREORDER_SLACK_TIMEOUT``
seconds), the refusal of requests from any workspace but the one the bot token belongs to,
the check that a payload is applied once however often it is delivered, and an error handler
that logs whatever a listener let through.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, tzinfo
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry import RateLimitErrorRetryHandler, default_retry_handlers

from bot.auth import Authorizer
from bot.deliveries import Deliveries, delivery_keys
from bot.handlers import HandlerContext, register_all
from bot.handlers.request import ApiErrorCounter
from bot.settings import SlackSettings
from bot.webapi import NameFailedCall
from engine import Database

log = logging.getLogger("bot.app")

LISTENER_THREADS = 16  # listeners run after their ack (opening modals, posting summaries)
RATE_LIMIT_RETRIES = 2
OTHER_WORKSPACE = (
    ":lock: This app serves another Slack workspace; nothing was done here. "
    "Ask your Slack admin about installing it in yours."
)


def web_client(settings: SlackSettings) -> WebClient:
    """The Web API client: retries connection resets (slack_sdk's default) and 429s. A timeout
    is not retried: the call may have been done (a second summary posted), so the user is told
    instead."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        # slack_sdk types it int, but urllib takes any number of seconds.
        timeout=settings.slack_timeout,  # type: ignore[arg-type]
        retry_handlers=[
            NameFailedCall(),
            *default_retry_handlers(),
            RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ],
    )


# The user-group check can run before an ack (a submission is authorized before it is
# answered): it must give up in time for the ack to leave within Slack's 3 seconds.
AUTH_TIMEOUT = 1.5


def _quick(client: WebClient) -> WebClient:
    """``client`` with a timeout short enough to answer before the ack is due."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        # A float, as in web_client(): slack_sdk types it int, urllib takes any number.
        timeout=min(client.timeout, AUTH_TIMEOUT),  # type: ignore[arg-type]
        retry_handlers=[h for h in client.retry_handlers if isinstance(h, NameFailedCall)],
    )


def create_app(
    settings: SlackSettings,
    db: Database,
    client: WebClient | None = None,
    metrics: ApiErrorCounter | None = None,
    zone: tzinfo = UTC,
) -> App:
    """The app for ``settings`` on ``db``. ``client`` replaces the Web API client (tests aim
    one at a stand-in). Checks the bot token with ``auth.test`` here (Bolt's own check, which
    raises ``BoltError`` for a refused token, then ours for the workspace it belongs to).
    ``zone``: the team's time zone (PREORDER_TIMEZONE), in which every time shown is given."""
    client = client or web_client(settings)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        # Socket Mode requests arrive over Slack's own authenticated socket, unsigned.
        request_verification_enabled=not settings.socket_mode,
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener"),
        logger=logging.getLogger("bot.bolt"),
    )
    ctx = HandlerContext(
        db=db,
        auth=Authorizer(settings.merchandisers, settings.merchandiser_group, _quick(client)),
        deliveries=Deliveries(),
        metrics=metrics,
        zone=zone,
    )
    # Bolt keeps its auth.test answer to itself: ask once more for the workspace's id.
    app.use(_same_workspace(str(client.auth_test()["team_id"])))
    app.use(_once(ctx.deliveries))
    register_all(app, ctx)
    app.error(_log_error)
    return app


def request_teams(body: dict[str, Any], context: BoltContext) -> set[str]:
    """Every workspace a request names: where it came from (commands and events say
    ``team_id``, interactions ``team``), its user's, and a view's; and what Bolt made of them.
    Slack puts them in different places per kind of payload, and a user of another workspace
    (in a channel shared with this one) shows only in ``user.team_id``."""
    team = body.get("team")
    user = body.get("user")
    view = body.get("view")
    found = [
        body.get("team_id"),
        team.get("id") if isinstance(team, dict) else team,
        user.get("team_id") if isinstance(user, dict) else None,
        *((view.get("team_id"), view.get("app_installed_team_id")) if isinstance(view, dict)
          else ()),
        *(a.get("team_id") for a in body.get("authorizations") or () if isinstance(a, dict)),
        context.team_id,
        context.actor_team_id,
    ]  # fmt: skip
    return {str(t) for t in found if t}


def _same_workspace(installed: str) -> Any:
    def same_workspace(
        body: dict[str, Any], context: BoltContext, next: Any
    ) -> BoltResponse | None:
        """Refuse a request from another workspace than the bot token's. Its signature only
        proves it came through this app, whose signing secret every workspace it is installed
        in shares; its users may not change this workspace's allocations."""
        teams = request_teams(body, context)
        if teams == {installed}:
            return next()
        kind = body.get("command") or body.get("type") or "request"
        if not teams:
            # Slack names the workspace in every request it sends an app installed in one:
            # this is none of them, answered as Bolt answers a request no listener takes.
            log.warning("refused a %s that names no workspace", kind)
            return BoltResponse(status=404, body="")
        log.warning("refused a %s from workspace %s (installed in %s)", kind,
                    ", ".join(sorted(teams)), installed)  # fmt: skip
        # The text is what the user sees: Slack shows a 200's body to a command as an
        # ephemeral message, and Bolt answers its own refusals the same way.
        return BoltResponse(status=200, body=OTHER_WORKSPACE)

    return same_workspace


def _once(deliveries: Deliveries) -> Any:
    def once(
        body: dict[str, Any], request: BoltRequest, context: BoltContext, next: Any
    ) -> BoltResponse | None:
        """Let a payload through the first time; answer repeats as the first was answered."""
        keys = delivery_keys(body)
        earlier = None
        for key, ttl in keys:
            earlier = deliveries.claim(key, ttl) or earlier
        if earlier is None:
            if keys:
                context["delivery_key"] = keys[0][0]
            return next()
        retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
        log.info("repeat delivery not applied again: %s (retry %s)", keys[0][0], retry)
        answer = earlier.wait() if body.get("type") == "view_submission" else ""
        headers: dict[str, str | Sequence[str]] = (
            {"content-type": ["application/json"]} if answer else {}
        )
        return BoltResponse(status=200, body=answer, headers=headers)

    return once


def _log_error(error: Exception, body: dict[str, Any]) -> None:
    """What escaped a listener or middleware (handlers report their own errors to the user)."""
    log.error("unhandled error for a %s request", body.get("type") or body.get("command"),
              exc_info=error)  # fmt: skip
