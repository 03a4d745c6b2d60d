"""The HTTP side of the Google Sheets backend: an authorized session that can be pointed at another
API address and counts what it sends, and a gspread HTTP client whose retries are bounded.

gspread 6.2.1's own ``BackOffHTTPClient`` retries without end, so a sheet that stays over its quota
would hang the sync; here a 429, a 5xx or a network error is retried a few times with jitter,
honouring Retry-After, within a total wait, and then becomes one clear ``SheetsError``.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from gspread.exceptions import APIError
from gspread.http_client import FileType, HTTPClient, ParamsType

from sheets.backend import SheetsError

GOOGLE_API_URL = "https://sheets.googleapis.com"
SPREADSHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"

# What each status means to a person reading the error.
REASONS = {
    429: "rate limit",
    500: "server error",
    502: "bad gateway",
    503: "unavailable",
    504: "gateway timeout",
}
NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class ApiSession(AuthorizedSession):
    """An AuthorizedSession that sends what gspread addresses to ``https://sheets.googleapis.com``
    (hard-coded in ``gspread.urls``) to ``api_url`` instead, and counts the requests it sends.

    Token requests go through google-auth's own session, so they are not counted."""

    def __init__(self, credentials: Credentials, api_url: str = GOOGLE_API_URL) -> None:
        super().__init__(credentials)
        self.api_url = api_url.rstrip("/")
        self.sent = 0

    # ``url`` may be bytes as far as requests.Session is concerned; gspread only passes str.
    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if isinstance(url, str) and url.startswith(GOOGLE_API_URL):
            url = self.api_url + url[len(GOOGLE_API_URL) :]
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Counted here rather than in request(): google-auth repeats a request itself after
        # refreshing an expired token, and each of those goes over the wire too.
        self.sent += 1
        return super().send(request, **kwargs)


def status_of(error: APIError) -> int:
    # gspread sets ``code`` to -1 when the body is not JSON (an HTML 502 page, say).
    return error.response.status_code


def api_message(error: APIError) -> str:
    """Google's own words from an error answer, short enough for one line."""
    message = str(error.error.get("message") or "")
    if "<" in message and ">" in message:  # an HTML page from Google's front end
        message = re.sub(r"<(script|style)\b.*?</\1>", " ", message, flags=re.S | re.I)
        message = re.sub(r"<[^>]+>", " ", message)
    message = " ".join(message.split())
    return message if len(message) <= 300 else message[:297] + "..."


def retry_after(response: requests.Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After as seconds or as an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _moves_rows(json: Mapping[str, Any] | None) -> bool:
    """Whether a batch deletes or inserts rows: applied twice, it would shift other rows."""
    moves = ("deleteDimension", "insertDimension")
    return json is not None and any(k in r for r in json.get("requests") or [] for k in moves)


class RetryingHTTPClient(HTTPClient):
    """gspread's HTTP client with bounded retries.

    A request is tried at most ``max_attempts`` times, waiting Retry-After seconds when the answer
    carries it (else 1, 2, 4... s), with jitter, and never more than ``max_wait`` seconds in all.
    A batch that deletes or inserts rows is only repeated after a 429: after a 5xx or a lost
    connection it may have been applied, and applying it again would delete other rows (or
    insert more), and the values written next would land on the wrong rows."""

    def __init__(
        self,
        session: ApiSession,
        *,
        max_attempts: int = 5,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        # gspread types the credentials as required, but reads them only to build a session.
        super().__init__(None, session)  # type: ignore[arg-type]
        self.api_url = session.api_url
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self._sleep = sleep
        self._rng = rng

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: FileType = None,
        headers: MutableMapping[str, str] | None = None,
    ) -> requests.Response:
        replayable = not _moves_rows(json)
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return super().request(method, endpoint, params, data, json, files, headers)
            except APIError as error:
                status = status_of(error)
                if status != 429 and status < 500:
                    raise
                if status != 429 and not replayable:
                    raise SheetsError(
                        f"Google Sheets answered {status} ({REASONS.get(status, 'error')}) to a "
                        "batch that deletes or inserts rows, which may have been applied all the "
                        "same, so it was not repeated; run the sync again (Google said: "
                        f"{api_message(error)})"
                    ) from None
                asked = retry_after(error.response)
                delay = self._delay(attempt, asked, waited)
                if delay is None:
                    later = f" (it asked for {asked:.0f} s more)" if asked else ""
                    raise SheetsError(
                        f"Google Sheets kept answering {status} ({REASONS.get(status, 'error')}) "
                        f"after {_attempts(attempt)} over {waited:.0f} s{later}; try again later "
                        f"(Google said: {api_message(error)})"
                    ) from None
            except NETWORK_ERRORS as exc:
                problem = _short(exc)
                if not replayable:
                    raise SheetsError(
                        f"lost the connection to Google Sheets at {self.api_url} during a batch "
                        "that deletes or inserts rows, which may have been applied all the same, "
                        f"so it was not repeated; run the sync again ({problem})"
                    ) from None
                delay = self._delay(attempt, None, waited)
                if delay is None:
                    raise SheetsError(
                        f"could not reach Google Sheets at {self.api_url} after "
                        f"{_attempts(attempt)} over {waited:.0f} s ({problem})"
                    ) from None
            self._sleep(delay)
            waited += delay

    def _delay(self, attempt: int, asked: float | None, waited: float) -> float | None:
        """How long to wait before the next attempt, or None to give up."""
        left = self.max_wait - waited
        if attempt >= self.max_attempts or left <= 0:
            return None
        if asked is not None:
            if asked > left:
                return None  # the server will still refuse when the budget runs out
            # Never sooner than asked; a little later, so that replicas do not retry in step.
            return min(asked * (1 + 0.25 * self._rng()), left)
        return min(2.0 ** (attempt - 1) * (0.75 + 0.5 * self._rng()), left)


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
