"""What the Slack benchmarks share: the real Bolt app behind the real waitress server, the Slack
Web API stand-in of the tests beside it, and signed slash commands into it, timed."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# The Slack stand-in, the payload builders and the app harness live in the test suite.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import engine as e  # noqa: E402
from bot.service.server import SLACK_PATH  # noqa: E402
from tests.slack.harness import CHANNEL, MERCHANDISER, SECRET, SlackApp  # noqa: E402
from tests.standins.slack.signing import signed_headers, slash_command_body  # noqa: E402
from tests.standins.slack.standin import SlackStandin  # noqa: E402


@contextmanager
def slack_app(db: e.Database) -> Iterator[SlackApp]:
    """The app on ``db`` and its stand-in; fails the run if the stand-in itself failed."""
    with SlackStandin() as standin:
        app = SlackApp(standin, db)
        try:
            yield app
            if standin.internal_errors:
                raise RuntimeError(f"stand-in failed: {standin.internal_errors}")
        finally:
            app.close()


def signed(app: SlackApp, text: str) -> tuple[bytes, dict[str, str]]:
    """A fresh slash command with a trigger the stand-in issued, signed now (Slack's way)."""
    app.slack.clear()  # keeps the stand-in's work per request the same however many ran before
    body = slash_command_body(
        text=text,
        user_id=MERCHANDISER,
        trigger_id=app.slack.new_trigger_id(MERCHANDISER),
        response_url=app.slack.new_response_url(),
        channel_id=CHANNEL,
    ).encode()
    return body, signed_headers(body, SECRET)


def help_request(app: SlackApp, expect: str) -> float:
    """ms to the answer of ``/preorder help`` (in the ack), which must mention ``expect``: the
    baseline of a signed request."""
    body, headers = signed(app, "help")
    t = time.perf_counter()
    answer = app.request(SLACK_PATH, data=body, headers=headers)
    took = (time.perf_counter() - t) * 1000
    if answer.status != 200 or expect not in answer.text:
        raise RuntimeError(f"help: HTTP {answer.status} {answer.text[:200]}")
    return took


def rounds(kinds: list[str], count: int, time_one: Callable[[str, int], None]) -> None:
    """``count`` rounds of one request of each kind, the kinds' order rotating each round so
    that none always follows another."""
    for i in range(count):
        turn = i % len(kinds)
        for kind in kinds[turn:] + kinds[:turn]:
            time_one(kind, i)
