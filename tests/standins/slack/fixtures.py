"""pytest fixtures for the Slack stand-in, registered for every test in ``tests/conftest.py``
(``pytest_plugins``).

Each test gets a fresh stand-in (state never leaks between tests) and a real ``WebClient``
that retries 429s like the app's own client must; ``socket_mode`` adds a Socket Mode server
that the Web API stand-in's ``apps.connections.open`` hands out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from tests.standins.slack.socket_mode import SocketModeStandin
from tests.standins.slack.standin import SlackStandin


def make_client(standin: SlackStandin, *, token: str | None = None, retries: int = 2) -> WebClient:
    """A real ``slack_sdk.WebClient`` aimed at ``standin``, retrying 429s up to ``retries`` times.

    ``retries=0`` gives a client without the handler, to see a 429 surface.
    """
    client = WebClient(token=token or standin.token, base_url=standin.url, timeout=10)
    if retries:
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=retries))
    return client


@pytest.fixture
def slack_standin() -> Iterator[SlackStandin]:
    """A started stand-in, stopped after the test; a stand-in bug fails the test."""
    with SlackStandin() as standin:
        yield standin
        assert not standin.internal_errors, f"stand-in failed: {standin.internal_errors}"


@pytest.fixture
def slack_client(slack_standin: SlackStandin) -> WebClient:
    """``make_client(slack_standin)``."""
    return make_client(slack_standin)


@pytest.fixture
def socket_mode(slack_standin: SlackStandin) -> Iterator[SocketModeStandin]:
    """A started Socket Mode stand-in whose URLs ``slack_standin`` answers to
    ``apps.connections.open`` with its ``app_token``; stopped (every connection closed, every
    thread ended) after the test."""
    with SocketModeStandin(app_id=slack_standin.app_id) as socket:
        slack_standin.socket_url = socket.new_url
        try:
            yield socket
        finally:
            slack_standin.socket_url = None
        assert not socket.internal_errors, f"stand-in failed: {socket.internal_errors}"
