"""Order intake under load: the orders of requests that arrive together are stored together.

Each request's orders wait in a queue; one thread takes everything waiting (up to
``MAX_ORDERS``) and applies it as one engine operation: one transaction, one round of SKU locks,
one sweep. Alone, a request is applied at once (a batch of one); under load, while one batch is
in the database the next one gathers, so the cost of a transaction is shared by the orders that
arrived meanwhile instead of queueing them one after another.

Each request still gets only its own answer, and its own error: when a batch fails as a whole,
its requests are applied again one by one, so a request that a rule refuses (or that breaks a
constraint) fails alone.

A request waits for its batch at most a given time (``store(timeout=)``): a database that stops
answering must not hold the server's threads. One that gives up is dropped from the queue if no
batch took it yet (a batch that did may still store it: sending it again is safe), and while
the batch in the database has run longer than that, new requests are refused at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine import OrderLineState, Outcome, SORecord

log = logging.getLogger("bot.intake")

MAX_ORDERS = 200  # per transaction: bounds its lock set and its time
# Transactions in flight at once, never two on one SKU (see Batcher).
WORKERS = 1
# How many batches may pass over a request that waits for a SKU in flight before no batch
# passes it any more (it is then taken as soon as its SKUs are free).
MAX_PASSED = 2

Apply = Callable[[Sequence[SORecord]], tuple[Outcome, list[OrderLineState]]]
# The batch's outcome, its lines, how many requests and how many orders (as sent) it held.
Done = Callable[[Outcome, Sequence[OrderLineState], int, int], None]


class NoAnswer(Exception):
    """The database did not store a request's orders in the time it may wait (they may still
    be stored, once: a retry is answered as a duplicate)."""


@dataclass
class _Request:
    orders: Sequence[SORecord]
    finished: threading.Event = field(default_factory=threading.Event)
    lines: list[OrderLineState] = field(default_factory=list)
    error: BaseException | None = None
    # Set under the batcher's lock: a batch took it, or its sender stopped waiting first.
    taken: bool = False
    abandoned: bool = False
    # How many batches were taken past it while it waited for a SKU in flight.
    passed: int = 0

    @property
    def skus(self) -> set[str]:
        return {line.sku for order in self.orders for line in order.lines}


class Batcher:
    """Applies the orders of concurrent requests in shared transactions (see the module).

    With more than one worker, the batches in flight at once never name the same SKU: an
    intake gives way on a SKU another transaction holds (its line is stored queued, for a
    sweep), so two batches of this process on one SKU would leave work for a sweep that
    waiting a moment avoids. A request whose SKUs a batch in flight holds waits for it; later
    requests may go past it, but only ``MAX_PASSED`` batches' worth."""

    def __init__(
        self, apply: Apply, done: Done, *, max_orders: int = MAX_ORDERS, workers: int = WORKERS
    ) -> None:
        self._apply = apply
        self._done = done
        self._max = max_orders
        self._workers = workers
        self._waiting: deque[_Request] = deque()
        self._threads: list[threading.Thread] = []
        self._start = threading.Lock()
        # Guards the waiting requests, their claims and the SKUs in flight.
        self._claims = threading.Condition()
        self._in_flight: Counter[str] = Counter()
        # When each batch in the database began, by worker.
        self._busy_since: dict[int, float] = {}

    def store(
        self, orders: Sequence[SORecord], *, timeout: float | None = None
    ) -> list[OrderLineState]:
        """Store and allocate ``orders``; every line of them as it then stands. Raises what the
        engine raised for them, or ``NoAnswer`` after ``timeout`` seconds (None: no limit)."""
        request = _Request(orders)
        self._running()
        if timeout is not None and self._busy_for() > timeout:
            raise NoAnswer(f"a transaction has waited on the database for over {timeout:g} s")
        with self._claims:
            self._waiting.append(request)
            self._claims.notify()
        if not request.finished.wait(timeout):
            with self._claims:
                request.abandoned = not request.taken
            raise NoAnswer(f"no answer from the database within {timeout:g} s")
        if request.error is not None:
            raise request.error
        return request.lines

    def _busy_for(self) -> float:
        """How long the longest batch in the database has run (0: none is)."""
        started = list(self._busy_since.values())
        return 0.0 if not started else time.monotonic() - min(started)

    def _running(self) -> None:
        if not self._threads:
            with self._start:
                if not self._threads:
                    for n in range(self._workers):
                        thread = threading.Thread(
                            target=self._loop, args=(n,), name=f"intake-batcher-{n}", daemon=True
                        )
                        thread.start()
                        self._threads.append(thread)

    def _take(self) -> tuple[list[_Request], set[str]]:
        """Under the lock: the requests of the next batch, in the order they came, and their
        SKUs (none of them in flight)."""
        batch: list[_Request] = []
        skus: set[str] = set()
        size = 0
        kept: deque[_Request] = deque()
        while self._waiting and size < self._max:
            request = self._waiting.popleft()
            if request.abandoned:
                continue
            # One worker has nothing in flight while it takes a batch: no SKUs to compare.
            wanted = request.skus if self._workers > 1 else set()
            if self._in_flight.keys() & wanted:
                request.passed += 1
                kept.append(request)
                if request.passed > MAX_PASSED:
                    break  # nothing goes past it any more
                continue
            request.taken = True
            batch.append(request)
            skus |= wanted
            size += len(request.orders)
        kept.extend(self._waiting)
        self._waiting = kept
        return batch, skus

    def _loop(self, worker: int) -> None:
        while True:
            with self._claims:
                batch, skus = self._take()
                while not batch:
                    self._claims.wait()
                    batch, skus = self._take()
                if self._workers > 1:
                    self._in_flight.update(skus)
            try:
                self._run(batch, worker)
            except BaseException as exc:  # never leave a request waiting
                log.exception("intake: a batch of %d requests failed", len(batch))
                for request in batch:
                    if not request.finished.is_set():
                        request.error = exc
                        request.finished.set()
            finally:
                if self._workers > 1:
                    with self._claims:
                        self._in_flight.subtract(skus)
                        self._in_flight += Counter()  # drops the SKUs at zero
                        self._claims.notify_all()

    def _run(self, batch: list[_Request], worker: int) -> None:
        orders = [o for request in batch for o in request.orders]
        self._busy_since[worker] = time.monotonic()
        try:
            outcome, lines = self._apply(orders)
        except BaseException:
            self._busy_since.pop(worker, None)
            if len(batch) == 1:
                raise
            # One request may be what failed it: each alone, each with its own answer.
            for request in batch:
                try:
                    self._run([request], worker)
                except BaseException as exc:
                    request.error = exc
                    request.finished.set()
            return
        self._busy_since.pop(worker, None)
        self._done(outcome, lines, len(batch), len(orders))
        by_order: dict[str, list[OrderLineState]] = {}
        for line in lines:
            by_order.setdefault(line.order, []).append(line)
        for request in batch:
            numbers = dict.fromkeys(o.order for o in request.orders)
            request.lines = [ln for number in numbers for ln in by_order.get(number, [])]
            request.finished.set()
