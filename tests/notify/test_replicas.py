"""Several replicas delivering at once (PostgreSQL, where replicas share a database): each
event reaches the receiver once, an order's events in order (claims with FOR UPDATE SKIP
LOCKED, only the first waiting event of an order at a time)."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest

import engine as e
from engine.deliveries import enqueue
from notify.deliver import Deliverer, Report
from tests.fixtures.events import hooks, outbox
from tests.helpers import po, so
from tests.standins.webhook.receiver import Delivery, Receiver, Reply

ACTOR = e.Actor("t", e.Source.CLI)


@pytest.mark.postgres
def test_two_deliverers_on_postgresql_deliver_each_event_once_and_in_order(
    pg_db: e.Database, receiver: Receiver
) -> None:
    orders = 300  # each run claims 100 at a time (2 workers x 50): both get work
    e.apply_records(
        pg_db,
        ACTOR,
        [po("PO-1", (1, "A", 1000, "2027-01-10"))],
        [so(f"SO-{i:03d}", i, (1, "A", 1), (2, "A", 1)) for i in range(orders)],
    )
    e.set_arrival(pg_db, ACTOR, "PO-1", 1, date(2027, 2, 1), sync=True)
    expected = outbox(pg_db)
    assert len(expected) == 2 * orders

    def slow(d: Delivery) -> Reply:
        time.sleep(0.002)  # so that the two runs overlap
        return Reply()

    receiver.answer = slow
    settings = hooks(receiver, deliver_workers=2)
    # Fanned out to the channel first, as the replicas' earlier runs would have: both then
    # find the same deliveries due.
    assert enqueue(pg_db, settings.channels(), now=pg_db.clock()) == len(expected)
    start = threading.Barrier(2)
    reports: list[Report] = []
    failures: list[BaseException] = []

    def replica() -> None:
        db = e.Database(pg_db.url)  # a process of its own would have its own pool
        try:
            with Deliverer(db, settings) as deliverer:
                start.wait()
                reports.append(deliverer.run())
        except BaseException as exc:
            failures.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    ids = [d.event_id for d in receiver.received]
    assert len(ids) == len(set(ids)) == len(expected), "an event was sent twice, or lost"
    assert all(r.total > 0 for r in reports), "both replicas took a share"
    assert sum(r.count("webhook", "delivered") for r in reports) == len(expected)
    order_of = {ev["id"]: i for i, ev in enumerate(expected)}
    for order, got in receiver.by_order().items():
        positions = [order_of[ev["id"]] for ev in got]
        assert positions == sorted(positions), f"{order}'s events out of order"
