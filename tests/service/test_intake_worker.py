"""The order intake with its transactions in a process of their own (``bot.intake.worker``, as
``preorder serve`` runs it on PostgreSQL): the real app behind the real waitress server, the
worker a real child process. Its answers are the server's own; refusals and outages cross back
as the same errors; a worker killed idle or mid-batch is replaced and loses nothing; closing
the app ends it; its log lines reach the server's handlers; the server's commit listeners
count what it committed."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

import engine as e
from bot.intake.http import SIGNATURE_HEADER, IntakeApp, sign
from bot.service.metrics import count_allocations
from tests.fixtures.databases import fresh_postgres
from tests.helpers import dump, po
from tests.invariants import check_invariants
from tests.service.serving import Serve
from tests.service.test_intake_http import (
    STORED,
    Intake,
    ServeIntake,
    conflicts,
    line,
    order,
    post_until_answered,
    serve_intake,  # noqa: F401 (a fixture)
    supply,
)

pytestmark = pytest.mark.postgres
SERVE_SECRET = "worker-test-secret"


@pytest.fixture
def supplied(pg_db: e.Database) -> e.Database:
    return supply(pg_db)


@pytest.fixture
def intake(supplied: e.Database, serve_intake: ServeIntake) -> Iterator[Intake]:  # noqa: F811
    served = serve_intake(supplied, process=True)
    yield served
    app(served).close()


def app(intake: Intake) -> IntakeApp:
    found = intake.app
    assert isinstance(found, IntakeApp)
    return found


def worker_pid(intake: Intake) -> int:
    worker = app(intake).worker
    assert worker is not None
    deadline = time.monotonic() + 30
    while worker.pid is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.pid is not None and worker.pid != os.getpid()
    return worker.pid


def allocations_counted(intake: Intake) -> float:
    text_ = requests.get(f"{intake.url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text_)
        for sample in family.samples
        if sample.name == "preorder_allocations_total" and sample.labels["source"] == "api"
    )


def test_orders_are_stored_by_the_worker_and_answered_as_by_the_server(
    intake: Intake, supplied: e.Database
) -> None:
    stop_counting = count_allocations(intake.metrics)
    try:
        reply = intake.post({"sales_orders": [order("SO-1", (1, "A", 3), (2, "B", 5))]})
        again = intake.post({"sales_orders": [order("SO-1", (1, "A", 3), (2, "B", 5))]})
        counted = allocations_counted(intake)
    finally:
        stop_counting()

    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "orders": 1,
        "lines": [
            line("SO-1", 1, "A", 3, "allocated", ("PO-1", 1, "2027-01-10")),
            line("SO-1", 2, "B", 5, "queued", None),
        ],
    }
    assert again.json() == reply.json()
    assert intake.counts() == {"accepted": 1.0, "duplicate": 1.0}
    # The server's commit listeners were told of the worker's commit: one line allocated.
    assert counted == 1.0
    assert [(a.order, a.line) for a in e.review(supplied, "PO-1", 1).allocations] == [("SO-1", 1)]
    check_invariants(supplied)


def test_many_senders_at_once_share_the_workers_transactions_and_each_is_stored_once(
    intake: Intake, supplied: e.Database
) -> None:
    bodies = [[order(f"SO-{i:02d}", (1, "A", 1))] for i in range(1, 13)]

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(intake.post, bodies))

    assert [r.status_code for r in replies] == [200] * 12, [r.text for r in replies]
    assert e.po_line(supplied, "PO-1", 1).allocated == 10
    assert len(e.unallocated(supplied)) == 2
    check_invariants(supplied)


def test_a_conflict_found_by_the_worker_is_409_naming_each_field(
    intake: Intake, supplied: e.Database
) -> None:
    assert intake.post([STORED]).status_code == 200
    before = dump(supplied)

    reply = intake.post([order("SO-1", (1, "A", 2), (2, "B", 1))])

    assert reply.status_code == 409, reply.text
    assert conflicts(reply) == [(0, "SO-1", "lines[0].quantity", 3, 2)]
    assert dump(supplied) == before


def test_a_worker_killed_while_idle_is_replaced_for_the_next_order(
    intake: Intake, supplied: e.Database
) -> None:
    first = worker_pid(intake)
    os.kill(first, signal.SIGKILL)
    # Gone, as the server sees it. (A worker that dies at the very moment a batch is sent to
    # it cannot be told from one that died holding it: that batch is answered 503.)
    worker = app(intake).worker
    assert worker is not None
    deadline = time.monotonic() + 10
    while worker.pid is not None and time.monotonic() < deadline:
        time.sleep(0.01)

    reply = intake.post([order("SO-1", (1, "A", 1))])

    assert reply.status_code == 200, reply.text
    assert worker_pid(intake) != first
    assert e.po_line(supplied, "PO-1", 1).allocated == 1


def test_a_worker_killed_while_it_starts_is_replaced_and_the_order_stored(
    supplied: e.Database,
    serve_intake: ServeIntake,  # noqa: F811
) -> None:
    served = serve_intake(supplied, process=True)
    try:
        first = worker_pid(served)
        os.kill(first, signal.SIGKILL)  # long before its imports are done: it had said nothing

        reply = served.post([order("SO-1", (1, "A", 1))])

        assert reply.status_code == 200, reply.text
        assert worker_pid(served) != first
    finally:
        app(served).close()
    assert e.po_line(supplied, "PO-1", 1).allocated == 1


def test_a_worker_killed_mid_batch_is_503_and_the_retry_is_stored_once(
    intake: Intake, supplied: e.Database
) -> None:
    db = supplied
    first = worker_pid(intake)
    body = [order("SO-1", (1, "A", 2))]
    answers: list[requests.Response] = []
    with db.write(commit=False) as conn:
        # The worker's new line waits for A's row (its foreign key) while this holds it.
        conn.execute(text("SELECT sku FROM products WHERE sku = 'A' FOR UPDATE"))
        poster = threading.Thread(target=lambda: answers.append(intake.post(body)))
        poster.start()
        waited = _wait_for_a_blocked_backend(db)
        os.kill(first, signal.SIGKILL)
        poster.join(timeout=30)
    assert waited

    assert [r.status_code for r in answers] == [503], [r.text for r in answers]
    assert answers[0].json()["error"].startswith("the database is unavailable")

    reply = post_until_answered(intake, body)

    # Stored once, whether the dead worker's transaction was lost or committed after all (its
    # backend may hold the whole transaction, commit included, when its client goes): the
    # retry is then a duplicate, answered as the line stands.
    assert reply.status_code == 200, reply.text
    assert [(x.order, x.line, x.quantity) for x in e.order_lines(db, ["SO-1"])] == [("SO-1", 1, 2)]
    assert reply.json()["lines"][0]["status"] in ("allocated", "queued")
    # A line the dead worker left queued for its follow-up sweep waits for the next sweep.
    e.auto_allocate(db, e.Actor("scheduler", e.Source.SCHEDULER))
    assert e.po_line(db, "PO-1", 1).allocated == 2
    check_invariants(db)


def _wait_for_a_blocked_backend(db: e.Database, within: float = 20) -> bool:
    """Whether another backend came to wait on a lock within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        if waiting:
            return True
        time.sleep(0.05)
    return False


def test_closing_the_app_ends_the_worker_and_later_orders_are_503(intake: Intake) -> None:
    pid = worker_pid(intake)
    worker = app(intake).worker
    assert worker is not None

    app(intake).close()

    assert worker.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    reply = intake.post([order("SO-1", (1, "A", 1))])
    assert reply.status_code == 503
    app(intake).close()  # twice is harmless


def test_the_workers_log_lines_reach_the_servers_handlers(
    supplied: e.Database,
    serve_intake: ServeIntake,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    served = serve_intake(supplied, process=True)
    try:
        pid = worker_pid(served)
        assert served.post([order("SO-1", (1, "A", 1))]).status_code == 200
    finally:
        app(served).close()

    ready = [r for r in caplog.records if r.getMessage() == f"intake: worker process {pid} ready"]
    assert len(ready) == 1
    assert ready[0].process == pid and ready[0].name == "bot.intake"


def test_the_app_needs_postgresql_for_a_worker(tmp_path: Any) -> None:
    from bot.intake.http import intake_app
    from bot.service.metrics import Metrics

    db = e.Database(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="PostgreSQL only"):
        intake_app(db, "secret", Metrics(), process=True)


@pytest.mark.parametrize("process", ["1", "0"])
def test_serve_on_postgresql_runs_the_intake_in_its_worker_unless_told_not_to(
    pg_url: str, tmp_path: Path, process: str
) -> None:
    """``preorder serve`` with an intake secret on PostgreSQL: the worker starts with the
    server (PREORDER_INTAKE_PROCESS=0: none), stores what is posted, and ends with it; every
    line, the worker's included, is the server's JSON."""
    db = fresh_postgres(pg_url)
    e.apply_records(db, e.Actor("seed", e.Source.CLI), [po("PO-1", (1, "A", 10, "2027-01-10"))])
    served = Serve(
        pg_url,
        None,
        tmp_path,
        PREORDER_INTAKE_SECRET=SERVE_SECRET,
        PREORDER_INTAKE_PROCESS=process,
        PREORDER_SCHEDULER="0",
        PREORDER_LOG_FORMAT="json",
    )
    try:
        body = json.dumps([order("SO-1", (1, "A", 2))]).encode()
        reply = requests.post(
            f"{served.url}/orders",
            data=body,
            headers={SIGNATURE_HEADER: sign(SERVE_SECRET, body)},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        ready = [r for r in served.records() if "worker process" in r["message"]]
    finally:
        code = served.stop()
        served.kill()
    assert code == 0, served.lines
    assert all(line.startswith("{") for line in served.lines), served.lines
    assert e.po_line(db, "PO-1", 1).allocated == 2
    if process == "0":
        assert ready == []
        return
    assert len(ready) == 1 and ready[0]["logger"] == "bot.intake", ready
    pid = int(ready[0]["message"].split()[3])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # it ended with the server
    db.dispose()
