"""Webhook delivery (DESIGN.md section 5) to a real receiver on 127.0.0.1 that checks every
signature: at least once, in order per order, retried with backoff (after the receiver's
Retry-After), dead-lettered on a refusal or past the maximum age, listed and retried from the
command line. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from sqlalchemy import select

import engine as e
from engine import config
from engine.config import SettingsError
from engine.deliveries import DeliveryRow, list_events
from engine.models import outbox_deliveries
from notify.deliver import Report
from notify.settings import NotifySettings
from notify.webhook import EVENT_ID, SIGNATURE, TIMESTAMP, sign, verify
from tests.cli.helpers import ok
from tests.fixtures.events import Clock, deliver, hooks, outbox
from tests.helpers import po, so
from tests.standins.webhook.receiver import SECRET, Delivery, Receiver, Reply

Load = Callable[..., e.Outcome]
ACTOR = e.Actor("t", e.Source.CLI)
D1 = "2027-01-10"


def deliveries(db: e.Database) -> list[DeliveryRow]:
    return list_events(db)


def two_orders(load: Load) -> None:
    """SO-1 and SO-2 allocated (an event each), then both moved to a new date (another
    each): two events per order, in order."""
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 3)))


def move_and_sync(db: e.Database, day: date) -> None:
    e.set_arrival(db, ACTOR, "PO-1", 1, day, sync=True)


def test_each_event_is_posted_signed_with_the_design_headers_and_body(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    two_orders(load)
    report = deliver(db, hooks(receiver))
    assert report.count("webhook", "delivered") == 2 and not report.failed
    assert receiver.refused_signatures == 0
    got = receiver.accepted[0]
    assert got.headers[EVENT_ID] == got.event["id"]
    stamp = int(got.headers[TIMESTAMP])
    assert abs(stamp - time.time()) < 60
    assert got.headers[SIGNATURE] == sign(SECRET, stamp, got.body)
    assert got.headers["Content-Type"] == "application/json"
    # The body is the event exactly as the outbox holds it (orders in any order).
    assert sorted((d.event for d in receiver.accepted), key=lambda ev: ev["id"]) == outbox(db)
    # A receiver's recipe: a tampered body, another secret or an old timestamp fail it.
    assert not verify(SECRET, got.body + b" ", str(stamp), got.headers[SIGNATURE])
    assert not verify("other", got.body, str(stamp), got.headers[SIGNATURE])
    assert not verify(SECRET, got.body, str(stamp), got.headers[SIGNATURE], now=stamp + 301)
    # Delivered once: a second run has nothing to do.
    assert deliver(db, hooks(receiver)).total == 0
    assert len(receiver.received) == 2


def test_an_orders_next_event_waits_until_its_previous_one_is_accepted(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    two_orders(load)
    move_and_sync(db, date(2027, 2, 1))
    move_and_sync(db, date(2027, 3, 1))  # three events per order
    failing = {"SO-1"}
    receiver.answer = lambda d: Reply(500, "down") if d.order in failing else Reply()
    first = deliver(db, hooks(receiver))
    assert first.failed and first.count("webhook", "retried") == 1
    # SO-2's three events went; SO-1's first was refused and its later two never left.
    assert [d.order for d in receiver.accepted] == ["SO-2"] * 3
    assert [d.order for d in receiver.received].count("SO-1") == 1
    clock.advance(5)
    assert deliver(db, hooks(receiver)).total == 0  # not due yet: backoff (15-30 s)
    failing.clear()
    clock.advance(31)
    assert not deliver(db, hooks(receiver)).failed
    so1 = [d.event for d in receiver.accepted if d.order == "SO-1"]
    assert [ev["id"] for ev in so1] == [
        ev["id"] for ev in outbox(db) if ev["data"]["order"] == "SO-1"
    ]
    dates = [ev["data"]["lines"][0]["promised_date"] for ev in so1]
    assert dates == [D1, "2027-02-01", "2027-03-01"]


def test_a_429_is_retried_after_its_retry_after(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    receiver.answer = lambda d: Reply(429, "slow down", (("Retry-After", "120"),))
    assert deliver(db, hooks(receiver)).count("webhook", "retried") == 1
    [row] = deliveries(db)
    assert row.answer_status == 429 and row.answer == "slow down"
    assert row.due_at == clock() + timedelta(seconds=120)
    receiver.answer = lambda d: Reply()
    clock.advance(119)
    assert deliver(db, hooks(receiver)).total == 0
    clock.advance(1)
    assert deliver(db, hooks(receiver)).count("webhook", "delivered") == 1


@pytest.mark.parametrize("status", [408, 409, 503])
def test_408_409_and_5xx_are_retried(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock, status: int
) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    receiver.answer = lambda d: Reply(status, "later")
    assert deliver(db, hooks(receiver)).count("webhook", "retried") == 1
    assert deliveries(db)[0].status == "pending"


def test_another_4xx_dead_letters_at_once_keeping_the_answer_and_holds_the_order_back(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    two_orders(load)
    move_and_sync(db, date(2027, 2, 1))
    refusal = "no such order here " + "x" * 600
    refuse = {"SO-1"}
    receiver.answer = lambda d: Reply(422, refusal) if d.order in refuse else Reply()
    report = deliver(db, hooks(receiver))
    assert report.count("webhook", "dead_lettered") == 1 and report.failed
    [dead] = [r for r in deliveries(db) if r.status == "dead"]
    assert dead.answer_status == 422 and dead.answer == refusal[:500]
    # SO-1's later event waits behind the dead one, however long; SO-2's both went.
    clock.advance(7 * 24 * 3600)
    assert deliver(db, hooks(receiver)).total == 0
    assert [d.order for d in receiver.accepted] == ["SO-2", "SO-2"]

    listed = json.loads(ok(db, "events", "list", "--failed", "--json").stdout)
    assert [(r["order"], r["status"], r["answer_status"]) for r in listed] == [
        ("SO-1", "dead", 422)
    ]
    assert listed[0]["answer"] == refusal[:500]
    held = json.loads(ok(db, "events", "list", "--order", "SO-1", "--json").stdout)
    assert [(r["status"], r["held"]) for r in held] == [("dead", False), ("pending", True)]
    table = ok(db, "events", "list", "--order", "SO-1").stdout
    assert listed[0]["id"] in table  # whole: it is what 'events retry' takes
    said = " ".join(table.split())
    assert "127.0.0.1 dead 422 no such order here" in said and "127.0.0.1 held -" in said

    refuse.clear()
    said = ok(db, "events", "retry", listed[0]["id"]).stdout
    assert "1 delivery put back on their way" in said
    assert not deliver(db, hooks(receiver)).failed
    so1 = [
        d.event["data"]["lines"][0]["promised_date"] for d in receiver.accepted if d.order == "SO-1"
    ]
    assert so1 == [D1, "2027-02-01"]  # the retried event first, then the one it held
    assert json.loads(ok(db, "events", "list", "--failed", "--json").stdout) == []


def test_a_receiver_that_hangs_is_given_up_on_and_never_blocks_an_operation(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    receiver.hold()
    done: list[Report] = []
    run_ = threading.Thread(
        target=lambda: done.append(deliver(db, hooks(receiver, webhook_timeout=1.0)))
    )
    run_.start()
    try:
        receiver.arrived(1)
        # The receiver holds the request; operations go on (delivery holds no transaction).
        started = time.monotonic()
        load(so("SO-2", 2, (1, "A", 3)))
        assert time.monotonic() - started < 1.0
        run_.join(timeout=10)
        assert not run_.is_alive()
    finally:
        receiver.release()
    [report] = done
    assert report.count("webhook", "retried") == 1
    row = next(r for r in deliveries(db) if r.order == "SO-1")
    assert row.status == "pending" and row.answer_status is None
    assert "timed out" in (row.answer or "")


def test_past_the_maximum_age_a_delivery_is_dead_lettered(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    load(po("PO-1", (1, "A", 10, D1)), so("SO-1", 1, (1, "A", 2)))
    receiver.answer = lambda d: Reply(502, "bad gateway")
    settings = hooks(receiver, webhook_max_age=timedelta(minutes=10))
    first = clock()
    tries = 0
    while True:
        report = deliver(db, settings)
        tries += report.total
        if report.count("webhook", "dead_lettered"):
            break
        assert report.count("webhook", "retried") == 1
        [row] = deliveries(db)
        assert row.due_at is not None and row.due_at - first <= timedelta(minutes=10)
        clock.now = row.due_at
    [row] = deliveries(db)
    assert row.status == "dead" and row.answer_status == 502
    # Backing off 15-30 s, then 30-60, 60-120, 120-240, 240-480: the attempt that would come
    # more than ten minutes after the first is not made.
    assert 5 <= tries <= 6 and len(receiver.received) == tries
    assert clock() - first <= timedelta(minutes=10)


def test_a_crash_between_sending_and_marking_sends_that_event_again_and_nothing_else(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    """A run that dies with the receiver's answer unread (a killed process: the receiver got
    the event, the outbox never heard) leaves its claim to lapse; the next run after the lease
    sends the same event, same id, again, and no other event twice."""
    import os
    import signal
    import subprocess
    import sys

    load(po("PO-1", (1, "A", 10, D1)), *[so(f"SO-{i}", i, (1, "A", 1)) for i in range(3)])
    receiver.answer = lambda d: Reply()
    first_id = outbox(db)[0]["id"]
    held = threading.Event()

    def answer(d: Delivery) -> Reply:
        if d.event_id == first_id and not held.is_set():
            held.set()
            receiver.hold()  # this request gets no answer while the process is killed
        return Reply()

    receiver.answer = answer
    env = {**os.environ, "PREORDER_WEBHOOK_URL": receiver.url,
           "PREORDER_WEBHOOK_SECRET": SECRET, "PREORDER_DELIVER_WORKERS": "1",
           "PREORDER_WEBHOOK_TIMEOUT": "30"}  # fmt: skip
    env.pop("PREORDER_SMTP_URL", None)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "--db",
            db.url,
            "events",
            "deliver",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert held.wait(30), "the event never reached the receiver"
        receiver.arrived(1)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        receiver.release()
    assert receiver.accepted_ids() == []  # it was never answered
    # The run that died claimed a batch; until its lease lapses nobody sends them again.
    assert deliver(db, hooks(receiver)).total == 0
    clock.advance(31 * 60)
    assert not deliver(db, hooks(receiver)).failed
    ids = [d.event_id for d in receiver.received]
    assert ids.count(first_id) == 2 and len(set(ids)) == 3 and len(ids) == 4
    assert sorted(receiver.accepted_ids()) == sorted({ev["id"] for ev in outbox(db)})


def test_the_webhook_url_must_be_https_unless_on_this_machine() -> None:
    with pytest.raises(SettingsError, match="PREORDER_WEBHOOK_URL: must be an https://"):
        config.load(NotifySettings, webhook_url="http://shop.example.com/hooks", webhook_secret="s")
    for url in ("https://shop.example.com/hooks", "http://127.0.0.1:9/x", "http://[::1]/x"):
        assert config.load(NotifySettings, webhook_url=url, webhook_secret="s").webhook_urls == [
            url
        ]


def test_several_webhook_urls_each_get_every_event(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    two_orders(load)
    with Receiver() as other:
        other.answer = lambda d: Reply(500)
        settings = hooks(receiver, webhook_url=f"{receiver.url},{other.url}")
        report = deliver(db, settings)
        assert report.count("webhook", "delivered") == 2
        assert report.count("webhook", "retried") == 2
        other.answer = lambda d: Reply()
        clock.advance(60)
        deliver(db, settings)
        assert sorted(other.accepted_ids()) == sorted(receiver.accepted_ids())


def test_delivery_rows_are_kept_per_event_and_channel(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    two_orders(load)
    deliver(db, hooks(receiver))
    with db.read() as conn:
        rows = conn.execute(select(outbox_deliveries.c.status, outbox_deliveries.c.attempts)).all()
    assert sorted(tuple(r) for r in rows) == [("delivered", 1), ("delivered", 1)]
