"""The intake's batching: requests arriving together share a transaction, each gets its own
answer, and a request that fails a shared transaction fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

import engine as e
from bot.intake.batch import Batcher, NoAnswer
from tests.helpers import so


class Store:
    """Stands for ``engine.apply_orders``: records each transaction's orders, answers a line
    per order, and refuses any transaction holding an order named BAD."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.transactions: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, orders: Sequence[e.SORecord]) -> tuple[e.Outcome, list[e.OrderLineState]]:
        numbers = [o.order for o in orders]
        with self.lock:
            self.transactions.append(numbers)
        time.sleep(self.pause)
        if "BAD" in numbers:
            raise e.Refused("BAD is refused")
        outcome = e.Outcome("intake", "op", "api", "api")
        lines = [e.OrderLineState(n, 1, "A", 1, "open", False, None, None, None) for n in numbers]
        return outcome, lines


def test_requests_arriving_together_share_a_transaction_and_get_their_own_lines() -> None:
    store = Store(pause=0.05)
    counted: list[tuple[int, int]] = []
    batcher = Batcher(
        store, lambda outcome, lines, requests, sent: counted.append((requests, sent))
    )

    with ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(lambda i: batcher.store([so(f"SO-{i}", i, (1, "A", 1))]), range(12))
        )

    assert [[ln.order for ln in lines] for lines in answers] == [[f"SO-{i}"] for i in range(12)]
    assert len(store.transactions) < 12  # some shared one
    assert sorted(n for t in store.transactions for n in t) == sorted(f"SO-{i}" for i in range(12))
    assert sum(r for r, _ in counted) == 12 and sum(s for _, s in counted) == 12


def test_a_request_that_fails_a_shared_transaction_fails_alone() -> None:
    store = Store(pause=0.2)
    batcher = Batcher(store, lambda *_: None)
    results: dict[str, object] = {}

    def send(number: str) -> None:
        try:
            results[number] = [ln.order for ln in batcher.store([so(number, 1, (1, "A", 1))])]
        except e.Refused as exc:
            results[number] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in ("SO-1", "BAD", "SO-2", "SO-3")]
    for t in threads:
        t.start()
        time.sleep(0.005)  # SO-1 goes first; the others gather behind it
    for t in threads:
        t.join()

    assert isinstance(results["BAD"], e.Refused)
    assert {n: results[n] for n in ("SO-1", "SO-2", "SO-3")} == {
        "SO-1": ["SO-1"],
        "SO-2": ["SO-2"],
        "SO-3": ["SO-3"],
    }
    assert any("BAD" in t and len(t) > 1 for t in store.transactions)  # it was shared first


def test_a_batch_never_exceeds_its_size() -> None:
    store = Store(pause=0.02)
    batcher = Batcher(store, lambda *_: None, max_orders=3)
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda i: batcher.store([so(f"SO-{i}", i, (1, "A", 1))]), range(10)))
    assert max(len(t) for t in store.transactions) <= 3


def test_a_request_waits_at_most_its_timeout_and_is_dropped_if_no_batch_took_it() -> None:
    store = Store(pause=1.0)
    batcher = Batcher(store, lambda *_: None)
    first = threading.Thread(target=batcher.store, args=([so("SO-1", 1, (1, "A", 1))],))
    first.start()
    time.sleep(0.1)  # SO-1's transaction is in the database

    started = time.monotonic()
    with pytest.raises(NoAnswer):
        batcher.store([so("SO-2", 2, (1, "A", 1))], timeout=0.3)
    waited = time.monotonic() - started
    first.join()
    time.sleep(0.1)  # the batcher would take SO-2 now

    assert 0.3 <= waited < 0.6, waited
    assert store.transactions == [["SO-1"]]  # SO-2's sender stopped waiting: never applied


def test_while_a_transaction_waits_longer_than_the_timeout_requests_are_refused_at_once() -> None:
    store = Store(pause=1.0)
    batcher = Batcher(store, lambda *_: None)
    first = threading.Thread(target=batcher.store, args=([so("SO-1", 1, (1, "A", 1))],))
    first.start()
    time.sleep(0.5)

    started = time.monotonic()
    with pytest.raises(NoAnswer, match=r"waited on the database for over 0\.3 s"):
        batcher.store([so("SO-2", 2, (1, "A", 1))], timeout=0.3)

    assert time.monotonic() - started < 0.1
    first.join()
    # Once it is done, requests are taken again (this one's transaction takes 1 s too).
    assert [ln.order for ln in batcher.store([so("SO-3", 3, (1, "A", 1))], timeout=2)] == ["SO-3"]


class Overlaps(Store):
    """``Store`` that also records, for each transaction, the SKUs of the transactions in
    flight beside it when it began."""

    def __init__(self, pause: float) -> None:
        super().__init__(pause)
        self.running: list[set[str]] = []
        self.beside: list[set[str]] = []

    def __call__(self, orders: Sequence[e.SORecord]) -> tuple[e.Outcome, list[e.OrderLineState]]:
        mine = {ln.sku for o in orders for ln in o.lines}
        with self.lock:
            self.beside.append(set().union(*self.running) & mine if self.running else set())
            self.running.append(mine)
        try:
            return super().__call__(orders)
        finally:
            with self.lock:
                self.running.remove(mine)


def test_two_workers_never_run_two_batches_on_one_sku_at_once() -> None:
    store = Overlaps(pause=0.03)
    batcher = Batcher(store, lambda *_: None, workers=2, max_orders=4)
    skus = ["A", "B", "C", "D", "E"]

    def send(i: int) -> list[str]:
        lines = [(1, skus[i % 5], 1), (2, skus[(i * 3 + 1) % 5], 1)]
        return [ln.order for ln in batcher.store([so(f"SO-{i}", i, *lines)], timeout=10)]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(40)))

    assert answers == [[f"SO-{i}"] for i in range(40)]  # each its own answer
    assert all(not overlap for overlap in store.beside), store.beside
    assert sorted(n for t in store.transactions for n in t) == sorted(f"SO-{i}" for i in range(40))


def test_two_workers_run_batches_of_other_skus_side_by_side() -> None:
    store = Overlaps(pause=0.3)
    batcher = Batcher(store, lambda *_: None, workers=2)
    started = time.monotonic()
    first = threading.Thread(target=batcher.store, args=([so("SO-A", 1, (1, "A", 1))],))
    first.start()
    time.sleep(0.05)  # SO-A's transaction is in the database
    batcher.store([so("SO-B", 1, (1, "B", 1))])
    first.join()
    assert time.monotonic() - started < 0.55  # side by side, not one after the other
    assert store.transactions == [["SO-A"], ["SO-B"]]


def test_a_request_waiting_for_a_sku_is_passed_by_few_batches_only() -> None:
    store = Overlaps(pause=0.05)
    batcher = Batcher(store, lambda *_: None, workers=2, max_orders=1)
    order: list[str] = []

    def send(number: str, sku: str) -> None:
        batcher.store([so(number, 1, (1, sku, 1))])
        order.append(number)

    first = threading.Thread(target=send, args=("SO-A1", "A"))
    first.start()
    time.sleep(0.01)  # SO-A1 holds A in the database
    threads = [threading.Thread(target=send, args=("SO-A2", "A"))]
    threads[0].start()
    time.sleep(0.01)
    for i in range(8):  # then many on other SKUs, which could each go past SO-A2
        threads.append(threading.Thread(target=send, args=(f"SO-B{i}", f"B{i}")))
        threads[-1].start()
    for t in [first, *threads]:
        t.join()

    # At most MAX_PASSED batches (one order each here) went past SO-A2 beside the first.
    assert order.index("SO-A2") <= 1 + 2 + 1, order
