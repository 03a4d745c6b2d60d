"""A webhook receiver on 127.0.0.1, as a store's would be: it checks every request's signature
(refusing a bad one with 401, as a real receiver must) and records what it received, and it
answers as a test scripts it: 200, 500, 429 with Retry-After, any 4xx, or no answer at all
(it holds the request until released, past the sender's timeout).

``answer`` decides each request's answer from the event (a function of the received
``Delivery``); by default every event is accepted. ``hold`` makes requests wait (a hanging
receiver) until ``release``, which closes them unanswered; ``arrived`` waits for the n-th
request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from notify.webhook import EVENT_ID, SIGNATURE, TIMESTAMP, verify
from tests.standins.local_server import LocalServer, standin_of

SECRET = "whsec-test-0123456789"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: tuple[tuple[str, str], ...] = ()


OK = Reply()


@dataclass(frozen=True)
class Delivery:
    """One request as received: its event (parsed), headers and raw body."""

    event_id: str
    event: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def order(self) -> str:
        return str(self.event["data"]["order"])


class Receiver(LocalServer):
    """See the module docstring. ``received``: every signed request, in arrival order,
    whatever it was answered; ``accepted``: those answered 2xx."""

    def __init__(
        self, secret: str = SECRET, answer: Callable[[Delivery], Reply] | None = None
    ) -> None:
        super().__init__()
        self.handler = _Handler
        self.secret = secret
        self.answer: Callable[[Delivery], Reply] = answer or (lambda _d: OK)
        self.received: list[Delivery] = []
        self.accepted: list[Delivery] = []
        self.refused_signatures = 0
        self._lock = threading.Condition()
        self._held = threading.Event()
        self._held.set()

    def hold(self) -> None:
        """Requests from now on get no answer until ``release``."""
        self._held.clear()

    def release(self) -> None:
        self._held.set()

    def _before_stop(self) -> None:
        self.release()

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/preorder"

    def arrived(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Wait until ``count`` requests have arrived; all those received."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} requests arrived, not {count}")
                self._lock.wait(left)
            return list(self.received)

    def accepted_ids(self) -> list[str]:
        return [d.event_id for d in self.accepted]

    def by_order(self) -> dict[str, list[dict[str, Any]]]:
        """Accepted events per order, in the order they were accepted."""
        found: dict[str, list[dict[str, Any]]] = {}
        for d in self.accepted:
            found.setdefault(d.order, []).append(d.event)
        return found

    def _record(self, delivery: Delivery) -> Reply | None:
        """The reply to send, or None: the request was held, and gets no answer at all."""
        with self._lock:
            self.received.append(delivery)
            self._lock.notify_all()
        reply = self.answer(delivery)
        if not self._held.is_set():
            self._held.wait()
            return None
        if 200 <= reply.status < 300:
            with self._lock:
                self.accepted.append(delivery)
        return reply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the sender's connection pool expects
    # The headers and the body go out in two writes: without TCP_NODELAY the second waits for
    # the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        receiver: Receiver = standin_of(self)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items()}
        if not verify(
            receiver.secret, body, self.headers.get(TIMESTAMP), self.headers.get(SIGNATURE)
        ):
            receiver.refused_signatures += 1
            self._reply(Reply(401, "bad signature"))
            return
        event = json.loads(body)
        assert self.headers.get(EVENT_ID) == event["id"], "the id header is the event's id"
        delivery = Delivery(event["id"], event, headers, body, time.time())
        reply = receiver._record(delivery)
        if reply is None:
            self.close_connection = True  # hung up without a word
            return
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        data = reply.body.encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the sender gave up waiting (its timeout)
            self.close_connection = True
