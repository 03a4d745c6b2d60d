"""The command line's part in events (DESIGN.md section 5): an order's email taken from import
files (shown by ``review --json``, kept out of the audit log), the digest's dead-lettered
deliveries, and ``preorder events`` refusing to start without what a channel needs. Listing and
retrying deliveries from the command line are in ``tests/notify/test_webhooks.py``, beside the
failures that make them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

import engine as e
from bot.cli.tables import digest_view
from bot.views.digest import digest_message, summary
from engine.digest import digest
from engine.models import audit_events, sales_orders
from tests.cli.helpers import error_line, ok, run, write
from tests.fixtures.events import Clock, deliver, hooks, outbox
from tests.helpers import po, so
from tests.standins.webhook.receiver import Receiver, Reply

Load = Callable[..., e.Outcome]
ACTOR = e.Actor("t", e.Source.CLI)
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
        assert conn.execute(select(sales_orders.c.email)).scalar_one() == "ada.l@example.org"
        audit = conn.execute(
            select(audit_events.c.before, audit_events.c.after).where(
                audit_events.c.action == "order"
            )
        ).all()
    assert [(r.before, r.after) for r in audit] == [
        ({"email": "a***@example.com"}, {"email": "a***@example.org"})
    ]


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


# --- settings ---------------------------------------------------------------------------------


def test_a_webhook_without_its_secret_is_a_clear_error_at_start(
    db: e.Database, receiver: Receiver
) -> None:
    env = {"PREORDER_WEBHOOK_URL": receiver.url, "PREORDER_WEBHOOK_SECRET": None}
    for args in (("events", "deliver"), ("serve", "--port", "0")):
        result = run(db, *args, env=env)
        assert result.exit_code == 1, (args, result.stdout, result.stderr)
        assert "PREORDER_WEBHOOK_SECRET is required with PREORDER_WEBHOOK_URL" in error_line(
            result
        ), args
    result = run(
        db, "events", "deliver", env={"PREORDER_WEBHOOK_URL": None, "PREORDER_SMTP_URL": None}
    )
    assert "no channel to deliver to" in error_line(result)


def test_preorder_events_0_keeps_the_commands_from_writing_events(
    db: e.Database, tmp_path: Path
) -> None:
    header = "order,line,sku,quantity,placed_at\n"
    ok(
        db,
        "import",
        write(tmp_path, "po.csv", "po,line,sku,quantity,arrival_date\nPO-1,1,A,9,2027-01-10\n"),
    )
    off = run(db, "import", write(tmp_path, "a.csv", header + "SO-1,1,A,1,2026-11-02T09:00:00Z\n"),
              env={"PREORDER_EVENTS": "0"})  # fmt: skip
    assert off.exit_code == 0, off.stderr
    assert e.unallocated(db) == [] and outbox(db) == []
    ok(db, "import", write(tmp_path, "b.csv", header + "SO-2,1,A,1,2026-11-02T09:01:00Z\n"))
    assert [ev["data"]["order"] for ev in outbox(db)] == ["SO-2"]
    bad = run(db, "unallocated", env={"PREORDER_EVENTS": "sometimes"})
    assert bad.exit_code == 1
    assert error_line(bad).startswith("error: bad settings: PREORDER_EVENTS: ")
