"""Counters of what the service does, for ``GET /metrics`` (Prometheus text format).

One registry per process (not prometheus_client's global one, so that tests can start several
apps in one process and read each one's counts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from wsgiref.types import WSGIApplication

from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

if TYPE_CHECKING:
    from engine import Outcome


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.intake_orders = Counter(
            "preorder_intake_orders",
            "Orders received on POST /orders, by result (accepted, duplicate: stored before "
            "exactly as sent, conflict: stored before with other contents, invalid, refused, "
            "unauthorized, unavailable, failed); a request whose orders cannot be counted "
            "counts as one.",
            ["result"],
            registry=self.registry,
        )
        self.intake_receipts = Counter(
            "preorder_intake_receipts",
            "Receipts received on POST /receipts, by result (recorded, replayed: recorded "
            "before under the same receipt id, invalid, refused: unknown or closed PO line, or "
            "a rule refuses it, unauthorized, unavailable, failed).",
            ["result"],
            registry=self.registry,
        )
        self.allocations = Counter(
            "preorder_allocations",
            "Order lines allocated, by where the change came from (api, slack, sheet, "
            "scheduler, cli).",
            ["source"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "preorder_job_runs",
            "Scheduled job runs, by job and result (done, skipped: another replica held the "
            "job's lock, failed).",
            ["job", "result"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "preorder_deliveries",
            "Event deliveries, by channel (webhook, email) and result (delivered, retried: "
            "to be tried again later, dead_lettered, skipped: an email with no net change or "
            "no address).",
            ["channel", "result"],
            registry=self.registry,
        )
        self.api_errors = Counter(
            "preorder_api_errors",
            "Errors from the outside APIs the service calls (slack, sheets).",
            ["api"],
            registry=self.registry,
        )

    def api_failed(self, api: str) -> None:
        """Count a call to an outside API that failed (``api``: slack, sheets)."""
        self.api_errors.labels(api).inc()

    def wsgi(self) -> WSGIApplication:
        return make_wsgi_app(self.registry)


def count_allocations(metrics: Metrics) -> Callable[[], None]:
    """Count the order lines every committed operation allocates, by the source it came from
    (the engine calls back after each commit); returns the function that stops counting."""
    from engine import on_commit

    def listener(outcome: Outcome) -> None:
        if outcome.allocated_count:
            metrics.allocations.labels(outcome.source).inc(outcome.allocated_count)

    return on_commit(listener)
