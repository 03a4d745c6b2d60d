"""Engine configuration, read from ``PREORDER_*`` environment variables and an optional ``.env``."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///preorder.db"


class EngineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREORDER_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "PREORDER_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL"
            )
        return value
