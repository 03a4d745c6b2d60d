"""Where events go and how (DESIGN.md section 5): ``PREORDER_WEBHOOK_*``, ``PREORDER_SMTP_URL``,
``PREORDER_EMAIL_*``, ``PREORDER_NOTIFY_DELAY`` and ``PREORDER_DELIVER_*`` (environment or
``.env``), read with ``engine.config.load`` once at start and checked with ``deliverable``, so
that a webhook without its secret is one clear message.

Webhook URLs receive orders and customers' addresses: each must be ``https://`` (``http://``
only to this machine), as the URLs that receive a token must (``engine.settings_guard``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator

from engine.config import SettingsError, variable
from engine.deliveries import EMAIL, Channel, webhook_channel
from engine.settings import Settings
from engine.settings_guard import credential_url, is_loopback

DEFAULT_MAX_AGE = timedelta(days=3)
SMTP_PORTS = {"smtp": 587, "smtps": 465}


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


class NotifySettings(Settings):
    """The channels events are delivered to, and how a delivery run sends them."""

    # Where customers' orders and addresses (and the SMTP password) are sent: a .env in
    # whatever directory a command runs in must not redirect them, as for the API URLs.
    ENVIRONMENT_ONLY = ("webhook_url", "smtp_url")

    webhook_url: str = Field(
        "",
        description="where events are POSTed; comma-separated for several; environment only, "
        "`https://` (`http://` only to this machine)",
    )
    webhook_secret: str = Field(
        "",
        description="signs every webhook request (`X-Preorder-Signature`); required with "
        "`PREORDER_WEBHOOK_URL`",
    )
    webhook_max_age: timedelta = Field(
        DEFAULT_MAX_AGE,
        gt=timedelta(0),
        description="how long a failing delivery is retried after its first attempt before it "
        "is dead-lettered (seconds, or ISO 8601 as `P3D`); emails too, and events older than "
        "this when first seen are not emailed",
    )
    webhook_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="seconds a receiver has to answer before the attempt counts as failed "
        "(above 0, at most 300)",
    )
    notify_delay: float = Field(
        600.0,
        ge=0,
        description="seconds a customer email waits, to tell only the net change of that window",
    )
    smtp_url: str = Field(
        "",
        description="`smtp://user:password@host:587` (STARTTLS) or "
        "`smtps://user:password@host:465`: customers are emailed; environment only",
    )
    smtp_timeout: float = Field(
        30.0,
        gt=0,
        le=300,
        description="seconds the mail server has to answer each step (connect, greeting, "
        "message); one that does not is not tried again until the next delivery run",
    )
    email_from: str = Field(
        "",
        description="the emails' sender (`Shop <orders@shop.example.com>`); required with "
        "`PREORDER_SMTP_URL`",
    )
    email_templates: str = Field(
        "",
        description="a folder whose templates replace the built-in ones of the same name",
    )
    deliver_workers: int = Field(
        4, ge=1, le=64, description="threads that send a delivery run's events (1 to 64)"
    )
    deliver_seconds: float = Field(
        10.0,
        ge=0,
        description="how often `serve` delivers; `0`: never (use `preorder events deliver`)",
    )

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

    @field_validator("email_templates")
    @classmethod
    def _templates(cls, value: str) -> str:
        folder = value.strip()
        if folder and not Path(folder).expanduser().is_dir():
            raise ValueError(f"names {folder}, which is not a folder")
        return folder

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
        return Path(self.email_templates).expanduser() if self.email_templates else None

    def channels(self) -> list[Channel]:
        """The channels configured: each webhook URL, and customers' email."""
        found = [Channel(webhook_channel(url)) for url in self.webhook_urls]
        if self.smtp_url:
            found.append(Channel(EMAIL, delay=self.delay, stale=self.webhook_max_age))
        return found

    def missing(self) -> list[str]:
        """What a configured channel still needs, one phrase each naming the variable (each
        value's form is checked on load)."""
        found: list[str] = []
        if self.webhook_urls and not self.webhook_secret.strip():
            found.append(
                f"{variable('webhook_secret')} is required with {variable('webhook_url')}: "
                "every event is signed with it (receivers check the signature)"
            )
        if self.smtp_url and not self.email_from.strip():
            found.append(
                f"{variable('email_from')} (the sender's address) is required with "
                f"{variable('smtp_url')}"
            )
        return found


def deliverable(settings: NotifySettings) -> NotifySettings:
    """``settings`` when every channel they configure can deliver, else ``SettingsError``
    naming every variable to set, in one message."""
    missing = settings.missing()
    if missing:
        raise SettingsError(
            "missing settings: " + "; ".join(missing) + " (environment variables or .env)"
        )
    return settings
