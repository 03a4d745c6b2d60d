"""A local stand-in for Slack's Socket Mode server: a real websocket server on 127.0.0.1 that the
app's own ``slack_sdk`` client connects to, exchanging Slack's Socket Mode messages.

Slack's side of the protocol, as this stand-in plays it (Slack's "Using Socket Mode" docs and
slack_sdk's ``socket_mode`` package): the app asks ``apps.connections.open`` (on the Web API
stand-in, with the app-level token) for a URL, ``wss://.../link/?ticket=...``; here it is
``ws://127.0.0.1:PORT/link/?ticket=...``, which slack_sdk's built-in client reaches over a plain
socket because the port is not 443. On each connection Slack first sends ``hello``; requests
then come as envelopes::

    {"envelope_id": "...", "type": "slash_commands" | "interactive" | "events_api",
     "payload": {...}, "accepts_response_payload": true}

and the app acks each with ``{"envelope_id": "...", "payload": {...}}`` (the payload is what the
HTTP answer's body would be, and may be left out). Before Slack drops a connection it sends
``{"type": "disconnect", "reason": "refresh_requested"}``, and the app asks for a new URL and
connects again.

Use it with a started :class:`~tests.standins.slack.standin.SlackStandin` (or the ``socket_mode``
fixture, which does this)::

    with SocketModeStandin() as socket:
        slack.socket_url = socket.new_url
        ...  # start the app with PREORDER_SLACK_APP_TOKEN=slack.app_token
        ack = socket.wait_ack(socket.slash_command(slash_command_fields(text="help")))

Tickets the stand-in did not issue are refused at the handshake (403), so a connection proves
the app used the URL ``apps.connections.open`` gave it. Every connection, every message the app
sent and every ack is recorded; on :meth:`stop` open connections are closed (1001) and every
connection thread has ended.
"""

from __future__ import annotations

import copy
import http
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from tests.standins.local_server import Listening, LocalServer
from tests.standins.slack.signing import APP_ID

LINK_PATH = "/link/"
# Interactive payloads whose ack may carry an answer (errors, an updated view, options).
ANSWERED_INTERACTIONS = ("view_submission", "block_suggestion")
ACK_DUE = 3.0  # seconds: Slack's deadline for an ack, over HTTP and Socket Mode alike


@dataclass
class Ack:
    """The app's acknowledgement of one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None  # None: acked with no payload
    connection: int  # index of the connection it came over
    elapsed: float  # seconds from sending the envelope to receiving the ack
    message: dict[str, Any]  # the ack as sent


@dataclass
class SocketConnection:
    """One websocket connection from the app, as the stand-in saw it."""

    index: int
    ticket: str
    opened: float  # time.monotonic()
    received: list[Any] = field(default_factory=list)  # each text frame: JSON decoded if it is
    sent: list[dict[str, Any]] = field(default_factory=list)
    closed: float | None = None
    # Who closed it: "server" when the stand-in sent the first close frame, else "client"
    # (slack_sdk's built-in client drops the TCP connection without a close frame).
    closed_by: Literal["client", "server"] | None = None
    close_code: int | None = None  # the client's close frame's code; None if it sent none

    @property
    def is_open(self) -> bool:
        return self.closed is None


class SocketModeStandin(LocalServer):
    """Socket Mode server stand-in on 127.0.0.1 (port 0); see the module docstring."""

    def __init__(self, *, app_id: str = APP_ID, close_timeout: float = 1.0) -> None:
        super().__init__()
        self.app_id = app_id
        self.close_timeout = close_timeout
        self.internal_errors: list[str] = []  # stand-in bugs: the fixture fails the test on any
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._tickets: set[str] = set()
        self._connections: list[SocketConnection] = []
        self._sockets: dict[int, ServerConnection] = {}
        self._sent_at: dict[str, float] = {}  # envelope id -> time.monotonic() it was sent
        self._acks: list[Ack] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def _listen(self) -> tuple[Listening, int]:
        server = serve(
            self._serve_connection,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            # Slack's client offers no compression; answering with none keeps frames plain.
            compression=None,
            close_timeout=self.close_timeout,
        )
        return server, server.socket.getsockname()[1]

    @property
    def url(self) -> str:
        """The socket's URL without a ticket (which the stand-in refuses): see :meth:`new_url`."""
        return f"ws://127.0.0.1:{self.port}{LINK_PATH}"

    def new_url(self) -> str:
        """A URL with a fresh ticket, as ``apps.connections.open`` answers it."""
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets.add(ticket)
        return f"{self.url}?ticket={ticket}&app_id={self.app_id}"

    # --- what the app sees --------------------------------------------------------------------

    def send_envelope(
        self,
        type: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool,
        envelope_id: str | None = None,
        connection: int | None = None,
        **extra: Any,
    ) -> str:
        """Send an envelope over ``connection`` (default: the newest open one); its id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        message = {
            "envelope_id": envelope_id,
            "payload": copy.deepcopy(dict(payload)),
            "type": type,
            "accepts_response_payload": accepts_response_payload,
            **extra,
        }
        with self._lock:
            # Before sending: the ack may arrive before send() returns.
            self._sent_at[envelope_id] = time.monotonic()
        self._send(message, connection)
        return envelope_id

    def slash_command(self, fields: Mapping[str, str], **kw: Any) -> str:
        """A slash command (the fields Slack would form-encode over HTTP); the envelope id."""
        return self.send_envelope("slash_commands", fields, accepts_response_payload=True, **kw)

    def interactive(self, payload: Mapping[str, Any], **kw: Any) -> str:
        """A click, submission, suggestion...: the JSON Slack would post as ``payload=``."""
        answered = payload.get("type") in ANSWERED_INTERACTIONS
        return self.send_envelope("interactive", payload, accepts_response_payload=answered, **kw)

    def event(
        self,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        **kw: Any,
    ) -> str:
        """An Events API ``event_callback``; a retry carries its attempt number and reason."""
        return self.send_envelope(
            "events_api",
            payload,
            accepts_response_payload=False,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            **kw,
        )

    def disconnect(self, reason: str = "refresh_requested", connection: int | None = None) -> int:
        """Tell the app a connection is about to be dropped, as Slack does before it refreshes
        one; the connection stays open (the app closes it once it has a new one). Its index."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-0"}}
        return self._send(message, connection)

    def send_text(self, text: str, connection: int | None = None) -> int:
        """Send a raw text frame (not necessarily JSON); the connection's index."""
        return self._send(text, connection)

    # --- records and waiting ------------------------------------------------------------------

    def connections(self) -> list[SocketConnection]:
        """Every connection so far, oldest first (copies)."""
        with self._lock:
            return [copy.deepcopy(c) for c in self._connections]

    def acks(self, envelope_id: str | None = None) -> list[Ack]:
        """Every ack so far, oldest first; optionally of one envelope."""
        with self._lock:
            return [copy.deepcopy(a) for a in self._acks if envelope_id in (None, a.envelope_id)]

    def wait_ack(self, envelope_id: str, timeout: float = ACK_DUE) -> Ack:
        """The ack of ``envelope_id``, waiting up to ``timeout`` (Slack's 3 s) for it."""
        self._wait(lambda: bool(self.acks(envelope_id)), timeout, f"the ack of {envelope_id}")
        return self.acks(envelope_id)[0]

    def wait_connections(self, count: int, timeout: float = 5.0) -> list[SocketConnection]:
        """All connections once ``count`` were opened."""
        self._wait(lambda: len(self._connections) >= count, timeout, f"{count} connections")
        return self.connections()

    def wait_closed(self, index: int, timeout: float = 5.0) -> SocketConnection:
        """Connection ``index`` once it is closed."""
        self._wait(
            lambda: len(self._connections) > index and not self._connections[index].is_open,
            timeout,
            f"connection {index} closed",
        )
        return self.connections()[index]

    # --- internals ----------------------------------------------------------------------------

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.index, c.is_open, c.received) for c in self._connections]
                    raise AssertionError(f"waited {timeout} s for {what}; connections: {seen}")
                self._changed.wait(left)

    def _send(self, message: dict[str, Any] | str, connection: int | None) -> int:
        with self._lock:
            if connection is None:
                open_ = [c.index for c in self._connections if c.is_open]
                if not open_:
                    raise AssertionError("no open Socket Mode connection to send on")
                connection = open_[-1]
            record = self._connections[connection]
            socket = self._sockets.get(connection)
            if socket is None or not record.is_open:
                raise AssertionError(f"connection {connection} is closed")
            if isinstance(message, dict):
                record.sent.append(copy.deepcopy(message))
        # Outside the lock: a send may block on a slow reader, and the reader thread records
        # what arrives under the lock.
        socket.send(json.dumps(message) if isinstance(message, dict) else message)
        return connection

    def _check_ticket(self, socket: ServerConnection, request: Request) -> Response | None:
        with self._lock:
            known = _ticket(request) in self._tickets
        if urlsplit(request.path).path != LINK_PATH or not known:
            return socket.respond(http.HTTPStatus.FORBIDDEN, "unknown ticket\n")
        return None

    def _serve_connection(self, socket: ServerConnection) -> None:
        """One connection, in the server's thread for it, until either side closes it."""
        assert socket.request is not None  # the handshake, which needs one, is done
        ticket = _ticket(socket.request)
        with self._changed:
            record = SocketConnection(len(self._connections), ticket, time.monotonic())
            self._connections.append(record)
            self._sockets[record.index] = socket
            open_count = sum(c.is_open for c in self._connections)
            self._changed.notify_all()
        hello = {
            "type": "hello",
            "num_connections": open_count,
            "debug_info": {
                "host": "applink-0",
                "build_number": 1,
                "approximate_connection_time": 3600,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            self._send(hello, record.index)
            for frame in socket:
                self._received(record, frame)
        except ConnectionClosed:
            pass  # closed abnormally: slack_sdk's client drops TCP without a close frame
        except Exception as exc:  # a stand-in bug must fail the test, not pass silently
            self.internal_errors.append(f"connection {record.index}: {exc!r}")
        finally:
            protocol = socket.protocol
            with self._changed:
                record.closed = time.monotonic()
                by_server = protocol.close_sent is not None and not protocol.close_rcvd_then_sent
                record.closed_by = "server" if by_server else "client"
                record.close_code = protocol.close_rcvd.code if protocol.close_rcvd else None
                self._sockets.pop(record.index, None)
                self._changed.notify_all()

    def _received(self, record: SocketConnection, frame: str | bytes) -> None:
        text = frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame
        try:
            message: Any = json.loads(text)
        except json.JSONDecodeError:
            message = text
        with self._changed:
            record.received.append(message)
            if isinstance(message, dict) and "envelope_id" in message:
                envelope_id = str(message["envelope_id"])
                sent = self._sent_at.get(envelope_id, time.monotonic())
                self._acks.append(
                    Ack(
                        envelope_id=envelope_id,
                        payload=message.get("payload"),
                        connection=record.index,
                        elapsed=time.monotonic() - sent,
                        message=message,
                    )
                )
            self._changed.notify_all()


def _ticket(request: Request) -> str:
    return (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
