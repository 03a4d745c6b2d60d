"""Order intake under load: the orders of requests that arrive together are stored together.

Each request's orders wait in a queue; one thread takes everything waiting (up to
``MAX_ORDERS``) and applies it as one engine operation: one transaction, one round of SKU locks,
one sweep. Alone, a request is applied at once (a batch of one); under load, while one batch is
in the database the next one gathers, so the cost of a transaction is shared by the orders that
arrived meanwhile instead of queueing them one after another.

Each request still gets only its own answer, and its own error: when a batch fails as a whole,
its requests are applied again one by one, so a request that a rule refuses (or that breaks a
constraint) fails alone.
"""

from __future__ import annotations

import logging
import queue
import threading
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


@dataclass
class _Request:
    orders: Sequence[SORecord]
    finished: threading.Event = field(default_factory=threading.Event)
    lines: list[OrderLineState] = field(default_factory=list)
    error: BaseException | None = None


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

    def store(self, orders: Sequence[SORecord]) -> list[OrderLineState]:
        """Store and allocate ``orders``; every line of them as it then stands. Raises what the
        engine raised for them."""
        request = _Request(orders)
        self._running()
        self._waiting.put(request)
        request.finished.wait()
        if request.error is not None:
            raise request.error
        return request.lines

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
            batch = [self._waiting.get()]
            size = len(batch[0].orders)
            while size < self._max:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                batch.append(more)
                size += len(more.orders)
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
        try:
            outcome, lines = self._apply(orders)
        except BaseException:
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
        self._done(outcome, lines, len(batch), len(orders))
        by_order: dict[str, list[OrderLineState]] = {}
        for line in lines:
            by_order.setdefault(line.order, []).append(line)
        for request in batch:
            numbers = dict.fromkeys(o.order for o in request.orders)
            request.lines = [ln for number in numbers for ln in by_order.get(number, [])]
            request.finished.set()
