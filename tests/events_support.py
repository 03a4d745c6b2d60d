"""What the event tests share: a clock they move by hand, the outbox read back, a webhook
receiver fixture and a delivery run (the real one, ``notify.deliver``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import engine as e
from engine.models import outbox_events
from engine.outbox import Event
from notify.deliver import Deliverer, Report
from notify.settings import NotifySettings
from tests.receivers import SECRET, Receiver


class Clock:
    """A clock that stands still until moved: ``db.clock = Clock(...)`` makes operations,
    event times and delivery runs all read it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def outbox(db: e.Database) -> list[dict[str, Any]]:
    """Every event in the outbox, oldest first, as DESIGN.md section 5 shapes it."""
    with db.read() as conn:
        rows = conn.execute(
            select(
                outbox_events.c.event_id,
                outbox_events.c.type,
                outbox_events.c.created_at,
                outbox_events.c.data,
            ).order_by(outbox_events.c.id)
        ).all()
    return [Event(*r).to_dict() for r in rows]


def lines_of(event: dict[str, Any]) -> list[tuple[Any, ...]]:
    """``(line, state, previous, promised)`` of each line of an event."""
    return [
        (ln["line"], ln["state"], ln["previous_promised_date"], ln["promised_date"])
        for ln in event["data"]["lines"]
    ]


def hooks(receiver: Receiver, **more: Any) -> NotifySettings:
    """Settings that deliver to ``receiver`` only."""
    values: dict[str, Any] = {
        "webhook_url": receiver.url,
        "webhook_secret": SECRET,
        "webhook_timeout": 2.0,
        "smtp_url": "",
        **more,
    }
    return NotifySettings(**values)


def deliver(db: e.Database, settings: NotifySettings, **options: Any) -> Report:
    with Deliverer(db, settings, **options) as deliverer:
        return deliverer.run()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


@pytest.fixture
def clock(db: e.Database) -> Clock:
    """The test database's clock, standing still until moved."""
    found = Clock()
    db.clock = found
    return found


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(d.body) for d in receiver.accepted]
