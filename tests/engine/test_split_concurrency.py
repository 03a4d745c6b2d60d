"""Rule 10 under concurrency on PostgreSQL: split allocation racing order intakes, manual
removals and quantity cuts never over-allocates a PO line, never gives a line parts that do not
sum to its quantity, and loses no order."""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

import engine as e
from tests.engine.test_concurrency import run_together
from tests.helpers import po, so
from tests.invariants import check_invariants

pytestmark = pytest.mark.postgres

ACTOR = e.Actor("racer", e.Source.CLI)


def splittable(number: str, placed: int, *lines: tuple[int, str, int]) -> e.SORecord:
    return so(number, placed, *lines).model_copy(update={"allow_split": True})


def test_split_sweeps_racing_intakes_take_exactly_the_supply(pg_db: e.Database) -> None:
    db = pg_db
    db.split_lines = True
    # Three lines of 5: 15 units. Lines of 4 each fit a PO line only until the fragments left
    # need splitting.
    e.apply_records(
        db,
        ACTOR,
        [
            po(
                "PO-1",
                (1, "A", 5, "2027-01-10"),
                (2, "A", 5, "2027-01-20"),
                (3, "A", 5, "2027-02-01"),
            )
        ],
    )
    orders = [
        [splittable(f"SO-{t}-{i}", t * 10 + i, (1, "A", 4))] for t in range(3) for i in range(3)
    ]
    calls: list[Callable[[], Any]] = [partial(e.apply_orders, db, ACTOR, o) for o in orders]
    calls += [partial(e.auto_allocate, db, ACTOR) for _ in range(3)]
    run_together(calls)
    e.auto_allocate(db, ACTOR)
    check_invariants(db)
    lines = e.po_lines_of_sku(db, "A")
    assert sum(h.allocated for h in lines) <= 15
    # 15 units hold three lines of 4 (12) and no fourth: parts or not, nothing is left over
    # that a queued line of 4 could take.
    assert sum(h.atp for h in lines) < 4
    assert len(e.unallocated(db, sku="A")) == 9 - 3


def test_split_lines_racing_removals_and_cuts_keep_every_invariant(pg_db: e.Database) -> None:
    """Workers place splittable orders, remove them from random PO lines, cut and grow PO
    lines and sweep, all at once on one SKU."""
    db = pg_db
    db.split_lines = True
    e.apply_records(
        db,
        ACTOR,
        [po("PO-1", *((n, "A", 6, f"2027-01-{10 + n:02d}") for n in range(1, 5)))],
        [splittable(f"SO-{i:02d}", i, (1, "A", 3 + i % 6)) for i in range(12)],
    )
    check_invariants(db)
    errors: list[str] = []
    stop = time.monotonic() + 4.0
    counts = {"ok": 0, "refused": 0}
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        n = 0
        while time.monotonic() < stop:
            n += 1
            kind = rnd.choice(("intake", "remove", "cut", "grow", "sweep", "cancel"))
            try:
                if kind == "intake":
                    e.apply_orders(
                        db,
                        ACTOR,
                        [splittable(f"SO-W{seed}-{n}", 100 + n, (1, "A", rnd.randint(2, 9)))],
                    )
                elif kind == "remove":
                    line = rnd.randint(1, 4)
                    held = [a for a in e.review(db, "PO-1", line).allocations]
                    if held:
                        a = rnd.choice(held)
                        e.remove(db, ACTOR, "PO-1", line, [e.LineRef(a.order, a.line)])
                elif kind in ("cut", "grow"):
                    line = rnd.randint(1, 4)
                    quantity = e.po_line(db, "PO-1", line).quantity
                    change = -rnd.randint(1, 3) if kind == "cut" else rnd.randint(1, 4)
                    e.set_quantity(db, ACTOR, "PO-1", line, max(0, quantity + change))
                elif kind == "sweep":
                    e.auto_allocate(db, ACTOR)
                else:
                    e.cancel_po(db, ACTOR, "PO-1", line=rnd.randint(1, 4))
                with lock:
                    counts["ok"] += 1
            except e.EngineError:
                with lock:
                    counts["refused"] += 1
            except Exception:
                errors.append(traceback.format_exc())
                return

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not errors, "\n".join(errors)
    assert counts["ok"] > 20, counts
    check_invariants(db)
    e.auto_allocate(db, ACTOR)
    check_invariants(db)
