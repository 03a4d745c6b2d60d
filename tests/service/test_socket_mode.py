"""``preorder serve`` in Socket Mode, end to end over real sockets: the process asks the Web API
stand-in's ``apps.connections.open`` for a socket URL with the app token, its own slack_sdk
client connects to the Socket Mode stand-in (``tests/standins/slack/socket_mode.py``), Slack's
requests arrive as envelopes and are acked over the websocket, and what the app does with them
shows in the Web API stand-in and in the database. Also: a refresh (``disconnect``) reconnects,
SIGTERM closes the socket and exits 0, and what the app does not know leaves it working."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

import engine as e
from bot.ids import ActionId, CallbackId
from tests.fixtures.databases import fresh_sqlite
from tests.helpers import allocation_map, dump
from tests.service.serving import Serve
from tests.slack.harness import (
    CHANNEL,
    GROUP,
    GROUPIE,
    MERCHANDISER,
    USERGROUPS,
    filled_modal,
    seed_shop,
    shown,
    texts,
)
from tests.standins.slack.signing import (
    app_home_opened_event_payload,
    block_actions_payload,
    slash_command_fields,
    view_submission_payload,
)
from tests.standins.slack.socket_mode import ACK_DUE, SocketModeStandin
from tests.standins.slack.standin import SlackStandin


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[e.Database]:
    """The shop of ``seed_shop`` in a SQLite file the served process opens too."""
    database = fresh_sqlite(sqlite_template, tmp_path)
    seed_shop(database)
    yield database
    database.dispose()


@pytest.fixture
def app(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, db: e.Database, tmp_path: Path
) -> Iterator[Serve]:
    """``preorder serve`` in Socket Mode, connected: the scheduler off, so that nothing but
    the requests a test sends touches the data; MERCHANDISER listed, GROUPIE in the group."""
    slack_standin.usergroups.update({k: list(v) for k, v in USERGROUPS.items()})
    serve = Serve(
        str(db.url),
        slack_standin,
        tmp_path,
        PREORDER_SLACK_APP_TOKEN=slack_standin.app_token,
        PREORDER_SLACK_MERCHANDISER_GROUP=GROUP,
        PREORDER_SCHEDULER="0",
    )
    try:
        socket_mode.wait_connections(1)
        yield serve
    finally:
        serve.kill()


def command(
    slack: SlackStandin, socket: SocketModeStandin, text: str, user: str = MERCHANDISER
) -> tuple[str, str]:
    """``/preorder text`` as Slack sends it over the socket; the envelope id and the trigger."""
    trigger = slack.new_trigger_id(user)
    fields = slash_command_fields(
        text=text, user_id=user, trigger_id=trigger, response_url=slack.new_response_url()
    )
    return socket.slash_command(fields), trigger


def test_help_is_answered_in_the_ack_over_the_socket(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    (opened,) = slack_standin.calls("apps.connections.open")
    assert opened.headers["authorization"] == f"Bearer {slack_standin.app_token}"
    (connection,) = socket_mode.connections()
    assert opened.response["url"].endswith(f"?ticket={connection.ticket}&app_id=A0APP")
    assert connection.sent[0]["type"] == "hello"
    assert app.wait_for(lambda line: line == "Connected to Slack in Socket Mode")
    # Slack's requests come over the socket only: the HTTP side has no Slack endpoint.
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(app.url + "/slack/events", b"", timeout=5)
    assert missing.value.code == 404

    envelope, _ = command(slack_standin, socket_mode, "help")
    ack = socket_mode.wait_ack(envelope)
    assert ack.elapsed < ACK_DUE
    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    assert "`/preorder review PO-NUMBER LINE`" in texts(ack.payload)
    assert len(socket_mode.acks(envelope)) == 1 and ack.connection == 0


def test_a_command_opens_its_modal_with_the_trigger_of_the_envelope(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    envelope, trigger = command(slack_standin, socket_mode, "review PO-1001 1")
    ack = socket_mode.wait_ack(envelope)
    assert ack.payload is None and ack.elapsed < ACK_DUE
    (opened,) = slack_standin.wait_for("views.open")
    assert opened.ok and opened.params["trigger_id"] == trigger
    view = filled_modal(slack_standin)
    assert view["id"] == opened.response["view"]["id"]
    assert view["callback_id"] == CallbackId.REVIEW
    said = texts(view)
    assert "*PO-1001:1* from Acme · `SKU-RED`" in said
    assert "*Order lines*\n2" in said and "*ATP left*\n5" in said


def test_a_submission_over_the_socket_allocates_once(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve, db: e.Database
) -> None:
    envelope, _ = command(slack_standin, socket_mode, "allocate PO-1001 1")
    socket_mode.wait_ack(envelope)
    confirm = filled_modal(slack_standin)
    assert confirm["callback_id"] == CallbackId.ALLOCATE_CONFIRM

    # "Yes": the next view comes back in the ack's payload, as it would in the HTTP answer.
    yes = socket_mode.wait_ack(
        socket_mode.interactive(view_submission_payload(confirm, user_id=MERCHANDISER))
    )
    assert yes.elapsed < ACK_DUE and yes.payload is not None
    choose = shown(confirm, yes.payload)
    assert choose["callback_id"] == CallbackId.ALLOCATE_CHOOSE
    before = dump(db)

    submit = view_submission_payload(
        choose, answers={ActionId.ALLOCATE_ORDERS: ["SO-3:1", "SO-4:1"]}, user_id=MERCHANDISER
    )
    done = socket_mode.wait_ack(socket_mode.interactive(submit))
    assert done.elapsed < ACK_DUE and done.payload is None  # closes the modal
    allocated = allocation_map(db)
    assert allocated[("SO-3", 1)] == allocated[("SO-4", 1)] == ("PO-1001", 1)
    (summary,) = slack_standin.wait_for("chat.postMessage")
    assert summary.params["channel"] == CHANNEL
    assert "Allocated to PO-1001:1" in texts(summary.params["blocks"])

    # The same submission again (a double click on Submit) is acked the same way and changes
    # nothing.
    after = dump(db)
    assert after != before
    again = socket_mode.wait_ack(socket_mode.interactive(submit))
    assert again.payload is None
    assert dump(db) == after
    with db.read() as conn:
        operations = conn.exec_driver_sql(
            "SELECT DISTINCT operation_id, actor, source FROM audit_events "
            "WHERE operation = 'allocate'"
        ).all()
    assert [tuple(o)[1:] for o in operations] == [(MERCHANDISER, "slack")]
    assert len(slack_standin.calls("chat.postMessage")) == 1


def test_a_refresh_requested_disconnect_reconnects_and_the_next_envelope_is_answered(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    socket_mode.disconnect("refresh_requested")
    _, second = slack_standin.wait_for("apps.connections.open", 2)
    old, new = socket_mode.wait_connections(2)
    assert second.response["url"].endswith(f"?ticket={new.ticket}&app_id=A0APP")
    assert new.ticket != old.ticket
    assert new.sent[0]["type"] == "hello"

    envelope, _ = command(slack_standin, socket_mode, "help")
    # Not within ACK_DUE: slack_sdk's built-in client starts reading the new connection only
    # once it has closed the old one, which waits out the old reader's 3 s receive timeout, so
    # an envelope sent in that window is acked about 3 s late.
    ack = socket_mode.wait_ack(envelope, timeout=ACK_DUE + 3)
    assert ack.connection == 1
    assert "`/preorder review PO-NUMBER LINE`" in texts(ack.payload)
    # The app dropped the old connection itself, and asked for no third URL.
    assert socket_mode.wait_closed(0).closed_by == "client"
    assert len(slack_standin.calls("apps.connections.open")) == 2
    assert socket_mode.connections()[1].is_open


def test_sigterm_closes_the_socket_and_exits_0(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    assert app.stop(timeout=10) == 0
    assert socket_mode.wait_closed(0, timeout=1).closed_by == "client"
    assert any("Stopping (SIGTERM)" in line for line in app.lines)
    assert not any("Traceback" in line for line in app.lines), app.lines
    # Closing is not mistaken for a dropped connection: no reconnection is attempted.
    assert len(slack_standin.calls("apps.connections.open")) == 1


def test_sigterm_during_a_request_still_acks_it_before_closing_the_socket(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    envelope, _ = command(slack_standin, socket_mode, "allocate PO-1001 1")
    socket_mode.wait_ack(envelope)
    confirm = filled_modal(slack_standin)
    # A member of the merchandiser group submits: the app asks Slack for the group's members
    # before it can ack, and Slack takes a second to answer; SIGTERM comes meanwhile.
    slack_standin.stall_next("usergroups.users.list", 1.0)
    started = time.monotonic()
    submitted = socket_mode.interactive(view_submission_payload(confirm, user_id=GROUPIE))
    deadline = started + ACK_DUE
    while not slack_standin.stalled("usergroups.users.list"):
        assert time.monotonic() < deadline, "the membership check never started"
        time.sleep(0.01)
    app.process.send_signal(signal.SIGTERM)

    ack = socket_mode.wait_ack(submitted)
    assert ack.elapsed < ACK_DUE
    assert ack.payload is not None and ack.payload["response_action"] == "update"
    assert shown(confirm, ack.payload)["callback_id"] == CallbackId.ALLOCATE_CHOOSE
    assert app.stop(timeout=10) == 0
    assert socket_mode.wait_closed(0, timeout=1).closed_by == "client"


def test_a_retried_event_is_acked_and_applied_once(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    event = app_home_opened_event_payload(MERCHANDISER)
    first = socket_mode.wait_ack(socket_mode.event(event))
    assert first.payload is None and first.elapsed < ACK_DUE
    slack_standin.wait_for("views.publish")
    # Slack redelivers an event whose ack it missed, marked as a retry, in a new envelope.
    retry = socket_mode.event(event, retry_attempt=1, retry_reason="timeout")
    assert socket_mode.wait_ack(retry).payload is None
    assert app.wait_for(lambda line: "repeat delivery not applied again" in line)
    assert len(slack_standin.calls("views.publish")) == 1
    assert slack_standin.home_view(MERCHANDISER) is not None


def test_what_the_app_does_not_know_is_left_unacked_and_it_keeps_working(
    slack_standin: SlackStandin, socket_mode: SocketModeStandin, app: Serve
) -> None:
    socket_mode.send_text("not json")
    socket_mode.send_text('{"type": "surprise"}')  # neither an envelope nor a known message
    unknown = [
        socket_mode.send_envelope("no_such_type", {"type": "x"}, accepts_response_payload=False),
        socket_mode.interactive(block_actions_payload("no_such_action", "v", user_id=MERCHANDISER)),
    ]
    envelope, _ = command(slack_standin, socket_mode, "help")
    assert "`/preorder review PO-NUMBER LINE`" in texts(socket_mode.wait_ack(envelope).payload)
    # Bolt answers what no listener handles with a 404, which in Socket Mode sends no ack: Slack
    # then treats it as it treats a 404 over HTTP.
    for envelope_id in unknown:
        assert socket_mode.acks(envelope_id) == []
    assert app.wait_for(lambda line: "Unhandled request" in line)
    assert app.process.poll() is None
    assert not any("Traceback" in line for line in app.lines), app.lines
    assert [c.index for c in socket_mode.connections() if c.is_open] == [0]


# --- the Socket Mode stand-in itself ------------------------------------------------------------


def test_the_stand_in_refuses_a_ticket_it_did_not_issue(socket_mode: SocketModeStandin) -> None:
    for url in (socket_mode.url, socket_mode.url + "?ticket=forged"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=2)
        assert refused.value.response.status_code == 403
    assert socket_mode.connections() == []


def test_the_stand_in_says_hello_and_stops_cleanly_with_a_client_connected() -> None:
    before = set(threading.enumerate())
    with SocketModeStandin(app_id="A0OTHER") as socket, connect(socket.new_url()) as client:
        hello = json.loads(client.recv(timeout=2))
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0OTHER"}
        envelope_id = socket.slash_command(slash_command_fields(text="help"))
        envelope = json.loads(client.recv(timeout=2))
        assert envelope["envelope_id"] == envelope_id and envelope["type"] == "slash_commands"
        assert envelope["accepts_response_payload"] is True
        assert envelope["payload"]["command"] == "/preorder"
        client.send(json.dumps({"envelope_id": envelope_id, "payload": {"text": "hi"}}))
        assert socket.wait_ack(envelope_id).payload == {"text": "hi"}
        socket.disconnect()
        assert json.loads(client.recv(timeout=2))["reason"] == "refresh_requested"
        socket.stop()
        with pytest.raises(ConnectionClosedOK):
            client.recv(timeout=2)
        (connection,) = socket.connections()
        assert connection.closed_by == "server" and not connection.is_open
    deadline = time.monotonic() + 2
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()
