"""Posting the digest to a Slack channel: read it, build the message, ``chat.postMessage``.

Used by ``preorder digest --post`` and by the scheduled digest job. A failure is one
``DigestNotPosted`` naming Slack's error code (or that Slack did not answer), with a hint for
the errors a person can fix (the bot not in a private channel, a wrong token).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.ids import BOT_NAME
from bot.views.digest import digest_message, digest_text
from bot.webapi import failed_method, timed_out
from engine import Database
from engine.digest import digest

SHEET_URL = "https://docs.google.com/spreadsheets/d/{}"

HINTS = {
    "channel_not_found": "no such channel, or a private one the bot is not in: invite it with "
    f"/invite @{BOT_NAME}, or check PREORDER_DIGEST_CHANNEL",
    "not_in_channel": f"the bot is not in that channel: invite it with /invite @{BOT_NAME}",
    "is_archived": "that channel is archived",
    "invalid_auth": "PREORDER_SLACK_BOT_TOKEN is not a valid bot token",
    "not_authed": "PREORDER_SLACK_BOT_TOKEN is not set",
    "account_inactive": "the bot token belongs to a deactivated app or user",
    "token_revoked": "PREORDER_SLACK_BOT_TOKEN was revoked",
    "missing_scope": "the app lacks the chat:write scope: reinstall it from manifest.yml",
    "ratelimited": "Slack is rate limiting posts to that channel: try again in a minute",
}


@dataclass(frozen=True)
class PostedDigest:
    """A digest that Slack accepted: where (the channel's id, as Slack answers it), its
    message ``ts``, how many blocks it took and whether it said nothing needs attention."""

    channel: str
    ts: str
    blocks: int
    empty: bool


class DigestNotPosted(Exception):
    """Slack did not take the digest. ``error`` is Slack's error code (``channel_not_found``,
    ``invalid_auth``, ...), or ``timeout`` / ``unreachable`` when no answer came."""

    def __init__(self, channel: str, error: str, detail: str = "") -> None:
        self.channel = channel
        self.error = error
        hint = HINTS.get(error, detail)
        super().__init__(
            f"Slack did not post the digest to {channel}: {error}" + (f" ({hint})" if hint else "")
        )


def sheet_url(sheet_id: str | None) -> str | None:
    """The browser address of the spreadsheet with id ``sheet_id`` (None when there is none)."""
    sheet_id = (sheet_id or "").strip()
    return SHEET_URL.format(sheet_id) if sheet_id else None


def post_digest(
    db: Database,
    client: WebClient,
    channel: str,
    *,
    now: datetime | None = None,
    sheet_url: str | None = None,
    zone: tzinfo = UTC,
) -> PostedDigest:
    """Read the digest as of ``now`` (default: the database's clock; its date is the first day
    of the arrival window) and post it to ``channel`` (an id such as ``C0123``, or a name)."""
    now = now or db.clock()
    data = digest(db, today=now.date())
    blocks = digest_message(data, now=now, sheet_url=sheet_url, zone=zone)
    try:
        answer = client.chat_postMessage(
            channel=channel, text=digest_text(data), blocks=blocks, unfurl_links=False
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        raise DigestNotPosted(channel, error) from exc
    except (SlackClientError, OSError) as exc:
        what = failed_method(exc) or "chat.postMessage"
        if timed_out(exc):
            raise DigestNotPosted(channel, "timeout", f"{what} did not answer in time") from exc
        detail = f"{what} could not be reached: {type(exc).__name__}"
        raise DigestNotPosted(channel, "unreachable", detail) from exc
    return PostedDigest(
        channel=str(answer.get("channel") or channel),
        ts=str(answer.get("ts") or ""),
        blocks=len(blocks),
        empty=data.is_empty,
    )
