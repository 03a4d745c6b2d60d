"""Webhook delivery (DESIGN.md section 5): one event per HTTP POST, signed, its answer judged.

The signature is ``X-Preorder-Signature: v1=<hex>``, the HMAC-SHA256 with the shared secret of
``"<X-Preorder-Timestamp>.<raw body>"``; ``verify`` is the receiver's side of it (the README
gives the same recipe). A 2xx accepts; 408, 409, 429 and 5xx (and no answer at all) are tried
again later, after the receiver's ``Retry-After`` on a 429 or 503; any other 4xx refuses the
event for good (it is dead-lettered at once, with the status and the first 500 bytes of the
answer). A 1xx or 3xx is no acceptance either: tried again (redirects are not followed: the
event goes to the URL configured, nowhere else).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import urllib3

from engine.deliveries import clip
from engine.outbox import Event

EVENT_ID = "X-Preorder-Event-Id"
TIMESTAMP = "X-Preorder-Timestamp"
SIGNATURE = "X-Preorder-Signature"
VERSION = "v1"
# A receiver refuses a timestamp further than this from its clock (replays).
TOLERANCE = 300
RETRIED = frozenset({408, 409, 429})
# Enough of an answer to keep its first 500 bytes; a longer one is cut off unread.
READ_AT_MOST = 64 * 1024


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Preorder-Signature`` of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE,
) -> bool:
    """A receiver's check: the signature is the body's at that timestamp, and the timestamp is
    within ``tolerance`` seconds of ``now``."""
    if not timestamp or not signature or not timestamp.strip().isdigit():
        return False
    stamp = int(timestamp.strip())
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body).encode(), signature.strip().encode())


@dataclass(frozen=True)
class Answer:
    """How a receiver answered one POST: ``accepted``, or ``retry`` (later, after at least
    ``retry_after`` seconds when it said so), or neither (refused for good). ``status`` is the
    HTTP status (None: no answer) and ``text`` what it said or what went wrong."""

    accepted: bool
    retry: bool
    status: int | None
    text: str | None
    retry_after: float | None = None


def judge(status: int, body: bytes, retry_after: str | None, now: datetime) -> Answer:
    """DESIGN.md section 5's reading of an answer."""
    text = clip(body)
    if 200 <= status < 300:
        return Answer(True, False, status, text)
    wait = parse_retry_after(retry_after, now) if status in (429, 503) else None
    if status in RETRIED or status >= 500 or status < 400:
        return Answer(False, True, status, text, wait)
    return Answer(False, False, status, text)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; None when absent or
    unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class WebhookSender:
    """Posts events to one URL over a pool of ``connections`` kept-alive connections (one per
    worker), each request bounded by ``timeout`` seconds in all: a receiver that hangs costs a
    worker that long, then the event is tried again later."""

    def __init__(self, url: str, secret: str, *, timeout: float, connections: int) -> None:
        self.url = url
        self.secret = secret
        self.http = urllib3.PoolManager(
            num_pools=2,
            maxsize=connections,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(total=timeout),
        )

    def close(self) -> None:
        self.http.clear()

    def send(self, event: Event, body: bytes | None = None) -> Answer:
        body = event.body() if body is None else body
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "preorder-webhook/1",
            EVENT_ID: event.event_id,
            TIMESTAMP: str(timestamp),
            SIGNATURE: sign(self.secret, timestamp, body),
        }
        try:
            response = self.http.request(
                "POST",
                self.url,
                body=body,
                headers=headers,
                redirect=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            return Answer(False, True, None, _why(exc))
        unread = True  # until the answer is read whole, the connection cannot be used again
        try:
            answer = response.read(READ_AT_MOST)
            unread = len(answer) == READ_AT_MOST and bool(response.read(1))
        except urllib3.exceptions.HTTPError as exc:
            return Answer(False, True, response.status, _why(exc))
        finally:
            if unread:
                response.close()
            response.release_conn()
        return judge(response.status, answer, response.headers.get("Retry-After"), _now())


def _why(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "no answer in time (timed out)"
    reason = getattr(exc, "reason", None)
    return clip(f"no answer: {reason or exc}") or "no answer"


def _now() -> datetime:
    return datetime.now(UTC)
