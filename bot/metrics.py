"""Counters of what the service does, for ``GET /metrics`` (Prometheus text format).

One registry per process (not prometheus_client's global one, so that tests can start several
apps in one process and read each one's counts).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

from bot.server import WSGIApp


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.intake_orders = Counter(
            "preorder_intake_orders",
            "Orders received on POST /orders, by result (accepted, duplicate, invalid, "
            "unauthorized, unavailable).",
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
        self.api_errors = Counter(
            "preorder_api_errors",
            "Errors from the outside APIs the service calls (slack, sheets).",
            ["api"],
            registry=self.registry,
        )

    def wsgi(self) -> WSGIApp:
        return make_wsgi_app(self.registry)  # type: ignore[no-any-return]
