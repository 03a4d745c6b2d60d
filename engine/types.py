"""Column types and enumerations shared by the schema and the operations."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class POStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    RECEIVED = "received"


class SOStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"


class Source(enum.StrEnum):
    """Where a change came from; every audit event names one."""

    SLACK = "slack"
    SHEET = "sheet"
    CLI = "cli"
    SCHEDULER = "scheduler"
    API = "api"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC so that SQLite and PostgreSQL order them the same way.

    FIFO compares instants: ``10:00+02:00`` comes before ``09:30+00:00``. Normalising on the way in
    makes a plain index on the column sort by instant on both databases.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no UTC offset")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL results on SQLite
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)
