"""Every wait on the database is bounded (``engine.timeouts``): a server that stops answering
with its connections open (a TCP proxy that stops forwarding stands in for it), a lock held by
another transaction, a statement that runs too long and a pool with no free connection each
fail the caller within their timeout instead of holding it for the outage; and once the server
answers again, the next caller gets a working connection."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

import engine as e
from engine.timeouts import SERVICE, Timeouts
from tests.fixtures.databases import fresh_postgres, fresh_sqlite
from tests.helpers import po, so
from tests.standins.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

QUICK = Timeouts(connect=2, checkout=1, lock=1, statement=1, answer_grace=1)


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    fresh_postgres(pg_url).dispose()
    found = TcpProxy.to_database(pg_url)
    yield found
    found.close()


def select_one(db: e.Database) -> int:
    with db.read() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def driver_error(error: BaseException | None) -> DBAPIError:
    """The driver's error under the engine's ``StorageError``, which is all a caller meets."""
    assert isinstance(error, e.StorageError), error
    assert isinstance(error.__cause__, DBAPIError), error.__cause__
    return error.__cause__


def timed(work: Callable[[], object]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        work()
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_a_server_that_stops_answering_fails_a_statement_within_its_deadline(
    proxy: TcpProxy, pg_url: str
) -> None:
    db = e.Database(proxy.url_for(pg_url), timeouts=QUICK)
    assert select_one(db) == 1  # a pooled connection, open through the proxy

    with proxy.stalled():
        error, seconds = timed(lambda: select_one(db))
        # The pooled connection's ping gets no answer within 2 s (statement + grace) and is
        # given up; the new connection's handshake gets none within its 2 s either.
        driver_error(error)
        assert seconds < 6, seconds
        assert proxy.connections >= 2

    assert select_one(db) == 1  # answering again: a fresh connection works
    db.dispose()


def test_a_wait_in_the_middle_of_a_transaction_is_cut_and_nothing_is_stored(
    proxy: TcpProxy, pg_url: str
) -> None:
    db = e.Database(proxy.url_for(pg_url), timeouts=QUICK)
    actor = e.Actor("tester", e.Source.CLI)
    e.apply_records(db, actor, [po("PO-1", (1, "A", 10, "2027-01-10"))])

    def stalls_half_way(conn: Connection) -> None:
        conn.execute(text("SELECT 1"))
        proxy.stall()
        conn.execute(text("DELETE FROM po_lines"))

    try:
        error, seconds = timed(lambda: db.run(stalls_half_way))
    finally:
        proxy.resume()

    assert "did not answer within 2 s" in str(driver_error(error)), error
    assert seconds < 4, seconds
    assert e.po_line(db, "PO-1", 1).quantity == 10  # the server rolled the transaction back
    db.dispose()


def test_connecting_to_a_server_that_does_not_answer_fails_within_the_connect_timeout(
    proxy: TcpProxy, pg_url: str
) -> None:
    db = e.Database(proxy.url_for(pg_url), timeouts=QUICK)

    with proxy.stalled():
        error, seconds = timed(lambda: select_one(db))

    assert "timeout" in str(driver_error(error)).lower(), error
    assert 1.5 < seconds < 4, seconds
    db.dispose()


def test_a_lock_held_by_another_transaction_is_waited_for_at_most_the_lock_timeout(
    pg_db: e.Database, pg_url: str
) -> None:
    actor = e.Actor("tester", e.Source.CLI)
    e.apply_records(pg_db, actor, [po("PO-1", (1, "A", 10, "2027-01-10"))])
    db = e.Database(pg_url, timeouts=Timeouts(lock=1, statement=5))
    with pg_db.engine.connect() as holder:
        holder.execute(text("SELECT sku FROM products WHERE sku = 'A' FOR UPDATE"))

        error, seconds = timed(
            lambda: e.apply_records(db, actor, sales=[so("SO-1", 0, (1, "A", 1))])
        )

        holder.rollback()
    assert getattr(driver_error(error).orig, "sqlstate", None) == "55P03", (
        error
    )  # lock_not_available
    assert seconds < 3, seconds
    assert e.order_lines(pg_db, ["SO-1"]) == []
    db.dispose()


def test_a_statement_that_runs_too_long_is_cancelled_at_the_statement_timeout(
    pg_url: str,
) -> None:
    db = e.Database(pg_url, timeouts=QUICK)

    def sleep() -> None:
        with db.read() as conn:
            conn.execute(text("SELECT pg_sleep(10)"))

    error, seconds = timed(sleep)

    assert getattr(driver_error(error).orig, "sqlstate", None) == "57014", error  # query_canceled
    assert seconds < 3, seconds
    db.dispose()


def test_the_service_timeouts_are_set_on_the_server_beside_the_urls_own_options(
    pg_url: str,
) -> None:
    db = e.Database(pg_url, timeouts=SERVICE)
    with db.read() as conn:
        settings = conn.execute(
            text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
        ).one()
        assert tuple(settings) == ("30s", "10s")
        # The URL's own options (the test schema's search_path) are kept beside them.
        assert conn.execute(text("SHOW search_path")).scalar_one().startswith("preorder_test_")
    db.dispose()


def test_a_timeout_the_url_sets_wins(pg_url: str) -> None:
    schema = pg_url.split("search_path%3D")[1]
    base = pg_url.split("?")[0]
    url = (
        f"{base}?connect_timeout=3"
        f"&options=-csearch_path%3D{schema}%20-c%20statement_timeout%3D120000"
    )
    db = e.Database(url, timeouts=SERVICE)
    with db.read() as conn:
        settings = conn.execute(
            text("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
        ).one()
        assert tuple(settings) == ("2min", "10s")
        assert conn.execute(text("SHOW search_path")).scalar_one() == schema
    db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_waiting_for_a_free_pooled_connection_is_bounded_by_the_checkout_timeout(
    backend: str, pg_url: str, sqlite_template: Path, tmp_path: Path
) -> None:
    url = fresh_sqlite(sqlite_template, tmp_path).url if backend == "sqlite" else pg_url
    db = e.Database(url, timeouts=QUICK)
    held = [db.engine.connect() for _ in range(15)]  # the pool's 5 and its 10 overflow
    try:
        error, seconds = timed(lambda: select_one(db))
    finally:
        for conn in held:
            conn.close()

    assert isinstance(error, e.StorageError) and isinstance(error.__cause__, PoolTimeout), error
    assert seconds < 2.5, seconds
    assert select_one(db) == 1
    db.dispose()
