"""pytest fixtures for the Sheets stand-in, registered for every test in ``tests/conftest.py``
(``pytest_plugins``).

Each test gets a fresh stand-in (state never leaks between tests), a service-account key file
registered with it, and a factory for real ``gspread`` clients that reach it through the real
google-auth service-account flow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gspread
import pytest
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account
from gspread.http_client import HTTPClient

from tests.standins.sheets.auth import SPREADSHEETS_SCOPE
from tests.standins.sheets.standin import SheetsStandin

GOOGLE_API_URL = "https://sheets.googleapis.com"


class RedirectedSession(AuthorizedSession):
    """An AuthorizedSession that sends what gspread addresses to ``https://sheets.googleapis.com``
    (hard-coded in ``gspread.urls``) to ``api_url`` instead; everything else is untouched."""

    def __init__(self, credentials: Credentials, api_url: str) -> None:
        super().__init__(credentials)
        self.api_url = api_url.rstrip("/")

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(GOOGLE_API_URL):
            url = self.api_url + url[len(GOOGLE_API_URL) :]
        return super().request(method, url, *args, **kwargs)


def make_client(
    standin: SheetsStandin,
    key_file: Path,
    *,
    scopes: Sequence[str] = (SPREADSHEETS_SCOPE,),
    http_client: type[HTTPClient] = HTTPClient,
) -> gspread.Client:
    """A real ``gspread.Client`` on ``key_file``'s credentials, talking to ``standin``.

    The plain ``HTTPClient`` does not retry, so a 429 surfaces as ``gspread.exceptions.APIError``.
    """
    credentials = service_account.Credentials.from_service_account_file(
        str(key_file), scopes=list(scopes)
    )
    client = gspread.Client(
        credentials, RedirectedSession(credentials, standin.base_url), http_client
    )
    client.set_timeout(10)
    return client


@pytest.fixture
def sheets_standin() -> Iterator[SheetsStandin]:
    """A started stand-in, stopped after the test; a stand-in bug fails the test, and so does a
    request that sets a field Google's discovery document marks deprecated."""
    with SheetsStandin() as standin:
        yield standin
        assert not standin.internal_errors, f"Sheets stand-in failed: {standin.internal_errors}"
        assert not standin.deprecated, f"deprecated Sheets fields sent: {standin.deprecated}"


@pytest.fixture
def service_account_file(sheets_standin: SheetsStandin, tmp_path: Path) -> Path:
    """A service-account key file whose key the stand-in knows and whose token_uri is its."""
    return sheets_standin.service_account_file(tmp_path / "service-account.json")


@pytest.fixture
def gspread_client(
    sheets_standin: SheetsStandin, service_account_file: Path
) -> Callable[..., gspread.Client]:
    """``gspread_client(**kw)``: ``make_client(sheets_standin, service_account_file, **kw)``;
    pass ``key_file=`` for another account's file."""

    def make(*, key_file: Path | None = None, **kw: Any) -> gspread.Client:
        return make_client(sheets_standin, key_file or service_account_file, **kw)

    return make
