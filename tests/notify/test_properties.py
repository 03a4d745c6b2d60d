"""A property of the event feed (DESIGN.md section 5): for any sequence of engine operations,
delivered through a receiver that sometimes fails (retried with backoff, in order per order),
folding each order's delivered events, in the order they were accepted, gives the promised
date of every one of its lines as the database holds it. On SQLite and PostgreSQL, a fresh
database per example."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import engine as e
from engine.deliveries import list_events
from engine.models import so_lines
from tests.fixtures.databases import fresh_postgres, fresh_sqlite
from tests.fixtures.events import Clock, deliver, hooks
from tests.helpers import po, so
from tests.invariants import check_invariants
from tests.standins.webhook.receiver import Delivery, Receiver, Reply

ACTOR = e.Actor("property", e.Source.CLI)
SKUS = ("A", "B")
DATES = tuple(date(2027, 1, d) for d in (5, 10, 20, 31))
POS = ("PO-1", "PO-2", "PO-3")
ORDERS = tuple(f"SO-{i}" for i in range(6))
CI = bool(os.environ.get("CI"))
_extra: dict[str, Any] = {"database": None} if CI else {}
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=CI,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    **_extra,
)

Step = Callable[[e.Database], object]


def _import_po(number: str, sku: str, quantity: int, day: date) -> Step:
    return lambda db: e.apply_records(db, ACTOR, [po(number, (1, sku, quantity, day.isoformat()))])


def _import_order(number: str, minutes: int, lines: list[tuple[str, int]]) -> Step:
    records = [(i + 1, sku, q) for i, (sku, q) in enumerate(lines)]
    return lambda db: e.apply_records(db, ACTOR, [], [so(number, minutes, *records)])


def _ref(order: str, line: int) -> list[e.LineRef]:
    return [e.LineRef(order, line)]


steps = st.one_of(
    st.builds(_import_po, st.sampled_from(POS), st.sampled_from(SKUS), st.integers(0, 6),
              st.sampled_from(DATES)),
    st.builds(_import_order, st.sampled_from(ORDERS), st.integers(0, 50),
              st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1,
                       max_size=2)),
    st.builds(lambda p, q: lambda db: e.set_quantity(db, ACTOR, p, 1, q),
              st.sampled_from(POS), st.integers(0, 6)),
    st.builds(lambda p, d, s: lambda db: e.set_arrival(db, ACTOR, p, 1, d, sync=s),
              st.sampled_from(POS), st.sampled_from(DATES), st.booleans()),
    st.builds(lambda p: lambda db: e.sync_date(db, ACTOR, p, 1), st.sampled_from(POS)),
    st.builds(lambda p: lambda db: e.cancel_po(db, ACTOR, p), st.sampled_from(POS)),
    st.builds(lambda p, o, n: lambda db: e.remove(db, ACTOR, p, 1, _ref(o, n)),
              st.sampled_from(POS), st.sampled_from(ORDERS), st.integers(1, 2)),
    st.builds(lambda p, o, n: lambda db: e.allocate(db, ACTOR, p, 1, _ref(o, n)),
              st.sampled_from(POS), st.sampled_from(ORDERS), st.integers(1, 2)),
    st.builds(lambda o: lambda db: e.cancel_order(db, ACTOR, [e.LineRef(o)]),
              st.sampled_from(ORDERS)),
    st.builds(lambda o, n: lambda db: e.unpark(db, ACTOR, _ref(o, n)),
              st.sampled_from(ORDERS), st.integers(1, 2)),
    st.just(lambda db: e.rebalance(db, ACTOR)),
    st.just(lambda db: e.auto_allocate(db, ACTOR)),
    # A delivery run between operations (some events go now, some wait or fail).
    st.just("deliver"),
)  # fmt: skip


def promised(db: e.Database) -> dict[tuple[str, int], str | None]:
    with db.read() as conn:
        rows = conn.execute(
            select(so_lines.c.order_number, so_lines.c.line, so_lines.c.promised_date)
        )
    return {(o, ln): d.isoformat() if d else None for o, ln, d in rows}


def fold(accepted: list[Delivery]) -> dict[tuple[str, int], str | None]:
    state: dict[tuple[str, int], str | None] = {}
    for d in accepted:
        for line in d.event["data"]["lines"]:
            state[(d.order, line["line"])] = line["promised_date"]
    return state


def check(db: e.Database, script: list[Any], seed: int) -> None:
    clock = Clock()
    db.clock = clock
    chance = random.Random(seed)
    with Receiver() as receiver:
        # A receiver that fails a third of the time: retries, backoff, order kept per order.
        receiver.answer = lambda d: Reply(503, "busy") if chance.random() < 0.3 else Reply()
        settings_ = hooks(receiver, deliver_workers=2)
        for step in script:
            if step == "deliver":
                deliver(db, settings_, rng=random.Random(seed))
            else:
                # A refused step changes nothing, and writes no event.
                with contextlib.suppress(e.EngineError):
                    step(db)
            clock.advance(1)
        check_invariants(db)
        # Then until everything is delivered, still failing at times.
        for _ in range(200):
            deliver(db, settings_, rng=random.Random(seed))
            if not any(r.status == "pending" for r in list_events(db, limit=10_000)):
                break
            clock.advance(3600)  # every retry comes due within an hour of backoff
        else:
            raise AssertionError("deliveries still pending after 200 runs")
        got = fold(receiver.accepted)
    expected = promised(db)
    assert got == {k: expected[k] for k in got}
    never = {k: v for k, v in expected.items() if k not in got}
    assert all(v is None for v in never.values()), f"promised with no event: {never}"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_folding_each_orders_delivered_events_gives_its_promised_dates(
    backend: str, request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> None:
    pg_url = request.getfixturevalue("pg_url") if backend == "postgresql" else ""

    @SETTINGS
    @given(script=st.lists(steps, min_size=4, max_size=24), seed=st.integers(0, 2**16))
    def run(script: list[Any], seed: int) -> None:
        if backend == "sqlite":
            place = tmp_path / uuid.uuid4().hex
            place.mkdir()
            db = fresh_sqlite(sqlite_template, place)
        else:
            db = fresh_postgres(pg_url)
        try:
            check(db, script, seed)
        finally:
            db.dispose()
            if backend == "sqlite":
                shutil.rmtree(place, ignore_errors=True)

    run()
