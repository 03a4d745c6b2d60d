"""Engine configuration, read from ``PREORDER_*`` environment variables and an optional ``.env``."""

from __future__ import annotations

from pydantic import ValidationError, field_validator
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


class OutboxSettings(BaseSettings):
    """``PREORDER_EVENTS``: whether operations write the events of DESIGN.md section 5 to the
    outbox (default on). Off, nothing is kept for webhooks or emails to deliver, ever: for a
    brand that wants no events at all, and the benchmark of what they cost."""

    model_config = SettingsConfigDict(env_prefix="PREORDER_", env_file=".env", extra="ignore")

    events: bool = True


def events_on() -> bool:
    """``PREORDER_EVENTS`` from the environment (or ``.env``); a bad value is ``InvalidInput``."""
    from engine.errors import InvalidInput

    try:
        return OutboxSettings().events
    except ValidationError as exc:
        raise InvalidInput(
            f"bad setting PREORDER_EVENTS: {exc.errors()[0]['msg']} (1 or 0)"
        ) from None
