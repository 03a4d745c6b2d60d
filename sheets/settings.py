"""The Google Sheets configuration: ``PREORDER_SHEET_ID``, ``PREORDER_GOOGLE_CREDENTIALS`` and
``PREORDER_GOOGLE_API_URL`` (environment or ``.env``), checked before any request is made."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "https://sheets.googleapis.com"


class SheetsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREORDER_", env_file=".env", extra="ignore")

    sheet_id: str = ""
    google_credentials: str = ""
    google_api_url: str = DEFAULT_API_URL

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
