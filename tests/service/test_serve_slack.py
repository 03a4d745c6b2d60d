"""``preorder serve``: one clear error for bad configuration, the production server (waitress)
answering Slack and the health check and stopping gracefully on SIGTERM, and Socket Mode refused
an unknown app token in one line. Socket Mode at work (envelopes acked over a real websocket,
reconnection, SIGTERM) is tested end to end in tests/service/test_socket_mode.py."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.app import web_client
from bot.cli import cli
from bot.service.server import HttpServer
from bot.settings import DEFAULT_TIMEOUT, SlackSettings, complete
from engine.config import load
from tests.fixtures.databases import fresh_sqlite
from tests.service.serving import serve_process
from tests.slack.harness import SECRET, texts
from tests.standins.slack.signing import signed_headers, slash_command_body
from tests.standins.slack.socket_mode import SocketModeStandin
from tests.standins.slack.standin import SlackStandin

SLACK_VARS = [
    "PREORDER_SLACK_BOT_TOKEN",
    "PREORDER_SLACK_SIGNING_SECRET",
    "PREORDER_SLACK_APP_TOKEN",
    "PREORDER_SLACK_API_URL",
    "PREORDER_SLACK_MERCHANDISERS",
    "PREORDER_SLACK_MERCHANDISER_GROUP",
    "PREORDER_SLACK_TIMEOUT",
    "PREORDER_PORT",
]


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    db = fresh_sqlite(sqlite_template, tmp_path)
    db.dispose()
    return f"sqlite:///{tmp_path / 'preorder.db'}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in SLACK_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    yield


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # Some Slack setting given (none at all runs without Slack: tests/service/test_serve.py)
        (
            {"PREORDER_SLACK_TIMEOUT": "5"},
            "error: missing settings: PREORDER_SLACK_BOT_TOKEN, PREORDER_SLACK_SIGNING_SECRET, "
            "PREORDER_SLACK_MERCHANDISERS or PREORDER_SLACK_MERCHANDISER_GROUP",
        ),
        (
            {"PREORDER_SLACK_MERCHANDISERS": "U1"},
            "error: missing settings: PREORDER_SLACK_BOT_TOKEN, PREORDER_SLACK_SIGNING_SECRET (",
        ),
        (
            {"PREORDER_SLACK_BOT_TOKEN": "xoxb-1", "PREORDER_SLACK_MERCHANDISERS": "U1"},
            "error: missing settings: PREORDER_SLACK_SIGNING_SECRET (",
        ),
        (
            {"PREORDER_SLACK_BOT_TOKEN": "xoxb-1", "PREORDER_SLACK_APP_TOKEN": "xoxb-2",
             "PREORDER_SLACK_MERCHANDISER_GROUP": "S1"},
            "error: bad settings: PREORDER_SLACK_APP_TOKEN: must be an app-level token (xapp-...)",
        ),
        (
            {"PREORDER_SLACK_BOT_TOKEN": "xoxb-1", "PREORDER_SLACK_SIGNING_SECRET": "s",
             "PREORDER_SLACK_MERCHANDISERS": "U1", "PREORDER_PORT": "http"},
            "error: bad settings: PREORDER_PORT: Input should be a valid integer",
        ),
        (
            {"PREORDER_SLACK_BOT_TOKEN": "xoxb-1", "PREORDER_SLACK_SIGNING_SECRET": "s",
             "PREORDER_SLACK_MERCHANDISERS": "U1", "PREORDER_SLACK_TIMEOUT": "0"},
            "error: bad settings: PREORDER_SLACK_TIMEOUT: Input should be greater than 0",
        ),
        (
            {"PREORDER_SLACK_BOT_TOKEN": "xoxb-1", "PREORDER_SLACK_SIGNING_SECRET": "s",
             "PREORDER_SLACK_MERCHANDISERS": "U1", "PREORDER_SLACK_TIMEOUT": "600"},
            "error: bad settings: PREORDER_SLACK_TIMEOUT: Input should be less than or equal "
            "to 60",
        ),
        (
            {"PREORDER_SLACK_BOT_TOKEN": "xoxb-1", "PREORDER_SLACK_SIGNING_SECRET": "s",
             "PREORDER_SLACK_MERCHANDISERS": "U1", "PREORDER_SLACK_TIMEOUT": "10s"},
            "error: bad settings: PREORDER_SLACK_TIMEOUT: Input should be a valid number",
        ),
    ],
)  # fmt: skip
def test_serve_names_every_missing_or_bad_setting_in_one_line(
    clean_env: None,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["--db", db_url, "serve"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.output
    assert "Traceback" not in result.output


def test_the_web_api_timeout_is_preorder_slack_timeout(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    required = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s",
                "slack_merchandisers": "U1"}  # fmt: skip
    assert web_client(complete(load(SlackSettings, **required))).timeout == DEFAULT_TIMEOUT == 10
    monkeypatch.setenv("PREORDER_SLACK_TIMEOUT", "2.5")
    assert web_client(complete(load(SlackSettings, **required))).timeout == 2.5


def test_serve_answers_slack_and_health_then_stops_on_sigterm(
    slack_standin: SlackStandin, db_url: str
) -> None:
    process = serve_process(db_url, slack_standin)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+)/slack/events", line)
        assert found, line
        base = found[1]
        with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
            assert answer.status == 200
        body = slash_command_body(text="help", trigger_id=slack_standin.new_trigger_id())
        forged = urllib.request.Request(
            base + "/slack/events", body.encode(), signed_headers(body, "forged")
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=5)
        assert refused.value.code == 401
        signed = urllib.request.Request(
            base + "/slack/events", body.encode(), signed_headers(body, SECRET)
        )
        with urllib.request.urlopen(signed, timeout=5) as answer:
            assert "`/preorder review PO-NUMBER LINE`" in texts(json.load(answer))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "Stopping (SIGTERM)" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_socket_mode_connects_with_the_app_token_instead_of_listening(
    slack_standin: SlackStandin, db_url: str
) -> None:
    """The app asks Slack for a socket URL with the app token instead of listening for
    Slack's requests; an app token Slack does not know is refused in one error line."""
    assert slack_standin.app_token != "xapp-1-test"
    process = serve_process(db_url, slack_standin, PREORDER_SLACK_APP_TOKEN="xapp-1-test")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert err.strip().splitlines()[-1] == "error: Slack refused to connect: invalid_auth"
    (call,) = slack_standin.calls("apps.connections.open")
    assert call.headers["authorization"] == "Bearer xapp-1-test"
    assert "Serving" not in err and "Traceback" not in err


def test_a_refused_socket_handshake_is_one_error_line_not_a_false_connected(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, db_url: str
) -> None:
    """slack_sdk only logs a refused websocket handshake (and would retry in the background):
    serve checks the socket is open before it says it is connected."""
    slack_standin.socket_url = lambda: socket_mode.url + "?ticket=forged"  # answered 403
    process = serve_process(db_url, slack_standin, PREORDER_SLACK_APP_TOKEN=slack_standin.app_token)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            "error: cannot start: Slack's socket did not open (the websocket handshake was refused)"
        )
    )
    assert "Connected to Slack" not in err and "Traceback" not in err
    assert socket_mode.connections() == []


def test_stopping_the_server_finishes_requests_in_flight_and_takes_no_more() -> None:
    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        time.sleep(0.5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    server = HttpServer(slow, "127.0.0.1", 0)
    runner = threading.Thread(target=server.run, daemon=True)
    runner.start()
    url = f"http://127.0.0.1:{server.port}/"
    answers: list[bytes] = []
    client = threading.Thread(
        target=lambda: answers.append(urllib.request.urlopen(url, timeout=5).read())
    )
    client.start()
    time.sleep(0.2)  # the request is in flight
    server.stop(timeout=5)
    client.join(timeout=5)
    runner.join(timeout=5)
    assert answers == [b"done"]
    assert not runner.is_alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
