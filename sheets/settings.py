"""The Google Sheets configuration: ``PREORDER_SHEET_ID``, ``PREORDER_GOOGLE_CREDENTIALS``,
``PREORDER_GOOGLE_API_URL`` and ``PREORDER_GOOGLE_MAX_WAIT`` (environment or ``.env``),
checked before any request is made."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "https://sheets.googleapis.com"


class SheetsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREORDER_", env_file=".env", extra="ignore")

    sheet_id: str = ""
    google_credentials: str = ""
    google_api_url: str = DEFAULT_API_URL
    # How long one run keeps retrying Google's 429s and 5xx before it gives up with an error.
    google_max_wait: float = Field(60.0, ge=0, le=3600)

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
        if not self.google_api_url.startswith(("http://", "https://")):
            found.append("PREORDER_GOOGLE_API_URL must be an http:// or https:// URL")
        return found

    @property
    def credentials_path(self) -> Path:
        return Path(self.google_credentials.strip()).expanduser()
