"""A database that stops answering in the middle of a delivery run (PostgreSQL behind a TCP
proxy that stops forwarding): the run fails with the engine's StorageError, what the receiver
was sent but the outbox never recorded is sent again, same event ids, once the run's claims
lapse, and nothing is lost or recorded twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import engine as e
from engine.timeouts import Timeouts
from tests.fixtures.databases import fresh_postgres
from tests.fixtures.events import Clock, deliver, hooks, outbox
from tests.helpers import po, so
from tests.standins.tcp_proxy import TcpProxy
from tests.standins.webhook.receiver import Delivery, Receiver, Reply

pytestmark = pytest.mark.postgres

QUICK = Timeouts(connect=2, checkout=1, lock=1, statement=1, answer_grace=1)
ACTOR = e.Actor("t", e.Source.CLI)


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    fresh_postgres(pg_url).dispose()
    found = TcpProxy.to_database(pg_url)
    yield found
    found.close()


def test_a_database_outage_mid_run_resends_only_what_it_could_not_record(
    proxy: TcpProxy, pg_url: str, receiver: Receiver
) -> None:
    db = e.Database(proxy.url_for(pg_url), timeouts=QUICK)
    clock = Clock()
    db.clock = clock
    orders = [so(f"SO-{i}", i, (1, "A", 1)) for i in range(3)]
    e.apply_records(db, ACTOR, [po("PO-1", (1, "A", 10, "2027-01-10"))], orders)
    events = {ev["id"] for ev in outbox(db)}
    assert len(events) == 3

    def answer(d: Delivery) -> Reply:
        proxy.stall()  # the database stops answering once the first event is on its way
        return Reply()

    receiver.answer = answer
    try:
        with pytest.raises(e.StorageError):
            deliver(db, hooks(receiver, deliver_workers=1))
    finally:
        proxy.resume()
    receiver.answer = lambda d: Reply()
    sent_once = receiver.accepted_ids()
    assert set(sent_once) <= events and sent_once

    # Claimed by the run that failed: nobody sends them until the claims lapse.
    assert deliver(db, hooks(receiver)).total == 0
    clock.advance(31 * 60)
    report = deliver(db, hooks(receiver))
    assert not report.failed
    ids = receiver.accepted_ids()
    # Every event delivered; those the outbox never heard of again, with the same ids.
    assert set(ids) == events
    assert sorted(ids) == sorted(sent_once + list(events))
    assert deliver(db, hooks(receiver)).total == 0
    db.dispose()
