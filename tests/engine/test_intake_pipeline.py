"""The order intake's transaction on PostgreSQL runs in psycopg's pipeline mode (writes sent
without waiting for their answers; engine.db._pipelined). Its semantics are a transaction's:
a write the database refuses fails the whole batch, whichever later statement or commit the
error surfaces at, and stores none of it; the connection is then fit for the next one. The
same on SQLite, which has no pipeline."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import event, text

import engine as e
from engine.timeouts import Timeouts
from tests.fixtures.databases import fresh_postgres
from tests.fixtures.events import lines_of, outbox
from tests.helpers import dump, po, so
from tests.invariants import check_invariants
from tests.standins.tcp_proxy import TcpProxy

QUICK = Timeouts(connect=2, checkout=1, lock=1, statement=1, answer_grace=1)


def refused(number: str, sku: str) -> e.SORecord:
    """An order whose one line breaks so_lines' quantity_positive constraint: the records'
    validation would refuse it, so it is built unvalidated (the database's check is the
    backstop under it)."""
    good = so(number, 5, (1, sku, 1))
    line = e.SOLineRecord.model_construct(line=1, sku=sku, quantity=0)
    return good.model_copy(update={"lines": [line]})


def supply(db: e.Database, actor: e.Actor) -> e.Database:
    e.apply_records(db, actor, [po("PO-1", (1, "A", 10, "2027-01-30"), (2, "B", 10, "2027-01-30"))])
    return db


@pytest.fixture
def supplied(db: e.Database, actor: e.Actor) -> e.Database:
    return supply(db, actor)


def test_a_batch_with_a_line_the_database_refuses_stores_none_of_it(
    supplied: e.Database, actor: e.Actor
) -> None:
    db = supplied
    before = dump(db)
    batch = [so("SO-1", 1, (1, "A", 2)), refused("SO-2", "B"), so("SO-3", 2, (1, "B", 1))]

    with pytest.raises(e.ConstraintViolation, match="quantity_positive"):
        e.apply_orders(db, actor, batch)

    assert dump(db) == before  # no order, line, allocation, audit or outbox row of the batch
    # The pooled connection that ran the failed pipeline takes the next batch as any other.
    outcome, lines = e.apply_orders(db, actor, [batch[0], batch[2]])
    assert outcome.created["sales_orders"] == 2
    assert [(ln.order, ln.po, ln.po_line) for ln in lines] == [
        ("SO-1", "PO-1", 1),
        ("SO-3", "PO-1", 2),
    ]
    assert e.po_line(db, "PO-1", 1).allocated == 2
    check_invariants(db)


@pytest.mark.postgres
def test_a_write_refused_after_the_reads_fails_the_batch_and_stores_nothing(
    pg_db: e.Database, actor: e.Actor
) -> None:
    """A write sent after the last read fails (an allocation's tally: a trigger refuses PO line
    2's update), its error surfacing at a later statement: the batch still fails whole, with
    that error (not the "pipeline aborted" of the statements after it), and stores nothing."""
    db = supply(pg_db, actor)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.allocated > 0 AND NEW.sku = 'B' THEN "
                "RAISE check_violation USING MESSAGE = 'refused by the test'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse BEFORE UPDATE ON po_lines "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        )
    before = dump(db)

    with pytest.raises(e.ConstraintViolation, match="refused by the test"):
        e.apply_orders(db, actor, [so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "B", 1))])

    assert dump(db) == before
    with db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse ON po_lines"))
    outcome, _ = e.apply_orders(db, actor, [so("SO-1", 1, (1, "A", 2))])
    assert outcome.created["sales_orders"] == 1
    check_invariants(db)


def test_an_intake_writes_the_events_of_its_own_promises_and_counts_them(
    supplied: e.Database, actor: e.Actor
) -> None:
    """The outbox's mark (the last promise change before the operation) is sent at the start
    of the pipelined transaction and read at its end: each intake's events are its orders',
    not an earlier operation's, and ``notified`` counts them."""
    db = supplied
    first, _ = e.apply_orders(db, actor, [so("SO-1", 1, (1, "A", 2))])
    second, _ = e.apply_orders(
        db, actor, [so("SO-2", 2, (1, "A", 1)), so("SO-3", 3, (1, "B", 1), (2, "A", 1))]
    )

    assert (first.notified, second.notified) == (1, 2)
    events = outbox(db)
    assert [ev["data"]["order"] for ev in events] == ["SO-1", "SO-2", "SO-3"]
    assert [lines_of(ev) for ev in events[1:]] == [
        [(1, "allocated", None, "2027-01-30")],
        [(1, "allocated", None, "2027-01-30"), (2, "allocated", None, "2027-01-30")],
    ]
    check_invariants(db)


@pytest.mark.postgres
def test_a_server_that_stops_answering_half_way_through_the_pipeline_stores_nothing(
    pg_url: str, actor: e.Actor
) -> None:
    """The server stops answering when the intake has sent its new orders and lines (not yet
    answered) and its locking read: the wait is cut at the answer deadline, the caller gets
    ``StorageError`` with the driver's error, nothing is stored, and once the server answers
    again the same orders go in on a fresh connection."""
    fresh_postgres(pg_url).dispose()
    proxy = TcpProxy.to_database(pg_url)
    db = e.Database(proxy.url_for(pg_url), timeouts=QUICK)
    try:
        supply(db, actor)
        before = dump(db)

        def stall_at_the_lock(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if "pg_try_advisory_xact_lock_shared" in statement:
                proxy.stall()

        event.listen(db.engine, "before_cursor_execute", stall_at_the_lock)
        orders = [so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "B", 1))]
        started = time.monotonic()
        with pytest.raises(e.StorageError, match="did not answer within 2 s"):
            e.apply_orders(db, actor, orders)
        assert time.monotonic() - started < 4
        event.remove(db.engine, "before_cursor_execute", stall_at_the_lock)
        proxy.resume()

        assert dump(db) == before
        outcome, lines = e.apply_orders(db, actor, orders)
        assert outcome.created["sales_orders"] == 2
        assert [ln.po_line for ln in lines] == [1, 2]
        check_invariants(db)
    finally:
        proxy.resume()
        db.dispose()
        proxy.close()
