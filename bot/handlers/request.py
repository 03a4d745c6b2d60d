"""One Slack request and how to answer it (``Req``): who asked, from where, and the ways to
tell them (an ephemeral message, a modal, a summary in the channel); a modal opened with a
loading view and filled later (``Screen``); what every handler is given (``HandlerContext``);
and a Web API failure in words a user can pass on (``problem``). ``bot.handlers.listener``
registers handlers so that each request is acked and answered whatever happens.

Slack gives 3 seconds to ack and a trigger_id that opens one modal within 3 seconds, once. So a
handler acks first, opens its modal at once with a loading view, and only then asks the engine;
the answer replaces the loading view (``views.update``, guarded by the view's hash so that a
double click or a user who moved on is not overwritten). Submissions are the exception: a
refusal must come back in the ack itself (``response_action: errors``), so they call their one
engine operation, a single short transaction, before acking.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, Protocol

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.auth import Authorizer
from bot.deliveries import Deliveries
from bot.ids import BOT_NAME
from bot.views.blocks import (
    context,
    error_blocks,
    escape,
    fallback_text,
    loading_modal,
    notice_modal,
    section,
)
from bot.views.state import StateError, ViewState
from bot.webapi import failed_method, timed_out
from engine import Actor, Database, EngineError, Source

log = logging.getLogger("bot.handlers")

SLACK_ERRORS = (SlackApiError, SlackClientError, OSError)
GONE = ("not_found", "hash_conflict")  # the modal was closed or changed: nothing to update
NOT_MEMBER = ("not_in_channel", "channel_not_found", "is_archived")
REFUSAL = (
    "Sorry, only merchandisers can change allocations. You can still look: review PO lines, "
    "list unallocated orders and use the Home tab. Ask an admin to add you to the "
    "merchandisers if you need to make changes."
)
OOPS = "Sorry, something went wrong on our side (it is logged). Try again in a moment."


class ApiErrorCounter(Protocol):
    """Where failed calls to an outside API are counted: the service's metrics
    (``bot.service.metrics.Metrics``), which the Slack app takes without importing them."""

    def api_failed(self, api: str) -> None: ...


@dataclass
class HandlerContext:
    """What the handlers need beyond the request: the database, who may change things, the
    memory of deliveries already handled, where failed Web API calls are counted, and the
    team's time zone (PREORDER_TIMEZONE), in which every view gives its times."""

    db: Database
    auth: Authorizer
    deliveries: Deliveries
    metrics: ApiErrorCounter | None = None
    zone: tzinfo = UTC

    def slack_failed(self) -> None:
        """Count a Web API call Slack did not take (for /metrics)."""
        if self.metrics is not None:
            self.metrics.api_failed("slack")


@dataclass
class Screen:
    """A modal this request owns: ``show`` replaces it, guarded by its hash."""

    client: WebClient
    view_id: str
    hash: str | None

    def show(self, view: View) -> bool:
        """False when the user closed or changed the modal meanwhile (nothing to update)."""
        try:
            answer = self.client.views_update(view_id=self.view_id, hash=self.hash, view=view)
        except SlackApiError as exc:
            if exc.response.get("error") in GONE:
                log.info("views.update of %s skipped: %s", self.view_id, exc.response["error"])
                return False
            raise
        self.hash = answer["view"]["hash"]
        return True


@dataclass
class Req:
    """One request: who asked, from where, and the ways to answer them."""

    ctx: HandlerContext
    client: WebClient
    body: dict[str, Any]
    respond: Respond | None
    delivery: str | None
    _ack: Ack
    acked: bool = False
    screen: Screen | None = None
    title: str = "Pre-orders"
    user: str = field(init=False)
    channel: str = field(init=False)

    def __post_init__(self) -> None:
        body = self.body
        self.user = (
            body.get("user_id")
            or (body.get("user") or {}).get("id")
            or (body.get("event") or {}).get("user")
            or ""
        )
        self.channel = (
            body.get("channel_id")
            or (body.get("channel") or {}).get("id")
            or (body.get("container") or {}).get("channel_id")
            or ""
        )

    @property
    def view(self) -> Mapping[str, Any]:
        """The modal or Home tab the request came from (empty for commands and messages)."""
        return self.body.get("view") or {}

    @property
    def in_modal(self) -> bool:
        return self.view.get("type") == "modal"

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def zone(self) -> tzinfo:
        return self.ctx.zone

    @property
    def actor(self) -> Actor:
        return Actor(self.user, Source.SLACK)

    @property
    def once_key(self) -> str | None:
        """The engine's idempotency key for this delivery: a repeat that reaches another
        replica (whose memory of deliveries is its own) still changes nothing."""
        return f"slack:{self.delivery}"[:200] if self.delivery else None

    def done_before(self) -> bool:
        """Whether this delivery's change was already made: a repeat that reached another
        replica (whose memory of deliveries is its own) finds its key applied. It must be
        answered as the first was, before any check of what it would change: that check
        would see the change itself and tell the user their modal is stale or the line
        already cancelled."""
        from engine import applied_keys

        key = self.once_key
        return key is not None and key in applied_keys(self.db, [key])

    def ack(self, **answer: Any) -> None:
        if self.acked:
            return
        response = self._ack(**answer)
        self.acked = True
        failed = answer.get("response_action") == "errors"  # nothing applied: may try again
        self.ctx.deliveries.settle(self.delivery, str(response.body or ""), forget=failed)

    def open(self, title: str | None = None) -> Screen:
        """A loading modal, opened now while the trigger_id is valid (pushed onto the modal the
        request came from, so that closing it goes back there)."""
        self.title = title or self.title
        view = loading_modal(self.title)
        trigger = self.body.get("trigger_id")
        if self.in_modal:
            answer = self.client.views_push(trigger_id=trigger, view=view)
        else:
            answer = self.client.views_open(trigger_id=trigger, view=view)
        self.screen = Screen(self.client, answer["view"]["id"], answer["view"]["hash"])
        return self.screen

    def current(self) -> Screen:
        """The modal the request came from, to update in place (pager buttons)."""
        return Screen(self.client, self.view["id"], self.view.get("hash"))

    def may_change(self) -> bool:
        """Whether the user may change allocations; if not, they are told so politely."""
        if self.ctx.auth.may_change(self.user):
            return True
        log.info("refused %s: not a merchandiser", self.user)
        self.fail(REFUSAL, icon=":lock:")
        return False

    def tell(self, text: str, blocks: Sequence[Block] | None = None, channel: str = "") -> None:
        """An ephemeral answer: through the response_url, else in the channel (the request's,
        or ``channel`` for one that came from a modal), else by DM."""
        blocks = list(blocks) if blocks else [section(text)]
        fallback = fallback_text(blocks)
        channel = self.channel or channel
        try:
            if self.respond is not None and self.respond.response_url:
                self.respond(
                    text=fallback,
                    blocks=blocks,
                    response_type="ephemeral",
                    replace_original=False,
                )
                return
            if channel:
                try:
                    self.client.chat_postEphemeral(
                        channel=channel, user=self.user, text=fallback, blocks=blocks
                    )
                    return
                except SlackApiError as exc:
                    # A private channel the bot is not in takes no ephemeral either.
                    if exc.response.get("error") not in NOT_MEMBER:
                        raise
            self.client.chat_postMessage(channel=self.user, text=fallback, blocks=blocks)
        except SLACK_ERRORS as exc:
            self.ctx.slack_failed()
            log.error("could not tell %s %r: %s (%s)", self.user, text[:80], problem(exc), exc)

    def fail(self, text: str, *, icon: str = ":x:") -> None:
        """Say why nothing happened, where the user is looking: the submitted modal, the modal
        this request opened, or an ephemeral message."""
        message = f"{icon} {escape(text)}"
        if not self.acked and self.body.get("type") == "view_submission":
            self.ack(response_action="update", view=notice_modal(self.title, message))
            return
        self.ack()
        notice = notice_modal(self.title, message)
        try:
            if self.screen is not None:
                self.screen.show(notice)
                return
            if self.view and self.body.get("trigger_id"):
                # A button in a modal or the Home tab: answer there, not in a DM.
                self.open(self.title).show(notice)
                return
        except SLACK_ERRORS as exc:
            self.ctx.slack_failed()
            log.error("could not show %r in a modal: %s (%s)", text[:80], problem(exc), exc)
        blocks = error_blocks(text) if icon == ":x:" else [section(message)]
        self.tell(message, blocks)

    def post(self, blocks: Sequence[Block], channel: str = "") -> None:
        """A summary everyone in the channel sees (else a DM to the user, saying why it is not
        in the channel); never raises, since the change it reports is already made."""
        fallback = fallback_text(blocks)
        try:
            try:
                self.client.chat_postMessage(
                    channel=channel or self.user, text=fallback, blocks=list(blocks)
                )
            except SlackApiError as exc:
                error = exc.response.get("error")
                if not channel or error not in NOT_MEMBER:
                    raise
                log.info("summary for %s sent by DM: %s answered %s", self.user, channel, error)
                # A user ID as the channel is the app's DM with that user (its Messages tab),
                # which chat:write covers: no conversations.open, no im:write.
                dm = [*blocks, context(not_posted_note(channel, str(error)))]
                self.client.chat_postMessage(channel=self.user, text=fallback, blocks=dm)
        except SLACK_ERRORS as exc:
            self.ctx.slack_failed()
            log.error("summary not posted for %s: %s (%s)", self.user, problem(exc), exc)
            self.tell(
                f"The change was made, but its summary may not have been posted: {problem(exc)}.",
                channel=channel,
            )


def not_posted_note(channel: str, error: str) -> str:
    """Why a summary came by DM rather than in ``channel``, and what would fix it."""
    if error == "is_archived":
        return f":information_source: Not posted in <#{channel}>: that channel is archived."
    # chat:write.public covers public channels, so this is in practice a private channel,
    # which Slack calls channel_not_found to a bot that is not in it.
    return (
        f":information_source: Not posted in <#{channel}>: I am not a member of that channel. "
        f"To have summaries there, type `/invite @{BOT_NAME}` in it."
    )


def problem(exc: BaseException) -> str:
    """A Web API failure in words a user can pass on: which call, what Slack said (or that it
    said nothing in time)."""
    if isinstance(exc, SlackApiError):
        method = str(exc.response.api_url).rstrip("/").rsplit("/", 1)[-1]
        return f"{method} answered HTTP {exc.response.status_code} ({exc.response.get('error')})"
    method = failed_method(exc) or "the Slack Web API"
    if timed_out(exc):
        return f"{method} did not answer in time"
    return f"{method} could not be reached ({type(exc).__name__})"


def state_of(text: str | None) -> ViewState:
    """The ViewState a button value or private_metadata carries (EngineError if it does not)."""
    try:
        return ViewState.from_json(text or "")
    except (ValueError, TypeError, KeyError) as exc:
        reason = f" ({exc})" if isinstance(exc, StateError) else ""
        raise EngineError(f"this button or form is not one this app made{reason}") from exc
