"""The Slack app's configuration: ``PREORDER_SLACK_*`` and ``PREORDER_PORT`` environment variables
(or ``.env``), checked once at start so that a missing token is one clear message, not a stack
trace on the first request.

Which settings are required depends on how the app reaches Slack: over HTTP it needs the bot
token and the signing secret (to verify every request); in Socket Mode (an app token is set) the
bot token and the app token. Either way someone must be allowed to change allocations, so the
merchandiser list or the merchandiser user group must be set.

``PREORDER_SLACK_API_URL`` receives the bot token with every call: it must be ``https://`` (or
``http://`` on loopback, for the tests' stand-in) and a ``.env`` may not set it (see
``engine.settings_guard``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from engine.settings_guard import credential_url, sources_without

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_TIMEOUT = 10.0  # seconds; slack_sdk's own 30 would leave the user staring at a spinner
# A hung Web API call holds one of the app's few listener threads for this long.
MAX_TIMEOUT = 60.0
ENV = "PREORDER_"


class SettingsError(Exception):
    """The configuration cannot start the app; ``str()`` is one line naming what to set."""


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV, env_file=".env", extra="ignore")

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_API_URL
    slack_timeout: float = Field(DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT)
    slack_merchandisers: str = ""
    slack_merchandiser_group: str = ""
    port: int = Field(DEFAULT_PORT, ge=0, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return sources_without(
            ["slack_api_url"], init_settings, env_settings, dotenv_settings, file_secret_settings
        )

    @field_validator("slack_api_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        value = credential_url(value)
        # slack_sdk joins method names onto the base URL: without the slash "api" + "chat.x".
        return value if value.endswith("/") else value + "/"

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token.strip())

    @property
    def merchandisers(self) -> frozenset[str]:
        """User IDs allowed to change allocations (``U123,U456``; blanks ignored)."""
        return frozenset(u.strip() for u in self.slack_merchandisers.split(",") if u.strip())

    @property
    def merchandiser_group(self) -> str:
        return self.slack_merchandiser_group.strip()

    def problems(self) -> list[str]:
        """What is missing or wrong, one phrase each naming the variable."""
        found: list[str] = []
        missing = [f"{ENV}SLACK_BOT_TOKEN"] if not self.slack_bot_token.strip() else []
        if self.socket_mode:
            if not self.slack_app_token.strip().startswith("xapp-"):
                found.append(f"{ENV}SLACK_APP_TOKEN must be an app-level token (xapp-...)")
        elif not self.slack_signing_secret.strip():
            missing.append(f"{ENV}SLACK_SIGNING_SECRET")
        if not self.merchandisers and not self.merchandiser_group:
            missing.append(f"{ENV}SLACK_MERCHANDISERS or {ENV}SLACK_MERCHANDISER_GROUP")
        if missing:
            found.insert(0, "missing settings: " + ", ".join(missing))
        token = self.slack_bot_token.strip()
        if token and not token.startswith("xoxb-"):
            found.append(f"{ENV}SLACK_BOT_TOKEN must be a bot token (xoxb-...)")
        return found


def read_settings(**overrides: Any) -> SlackSettings:
    """The settings from the environment (``overrides`` win), values checked but nothing
    required (a command that only posts needs the bot token alone), or ``SettingsError``
    naming every bad variable."""
    try:
        return SlackSettings(**overrides)
    except ValidationError as exc:
        bad = "; ".join(
            f"{ENV}{'_'.join(str(p) for p in e['loc']).upper()}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SettingsError(f"bad settings: {bad}") from None


def load_settings(**overrides: object) -> SlackSettings:
    """The settings the app needs to run, from the environment (``overrides`` win), or
    ``SettingsError`` naming every variable to set or fix, in one message."""
    settings = read_settings(**overrides)
    found = settings.problems()
    if found:
        raise SettingsError("; ".join(found) + " (environment variables or .env)")
    return settings
