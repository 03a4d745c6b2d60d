"""Naming the Web API call that failed without an answer (a timeout, a refused connection).

A ``SlackApiError`` carries the URL it was answered on, but a call that timed out raises a bare
``TimeoutError`` that does not say which method hung, and the user should be told which one
did (as they are for a 5xx). Bolt builds a fresh ``WebClient`` for each request, copying only
its settings and retry handlers, so a ``WebClient`` subclass would be lost; a retry handler is
kept, and slack_sdk shows every such error to each handler before giving up.
"""

from __future__ import annotations

from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

METHOD_ATTRIBUTE = "slack_method"


class NameFailedCall(RetryHandler):
    """Retries nothing; marks an error that came without an answer with the method called.
    Put it first: slack_sdk asks the handlers in order and stops at one that retries."""

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # Overridden whole, not _can_retry: the base class stops asking after max_retry_count
        # attempts, and a call retried after a 429 may still time out on its next attempt.
        if error is not None and response is None:
            path = urlsplit(request.url).path.rstrip("/")
            setattr(error, METHOD_ATTRIBUTE, path.rsplit("/", 1)[-1])
        return False


def failed_method(error: BaseException) -> str:
    """The Web API method ``error`` was raised by, if ``NameFailedCall`` saw it ("" if not)."""
    return str(getattr(error, METHOD_ATTRIBUTE, "") or "")


def timed_out(error: BaseException) -> bool:
    """Whether ``error`` is a call that got no answer in time (urllib raises a timeout while
    reading the answer bare, and one while connecting or sending wrapped in ``URLError``)."""
    if isinstance(error, URLError):
        return isinstance(error.reason, TimeoutError)
    return isinstance(error, TimeoutError)
