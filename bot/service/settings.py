"""The service's own configuration beside Slack's: order intake, the digest, the scheduler and
logging (``PREORDER_*`` environment variables or ``.env``), read with ``engine.config.load``
once at start."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from engine.config import time_zone
from engine.settings import Settings


class ServiceSettings(Settings):
    # POST /orders is refused (404) unless a secret is set: an open intake would take orders
    # from anyone.
    intake_secret: str = Field(
        "",
        description="the secret senders sign `POST /orders` bodies with (HMAC-SHA256 in "
        "`X-Preorder-Signature`); unset: `serve` takes no orders (404)",
    )
    digest_channel: str = Field(
        "",
        description="the channel (`C0123…` or `#name`) the digest is posted to; needed by "
        "`digest --post` and the digest job",
    )
    timezone: str = Field(
        "UTC",
        description="the team's time zone (e.g. `America/New_York`): of every schedule, and of "
        "every time Slack, the command line, the digest and the sheet show",
    )
    digest_cron: str = Field(
        "0 9 * * mon-fri",
        description="when the digest is posted (crontab; weekday numbers as in cron, 0/7 = Sunday)",
    )
    sweep_minutes: float = Field(
        15.0, ge=0, description="auto-allocation sweep interval, fractions allowed; `0`: off"
    )
    sheet_sync_minutes: float = Field(
        5.0,
        ge=0,
        description="sheet sync interval when `PREORDER_SHEET_ID` and "
        "`PREORDER_GOOGLE_CREDENTIALS` are set; `0`: off",
    )
    rebalance: bool = Field(
        False, description="`1`: run the rebalance to earlier POs on a schedule"
    )
    rebalance_minutes: float = Field(60.0, gt=0, description="rebalance interval")
    queue_fold_seconds: float = Field(
        10.0,
        ge=0,
        description="how often the queue's tallies appended by writers are summed (PostgreSQL; "
        "a queued line's place in its queue reads fewer rows); `0`: off",
    )
    intake_process: bool = Field(
        True,
        description="`0`: the order intake's transactions run in a thread of the server rather "
        "than in a process of their own (PostgreSQL; on SQLite they always run in the server)",
    )
    scheduler: bool = Field(True, description="`0`: this process runs no scheduled jobs")
    log_format: Literal["plain", "json"] = Field(
        "plain",
        description="`json`: one JSON object per line (time, level, logger, message, fields)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return str(time_zone(value))

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
