"""The Google Sheets configuration: ``PREORDER_SHEET_ID``, ``PREORDER_GOOGLE_CREDENTIALS``,
``PREORDER_GOOGLE_API_URL`` and ``PREORDER_GOOGLE_MAX_WAIT`` (environment or ``.env``),
checked before any request is made (read with ``engine.config.load``).

``PREORDER_GOOGLE_API_URL`` receives the OAuth access token with every request: it must be
``https://`` (or ``http://`` on loopback, for the tests' stand-in) and a ``.env`` may not set it
(see ``engine.settings_guard``).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, field_validator

from engine.settings import Settings
from engine.settings_guard import credential_url

DEFAULT_API_URL = "https://sheets.googleapis.com"


class SheetsSettings(Settings):
    ENVIRONMENT_ONLY = ("google_api_url",)

    sheet_id: str = Field("", description="the Google spreadsheet `preorder sheets` mirrors to")
    google_credentials: str = Field(
        "",
        description="path of the service-account JSON key file (its `token_uri` is used for "
        "tokens)",
    )
    google_api_url: str = Field(
        DEFAULT_API_URL,
        description="the Sheets API (tests point it at a stand-in); environment only, `https://`",
    )
    google_max_wait: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="seconds one run keeps retrying Google's 429 and 5xx answers before it "
        "stops with an error",
    )

    @field_validator("google_api_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        return credential_url(value)

    def problems(self) -> list[str]:
        """What is missing or wrong, one phrase each naming the variable."""
        found: list[str] = []
        if not self.sheet_id.strip():
            found.append("PREORDER_SHEET_ID (the spreadsheet's id, from its URL) is not set")
        path = self.google_credentials.strip()
        if not path:
            found.append(
                "PREORDER_GOOGLE_CREDENTIALS (path of a service-account JSON key file) is not set"
            )
        elif not Path(path).expanduser().is_file():
            found.append(f"PREORDER_GOOGLE_CREDENTIALS names {path}, which is not a file")
        else:
            found.extend(self._token_uri_problems())
        return found

    def _token_uri_problems(self) -> list[str]:
        """The key file's ``token_uri`` receives an assertion signed with the private key: the
        same rule as the API URL. A file that cannot be read is left to the Sheets client, which
        says what is wrong with it."""
        try:
            key = json.loads(self.credentials_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return []
        uri = key.get("token_uri") if isinstance(key, dict) else None
        if not isinstance(uri, str):
            return []
        try:
            credential_url(uri)
        except ValueError as exc:
            return [f"the token_uri in {self.credentials_path} {exc}"]
        return []

    @property
    def credentials_path(self) -> Path:
        return Path(self.google_credentials.strip()).expanduser()
