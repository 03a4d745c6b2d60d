"""Requests to ``/slack/events`` that Bolt cannot read: signed with the signing secret they get a
400 saying what is wrong with them (Bolt's parser raised inside the server: a 500, which Slack
would retry); not signed, a 401 that says nothing about the body. Either way nothing runs, and
the app goes on answering."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from tests.slack.harness import SECRET, SlackApp, texts

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def signed(body: bytes, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"payload=%7Bnot-json", FORM, "the payload is not JSON: Expecting property name"),
        (b"{not json", JSON, "the body is not JSON: Expecting property name"),
        (b"payload=" + b"%5B" * 100_000, FORM, "the payload is nested too deeply"),
        (b'{"n": ' + b"9" * 5000 + b"}", JSON, "the body has a number of over 4300 digits"),
        (b"command=%2Fpreorder&text=\xff\xfe", FORM, "the body is not UTF-8 text"),
    ],
    ids=["payload-not-json", "body-not-json", "nested-100000-deep", "5000-digits", "not-utf8"],
)
def test_a_signed_body_that_cannot_be_read_is_400_with_the_reason(
    slack_app: SlackApp, body: bytes, headers: dict[str, str], reason: str
) -> None:
    calls = len(slack_app.slack.calls())

    answer = slack_app.request("/slack/events", body, {**headers, **signed(body)})

    assert answer.status == 400, answer.body[:200]
    assert answer.text.startswith(reason), answer.text
    assert len(slack_app.slack.calls()) == calls
    help_ack, _ = slack_app.command("help")
    assert help_ack.status == 200 and "/preorder review" in texts(help_ack.json())


@pytest.mark.parametrize(
    "headers",
    [
        signed(b"payload=%7Bnot-json", "another secret"),
        signed(b"payload=%7Bnot-json", timestamp="abc"),
        signed(b"payload=%7Bnot-json", timestamp=str(int(time.time()) - 600)),
        {},
    ],
    ids=["other-secret", "timestamp-not-a-number", "stale", "unsigned"],
)
def test_an_unreadable_body_not_signed_by_slack_is_401_saying_nothing_of_it(
    slack_app: SlackApp, headers: dict[str, str]
) -> None:
    answer = slack_app.request("/slack/events", b"payload=%7Bnot-json", {**FORM, **headers})

    assert answer.status == 401
    assert "JSON" not in answer.text


def test_a_timestamp_that_is_not_a_number_is_401_not_500(slack_app: SlackApp) -> None:
    """A well-formed command whose timestamp header is not a number made slack_sdk's verifier
    raise (a 500)."""
    body = b"command=%2Fpreorder&text=help"

    answer = slack_app.request("/slack/events", body, {**FORM, **signed(body, timestamp="1e9")})

    assert answer.status == 401
