"""Helpers for tests of the running service: a queue seeded in bulk, and ``preorder serve`` in
a process of its own whose log lines (stderr) are collected as they come."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

import engine as e
from engine.models import po_lines, products, purchase_orders, sales_orders, so_lines
from tests.helpers import T0
from tests.slack.harness import MERCHANDISER, SECRET
from tests.standins.slack.standin import SlackStandin

ARRIVAL = date(2027, 1, 10)


def seed_queue(db: e.Database, lines: int, *, skus: int = 20) -> None:
    """``lines`` unallocated one-unit order lines over ``skus`` SKUs and one open PO line per
    SKU with room for all of them, written straight to the tables: no operation has swept
    them yet, so the next sweep allocates every line."""
    names = [f"SKU-{i:03d}" for i in range(skus)]
    orders = [
        {"id": i + 1, "order_number": f"SO-{i + 1:07d}", "customer": f"customer {i}",
         "placed_at": T0 + timedelta(seconds=i), "created_at": T0}
        for i in range(lines)
    ]  # fmt: skip
    order_lines = [
        {"id": o["id"], "so_id": o["id"], "order_number": o["order_number"],
         "placed_at": o["placed_at"], "line": 1, "sku": names[i % skus], "quantity": 1,
         "status": "open", "parked": False, "po_line_id": None, "promised_date": None}
        for i, o in enumerate(orders)
    ]  # fmt: skip
    supply = [
        {"id": i + 1, "po_id": 1, "po_number": "PO-1", "line": i + 1, "sku": sku,
         "quantity": lines, "store_hold": 0, "allocated": 0, "allocated_lines": 0,
         "out_of_sync": 0, "arrival_date": ARRIVAL, "status": "open", "updated_at": T0}
        for i, sku in enumerate(names)
    ]  # fmt: skip
    with db.engine.begin() as conn:
        conn.execute(insert(products), [{"sku": s} for s in names])
        conn.execute(
            insert(purchase_orders),
            [{"id": 1, "po_number": "PO-1", "supplier": "Acme", "status": "open",
              "created_at": T0, "updated_at": T0}],
        )  # fmt: skip
        conn.execute(insert(po_lines), supply)
        for start in range(0, lines, 20_000):
            conn.execute(insert(sales_orders), orders[start : start + 20_000])
            conn.execute(insert(so_lines), order_lines[start : start + 20_000])


def serve_process(
    db_url: str, slack: SlackStandin | None, cwd: Path | None = None, **env: str
) -> subprocess.Popen[str]:
    """``preorder --db URL serve`` on 127.0.0.1 (a free port), Slack aimed at ``slack`` (None:
    no Slack settings at all), configured by ``env`` and nothing from this environment's own
    ``PREORDER_`` variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PREORDER_")}
    if slack is not None:
        environ.update(
            PREORDER_SLACK_BOT_TOKEN=slack.token,
            PREORDER_SLACK_SIGNING_SECRET=SECRET,
            PREORDER_SLACK_API_URL=slack.url,
            PREORDER_SLACK_MERCHANDISERS=MERCHANDISER,
        )
    environ.update(PREORDER_PORT="0", **env)
    return subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "--db", db_url,
         "serve", "--host", "127.0.0.1"],
        env=environ,
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


class Serve:
    """``preorder --db URL serve`` on 127.0.0.1 (a free port), Slack aimed at ``slack`` (None:
    no Slack settings); every line it writes to stderr is kept in ``lines``."""

    def __init__(self, db_url: str, slack: SlackStandin | None, cwd: Path, **env: str) -> None:
        self.process = serve_process(db_url, slack, cwd, **env)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        found = self.wait_for(lambda line: "http://127.0.0.1:" in line, timeout=30)
        url = re.search(r"http://127\.0\.0\.1:\d+", found)
        assert url is not None  # the line was waited for by that very address
        self.url = url[0]

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, wanted: Callable[[str], bool], timeout: float = 15) -> str:
        """The first line (from the start) that ``wanted`` accepts, waiting for it."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if wanted(line):
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    output = "\n".join(self.lines)
                    raise AssertionError(f"no such line within {timeout} s; got:\n{output}")
                self._changed.wait(min(left, 0.2))

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines (PREORDER_LOG_FORMAT=json) so far."""
        with self._changed:
            lines = list(self.lines)
        return [json.loads(line) for line in lines if line.startswith("{")]

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as answer:
            return answer.read().decode()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def counter(metrics: str, name: str, **labels: str) -> float:
    """A counter's value in Prometheus text (0 when the series is absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        if line.startswith(f"{name}_total{{"):
            series, value = line.rsplit(" ", 1)
            inside = ",".join(sorted(series[series.index("{") + 1 : -1].split(",")))
            if inside == wanted:
                return float(value)
    return 0.0
