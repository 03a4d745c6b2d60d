"""What the faces show of events and emails: an order's email taken from import files and
``POST /orders`` (shown by ``review --json``, kept out of the audit log and the logs), the
digest's dead-lettered deliveries, Slack's sync-date confirmation counting the customers who
will be told, and ``/metrics`` counting deliveries."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

import engine as e
from bot.intake import SIGNATURE_HEADER, intake_app, sign
from bot.jobs import DELIVER
from bot.logs import JsonLines, PlainLines
from bot.metrics import Metrics
from bot.render import digest_view
from bot.scheduler import build_scheduler
from bot.server import HttpServer, wsgi_app
from bot.service_settings import ServiceSettings
from bot.views.digest import digest_message, summary
from engine.digest import digest
from engine.models import audit_events
from tests.events_support import Clock, clock, deliver, hooks, outbox, receiver
from tests.helpers import po, so
from tests.helpers_cli import ok, run, write
from tests.receivers import Receiver, Reply
from tests.slack.harness import SlackApp, seed_shop, texts

__all__ = ["clock", "receiver"]  # fixtures

Load = Callable[..., e.Outcome]
ACTOR = e.Actor("t", e.Source.CLI)
SECRET = "intake-secret-for-events"
ONE = {"line": 1, "sku": "A", "quantity": 1}


# --- an order's email -------------------------------------------------------------------------


def test_an_email_comes_in_from_json_and_csv_and_review_json_shows_it(
    db: e.Database, tmp_path: Path
) -> None:
    ok(
        db,
        "import",
        write(tmp_path, "po.csv", "po,line,sku,quantity,arrival_date\nPO-1,1,A,10,2027-01-10\n"),
    )
    orders = {
        "sales_orders": [
            {"order": "SO-1", "customer": "Ada", "email": "ada@example.com",
             "placed_at": "2026-11-02T09:00:00Z", "lines": [ONE]},
            {"order": "SO-2", "customer": "Bo", "placed_at": "2026-11-02T09:01:00Z",
             "lines": [ONE]},
        ]
    }  # fmt: skip
    ok(db, "import", write(tmp_path, "so.json", json.dumps(orders)))
    csv = (
        "order,line,sku,quantity,placed_at,customer,email\n"
        "SO-3,1,A,1,2026-11-02T09:02:00Z,Cy,cy@example.com\n"
        "SO-3,2,A,1,2026-11-02T09:02:00Z,Cy,cy@example.com\n"
    )
    ok(db, "import", write(tmp_path, "so.csv", csv))
    shown = json.loads(ok(db, "review", "PO-1", "1", "--json").stdout)
    assert [(a["order"], a["line"], a["email"]) for a in shown["allocations"]] == [
        ("SO-1", 1, "ada@example.com"),
        ("SO-2", 1, None),
        ("SO-3", 1, "cy@example.com"),
        ("SO-3", 2, "cy@example.com"),
    ]
    assert [ev["data"]["email"] for ev in outbox(db)] == ["ada@example.com", None, "cy@example.com"]


def test_a_bad_email_is_refused_with_its_row_and_nothing_is_imported(
    db: e.Database, tmp_path: Path
) -> None:
    csv = (
        "order,line,sku,quantity,placed_at,email\n"
        "SO-1,1,A,1,2026-11-02T09:00:00Z,not-an-address\n"
        "SO-2,1,A,1,2026-11-02T09:00:00Z,bo@example.com\n"
        "SO-2,2,A,1,2026-11-02T09:00:00Z,other@example.com\n"
    )
    result = run(db, "import", write(tmp_path, "so.csv", csv))
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "row 2: email is not an email address (name@example.com)" in said
    assert "row 4: order SO-2 has another email here than on row 3" in said
    assert "not-an-address" not in said and "other@example.com" not in said
    assert e.unallocated(db) == []


def test_an_email_changed_by_import_is_stored_and_audited_without_the_address(
    db: e.Database, tmp_path: Path
) -> None:
    ok(
        db,
        "import",
        write(
            tmp_path,
            "a.csv",
            "order,line,sku,quantity,placed_at,email\nSO-1,1,A,1,2026-11-02T09:00:00Z,ada@example.com\n",
        ),
    )
    ok(
        db,
        "import",
        write(
            tmp_path,
            "b.csv",
            "order,line,sku,quantity,placed_at,email\nSO-1,1,A,1,2026-11-02T09:00:00Z,ada.l@example.org\n",
        ),
    )
    ok(
        db,
        "import",
        write(
            tmp_path,
            "c.csv",
            "order,line,sku,quantity,placed_at\nSO-1,1,A,1,2026-11-02T09:00:00Z\n",
        ),
    )
    with db.read() as conn:
        from engine.models import sales_orders

        assert conn.execute(select(sales_orders.c.email)).scalar_one() == "ada.l@example.org"
        audit = conn.execute(
            select(audit_events.c.before, audit_events.c.after).where(
                audit_events.c.action == "order"
            )
        ).all()
    assert [(r.before, r.after) for r in audit] == [
        ({"email": "a***@example.com"}, {"email": "a***@example.org"})
    ]


@pytest.fixture
def orders_url(db: e.Database) -> Iterator[str]:
    """``POST /orders`` of the service on a free port."""
    e.apply_records(db, ACTOR, [po("PO-1", (1, "A", 10, "2027-01-10"))])
    metrics = Metrics()
    router = wsgi_app(
        None, db, slack=False, metrics=metrics, intake=intake_app(db, SECRET, metrics)
    )
    server = HttpServer(router, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"{server.url}/orders"
    server.stop(timeout=5)
    thread.join(timeout=5)


def post(url: str, payload: Any) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}
    return requests.post(url, data=body, headers=headers, timeout=30)


def test_post_orders_takes_an_email_and_a_changed_one_is_a_masked_conflict(
    db: e.Database, orders_url: str
) -> None:
    order = {"order": "WEB-1", "customer": "Ada", "email": "ada@example.com",
             "placed_at": "2026-11-02T09:00:00Z", "lines": [ONE]}  # fmt: skip
    assert post(orders_url, order).status_code == 200
    [event] = outbox(db)
    assert event["data"]["email"] == "ada@example.com"
    assert post(orders_url, order).status_code == 200  # the same again: no conflict
    answer = post(orders_url, {**order, "email": "bob@example.com"})
    assert answer.status_code == 409
    assert answer.json()["conflicts"] == [
        {"index": 0, "order": "WEB-1", "field": "email", "stored": "a***@example.com",
         "sent": "b***@example.com"}
    ]  # fmt: skip
    bad = post(orders_url, {**order, "order": "WEB-2", "email": "ada at example"})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["reason"] == "email is not an email address (name@example.com)"


@pytest.mark.parametrize("formatter", [PlainLines(), JsonLines()])
def test_log_lines_never_carry_an_email_address(formatter: logging.Formatter) -> None:
    record = logging.LogRecord(
        "bot.intake", logging.ERROR, __file__, 1,
        "insert failed: [parameters: ('WEB-1', 'Ada', 'ada.lovelace@example.com')] db %s",
        ("postgresql://preorder@127.0.0.1/shop",), None,
    )  # fmt: skip
    line = formatter.format(record)
    assert "ada.lovelace@example.com" not in line and "a***@example.com" in line
    assert "preorder@127.0.0.1" in line  # a database URL's user is not an address


# --- the digest -------------------------------------------------------------------------------


def test_the_digest_counts_dead_lettered_deliveries_and_the_events_they_hold(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 2)),
    )
    e.set_arrival(db, ACTOR, "PO-1", 1, date(2027, 2, 1), sync=True)
    receiver.answer = lambda d: Reply(410, "gone") if d.order == "SO-1" else Reply()
    deliver(db, hooks(receiver))
    clock.advance(3600)
    data = digest(db)
    [dead] = data.dead_letters
    assert (dead.kind, dead.deliveries, dead.orders, dead.held) == ("webhook", 1, 1, 1)
    assert not data.is_empty
    assert data.to_dict()["dead_letters"][0]["deliveries"] == 1
    said = " ".join(ok(db, "digest").stdout.split())
    assert "Dead-lettered event deliveries" in said and "webhook 1 1 1" in said
    blocks = [b.to_dict() for b in digest_message(data, now=clock.now)]
    text = json.dumps(blocks)
    assert "Event deliveries dead-lettered" in text and "1 later event held back" in text
    assert "1 dead-lettered event delivery" in summary(data)
    ok(db, "events", "retry", "--failed")
    assert digest(db).dead_letters == []
    assert ok(db, "digest").stdout == "Nothing needs attention.\n"


def test_an_empty_digest_says_so_with_the_dead_letters_part(db: e.Database) -> None:
    view = digest_view(digest(db), now=datetime.now(UTC))
    assert str(view) == "Nothing needs attention."


# --- Slack and /metrics -----------------------------------------------------------------------


def test_the_sync_date_confirmation_says_how_many_customers_will_be_told(
    slack_app: SlackApp,
) -> None:
    from bot.ids import ActionId

    seed_shop(slack_app.db)
    e.set_arrival(slack_app.db, ACTOR, "PO-1001", 1, date(2027, 2, 15))
    _, url = slack_app.command("po PO-1001")
    (message,) = slack_app.responses(url)
    slack_app.click(ActionId.SYNC_DATE, message=message)
    said = texts(slack_app.modal())
    assert "2 customers will be told of the new date." in said
    before = len(outbox(slack_app.db))
    assert slack_app.submit(slack_app.modal()).json() == {"response_action": "clear"}
    assert len(outbox(slack_app.db)) == before + 2


def test_the_sync_date_confirmation_with_events_off_says_customers_may_need_telling() -> None:
    from bot.views.sync_date import sync_text

    preview = e.Outcome("sync-date", "op", "t", "cli", dry_run=True)
    preview.promises.append(e.DateChange("SO-1", 1, date(2027, 1, 10), date(2027, 2, 1), "sync"))
    head = e.POLineSummary("PO-1", 1, "A", "open", date(2027, 2, 1), 10, 0, 1, 9, 1, 1)
    assert sync_text(head, preview).endswith(
        "Customers may need telling: no event is written for them."
    )


def test_the_delivery_job_counts_deliveries_by_channel_and_result(
    db: e.Database, load: Load, receiver: Receiver, clock: Clock
) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2)),
        so("SO-2", 2, (1, "A", 2)),
    )
    receiver.answer = lambda d: Reply(500) if d.order == "SO-2" else Reply()
    metrics = Metrics()
    scheduler = build_scheduler(
        ServiceSettings(sweep_minutes=0), db, None, metrics, notify=hooks(receiver)
    )
    assert [j.id for j in scheduler.get_jobs()] == [DELIVER]
    scheduler.jobs.run(DELIVER)
    found = {
        (s.labels["channel"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(_metrics_text(metrics))
        for s in family.samples
        if s.name == "preorder_deliveries_total"
    }
    assert found == {("webhook", "delivered"): 1.0, ("webhook", "retried"): 1.0}


def _metrics_text(metrics: Metrics) -> str:
    """What ``GET /metrics`` serves from this registry."""
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()
