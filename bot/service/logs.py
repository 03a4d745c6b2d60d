"""How the service logs: plain lines for a terminal, or one JSON object per line
(``PREORDER_LOG_FORMAT=json``) for a log collector, with the ``extra`` fields of each record
(a job's name, its counts) as keys of their own. A database URL's password never reaches a
line, nor a customer's email address: each is hidden after formatting, tracebacks included."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

from engine.redact import hide_emails, redact

LogFormat = Literal["plain", "json"]
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that narrate routine work at INFO (APScheduler: every run of every job).
QUIET = ("apscheduler",)


class JsonLines(JsonFormatter):
    """``{"time", "level", "logger", "message", ...extra}``; ``time`` in UTC, ISO 8601."""

    def __init__(self, secrets: Sequence[str | None] = ()) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
        )
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return hide_emails(redact(super().format(record), *self.secrets))

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # First, so that the time leads every line.
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)


class PlainLines(logging.Formatter):
    """``PLAIN`` lines, passwords and email addresses hidden."""

    def __init__(self, secrets: Sequence[str | None] = ()) -> None:
        super().__init__(PLAIN)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return hide_emails(redact(super().format(record), *self.secrets))


def configure_logging(
    format: LogFormat = "plain",
    level: int = logging.INFO,
    *,
    secrets: Sequence[str | None] = (),
) -> None:
    """Send every logger's records at ``level`` and above to stderr in ``format``, replacing
    whatever handlers the root logger had. The password of any URL in a line is hidden, and so
    is each of ``secrets`` (the database's password, which a driver may quote bare)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines(secrets) if format == "json" else PlainLines(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
