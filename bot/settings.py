"""The Slack app's configuration: ``PREORDER_SLACK_*`` and ``PREORDER_PORT`` environment variables
(or ``.env``), read with ``engine.config.load`` once at start, so that a missing token is one
clear message, not a stack trace on the first request.

Which settings are required depends on how the app reaches Slack: over HTTP it needs the bot
token and the signing secret (to verify every request); in Socket Mode (an app token is set) the
bot token and the app token. Either way someone must be allowed to change allocations, so the
merchandiser list or the merchandiser user group must be set.

``PREORDER_SLACK_API_URL`` receives the bot token with every call: it must be ``https://`` (or
``http://`` on loopback, for the tests' stand-in) and a ``.env`` may not set it (see
``engine.settings_guard``).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from engine.config import SettingsError, variable
from engine.settings import Settings
from engine.settings_guard import credential_url

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_TIMEOUT = 10.0  # seconds; slack_sdk's own 30 would leave the user staring at a spinner
# A hung Web API call holds one of the app's few listener threads for this long.
MAX_TIMEOUT = 60.0


class SlackSettings(Settings):
    ENVIRONMENT_ONLY = ("slack_api_url",)

    slack_bot_token: str = Field(
        "",
        description="the Slack app's bot token (`xoxb-`); needed by `serve`'s Slack face and "
        "`digest --post`",
    )
    slack_signing_secret: str = Field(
        "", description="verifies Slack's requests; needed by `serve` over HTTP"
    )
    slack_app_token: str = Field(
        "", description="an app-level token (`xapp-`): `serve` uses Socket Mode"
    )
    slack_api_url: str = Field(
        DEFAULT_API_URL,
        description="the Slack Web API (tests point it at a stand-in); environment only, "
        "`https://`",
    )
    slack_timeout: float = Field(
        DEFAULT_TIMEOUT,
        gt=0,
        le=MAX_TIMEOUT,
        description="seconds to wait for a Slack Web API answer before telling the user it "
        "failed (above 0, at most 60)",
    )
    slack_merchandisers: str = Field(
        "", description="comma-separated Slack user IDs who may change allocations"
    )
    slack_merchandiser_group: str = Field(
        "",
        description="a user group (`S...`) whose members may too (one of the two is needed)",
    )
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="the port `serve` listens on")

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str) -> str:
        token = value.strip()
        if token and not token.startswith("xoxb-"):
            raise ValueError("must be a bot token (xoxb-...)")
        return token

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str) -> str:
        token = value.strip()
        if token and not token.startswith("xapp-"):
            raise ValueError("must be an app-level token (xapp-...)")
        return token

    @field_validator("slack_api_url")
    @classmethod
    def _token_url(cls, value: str) -> str:
        value = credential_url(value)
        # slack_sdk joins method names onto the base URL: without the slash "api" + "chat.x".
        return value if value.endswith("/") else value + "/"

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def merchandisers(self) -> frozenset[str]:
        """User IDs allowed to change allocations (``U123,U456``; blanks ignored)."""
        return frozenset(u.strip() for u in self.slack_merchandisers.split(",") if u.strip())

    @property
    def merchandiser_group(self) -> str:
        return self.slack_merchandiser_group.strip()

    def missing(self) -> list[str]:
        """The variables the app still needs to run (each token's form is checked on load)."""
        found = [] if self.slack_bot_token else [variable("slack_bot_token")]
        if not self.socket_mode and not self.slack_signing_secret.strip():
            found.append(variable("slack_signing_secret"))
        if not self.merchandisers and not self.merchandiser_group:
            found.append(
                f"{variable('slack_merchandisers')} or {variable('slack_merchandiser_group')}"
            )
        return found


def complete(settings: SlackSettings) -> SlackSettings:
    """``settings`` when they hold everything the app needs to run, else ``SettingsError``
    naming every variable to set, in one message."""
    missing = settings.missing()
    if missing:
        raise SettingsError(
            "missing settings: " + ", ".join(missing) + " (environment variables or .env)"
        )
    return settings
