"""Where events go and how (DESIGN.md section 5): ``PREORDER_WEBHOOK_*``, ``PREORDER_SMTP_URL``,
``PREORDER_EMAIL_*``, ``PREORDER_NOTIFY_DELAY`` and ``PREORDER_DELIVER_*`` (environment or
``.env``), checked once at start so that a webhook without its secret is one clear message.

Webhook URLs receive orders and customers' addresses: each must be ``https://`` (``http://``
only to this machine), as the URLs that receive a token must (``engine.settings_guard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.deliveries import EMAIL, Channel, webhook_channel
from engine.settings_guard import credential_url, is_loopback

ENV = "PREORDER_"
DEFAULT_MAX_AGE = timedelta(days=3)
SMTP_PORTS = {"smtp": 587, "smtps": 465}


class NotifySettingsError(Exception):
    """The configuration cannot deliver events; ``str()`` is one line naming what to set."""


@dataclass(frozen=True)
class SmtpServer:
    """``PREORDER_SMTP_URL`` read: ``smtp://`` talks STARTTLS (required unless the server is
    this machine), ``smtps://`` TLS from the first byte."""

    host: str
    port: int
    tls: bool  # smtps: TLS from the start
    user: str | None
    password: str | None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def __str__(self) -> str:  # never the password
        scheme = "smtps" if self.tls else "smtp"
        who = f"{self.user}@" if self.user else ""
        return f"{scheme}://{who}{self.host}:{self.port}"


def smtp_server(url: str) -> SmtpServer:
    """``smtp://user:pass@host:587`` or ``smtps://user:pass@host:465`` read, or ValueError."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("is not a URL (smtp://user:password@host:587)") from None
    if parts.scheme not in SMTP_PORTS or not parts.hostname:
        raise ValueError(
            "must be smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465"
        )
    return SmtpServer(
        host=parts.hostname,
        port=port or SMTP_PORTS[parts.scheme],
        tls=parts.scheme == "smtps",
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV, env_file=".env", extra="ignore")

    webhook_url: str = ""  # comma-separated: each URL gets every event
    webhook_secret: str = ""
    # How long a delivery keeps being retried, counted from its first attempt (seconds or
    # ISO 8601, P3D); emails too, and events older than this when first seen are not emailed.
    webhook_max_age: timedelta = Field(DEFAULT_MAX_AGE, gt=timedelta(0))
    webhook_timeout: float = Field(10.0, gt=0, le=300)  # seconds for a receiver to answer
    notify_delay: float = Field(600.0, ge=0)  # seconds: customers hear of the net change
    smtp_url: str = ""
    email_from: str = ""
    email_templates: str = ""  # a folder of templates that replace the built-in ones
    deliver_workers: int = Field(4, ge=1, le=64)
    deliver_seconds: float = Field(10.0, ge=0)  # serve's delivery job interval; 0: off

    @field_validator("webhook_url")
    @classmethod
    def _webhook_urls(cls, value: str) -> str:
        urls = [u.strip() for u in value.split(",") if u.strip()]
        for url in urls:
            if len(url) > 1000:
                raise ValueError("a URL is longer than 1000 characters")
            credential_url(url, "orders and customers' addresses are")
        return ",".join(urls)

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str) -> str:
        if value.strip():
            smtp_server(value)
        return value.strip()

    @property
    def webhook_urls(self) -> list[str]:
        return [u for u in self.webhook_url.split(",") if u]

    @property
    def smtp(self) -> SmtpServer | None:
        return smtp_server(self.smtp_url) if self.smtp_url else None

    @property
    def delay(self) -> timedelta:
        return timedelta(seconds=self.notify_delay)

    @property
    def templates(self) -> Path | None:
        folder = self.email_templates.strip()
        return Path(folder).expanduser() if folder else None

    def channels(self) -> list[Channel]:
        """The channels configured: each webhook URL, and customers' email."""
        found = [Channel(webhook_channel(url)) for url in self.webhook_urls]
        if self.smtp_url:
            found.append(Channel(EMAIL, delay=self.delay, stale=self.webhook_max_age))
        return found

    def problems(self) -> list[str]:
        """What is missing or wrong, one phrase each naming the variable."""
        found: list[str] = []
        if self.webhook_urls and not self.webhook_secret.strip():
            found.append(
                f"{ENV}WEBHOOK_SECRET is required with {ENV}WEBHOOK_URL: every event is "
                "signed with it (receivers check the signature)"
            )
        if self.smtp_url and not self.email_from.strip():
            found.append(f"{ENV}EMAIL_FROM (the sender's address) is required with {ENV}SMTP_URL")
        folder = self.templates
        if folder is not None and not folder.is_dir():
            found.append(f"{ENV}EMAIL_TEMPLATES names {folder}, which is not a folder")
        return found


def load_notify_settings(**overrides: Any) -> NotifySettings:
    """The settings, checked, or ``NotifySettingsError`` naming every variable to fix."""
    try:
        settings = NotifySettings(**overrides)
    except ValidationError as exc:
        bad = "; ".join(
            f"{ENV}{str(e['loc'][0]).upper()}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise NotifySettingsError(f"bad settings: {bad}") from None
    found = settings.problems()
    if found:
        raise NotifySettingsError("; ".join(found) + " (environment variables or .env)")
    return settings
