"""A local stand-in for the Slack Web API, for driving the real ``slack_sdk`` in tests.

Slack cannot be reached from the test machines, and mocking ``WebClient`` would hide exactly the
failures that hurt in production: a modal over 100 blocks, an 11th checkbox, a trigger used after
3 seconds, a 429 the app does not retry. This server answers over real HTTP on 127.0.0.1, refuses
what Slack refuses with Slack's error names, records every call for assertions, and fails on
demand (429 with Retry-After, 5xx, any error name, a call that hangs past the client's timeout,
a channel the bot may not post in). See DESIGN.md section 4.

chat.* calls name a conversation as Slack takes it (an ID, a channel's name, a user's ID for
the app's DM with them) and are answered, as by Slack, with the conversation's ID (``C…``,
``D…``); messages are kept under that ID (:func:`tests.standins.slack.workspace.conversation_id`).

``apps.connections.open`` (Socket Mode) answers the URL of a socket only to the app-level token
(``app_token``) and only while a Socket Mode stand-in is attached (``socket_url``, see
:mod:`tests.standins.slack.socket_mode`); the bot token is the wrong kind of token there, and
the app token is the wrong kind everywhere else.

Use it as a context manager (or the ``slack_standin`` fixture) and point a client at ``.url``::

    with SlackStandin() as slack:
        client = WebClient(token=slack.token, base_url=slack.url)
        client.views_open(trigger_id=slack.new_trigger_id(), view=view)
        assert slack.last("views.open").ok
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.standins.local_server import LocalServer, standin_of
from tests.standins.slack.records import BadRequest, Call, ResponsePost, parse_params
from tests.standins.slack.workspace import (
    TRIGGER_ERRORS,
    Answer,
    Workspace,
    answer_error,
    answer_ok,
    conversation_id,
)

__all__ = ["TRIGGER_ERRORS", "Call", "ResponsePost", "SlackStandin"]

_DEFAULT_FAILURE_ERRORS = {429: "ratelimited", 500: "fatal_error", 503: "service_unavailable"}


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str
    times: int


@dataclass
class _Stall:
    seconds: float
    times: int


class _Dropped(Exception):
    """A stalled call the stand-in gives up on because it is stopping: nothing is answered."""


class _Bucket:
    """Token bucket for one channel: ``burst`` posts at once, then ``per_second``."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> int | None:
        """None when a post may go now, else the whole seconds to wait (Retry-After)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.per_second))


class SlackStandin(LocalServer):
    """Slack Web API stand-in on 127.0.0.1 (port 0); see the module docstring."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        app_token: str = "xapp-1-A0APP-1-test",
        team_id: str = "T0TEST",
        team_name: str = "Preorder Test",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        trigger_ttl: float = 3.0,
        usergroups: Mapping[str, Iterable[str]] | None = None,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        strict_users: bool = False,
        response_url_uses: int = 5,
        response_url_ttl: float = 30 * 60,
    ) -> None:
        self.token = token
        self.app_token = app_token
        # Issues a fresh socket URL for apps.connections.open; None: Socket Mode is off, and
        # the app token is as unknown as any other. Configuration, kept by clear().
        self.socket_url: Callable[[], str] | None = None
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.trigger_ttl = trigger_ttl
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in (usergroups or {}).items()}
        self.users: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (users or {}).items()}
        self.strict_users = strict_users
        self.response_url_uses = response_url_uses
        self.response_url_ttl = response_url_ttl
        self.internal_errors: list[str] = []  # stand-in bugs: the fixture fails the test on any
        # conversation ID -> the error chat.* answers there (see refuse_channel); configuration,
        # kept by clear()
        self.refused_channels: dict[str, str] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        super().__init__()
        self._post_rate: tuple[float, int] | None = None  # see enforce_post_rate
        # Set on stop, so that stalled calls end with the server instead of outliving the test.
        self._stopping = threading.Event()
        self._reset_state()

    def _reset_state(self) -> None:
        self._calls: list[Call] = []
        self._stalled: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._stalls: dict[str, deque[_Stall]] = {}
        self._responses: list[ResponsePost] = []
        self._buckets: dict[str, _Bucket] = {}
        self._workspace = Workspace(self)

    # --- lifecycle ----------------------------------------------------------------------------

    def _before_start(self) -> None:
        self._stopping = threading.Event()

    def _before_stop(self) -> None:
        # Calls still stalled are woken and dropped unanswered.
        self._stopping.set()

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``; ends in ``/api/`` like Slack's."""
        return f"{self.base_url}/api/"

    # --- recorded calls -----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every Web API call so far (refused ones too), oldest first; optionally one method's."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The latest call of ``method``; raises LookupError (naming what was called) if none."""
        found = self.calls(method)
        if not found:
            seen = sorted({c.method for c in self.calls()})
            raise LookupError(f"no {method} call; calls so far: {seen}")
        return found[-1]

    def wait_for(self, method: str, count: int = 1, timeout: float = 3.0) -> list[Call]:
        """Block until ``method`` was called ``count`` times, since Bolt acks before it works."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.calls(method)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self._calls]
                    raise AssertionError(
                        f"{method} called {len(found)} times, wanted {count}; calls: {seen}"
                    )
                self._changed.wait(left)
            return found

    def stalled(self, method: str | None = None) -> list[Call]:
        """Calls held by :meth:`stall_next`, recorded as they arrived (status 0, no response);
        one answered once its stall ran out shows in :meth:`calls` too."""
        with self._lock:
            return [c for c in self._stalled if method is None or c.method == method]

    def views_opened(self) -> list[dict[str, Any]]:
        """The views that ``views.open`` accepted, as Slack returned them (with id and hash)."""
        return [copy.deepcopy(c.response["view"]) for c in self.calls("views.open") if c.ok]

    def view(self, view_id: str) -> dict[str, Any]:
        """The current state of a view (after any updates); KeyError if it never existed."""
        with self._lock:
            return copy.deepcopy(self._workspace.views[view_id])

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for ``user_id``, or None."""
        with self._lock:
            view_id = self._workspace.home.get(user_id)
            return copy.deepcopy(self._workspace.views[view_id]) if view_id else None

    def modal_stack(self, user_id: str) -> list[dict[str, Any]]:
        """The user's open modals, root first (what ``views.push`` counts toward its limit)."""
        with self._lock:
            views = self._workspace.views
            return [copy.deepcopy(views[v]) for v in self._workspace.user_stack.get(user_id, [])]

    def close_view(self, view_id: str) -> None:
        """The user closed a modal (or the app answered ``response_action: clear``/submit)."""
        with self._lock:
            self._workspace.close_view(view_id)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted (``chat.postMessage``/``postEphemeral``), as edited by chat.update;
        optionally those in one conversation, named as chat.postMessage takes it (its ID, a
        channel's name, a user's ID for their DM). Each message's ``channel`` is the ID."""
        wanted = self.conversation_id(channel) if channel is not None else None
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._workspace.messages
                if wanted is None or m["channel"] == wanted
            ]

    def conversation_id(self, channel: str) -> str:
        """The ID Slack answers for ``channel`` (an ID, ``#name`` or ``name``, a user's ID for
        their DM with the app); ValueError for what names no conversation."""
        found = conversation_id(channel)
        if found is None:
            raise ValueError(f"{channel!r} names no conversation")
        return found

    def clear(self) -> None:
        """Forget calls, posts, views, triggers and pending failures; keep the configuration."""
        with self._lock:
            self._reset_state()

    # --- scripting ----------------------------------------------------------------------------

    def new_trigger_id(
        self, user_id: str = "U0USER", *, view_id: str | None = None, ttl: float | None = None
    ) -> str:
        """A trigger_id as Slack puts in an interaction: usable once, for ``ttl`` (3 s) seconds.

        ``view_id`` says the interaction came from that modal, so ``views.push`` stacks on it.
        """
        lifetime = self.trigger_ttl if ttl is None else ttl
        with self._lock:
            return self._workspace.new_trigger_id(user_id, view_id, lifetime)

    def new_response_url(self) -> str:
        """A response_url on the stand-in; what is posted there shows in :meth:`responses`."""
        with self._lock:
            url_id = self._workspace.new_response_url_id()
        return f"{self.base_url}/response/{url_id}"

    def responses(
        self, id: str | None = None, *, include_refused: bool = False
    ) -> list[ResponsePost]:
        """Posts to response URLs (``id`` may be the id or the whole URL), oldest first."""
        key = id.rstrip("/").rsplit("/", 1)[-1] if id else None
        with self._lock:
            return [
                r
                for r in self._responses
                if (key is None or r.id == key) and (include_refused or r.ok)
            ]

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail before anything else is checked.

        429 answers ``ratelimited`` with a Retry-After header; 5xx answers that status; status 200
        with ``error`` answers ``{"ok": false, "error": error}`` (e.g. ``not_in_channel``).
        """
        name = error or _DEFAULT_FAILURE_ERRORS.get(status, "request_failed")
        failure = _Failure(status, retry_after if status == 429 else None, name, times)
        with self._lock:
            self._failures.setdefault(method, deque()).append(failure)

    def stall_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``method`` for ``seconds`` before answering them, as a
        Slack that hangs: a client whose timeout is shorter gives up first.

        A held call is then answered as usual (Slack may well have done the work even though
        the caller stopped waiting); on :meth:`stop` every held call is dropped unanswered, so a
        long stall costs a test nothing once it is done.
        """
        if seconds <= 0 or times <= 0:
            raise ValueError("stall_next needs seconds > 0 and times > 0")
        with self._lock:
            self._stalls.setdefault(method, deque()).append(_Stall(seconds, times))

    def refuse_channel(self, channel: str, error: str | None = "channel_not_found") -> None:
        """Make chat.postMessage, chat.postEphemeral and chat.update in ``channel`` answer
        ``error``, as Slack does in a channel the bot may not post in: ``channel_not_found`` for
        a private channel it is not in, ``not_in_channel`` for a public one without
        chat:write.public, ``is_archived``. ``error=None`` lets it post there again. ``channel``
        is named as chat.postMessage takes it (an ID, a name, a user's ID for their DM)."""
        conversation = self.conversation_id(channel)
        with self._lock:
            if error is None:
                self.refused_channels.pop(conversation, None)
            else:
                self.refused_channels[conversation] = error

    def enforce_post_rate(
        self, on: bool = True, *, per_second: float = 1.0, burst: int = 3
    ) -> None:
        """Answer 429 to chat.postMessage beyond about 1 per second per channel (off by default)."""
        with self._lock:
            self._post_rate = (per_second, burst) if on else None
            self._buckets.clear()

    # --- HTTP entry points (called by _Handler) -----------------------------------------------

    def _serve_api(self, method: str, request: _Request) -> Answer:
        arrived = time.time()
        headers = {k.lower(): v for k, v in request.headers}
        try:
            params, is_json = parse_params(
                headers.get("content-type", ""), request.body, request.query
            )
        except BadRequest as bad:
            params, is_json = {}, False
            answer: Answer = (200, {}, {"ok": False, "error": bad.error})
        else:
            self._hold(method, params, headers, arrived)
            try:
                answer = self._answer(method, params, headers, is_json)
            except Exception as exc:  # a stand-in bug must fail the test, not pass silently
                self.internal_errors.append(f"{method}: {exc!r}")
                answer = (500, {}, {"ok": False, "error": "fatal_error", "standin": repr(exc)})
        status, _, body = answer
        with self._changed:
            self._calls.append(Call(method, params, headers, arrived, status, body))
            self._changed.notify_all()
        return answer

    def _hold(
        self, method: str, params: dict[str, Any], headers: dict[str, str], arrived: float
    ) -> None:
        """Sleep out a stall scripted for ``method`` (outside the lock: other calls go on);
        ``_Dropped`` when the stand-in stops meanwhile."""
        with self._changed:
            queue = self._stalls.get(method)
            if not queue:
                return
            stall = queue[0]
            stall.times -= 1
            if stall.times <= 0:
                queue.popleft()
            self._stalled.append(Call(method, params, headers, arrived, status=0))
            self._changed.notify_all()
        if self._stopping.wait(stall.seconds):
            raise _Dropped(method)

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str], is_json: bool
    ) -> Answer:
        with self._lock:
            queue = self._failures.get(method)
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.popleft()
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                return failure.status, extra, {"ok": False, "error": failure.error}
            if method == "api.test":
                return answer_ok({"args": {k: v for k, v in params.items() if k != "token"}})
            handler = Workspace.METHODS.get(method)
            token = _bearer(headers) or (None if is_json else params.get("token"))
            if not token:
                return answer_error("not_authed")
            if method == "apps.connections.open":
                return self._open_connection(token)
            if token == self.app_token and self.socket_url is not None:
                return answer_error("not_allowed_token_type")
            if token != self.token:
                return answer_error("invalid_auth")
            if handler is None:
                return answer_error("unknown_method")
            if method == "chat.postMessage" and self._post_rate is not None:
                # Slack's limit is per conversation, however each post named it.
                passed = str(params.get("channel", ""))
                channel = conversation_id(passed) or passed
                bucket = self._buckets.setdefault(channel, _Bucket(*self._post_rate))
                wait = bucket.take()
                if wait is not None:
                    return 429, {"Retry-After": str(wait)}, {"ok": False, "error": "ratelimited"}
            return handler(self._workspace, params)

    def _open_connection(self, token: str) -> Answer:
        if token == self.token:
            return answer_error("not_allowed_token_type")
        if token != self.app_token or self.socket_url is None:
            return answer_error("invalid_auth")
        return answer_ok({"url": self.socket_url()})

    def _serve_response_url(self, url_id: str, request: _Request) -> tuple[int, str]:
        headers = {k.lower(): v for k, v in request.headers}
        try:
            body: Any = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = request.body.decode("utf-8", errors="replace")
        with self._changed:
            status, answer = self._workspace.post_response(url_id, body)
            self._responses.append(ResponsePost(url_id, body, headers, time.time(), status, answer))
            self._changed.notify_all()
        return status, answer


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    if value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


@dataclass
class _Request:
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    """Routes ``/api/<method>`` to the Web API and ``/response/<id>`` to response URLs."""

    server_version = "SlackStandin/1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        request = _Request(path, query, list(self.headers.items()), body)
        standin: SlackStandin = standin_of(self)
        if path.startswith("/api/"):
            try:
                status, extra, answer = standin._serve_api(path[len("/api/") :], request)
            except _Dropped:
                self.close_connection = True
                return
            self._send(
                status, extra, json.dumps(answer).encode(), "application/json; charset=utf-8"
            )
        elif path.startswith("/response/") and self.command == "POST":
            status, text = standin._serve_response_url(path[len("/response/") :], request)
            self._send(status, {}, text.encode(), "text/html")
        else:
            self._send(404, {}, b"not found", "text/plain")

    do_GET = do_POST

    def _send(self, status: int, extra: dict[str, str], body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The caller timed out on a stalled call and hung up: as on Slack, the answer is lost.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the records are the log."""


SlackStandin.handler = _Handler
