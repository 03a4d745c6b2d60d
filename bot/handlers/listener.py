"""``wire``: a handler registered as a Bolt listener that, whatever happens, acks the request
and tells the user why nothing happened when something failed (an engine refusal, a Web API
call Slack did not take, a fault of ours, logged with its traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.handlers.request import OOPS, SLACK_ERRORS, HandlerContext, Req, problem
from engine import EngineError

log = logging.getLogger("bot.handlers")

Handler = Callable[[Req], None]


def wire(
    register: Callable[[Callable[..., None]], Any], ctx: HandlerContext, handle: Handler
) -> None:
    """Register ``handle`` with a Bolt listener decorator (``app.action(...)`` etc.). Whatever
    happens, the request is acked and the user learns why nothing happened; errors are logged."""

    def listener(
        ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, respond: Respond
    ) -> None:
        req = Req(ctx, client, body, respond, context.get("delivery_key"), ack)
        try:
            handle(req)
        except EngineError as exc:
            req.fail(str(exc))
        except SLACK_ERRORS as exc:
            req.ctx.slack_failed()
            log.error("Slack Web API failure for %s: %s (%s)", req.user, problem(exc), exc)
            req.fail(f"Slack did not take our answer: {problem(exc)}. Try again in a moment.",
                     icon=":warning:")  # fmt: skip
        except Exception:
            log.exception("handler %s failed", getattr(handle, "__name__", handle))
            req.fail(OOPS, icon=":warning:")
        finally:
            req.ack()

    listener.__name__ = getattr(handle, "__name__", "listener")
    register(listener)
