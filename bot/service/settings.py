"""The service's own configuration beside Slack's: order intake, the digest, the scheduler and
logging (``PREORDER_*`` environment variables or ``.env``), checked once at start."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import SettingsError


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PREORDER_", env_file=".env", extra="ignore")

    # POST /orders is refused (404) unless a secret is set: an open intake would take orders
    # from anyone.
    intake_secret: str = ""
    digest_channel: str = ""
    timezone: str = "UTC"
    digest_cron: str = "0 9 * * mon-fri"
    sweep_minutes: float = Field(15.0, ge=0)  # 0: off
    sheet_sync_minutes: float = Field(5.0, ge=0)  # 0: off; runs only when a sheet is set
    rebalance: bool = False
    rebalance_minutes: float = Field(60.0, gt=0)
    scheduler: bool = True
    log_format: Literal["plain", "json"] = "plain"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. UTC, America/New_York)") from None
        return value.strip()

    @field_validator("digest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from bot.service.crontab import cron_trigger

        try:
            cron_trigger(value.strip(), "UTC")
        except ValueError as exc:
            raise ValueError(f"not a crontab expression ({exc})") from None
        return value.strip()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_service_settings() -> ServiceSettings:
    """The settings, or ``SettingsError`` naming every bad variable."""
    try:
        return ServiceSettings()
    except ValidationError as exc:
        problems = [
            f"PREORDER_{str(err['loc'][0]).upper()}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise SettingsError("bad settings: " + "; ".join(problems)) from None
