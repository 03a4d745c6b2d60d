"""How the service logs: plain lines for a terminal, or one JSON object per line
(``PREORDER_LOG_FORMAT=json``) for a log collector, with the ``extra`` fields of each record
(a job's name, its counts) as keys of their own."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["plain", "json"]
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that narrate routine work at INFO (APScheduler: every run of every job).
QUIET = ("apscheduler",)


class JsonLines(JsonFormatter):
    """``{"time", "level", "logger", "message", ...extra}``; ``time`` in UTC, ISO 8601."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # First, so that the time leads every line.
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)


def configure_logging(format: LogFormat = "plain", level: int = logging.INFO) -> None:
    """Send every logger's records at ``level`` and above to stderr in ``format``, replacing
    whatever handlers the root logger had."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if format == "json" else logging.Formatter(PLAIN))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
