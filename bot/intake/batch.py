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
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine import OrderLineState, Outcome, SORecord

log = logging.getLogger("bot.intake")

MAX_ORDERS = 200  # per transaction: bounds its lock set and its time
# Transactions in flight at once. One: a second (measured) brought no more orders per second
# on two cores, only more waiting on the same SKUs' locks.
WORKERS = 1

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


class Batcher:
    """Applies the orders of concurrent requests in shared transactions (see the module)."""

    def __init__(
        self, apply: Apply, done: Done, *, max_orders: int = MAX_ORDERS, workers: int = WORKERS
    ) -> None:
        self._apply = apply
        self._done = done
        self._max = max_orders
        self._workers = workers
        self._waiting: queue.Queue[_Request] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._start = threading.Lock()
        self._claims = threading.Lock()
        self._busy_since: float | None = None  # when the batch in the database began

    def store(
        self, orders: Sequence[SORecord], *, timeout: float | None = None
    ) -> list[OrderLineState]:
        """Store and allocate ``orders``; every line of them as it then stands. Raises what the
        engine raised for them, or ``NoAnswer`` after ``timeout`` seconds (None: no limit)."""
        request = _Request(orders)
        self._running()
        if timeout is not None and self._busy_for() > timeout:
            raise NoAnswer(f"a transaction has waited on the database for over {timeout:g} s")
        self._waiting.put(request)
        if not request.finished.wait(timeout):
            with self._claims:
                request.abandoned = not request.taken
            raise NoAnswer(f"no answer from the database within {timeout:g} s")
        if request.error is not None:
            raise request.error
        return request.lines

    def _busy_for(self) -> float:
        """How long the batch in the database has run (0: none is)."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def _claim(self, request: _Request) -> bool:
        """Take ``request`` into a batch unless its sender stopped waiting."""
        with self._claims:
            request.taken = not request.abandoned
            return request.taken

    def _running(self) -> None:
        if not self._threads:
            with self._start:
                if not self._threads:
                    for n in range(self._workers):
                        thread = threading.Thread(
                            target=self._loop, name=f"intake-batcher-{n}", daemon=True
                        )
                        thread.start()
                        self._threads.append(thread)

    def _loop(self) -> None:
        while True:
            first = self._waiting.get()
            batch = [first] if self._claim(first) else []
            size = len(first.orders) if batch else 0
            while size < self._max:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if self._claim(more):
                    batch.append(more)
                    size += len(more.orders)
            if not batch:
                continue
            try:
                self._run(batch)
            except BaseException as exc:  # never leave a request waiting
                log.exception("intake: a batch of %d requests failed", len(batch))
                for request in batch:
                    if not request.finished.is_set():
                        request.error = exc
                        request.finished.set()

    def _run(self, batch: list[_Request]) -> None:
        orders = [o for request in batch for o in request.orders]
        self._busy_since = time.monotonic()
        try:
            outcome, lines = self._apply(orders)
        except BaseException:
            self._busy_since = None
            if len(batch) == 1:
                raise
            # One request may be what failed it: each alone, each with its own answer.
            for request in batch:
                try:
                    self._run([request])
                except BaseException as exc:
                    request.error = exc
                    request.finished.set()
            return
        self._busy_since = None
        self._done(outcome, lines, len(batch), len(orders))
        by_order: dict[str, list[OrderLineState]] = {}
        for line in lines:
            by_order.setdefault(line.order, []).append(line)
        for request in batch:
            numbers = dict.fromkeys(o.order for o in request.orders)
            request.lines = [ln for number in numbers for ln in by_order.get(number, [])]
            request.finished.set()
