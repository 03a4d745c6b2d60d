"""Slack's requests before Bolt reads them.

Bolt parses a request's body (JSON, or a form whose ``payload`` is JSON) before it checks the
signature, and a body it cannot parse raises inside the server: a 500, which Slack retries. So
here, as the order intake does, a request is first checked to be signed with the signing secret
(401 otherwise, saying nothing of the body), then read the way Bolt will read it; one that
cannot be read gets a 400 saying why. A readable request goes on to Bolt unchanged.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.types import WSGIApplication

from slack_bolt.request.internals import parse_body

log = logging.getLogger("bot.server")

# Bolt's own answer to a request it does not find signed.
REFUSED = b'{"error": "invalid request"}'
MAX_AGE = 5 * 60  # seconds: an older request may be a replay


def checked(slack: WSGIApplication, signing_secret: str) -> WSGIApplication:
    """``slack`` (Bolt's WSGI handler) behind the checks of the module docstring."""
    key = signing_secret.encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)  # the router checked it
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)  # for Bolt, which reads it again
        if not _signed(key, body, environ):
            return _answer(start_response, "401 Unauthorized", "application/json", REFUSED)
        problem = unreadable(body, environ.get("CONTENT_TYPE"))
        if problem is not None:
            log.warning("slack: a signed request refused (400): %s", problem)
            return _answer(start_response, "400 Bad Request", "text/plain; charset=utf-8",
                           problem.encode() + b"\n")  # fmt: skip
        return slack(environ, start_response)

    return app


def _signed(key: bytes, body: bytes, environ: dict[str, Any]) -> bool:
    """Slack's ``v0`` signature of the raw body, at most 5 minutes old. By hand over bytes:
    slack_sdk's verifier raises on a body that is not UTF-8 or a timestamp that is not a
    number, the very requests checked here."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(time.time() - int(timestamp)) > MAX_AGE:
        return False
    expected = "v0=" + hmac.new(key, b"v0:%s:%s" % (timestamp.encode(), body), "sha256").hexdigest()
    given = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
    # WSGI hands headers over as latin-1 text: compare bytes so that any header compares.
    return hmac.compare_digest(expected.encode(), given.encode("latin-1", "replace"))


def unreadable(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not read ``body``, or None when it can."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    kind = content_type.split(";")[0].strip().lower() if content_type else None
    what = "body" if kind == "application/json" or text.startswith("{") else "payload"
    try:
        parse_body(text, kind)
    except json.JSONDecodeError as exc:
        return f"the {what} is not JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return f"the {what} is nested too deeply"
    except ValueError:  # an integer of more digits than Python reads
        return f"the {what} has a number of over {sys.get_int_max_str_digits()} digits"
    return None


def _answer(
    start_response: Callable[..., Any], status: str, content_type: str, body: bytes
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
