"""The sweep an order intake asks for: lines it left queued because a sweep batch (or another
operation) held their SKU, or because their SKU's queue was long (``Outcome.awaiting_sweep``).

The request is answered at once, its lines reported queued; this thread then sweeps those SKUs
as soon as the sweep holding them is done (``engine.auto_allocate`` waits for it), so the lines
are placed in FIFO order, behind the lines queued before them, within moments. Requests that
arrive meanwhile are gathered into the next sweep: one sweep at a time, however many orders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from engine import Actor, Database, StorageError, auto_allocate

log = logging.getLogger("bot.intake")

# Seconds before a sweep that met a database outage is tried again.
RETRY_AFTER = 1.0


class FollowUp:
    """Sweeps the SKUs handed to ``request`` in a thread of its own (started on first use)."""

    def __init__(self, db: Database, actor: Actor) -> None:
        self._db = db
        self._actor = actor
        self._wanted: set[str] = set()
        self._lock = threading.Lock()
        self._more = threading.Event()
        self._thread: threading.Thread | None = None
        # For tests and the benchmark: set after each sweep this thread finishes.
        self.swept = threading.Event()

    def request(self, skus: Iterable[str]) -> None:
        with self._lock:
            self._wanted.update(skus)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="intake-sweep", daemon=True)
                self._thread.start()
        self._more.set()

    def _loop(self) -> None:
        while True:
            self._more.wait()
            self._more.clear()
            with self._lock:
                skus, self._wanted = sorted(self._wanted), set()
            if not skus:
                continue
            try:
                outcome = auto_allocate(self._db, self._actor, skus=skus)
            except StorageError as exc:
                # The next request (or the scheduled sweep) sweeps them: nothing is lost, the
                # lines are stored and queued.
                log.warning("intake: the sweep of %d SKUs failed: %s", len(skus), exc)
                with self._lock:
                    self._wanted.update(skus)
                time.sleep(RETRY_AFTER)
                self._more.set()
                continue
            except Exception:
                log.exception("intake: the sweep of %d SKUs failed", len(skus))
                continue
            log.info(
                "intake: swept %d SKUs left to a sweep: %d lines allocated",
                len(skus),
                outcome.allocated_count,
            )
            self.swept.set()
