"""``preorder serve``: the Slack app over HTTP (waitress) or Socket Mode, with a health check,
the metrics, the order intake and the scheduler.

The HTTP side is a small WSGI router: ``/slack/events``, ``/healthz``, ``/metrics`` and
``/orders``. ``/healthz`` answers 200 when the database answers and 503 when it does not
(within ``HEALTH_TIMEOUT``), so a load balancer stops sending Slack's requests to a replica
that cannot act on them. SIGTERM and SIGINT stop the service gracefully: no new connections,
requests in flight finished, no new job runs, the running job finished, then exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import tzinfo
from types import FrameType
from typing import TYPE_CHECKING, Any
from wsgiref.types import WSGIApplication

from bot.intake.body import MAX_BODY as ORDERS_MAX_BODY
from engine import Database

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.intake.http import IntakeApp
    from bot.service.metrics import Metrics
    from bot.service.scheduler import Scheduler
    from bot.service.settings import ServiceSettings
    from bot.settings import SlackSettings
    from notify.settings import NotifySettings
    from sheets.settings import SheetsSettings

log = logging.getLogger("bot.server")

SLACK_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
ORDERS_PATH = "/orders"
RECEIPTS_PATH = "/receipts"
# A receipt is one small object.
RECEIPTS_MAX_BODY = 16 * 1024
HEALTH_TIMEOUT = 3.0
DRAIN_TIMEOUT = 10.0
# Enough that concurrent order posts all reach the intake's batcher and share a transaction
# rather than queue in the server (measured: p99 120-130 ms with 8, 90 ms with 24, 20 senders),
# with threads to spare: the intake holds at most bot.intake.http.MAX_REQUESTS (24) of them, so
# Slack's requests, /healthz and /metrics are answered while it waits on the database.
HTTP_THREADS = 32
# The most a request body may be on each path: an order batch or a Slack payload is well under
# it; the health check and the metrics take none. Bodies arrive before anything can check who
# sent them, so waitress refuses one over the largest limit (413) as it arrives instead of
# buffering up to its default 1 GiB to a temporary file, and the router refuses one over its
# path's limit before the app reads it. The order intake's limit is its own (it reads the body).
SLACK_MAX_BODY = 1024 * 1024
MAX_REQUEST_BODY = max(ORDERS_MAX_BODY, SLACK_MAX_BODY)


class Router:
    """Routes by exact path to WSGI apps; 404 for anything else, 413 for a body over the
    path's limit."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[WSGIApplication, int]] = {}

    def add(self, path: str, wsgi: WSGIApplication, max_body: int = 0) -> None:
        self.routes[path] = (wsgi, max_body)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        found = self.routes.get(environ.get("PATH_INFO") or "/")
        if found is None:
            return _plain(start_response, "404 Not Found", "not found\n")
        target, max_body = found
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _plain(start_response, "400 Bad Request", "bad Content-Length\n")
        if length > max_body:
            return _plain(start_response, "413 Content Too Large", _too_large(max_body))
        return target(environ, start_response)


def _too_large(max_body: int) -> str:
    if max_body == 0:
        return "this path takes no request body\n"
    return f"the body is over {max_body} bytes\n"


def health(db: Database, timeout: float = HEALTH_TIMEOUT) -> WSGIApplication:
    """``GET /healthz``: 200 ``ok`` when the database answers ``db.ping()`` within ``timeout``,
    else 503. While a ping is still waiting on the database, checks wait on that one instead of
    piling up more behind it."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="healthz")
    pending: list[Future[None]] = []
    guard = threading.Lock()

    def current() -> Future[None]:
        with guard:
            if not pending or pending[0].done():
                pending[:] = [pool.submit(db.ping)]
            return pending[0]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            current().result(timeout=timeout)
        except FutureTimeout:
            log.warning("health check: the database did not answer within %.0fs", timeout)
            return _plain(start_response, "503 Service Unavailable", "database: no answer\n")
        except Exception as exc:
            log.warning("health check: %s", str(exc).splitlines()[0] if str(exc) else exc)
            return _plain(start_response, "503 Service Unavailable", "database: unavailable\n")
        return _plain(start_response, "200 OK", "ok\n")

    return app


def wsgi_app(
    app: App | None,
    db: Database,
    *,
    slack: bool = True,
    signing_secret: str = "",
    metrics: Metrics | None = None,
    intake: WSGIApplication | None = None,
    receipts: WSGIApplication | None = None,
) -> Router:
    """The routes ``serve`` answers: the health check, (``slack``: unless Slack's requests
    come over Socket Mode) Slack's requests, the metrics and the order intake when given.
    With the ``signing_secret``, a Slack request is checked to be signed and readable before
    Bolt reads it (``bot.slack_requests``)."""
    router = Router()
    router.add(HEALTH_PATH, health(db))
    if metrics is not None:
        router.add(METRICS_PATH, metrics.wsgi())
    if intake is not None:
        router.add(ORDERS_PATH, intake, ORDERS_MAX_BODY)
    if receipts is not None:
        router.add(RECEIPTS_PATH, receipts, RECEIPTS_MAX_BODY)
    if slack and app is not None:
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        handler: WSGIApplication = SlackRequestHandler(app, path=SLACK_PATH)
        if signing_secret:
            from bot.slack_requests import checked

            handler = checked(handler, signing_secret)
        router.add(SLACK_PATH, handler, SLACK_MAX_BODY)
    return router


class HttpServer:
    """waitress serving ``wsgi`` on ``host``:``port`` (0: any free port), stoppable from any
    thread: ``stop`` closes the listening socket, waits for requests in flight, then ends."""

    def __init__(
        self, wsgi: WSGIApplication, host: str, port: int, threads: int = HTTP_THREADS
    ) -> None:
        from waitress.server import create_server

        # Any: stop() reaches into waitress's internals (its trigger, its socket map), which
        # its stubs leave out.
        self._server: Any = create_server(
            wsgi,
            host=host,
            port=port,
            threads=threads,
            ident="preorder",
            max_request_body_size=MAX_REQUEST_BODY,
        )
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def run(self) -> None:
        """Serve until ``stop`` (blocks)."""
        self._server.run()
        self._stopped.set()

    def stop(self, timeout: float = DRAIN_TIMEOUT) -> None:
        from waitress import wasyncore

        server = self._server
        # Each step runs in the server's own loop thread (waitress's loop is not thread-safe):
        # first stop accepting, then, once requests in flight are answered, close everything,
        # which ends the loop.
        self._in_loop(lambda: wasyncore.dispatcher.close(server))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._busy():
            time.sleep(0.02)
        self._in_loop(lambda: wasyncore.close_all(server._map))
        server.task_dispatcher.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        if not self._stopped.wait(timeout=2):
            log.warning("the HTTP loop did not end; closing its sockets from here")
            wasyncore.close_all(server._map)

    def _in_loop(self, thunk: Callable[[], None]) -> None:
        trigger = self._server.trigger
        try:
            trigger.pull_trigger(thunk)
        except OSError as exc:  # the loop closed its trigger already: it is ending
            log.debug("waitress trigger closed (%s); running %s here", exc, thunk)
            thunk()

    def _busy(self) -> bool:
        tasks = self._server.task_dispatcher
        channels = [c for c in list(self._server._map.values()) if hasattr(c, "requests")]
        return bool(
            tasks.active_count
            or tasks.queue
            or any(c.requests or c.total_outbufs_len for c in channels)
        )


def serve(
    settings: SlackSettings,
    db: Database,
    *,
    service: ServiceSettings,
    sheets: SheetsSettings | str | None = None,
    slack: bool = True,
    host: str = "0.0.0.0",
    port: int | None = None,
    announce: Callable[[str], None] = print,
    notify: NotifySettings | None = None,
) -> None:
    """Run until SIGTERM or SIGINT. Over HTTP, Slack's requests come to ``/slack/events``; in
    Socket Mode (an app token is set) they come over Slack's socket, and the HTTP server still
    answers ``/healthz``, ``/metrics`` and (with an intake secret) ``/orders``. Without
    ``slack`` (no Slack settings) there is no Slack face: the rest runs, and the jobs that need
    Slack (the digest) are off. The scheduler (unless ``service.scheduler`` is off) starts once
    the server listens; on a signal the server stops taking requests and finishes those in
    flight, no new job run starts, and the running one finishes before the process ends.
    ``sheets``: the spreadsheet's settings, or why they could not be read (the sheet sync is
    then off)."""
    from bot.service.metrics import Metrics, count_allocations

    metrics = Metrics()
    stop_counting = count_allocations(metrics)
    intake: IntakeApp | None = None
    try:
        app, socket = (
            _slack_face(settings, db, metrics, announce, service.zone) if slack else (None, None)
        )
        intake = _intake(db, service, metrics)
        receipts = _receipts(db, service, metrics)
        router = wsgi_app(
            app,
            db,
            slack=app is not None and socket is None,
            signing_secret=settings.slack_signing_secret,
            metrics=metrics,
            intake=intake,
            receipts=receipts,
        )
        server = HttpServer(router, host, settings.port if port is None else port)
        scheduler = _scheduler(service, sheets, db, app, metrics, notify)

        def stop() -> None:
            if scheduler is not None:
                scheduler.hold()  # no run starts while the requests in flight finish
            server.stop()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            announce(f"Stopping ({signal.Signals(signum).name}): finishing requests in flight")
            threading.Thread(target=stop, daemon=True).start()

        _on_signals(on_signal)
        if app is None:
            log.info(
                "Slack face is off: no PREORDER_SLACK_* settings (the order intake, the jobs "
                "that need no Slack, %s and %s run)",
                HEALTH_PATH,
                METRICS_PATH,
            )
        # Announced only now: whoever waits for this line may send SIGTERM at once, and before
        # the handler above it would kill the process with requests and acks in flight.
        routes = f"health: {HEALTH_PATH}, metrics: {METRICS_PATH}"
        if intake is not None:
            routes += f", orders: {ORDERS_PATH}"
        if receipts is not None:
            routes += f", receipts: {RECEIPTS_PATH}"
        if app is not None and socket is None:
            announce(f"Serving Slack requests on {server.url}{SLACK_PATH} ({routes})")
        else:
            announce(f"Serving on {server.url} ({routes})")
        if scheduler is not None:
            scheduler.start()
        try:
            server.run()
        finally:
            if socket is not None:
                _close_socket(socket)
            if scheduler is not None:
                scheduler.stop()
        if app is not None:
            _finish(app)
    finally:
        if intake is not None:
            intake.close()  # after the requests in flight: its worker ends when idle
        stop_counting()


def _slack_face(
    settings: SlackSettings,
    db: Database,
    metrics: Metrics,
    announce: Callable[[str], None],
    zone: tzinfo,
) -> tuple[App, SocketModeHandler | None]:
    """The Slack app, connected to Slack's socket in Socket Mode; its times in ``zone``."""
    from bot.app import create_app

    app = create_app(settings, db, metrics=metrics, zone=zone)
    if not settings.socket_mode:
        return app, None
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackClientNotConnectedError

    socket = SocketModeHandler(app, app_token=settings.slack_app_token)
    socket.connect()  # raises SlackApiError when Slack refuses the app token
    if not socket.client.is_connected():
        # A refused websocket handshake is only logged by slack_sdk, which would retry in the
        # background while this process claimed to be connected.
        socket.close()
        raise SlackClientNotConnectedError(
            "Slack's socket did not open (the websocket handshake was refused); "
            "check that Socket Mode is on for the app"
        )
    announce("Connected to Slack in Socket Mode")
    return app, socket


def _close_socket(socket: SocketModeHandler) -> None:
    """Close Slack's socket once the requests that came over it are acked. slack_sdk's
    ``close()`` drops the connection first and only then waits for its workers, so an ack still
    being worked on (a submission checking the user group) could no longer be sent: Slack would
    show the user an error for a change that was made. So: take no more requests off the
    client's queue, let those in flight ack over the open socket, then close."""
    client = socket.client
    processor = getattr(client, "message_processor", None)
    workers = getattr(client, "message_workers", None)
    if processor is not None and workers is not None:  # slack_sdk's builtin client, as tested
        client.closed = True  # what its message processor loops on
        processor.shutdown()  # within its 1 s poll of the queue
        workers.shutdown(wait=True)
    socket.close()


def _intake(db: Database, service: ServiceSettings, metrics: Metrics) -> IntakeApp | None:
    """``POST /orders``, only when a secret is set: an open intake would take anyone's orders.
    On PostgreSQL its transactions run in a process of their own unless turned off."""
    secret = service.intake_secret.strip()
    if not secret:
        return None
    from bot.intake.http import intake_app

    return intake_app(db, secret, metrics, process=service.intake_process and db.is_postgres)


def _receipts(db: Database, service: ServiceSettings, metrics: Metrics) -> WSGIApplication | None:
    """``POST /receipts``, signed with the intake's secret, only when it is set."""
    secret = service.intake_secret.strip()
    if not secret:
        return None
    from bot.intake.receipts import receipts_app

    return receipts_app(db, secret, metrics)


def _scheduler(
    service: ServiceSettings,
    sheets: SheetsSettings | str | None,
    db: Database,
    app: App | None,
    metrics: Metrics,
    notify: NotifySettings | None = None,
) -> Scheduler | None:
    if not service.scheduler:
        log.info("scheduler off (PREORDER_SCHEDULER=0): no digest, sweep or sheet sync here")
        return None
    from bot.service.scheduler import build_scheduler

    client = app.client if app is not None else None
    return build_scheduler(
        service, db, client, metrics, sheets=sheets, slack=app is not None, notify=notify
    )


def _on_signals(handler: Callable[[int, FrameType | None], None]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def _finish(app: App) -> None:
    """Let listeners still working after their ack (summaries, modal updates) finish."""
    executor = getattr(app.listener_runner, "listener_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)


def _plain(start_response: Callable[..., Any], status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]
