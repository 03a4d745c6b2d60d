"""``POST /orders``: sales orders pushed by a shop as customers place them.

The sender signs the raw body with the intake secret: ``X-Preorder-Signature`` is the hex
HMAC-SHA256 of the body (``sha256=`` before it is allowed), checked in constant time before the
body is even parsed. A body (at most ``MAX_BODY`` bytes; see ``bot.intake.body`` for its
shapes) is validated whole, then stored and auto-allocated in one transaction (rule 1), and the
answer tells, per line, the PO line it got or that it waits.

Sending the same orders again is safe: an order already stored exactly so changes nothing and
the answer is the same, so a sender that lost an answer (a timeout, a 503) simply sends again.
An order already stored is never rewritten from here: sent with other contents it is a 409
naming each field that differs (a changed order comes through ``preorder import``, audited).

| status | when | stored |
|---|---|---|
| 200 | the orders are stored (or were already) | yes |
| 400 | not JSON, or an invalid field (each named in ``problems``) | nothing |
| 401 | signature missing or wrong | nothing |
| 405 | not a POST | nothing |
| 409 | an order is stored with other contents (each difference in ``conflicts``) | nothing |
| 413 | body over ``MAX_BODY`` (refused by the server as it arrives, in plain text) | nothing |
| 422 | a rule refuses the change | nothing |
| 503 | the database is unavailable (``Retry-After``) | nothing |
| 500 | a fault of ours (logged with its traceback) | nothing |
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from wsgiref.types import WSGIApplication

import engine
from bot.intake.batch import Apply, Batcher, NoAnswer
from bot.intake.body import MAX_BODY, BadOrders, answer, parse_orders, tally
from bot.intake.followup import FollowUp
from bot.intake.worker import IntakeWorker
from bot.service.metrics import Metrics
from engine import (
    Actor,
    Conflict,
    ConstraintViolation,
    Database,
    EngineError,
    OrderLineState,
    SORecord,
    Source,
    StorageError,
)

log = logging.getLogger("bot.intake")

SIGNATURE_HEADER = "X-Preorder-Signature"
SIGNATURE_PREFIX = "sha256="
RETRY_AFTER_SECONDS = 5
# The most a request waits for the database before it is answered 503 (with Retry-After): a
# database that stops answering must not hold the server's threads, nor a sender, for long.
MAX_WAIT = 5.0
# The most requests the intake holds at once (waiting for the database, at most MAX_WAIT each);
# more are answered 503 at once, so the server's other threads stay free for Slack's requests,
# /healthz and /metrics (bot.service.server.HTTP_THREADS is this and some).
MAX_REQUESTS = 24
ACTOR = Actor("api", Source.API)

StartResponse = Callable[..., Any]


def sign(secret: str, body: bytes) -> str:
    """What a sender puts in ``X-Preorder-Signature``: the hex HMAC-SHA256 of the body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Reply(Exception):
    """An answer other than 200: its status, JSON body and extra headers; ``result`` and
    ``count`` are what the metrics count it as (the orders it held, or 1 when unknown)."""

    def __init__(
        self,
        status: str,
        body: dict[str, Any],
        *,
        result: str,
        count: int = 1,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(body.get("error", status))
        self.status = status
        self.body = body
        self.result = result
        self.count = count
        self.headers = list(headers)


class IntakeApp:
    """The WSGI app of ``POST /orders``; ``close`` ends its worker process, if it has one."""

    def __init__(self, app: WSGIApplication, worker: IntakeWorker | None) -> None:
        self._app = app
        self.worker = worker

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._app(environ, start_response)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


def intake_app(
    db: Database,
    secret: str,
    metrics: Metrics,
    *,
    max_wait: float = MAX_WAIT,
    max_requests: int = MAX_REQUESTS,
    process: bool = False,
) -> IntakeApp:
    """The WSGI app of ``POST /orders`` (mount it with ``bot.service.server.wsgi_app(intake=...)``):
    a request waits for the database ``max_wait`` seconds at most, and ``max_requests`` wait at
    once at most. ``process`` (PostgreSQL): the transactions run in a process of their own
    (``bot.intake.worker``), started now; close the app to end it."""
    if not secret:
        # An intake without a secret would take orders from anyone.
        raise ValueError("order intake needs a secret (PREORDER_INTAKE_SECRET)")
    key = secret.encode()
    slots = threading.BoundedSemaphore(max_requests)
    followup = FollowUp(db, ACTOR)

    def stored(
        outcome: engine.Outcome, lines: Sequence[OrderLineState], requests: int, sent: int
    ) -> None:
        _stored(metrics, outcome, lines, requests, sent)
        if outcome.awaiting_sweep:
            followup.request(outcome.awaiting_sweep)

    worker = IntakeWorker(db, ACTOR) if process else None
    # The answer shows no PO line headers: the engine need not read them.
    apply: Apply = worker or (lambda orders: engine.apply_orders(db, ACTOR, orders, headers=False))
    batcher = Batcher(apply, stored)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _json(
                start_response,
                "405 Method Not Allowed",
                {"error": "use POST"},
                [("Allow", "POST")],
            )
        started = time.perf_counter()
        try:
            body = _read_body(environ)
            _check_signature(key, body, environ.get("HTTP_X_PREORDER_SIGNATURE"))
            try:
                orders = parse_orders(body)
            except BadOrders as bad:
                raise Reply(
                    "400 Bad Request", bad.to_dict(), result="invalid", count=bad.count
                ) from None
            if not slots.acquire(blocking=False):
                raise _busy(len(orders))
            try:
                reply = _store(batcher, orders, started, max_wait)
            finally:
                slots.release()
        except Reply as refusal:
            metrics.intake_orders.labels(refusal.result).inc(refusal.count)
            log.warning(
                "intake: %s from %s: %s",
                refusal.status.split()[0],
                environ.get("REMOTE_ADDR", "?"),
                refusal,
            )
            return _json(start_response, refusal.status, refusal.body, refusal.headers)
        return _json(start_response, "200 OK", reply)

    return IntakeApp(app, worker)


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Reply("400 Bad Request", {"error": "bad Content-Length"}, result="invalid") from None
    too_big = Reply(
        "413 Content Too Large",
        {"error": f"the body is over {MAX_BODY} bytes; send fewer orders at a time"},
        result="invalid",
    )
    if length > MAX_BODY:
        raise too_big
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    if len(body) > MAX_BODY:
        raise too_big
    return body


def _check_signature(key: bytes, body: bytes, given: str | None) -> None:
    if not given:
        raise Reply(
            "401 Unauthorized",
            {"error": f"missing {SIGNATURE_HEADER} (hex HMAC-SHA256 of the body)"},
            result="unauthorized",
        )
    given = given.strip()
    if given[: len(SIGNATURE_PREFIX)].lower() == SIGNATURE_PREFIX:
        given = given[len(SIGNATURE_PREFIX) :]
    expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    # WSGI hands headers over as latin-1 text; compare bytes so that any header compares.
    if not hmac.compare_digest(expected, given.lower().encode("latin-1", "replace")):
        raise Reply(
            "401 Unauthorized",
            {"error": f"bad {SIGNATURE_HEADER}: it is not the body's HMAC-SHA256 with the secret"},
            result="unauthorized",
        )


def _store(
    batcher: Batcher, orders: list[SORecord], started: float, max_wait: float
) -> dict[str, Any]:
    """Store and allocate the orders (with those of requests arriving at the same time, in one
    transaction), then answer where their lines stand."""
    count = len(orders)
    try:
        lines = batcher.store(orders, timeout=max_wait)
    except ConstraintViolation:
        # A constraint the engine should have kept: a fault here, not the sender's.
        log.exception("intake: the database refused %d orders", count)
        raise Reply(
            "500 Internal Server Error",
            {"error": "internal error; nothing was stored"},
            result="failed",
            count=count,
        ) from None
    except (StorageError, NoAnswer) as exc:
        raise _unavailable(exc, count) from None
    except Conflict as exc:
        place = {o.order: i for i, o in enumerate(orders)}
        raise Reply(
            "409 Conflict",
            {
                "error": "orders already stored with other contents; nothing was stored (send "
                "an order as first sent; a changed order comes through 'preorder import')",
                "conflicts": [
                    {
                        "index": place.get(d.record),
                        "order": d.record,
                        "field": d.field,
                        "stored": d.stored,
                        "sent": d.sent,
                    }
                    for d in exc.differences
                ],
            },
            result="conflict",
            count=count,
        ) from None
    except EngineError as exc:
        raise Reply(
            "422 Unprocessable Content", {"error": str(exc)}, result="refused", count=count
        ) from None
    log.debug("intake: %d orders answered in %.0f ms", count, (time.perf_counter() - started) * 1e3)
    return answer(orders, lines)


def _stored(
    metrics: Metrics,
    outcome: engine.Outcome,
    lines: Sequence[OrderLineState],
    requests: int,
    sent: int,
) -> None:
    """Count and log one transaction of intake: ``sent`` orders from ``requests`` requests (an
    order sent twice at once is stored once and counted once as a duplicate)."""
    unchanged = outcome.unchanged.get("sales_orders", 0)
    total = len({ln.order for ln in lines})
    count = max(sent - unchanged, 0)
    if count:
        metrics.intake_orders.labels("accepted").inc(count)
    if unchanged:
        metrics.intake_orders.labels("duplicate").inc(unchanged)
    log.info(
        "intake: %d %s (%s) from %s%s%s",
        total,
        "order" if total == 1 else "orders",
        tally(lines),
        ACTOR.name,
        f", {requests} requests in one transaction" if requests > 1 else "",
        f", {unchanged} already stored as sent" if unchanged else "",
    )


def _unavailable(exc: Exception, count: int) -> Reply:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    log.error("intake: the database is unavailable: %s", first)
    return _retry_later("the database is unavailable", count)


def _busy(count: int) -> Reply:
    return _retry_later("the intake is busy with as many requests as it takes at once", count)


def _retry_later(why: str, count: int) -> Reply:
    return Reply(
        "503 Service Unavailable",
        {"error": f"{why}; send the same body again later (nothing is stored twice)"},
        result="unavailable",
        count=count,
        headers=[("Retry-After", str(RETRY_AFTER_SECONDS))],
    )


def _json(
    start_response: StartResponse,
    status: str,
    body: dict[str, Any],
    headers: Sequence[tuple[str, str]] = (),
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            *headers,
        ],
    )
    return [data]
