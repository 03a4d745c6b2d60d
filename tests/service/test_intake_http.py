"""Order intake over HTTP (``POST /orders``): the real WSGI app behind the real waitress server on
127.0.0.1, signed requests sent with ``requests``. Stored orders are auto-allocated at once and
reported per line; a replay changes nothing and answers the same; a bad signature, a malformed
body or a database outage stores nothing; ``/metrics`` counts each result."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

import engine as e
from bot.intake.http import MAX_BODY, SIGNATURE_HEADER, IntakeApp, intake_app, sign
from bot.service.metrics import Metrics
from bot.service.server import HttpServer, wsgi_app
from tests.cli.helpers import run
from tests.fixtures.events import outbox
from tests.helpers import dump, po, so
from tests.invariants import check_invariants

SECRET = "intake-secret-for-tests"
PLACED = "2026-11-02T09:00:00+00:00"


@dataclass
class Intake:
    """The service's router (health, metrics, intake; no Slack) on a free local port."""

    url: str
    metrics: Metrics
    app: IntakeApp

    def post(
        self, payload: Any, *, signature: str | None = "good", raw: bytes | None = None
    ) -> requests.Response:
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers[SIGNATURE_HEADER] = sign(SECRET, body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return requests.post(f"{self.url}/orders", data=body, headers=headers, timeout=30)

    def counts(self) -> dict[str, float]:
        """``preorder_intake_orders_total`` by result, read over ``GET /metrics``."""
        text = requests.get(f"{self.url}/metrics", timeout=10).text
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "preorder_intake_orders_total":
                    found[sample.labels["result"]] = sample.value
        return found


# Serves the intake endpoint of a database on a free port, stopped at the end of the test
# (keyword arguments go to intake_app).
ServeIntake = Callable[..., Intake]


@pytest.fixture
def serve_intake() -> Iterator[ServeIntake]:
    started: list[tuple[HttpServer, threading.Thread, IntakeApp]] = []

    def start(db: e.Database, **options: Any) -> Intake:
        metrics = Metrics()
        intake = intake_app(db, SECRET, metrics, **options)
        router = wsgi_app(
            None,  # no Slack app
            db,
            slack=False,
            metrics=metrics,
            intake=intake,
        )
        server = HttpServer(router, "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread, intake))
        return Intake(server.url, metrics, intake)

    yield start
    for server, thread, intake in started:
        server.stop(timeout=5)
        thread.join(timeout=5)
        intake.close()


def supply(db: e.Database) -> e.Database:
    """PO-1:1 holds 10 of A (2027-01-10), PO-1:2 2 of B (2027-01-20); no orders yet."""
    e.apply_records(
        db,
        e.Actor("seed", e.Source.CLI),
        [po("PO-1", (1, "A", 10, "2027-01-10"), (2, "B", 2, "2027-01-20"))],
    )
    return db


@pytest.fixture
def supplied(db: e.Database) -> e.Database:
    return supply(db)


@pytest.fixture
def intake(supplied: e.Database, serve_intake: ServeIntake) -> Intake:
    return serve_intake(supplied)


def order(number: str, *lines: tuple[int, str, int], placed: str = PLACED) -> dict[str, Any]:
    return {
        "order": number,
        "customer": f"customer of {number}",
        "placed_at": placed,
        "lines": [{"line": ln, "sku": sku, "quantity": q} for ln, sku, q in lines],
    }


def line(
    number: str, ln: int, sku: str, qty: int, status: str, where: tuple[str, int, str] | None
) -> dict[str, Any]:
    po_number, po_line, promised = where or (None, None, None)
    return {
        "order": number,
        "line": ln,
        "sku": sku,
        "quantity": qty,
        "status": status,
        "po": po_number,
        "po_line": po_line,
        "promised_date": promised,
    }


# --- accepted ---------------------------------------------------------------------------------


def test_signed_orders_are_allocated_at_once_and_reported_per_line(
    intake: Intake, supplied: e.Database, caplog: pytest.LogCaptureFixture
) -> None:
    db = supplied
    caplog.set_level(logging.INFO, logger="bot.intake")

    reply = intake.post({"sales_orders": [order("SO-1", (1, "A", 3), (2, "B", 5))]})

    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {
        "orders": 1,
        "lines": [
            line("SO-1", 1, "A", 3, "allocated", ("PO-1", 1, "2027-01-10")),
            line("SO-1", 2, "B", 5, "queued", None),  # B has 2 sellable units
        ],
    }
    review = e.review(db, "PO-1", 1)
    assert [(a.order, a.line, a.quantity) for a in review.allocations] == [("SO-1", 1, 3)]
    assert [(q.order, q.line) for q in e.unallocated(db)] == [("SO-1", 2)]
    check_invariants(db)
    assert "intake: 1 order (2 lines: 1 allocated, 1 queued) from api" in caplog.text


def test_the_changes_are_audited_as_coming_from_the_api(
    intake: Intake, supplied: e.Database
) -> None:
    assert intake.post([order("SO-1", (1, "A", 1))]).status_code == 200

    with supplied.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT action, actor, source FROM audit_events WHERE order_number = 'SO-1' ORDER BY id"
        ).all()
    assert [tuple(r) for r in rows] == [
        ("order-line-created", "api", "api"),
        ("allocate", "api", "api"),
    ]


@pytest.mark.parametrize(
    "shape",
    ["sales_orders", "list", "one"],
)
def test_a_body_may_be_the_import_shape_a_list_or_one_order(intake: Intake, shape: str) -> None:
    orders = [order("SO-1", (1, "A", 2))]
    payload = {"sales_orders": orders} if shape == "sales_orders" else orders
    reply = intake.post(orders[0] if shape == "one" else payload)

    assert reply.status_code == 200, reply.text
    assert reply.json()["lines"] == [
        line("SO-1", 1, "A", 2, "allocated", ("PO-1", 1, "2027-01-10"))
    ]


def test_lines_are_reported_in_the_bodys_order_with_their_state(
    intake: Intake, supplied: e.Database
) -> None:
    db = supplied
    actor = e.Actor("tester", e.Source.CLI)
    e.apply_records(db, actor, sales=[so("SO-0", 0, (1, "A", 1))])
    e.remove(db, actor, "PO-1", 1, [e.LineRef("SO-0", 1)])  # parked
    e.apply_records(db, actor, sales=[so("SO-9", 0, (1, "A", 1))])
    e.cancel_order(db, actor, [e.LineRef("SO-9")])

    reply = intake.post(
        [order("SO-9", (1, "A", 1)), order("SO-2", (1, "A", 20)), order("SO-0", (1, "A", 1))]
    )

    assert reply.status_code == 200, reply.text
    assert [(x["order"], x["status"]) for x in reply.json()["lines"]] == [
        ("SO-9", "cancelled"),
        ("SO-2", "queued"),
        ("SO-0", "parked"),
    ]


# --- replayed ---------------------------------------------------------------------------------


def test_the_same_body_again_changes_nothing_and_answers_the_same(
    intake: Intake, supplied: e.Database
) -> None:
    body = json.dumps({"sales_orders": [order("SO-1", (1, "A", 3), (2, "B", 5))]}).encode()
    first = intake.post(None, raw=body)
    assert first.status_code == 200
    before = dump(supplied)

    again = intake.post(None, raw=body)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert dump(supplied) == before
    assert intake.counts() == {"accepted": 1.0, "duplicate": 1.0}


def test_a_replay_beside_a_new_order_stores_only_the_new_one(
    intake: Intake, supplied: e.Database
) -> None:
    assert intake.post([order("SO-1", (1, "A", 3))]).status_code == 200

    reply = intake.post([order("SO-1", (1, "A", 3)), order("SO-2", (1, "A", 4))])

    assert reply.status_code == 200
    assert [x["status"] for x in reply.json()["lines"]] == ["allocated", "allocated"]
    assert intake.counts() == {"accepted": 2.0, "duplicate": 1.0}
    assert e.po_line(supplied, "PO-1", 1).allocated == 7
    check_invariants(supplied)


def conflicts(reply: requests.Response) -> list[tuple[int, str, str, Any, Any]]:
    data = reply.json()
    assert data["error"].startswith("orders already stored with other contents; nothing was")
    return [(c["index"], c["order"], c["field"], c["stored"], c["sent"]) for c in data["conflicts"]]


STORED = order("SO-1", (1, "A", 3), (2, "B", 1))


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (
            order("SO-1", (1, "A", 2), (2, "B", 1)),
            [(0, "SO-1", "lines[0].quantity", 3, 2)],
        ),
        (
            order("SO-1", (1, "B", 3), (2, "B", 1)),
            [(0, "SO-1", "lines[0].sku", "A", "B")],
        ),
        (
            {**STORED, "customer": "someone else"},
            [(0, "SO-1", "customer", "customer of SO-1", "someone else")],
        ),
        (
            {**STORED, "placed_at": "2026-11-01T09:00:00+00:00"},
            [(0, "SO-1", "placed_at", "2026-11-02T09:00:00+00:00", "2026-11-01T09:00:00+00:00")],
        ),
        (
            order("SO-1", (1, "A", 3), (2, "B", 1), (3, "A", 1)),
            [(0, "SO-1", "lines[2]", None, {"line": 3, "sku": "A", "quantity": 1})],
        ),
        (
            order("SO-1", (1, "A", 3)),
            [(0, "SO-1", "lines", {"line": 2, "sku": "B", "quantity": 1}, None)],
        ),
        (
            {
                **order("SO-1", (2, "A", 1), (1, "B", 3)),
                "customer": "Bob",
                "placed_at": "2026-11-02T10:00:00+01:00",  # the same instant: no conflict
            },
            [
                (0, "SO-1", "customer", "customer of SO-1", "Bob"),
                (0, "SO-1", "lines[0].sku", "B", "A"),
                (0, "SO-1", "lines[1].sku", "A", "B"),
            ],
        ),
    ],
    ids=["quantity", "sku", "customer", "placed_at", "line-added", "line-left-out", "several"],
)
def test_an_order_posted_again_with_other_contents_is_409_naming_each_field_and_changes_nothing(
    intake: Intake, supplied: e.Database, changed: dict[str, Any], expected: list[Any]
) -> None:
    """A stored order is not rewritten by a post: a changed order comes through the import,
    audited as such. The sender is told which fields differ from what is stored."""
    assert intake.post([STORED]).status_code == 200
    before = dump(supplied)

    reply = intake.post([changed])

    assert reply.status_code == 409, reply.text
    assert conflicts(reply) == expected
    assert dump(supplied) == before
    assert intake.counts() == {"accepted": 1.0, "conflict": 1.0}
    check_invariants(supplied)


def test_an_order_may_carry_an_email_and_a_changed_one_is_a_masked_conflict(
    intake: Intake, supplied: e.Database
) -> None:
    sent = {**order("WEB-1", (1, "A", 1)), "email": "ada@example.com"}
    assert intake.post(sent).status_code == 200
    [event] = outbox(supplied)
    assert event["data"]["email"] == "ada@example.com"
    assert intake.post(sent).status_code == 200  # the same again: no conflict
    answer = intake.post({**sent, "email": "bob@example.com"})
    assert answer.status_code == 409
    assert answer.json()["conflicts"] == [
        {"index": 0, "order": "WEB-1", "field": "email", "stored": "a***@example.com",
         "sent": "b***@example.com"}
    ]  # fmt: skip
    bad = intake.post({**sent, "order": "WEB-2", "email": "ada at example"})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["reason"] == "email is not an email address (name@example.com)"


def test_an_order_may_allow_splitting_and_a_changed_flag_is_a_conflict(
    serve_intake: ServeIntake, db: e.Database
) -> None:
    """Rule 10 per order: 12 of A fit neither PO line (7 and 5) alone, so it is split; sent
    again with another allow_split, 409; not a boolean, 400."""
    e.apply_records(
        db,
        e.Actor("seed", e.Source.CLI),
        [po("PO-1", (1, "A", 7, "2027-01-10"), (2, "A", 5, "2027-01-20"))],
    )
    intake = serve_intake(db)
    sent = {**order("WEB-1", (1, "A", 12)), "allow_split": True}
    answer = intake.post(sent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["lines"] == [
        line("WEB-1", 1, "A", 12, "allocated", ("PO-1", 2, "2027-01-20"))
    ]
    check_invariants(db)
    assert intake.post(sent).status_code == 200
    again = intake.post({**sent, "allow_split": False})
    assert again.status_code == 409
    assert again.json()["conflicts"] == [
        {"index": 0, "order": "WEB-1", "field": "allow_split", "stored": True, "sent": False}
    ]
    bad = intake.post({**sent, "order": "WEB-2", "allow_split": "yes"})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["reason"] == "allow_split must be true or false"


def test_a_conflicting_order_beside_new_ones_stores_none_of_them(
    intake: Intake, supplied: e.Database
) -> None:
    assert intake.post([order("SO-1", (1, "A", 3))]).status_code == 200
    before = dump(supplied)

    reply = intake.post(
        [order("SO-2", (1, "A", 1)), order("SO-1", (1, "A", 4)), order("SO-3", (1, "A", 1))]
    )

    assert reply.status_code == 409, reply.text
    assert conflicts(reply) == [(1, "SO-1", "lines[0].quantity", 3, 4)]
    assert dump(supplied) == before
    assert intake.counts() == {"accepted": 1.0, "conflict": 3.0}


def test_the_same_order_again_without_its_customer_or_in_another_offset_is_no_conflict(
    intake: Intake, supplied: e.Database
) -> None:
    first = intake.post([STORED])
    assert first.status_code == 200
    before = dump(supplied)
    same = {k: v for k, v in STORED.items() if k != "customer"}
    same["placed_at"] = "2026-11-02T04:00:00-05:00"

    again = intake.post([same])

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert dump(supplied) == before
    assert intake.counts() == {"accepted": 1.0, "duplicate": 1.0}


def test_two_versions_of_a_new_order_posted_at_once_store_one_and_refuse_the_other(
    pg_db: e.Database, serve_intake: ServeIntake
) -> None:
    db = pg_db
    e.apply_records(db, e.Actor("seed", e.Source.CLI), [po("PO-1", (1, "A", 10, "2027-01-10"))])
    intake = serve_intake(db)
    versions = [[order("SO-1", (1, "A", q))] for q in (1, 2, 3, 4) for _ in range(3)]

    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(intake.post, versions))

    stored = e.order_lines(db, ["SO-1"])[0].quantity
    for version, reply in zip(versions, replies, strict=True):
        sent = version[0]["lines"][0]["quantity"]
        assert reply.status_code == (200 if sent == stored else 409), reply.text
    assert e.po_line(db, "PO-1", 1).allocated == stored
    counts = intake.counts()
    assert counts["accepted"] == 1.0 and counts["conflict"] == 9.0
    check_invariants(db)


def test_one_order_sent_by_many_at_once_is_stored_once(
    pg_db: e.Database, serve_intake: ServeIntake
) -> None:
    db = pg_db
    e.apply_records(db, e.Actor("seed", e.Source.CLI), [po("PO-1", (1, "A", 10, "2027-01-10"))])
    intake = serve_intake(db)
    body = json.dumps([order("SO-1", (1, "A", 3))]).encode()

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: intake.post(None, raw=body), range(8)))

    assert [r.status_code for r in replies] == [200] * 8
    assert all(r.json() == replies[0].json() for r in replies)
    assert e.po_line(db, "PO-1", 1).allocated == 3
    assert intake.counts() == {"accepted": 1.0, "duplicate": 7.0}
    check_invariants(db)


# --- refused ----------------------------------------------------------------------------------


BODY = json.dumps([order("SO-1", (1, "A", 3))]).encode()


@pytest.mark.parametrize(
    ("signature", "error"),
    [
        (None, f"missing {SIGNATURE_HEADER}"),
        ("", f"missing {SIGNATURE_HEADER}"),
        ("0" * 64, f"bad {SIGNATURE_HEADER}"),
        (sign("another secret", BODY), f"bad {SIGNATURE_HEADER}"),
        (sign(SECRET, BODY + b" "), f"bad {SIGNATURE_HEADER}"),
        (sign(SECRET, BODY)[:-1], f"bad {SIGNATURE_HEADER}"),
        ("sha1=" + sign(SECRET, BODY), f"bad {SIGNATURE_HEADER}"),
        ("é" * 64, f"bad {SIGNATURE_HEADER}"),
    ],
    ids=["missing", "empty", "zeros", "other-secret", "other-body", "short", "sha1", "latin1"],
)
def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(
    intake: Intake, supplied: e.Database, signature: str | None, error: str
) -> None:
    before = dump(supplied)

    reply = intake.post(
        None, raw=BODY, signature=signature.encode().decode("latin-1") if signature else signature
    )

    assert reply.status_code == 401
    assert reply.json()["error"].startswith(error)
    assert dump(supplied) == before
    assert intake.counts() == {"unauthorized": 1.0}


@pytest.mark.parametrize(
    "signature",
    [sign(SECRET, BODY), "sha256=" + sign(SECRET, BODY), sign(SECRET, BODY).upper()],
    ids=["hex", "sha256-prefix", "upper-case"],
)
def test_the_signature_may_carry_a_sha256_prefix_and_any_case(
    intake: Intake, signature: str
) -> None:
    assert intake.post(None, raw=BODY, signature=signature).status_code == 200


def problems(reply: requests.Response) -> list[tuple[int | None, str | None, str | None, str]]:
    data = reply.json()
    assert data["error"] == "invalid orders; nothing was stored"
    return [(p["index"], p["order"], p["field"], p["reason"]) for p in data["problems"]]


GOOD = order("SO-1", (1, "A", 1))
# Two days after now: no shop places an order that far ahead of the clock.
AHEAD = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="seconds")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            [{k: v for k, v in GOOD.items() if k != "order"}],
            [(0, None, "order", "order is missing")],
        ),
        (
            [{**GOOD, "placed_at": "2026-11-31T09:00:00Z"}],
            [
                (
                    0,
                    "SO-1",
                    "placed_at",
                    "placed_at '2026-11-31T09:00:00Z' is not an ISO 8601 date-time",
                )
            ],
        ),
        (
            [{**GOOD, "placed_at": "0001-01-01T00:00:00+14:00"}],
            [
                (
                    0,
                    "SO-1",
                    "placed_at",
                    "placed_at '0001-01-01T00:00:00+14:00' is before 2000-01-01",
                )
            ],
        ),
        (
            [{**GOOD, "placed_at": "9999-12-31T23:59:59-23:59"}],
            [
                (
                    0,
                    "SO-1",
                    "placed_at",
                    "placed_at '9999-12-31T23:59:59-23:59' is more than a day in the future",
                )
            ],
        ),
        (
            [{**GOOD, "placed_at": "1999-12-31T23:59:59Z"}],
            [(0, "SO-1", "placed_at", "placed_at '1999-12-31T23:59:59Z' is before 2000-01-01")],
        ),
        (
            [{**GOOD, "placed_at": AHEAD}],
            [(0, "SO-1", "placed_at", f"placed_at {AHEAD!r} is more than a day in the future")],
        ),
        (
            [{**GOOD, "placed_at": "2026-11-02T09:00:00"}],
            [
                (
                    0,
                    "SO-1",
                    "placed_at",
                    "placed_at '2026-11-02T09:00:00' has no UTC offset (add Z or +HH:MM)",
                )
            ],
        ),
        (
            [order("SO-1", (1, "A", 0))],
            [(0, "SO-1", "lines[0].quantity", "quantity 0 must be at least 1")],
        ),
        (
            # A fractional quantity, as a client might send: the type is wrong on purpose.
            [order("SO-1", (1, "A", 1), (2, "B", 1.5))],  # type: ignore[arg-type]
            [(0, "SO-1", "lines[1].quantity", "quantity 1.5 is not a whole number")],
        ),
        (
            [{**GOOD, "lines": "A x 1"}],
            [(0, "SO-1", "lines", "lines: input should be a valid list")],
        ),
        (
            [{**GOOD, "lines": []}],
            [(0, "SO-1", "lines", "lines is empty; give at least one line")],
        ),
        (
            [{**GOOD, "order": ["SO-1"]}],
            [
                (
                    0,
                    None,
                    "order",
                    "order number ['SO-1'] must be 1-64 letters, digits or "
                    "# . _ / - (no spaces or colons)",
                )
            ],
        ),
        (
            [{**GOOD, "order": "SO 1"}, {**GOOD, "order": 7, "lines": [{"line": 1, "sku": "A"}]}],
            [
                (
                    0,
                    "SO 1",
                    "order",
                    "order number 'SO 1' must be 1-64 letters, digits or "
                    "# . _ / - (no spaces or colons)",
                ),
                (1, "7", "lines[0].quantity", "quantity is missing"),
            ],
        ),
        (
            [order("SO-1", (1, "A", 1), (1, "B", 1))],
            [(0, "SO-1", None, "order SO-1 has line 1 twice")],
        ),
        (
            [{**GOOD, "priority": "high"}],
            [(0, "SO-1", "priority", "unknown field 'priority'")],
        ),
        (
            ["SO-1"],
            [(0, None, None, "expected an object, found a string")],
        ),
        (
            [GOOD, order("SO-1", (1, "A", 2))],
            [(1, "SO-1", "order", "order SO-1 is also at [0]; give each once")],
        ),
        (
            # A good order beside a bad one is not stored either.
            [order("SO-2", (1, "A", 1)), order("SO-3", (1, "A", -1))],
            [(1, "SO-3", "lines[0].quantity", "quantity -1 must be at least 1")],
        ),
    ],
    ids=[
        "missing-order",
        "no-such-date",
        "year-1-east-of-utc",
        "year-9999-west-of-utc",
        "before-2000",
        "days-ahead",
        "no-offset",
        "quantity-0",
        "quantity-fraction",
        "lines-not-a-list",
        "no-lines",
        "order-a-list",
        "two-orders-two-problems",
        "line-twice",
        "unknown-field",
        "order-a-string",
        "order-twice",
        "good-beside-bad",
    ],
)
def test_a_malformed_order_is_400_with_a_reason_per_field_and_stores_nothing(
    intake: Intake, supplied: e.Database, payload: Any, expected: list[Any]
) -> None:
    before = dump(supplied)

    reply = intake.post(payload)

    assert reply.status_code == 400, reply.text
    assert problems(reply) == expected
    assert dump(supplied) == before
    assert intake.counts() == {"invalid": float(len(payload))}


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [{"line": 99_999_999_999, "sku": "A", "quantity": 1}],
            [(0, "SO-1", "lines[0].line", "line 99999999999 must be at most 2,147,483,647")],
        ),
        (
            [{"line": 1, "sku": "A", "quantity": 99_999_999_999}],
            [
                (
                    0,
                    "SO-1",
                    "lines[0].quantity",
                    "quantity 99999999999 must be at most 2,147,483,647",
                )
            ],
        ),
        (
            [{"line": 1, "sku": "A", "quantity": 1}, {"line": 2, "sku": "A", "quantity": 2**31}],
            [(0, "SO-1", "lines[1].quantity", "quantity 2147483648 must be at most 2,147,483,647")],
        ),
        (
            [{"line": "2147483648", "sku": "A", "quantity": 1e10}],
            [
                (0, "SO-1", "lines[0].line", "line 2147483648 must be at most 2,147,483,647"),
                (
                    0,
                    "SO-1",
                    "lines[0].quantity",
                    "quantity 10000000000 must be at most 2,147,483,647",
                ),
            ],
        ),
    ],
    ids=["line", "quantity", "second-line-quantity", "as-text-and-float"],
)
def test_a_number_too_big_for_its_column_is_400_naming_the_field_never_503(
    intake: Intake, supplied: e.Database, lines: list[dict[str, Any]], expected: list[Any]
) -> None:
    """Lines and quantities are 32-bit INTEGER columns: a bigger number is the sender's mistake,
    refused before the database would fail the write (a 503 would have the sender retry it
    for ever)."""
    before = dump(supplied)

    reply = intake.post([{**GOOD, "lines": lines}])

    assert reply.status_code == 400, reply.text
    assert problems(reply) == expected
    assert dump(supplied) == before
    assert intake.counts() == {"invalid": 1.0}
    # The largest number the column holds is taken.
    biggest = {"line": 2**31 - 1, "sku": "B", "quantity": 2**31 - 1}
    taken = intake.post([{**GOOD, "lines": [biggest]}])
    assert taken.status_code == 200, taken.text
    assert taken.json()["lines"][0]["quantity"] == 2**31 - 1
    check_invariants(supplied)


def test_an_order_placed_a_little_ahead_of_our_clock_is_taken(intake: Intake) -> None:
    """A shop's clock may run ahead of ours: up to a day is taken as it is."""
    soon = (datetime.now(UTC) + timedelta(hours=23)).isoformat()

    reply = intake.post([order("SO-1", (1, "A", 1), placed=soon)])

    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"sales_orders": [', "the body is not JSON: Expecting value (line 1 column 19)"),
        (b"", "the body is not JSON: Expecting value (line 1 column 1)"),
        (b"\xff\xfe\xfd", "the body is not JSON: it is not UTF-8 text"),
        (
            b"[" * 100_000 + b"]" * 100_000,
            "the body is not usable JSON: its lists and objects are nested too deeply",
        ),
        (
            b'[{"order": "SO-1", "lines": [{"line": 1, "sku": "A", "quantity": '
            + b"9" * 5000
            + b"}]}]",
            "the body is not usable JSON: a number of 5000 digits (no field takes more than 64)",
        ),
        (b"[]", "no orders: give at least one"),
        (b'{"sales_orders": []}', "no orders: give at least one"),
        (
            b'"SO-1"',
            'expected {"sales_orders": [...]}, a list of orders or one order; found a string',
        ),
        (
            b'{"sales_orders": {"order": "SO-1"}}',
            "sales_orders should be a list of orders; found an object",
        ),
        (b'{"sales_orders": [], "orders": []}', "unknown key 'orders' beside 'sales_orders'"),
        (
            b'{"purchase_orders": []}',
            "purchase orders are not taken here: import them with 'preorder import'",
        ),
    ],
    ids=[
        "truncated",
        "empty",
        "not-utf8",
        "nested-100000-deep",
        "number-of-5000-digits",
        "empty-list",
        "empty-sales-orders",
        "a-string",
        "sales-orders-an-object",
        "unknown-key",
        "purchase-orders",
    ],
)
def test_a_body_that_is_not_orders_is_400_and_stores_nothing(
    intake: Intake, supplied: e.Database, raw: bytes, error: str
) -> None:
    before = dump(supplied)

    reply = intake.post(None, raw=raw)

    assert reply.status_code == 400, reply.text
    assert reply.json() == {"error": error, "problems": []}
    assert dump(supplied) == before
    assert intake.counts() == {"invalid": 1.0}


def test_a_body_over_the_limit_is_413(intake: Intake, supplied: e.Database) -> None:
    before = dump(supplied)
    raw = b" " * (MAX_BODY + 1)

    reply = intake.post(None, raw=raw)

    # Refused by the server as the body arrives, before the intake reads it.
    assert reply.status_code == 413
    assert "1048576" in reply.text
    assert dump(supplied) == before


def test_only_post_is_allowed(intake: Intake) -> None:
    reply = requests.get(f"{intake.url}/orders", timeout=10)

    assert reply.status_code == 405
    assert reply.headers["Allow"] == "POST"


# --- database down ----------------------------------------------------------------------------


def down_databases(tmp_path: Path) -> Iterator[tuple[str, e.Database]]:
    yield "postgresql", e.Database("postgresql+psycopg://postgres@127.0.0.1:9/test")
    folder = tmp_path / "gone"
    sqlite = e.Database(f"sqlite:///{folder / 'preorder.db'}")
    folder.rmdir()  # the database's folder went away: nothing can be opened
    yield "sqlite", sqlite


def test_a_database_outage_is_503_with_retry_after_and_quick(
    serve_intake: ServeIntake, tmp_path: Path
) -> None:
    for name, db in down_databases(tmp_path):
        intake = serve_intake(db)
        started = time.monotonic()

        reply = intake.post([GOOD, order("SO-2", (1, "A", 1))])

        assert time.monotonic() - started < 5, name
        assert reply.status_code == 503, (name, reply.text)
        assert reply.headers["Retry-After"] == "5"
        assert reply.json()["error"].startswith("the database is unavailable"), name
        assert intake.counts() == {"unavailable": 2.0}, name
        db.dispose()


def post_until_answered(intake: Intake, body: Any, within: float = 10) -> requests.Response:
    """``body`` posted again while the answer is 503, for ``within`` seconds at most."""
    deadline = time.monotonic() + within
    while True:
        reply = intake.post(body)
        if reply.status_code != 503 or time.monotonic() > deadline:
            return reply
        time.sleep(0.1)


def test_a_database_that_keeps_a_request_waiting_answers_503_within_max_wait(
    supplied: e.Database, serve_intake: ServeIntake
) -> None:
    """Another transaction holds what the intake needs (SQLite's write lock, a SKU's row on
    PostgreSQL). Each request waits at most max_wait, and the intake holds at most
    max_requests at once: the others are answered at once, so the server's threads stay free.
    Once the database answers, the same bodies are stored once each."""
    db = supplied
    intake = serve_intake(db, max_wait=1.0, max_requests=2)
    bodies = [[order(f"SO-{i}", (1, "A", 1))] for i in range(1, 5)]

    def timed_post(body: Any) -> tuple[requests.Response, float]:
        started = time.monotonic()
        reply = intake.post(body)
        return reply, time.monotonic() - started

    with db.write(commit=False) as conn:
        if db.is_postgres:
            conn.execute(text("SELECT sku FROM products WHERE sku = 'A' FOR UPDATE"))
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(timed_post, bodies))
        # Counted while the database still holds them: once it lets go, the transaction that
        # waited finishes and counts its orders as accepted.
        counts = intake.counts()

    assert [reply.status_code for reply, _ in answers] == [503] * 4
    assert all(reply.headers["Retry-After"] == "5" for reply, _ in answers)
    assert max(seconds for _, seconds in answers) < 2.5
    busy = [r for r, seconds in answers if r.json()["error"].startswith("the intake is busy")]
    assert len(busy) == 2
    assert counts == {"unavailable": 4.0}

    # Sent again, as Retry-After asks (sooner here: the transaction that waited is finishing).
    again = [post_until_answered(intake, body) for body in bodies]

    assert [reply.status_code for reply in again] == [200] * 4, [r.text for r in again]
    # Each stored once. On PostgreSQL the transaction that waited found A held when it locked
    # its SKUs (it waited later, writing its lines), so it left A's lines queued for the
    # intake's follow-up sweep, which places them once that transaction is done.
    deadline = time.monotonic() + 10
    while e.po_line(db, "PO-1", 1).allocated < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert e.po_line(db, "PO-1", 1).allocated == 4
    check_invariants(db)


def test_an_outage_stores_nothing_and_the_retry_is_stored_once(
    supplied: e.Database, serve_intake: ServeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = supplied
    intake = serve_intake(db)
    real = e.apply_orders
    before = dump(db)

    def lose_connection(*args: Any, **kwargs: Any) -> Any:
        # What the engine raises for any database failure (after its own retries).
        raise e.StorageError("database error: server closed the connection")

    monkeypatch.setattr(e, "apply_orders", lose_connection)
    assert intake.post([GOOD]).status_code == 503
    assert dump(db) == before
    monkeypatch.setattr(e, "apply_orders", real)

    reply = intake.post([GOOD])

    assert reply.status_code == 200
    assert reply.json()["lines"][0]["status"] == "allocated"
    assert intake.counts() == {"unavailable": 1.0, "accepted": 1.0}


def test_a_broken_constraint_is_our_fault_a_500_and_stores_nothing(
    supplied: e.Database, serve_intake: ServeIntake, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = supplied
    intake = serve_intake(db)
    before = dump(db)

    def break_a_constraint(*args: Any, **kwargs: Any) -> Any:
        # What the engine raises when the database refuses a write it should not have made.
        raise e.ConstraintViolation("database error: duplicate key value")

    monkeypatch.setattr(e, "apply_orders", break_a_constraint)
    reply = intake.post([GOOD])

    assert reply.status_code == 500
    assert reply.json() == {"error": "internal error; nothing was stored"}
    assert dump(db) == before
    assert intake.counts() == {"failed": 1.0}


# --- metrics and end to end -------------------------------------------------------------------


def test_metrics_count_orders_by_result(intake: Intake) -> None:
    two = [order("SO-1", (1, "A", 1)), order("SO-2", (1, "A", 1))]
    intake.post(two)
    intake.post(two)
    intake.post([order("SO-3", (1, "A", 0))])
    intake.post(two, signature="nope")

    assert intake.counts() == {
        "accepted": 2.0,
        "duplicate": 2.0,
        "invalid": 1.0,
        "unauthorized": 1.0,
    }


def test_a_posted_order_shows_in_preorder_review(intake: Intake, supplied: e.Database) -> None:
    assert intake.post(order("WEB-1001", (1, "A", 4))).status_code == 200

    result = run(supplied, "review", "PO-1", "1", "--json")

    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["allocated"] == 4
    assert [(a["order"], a["line"], a["promised_date"]) for a in data["allocations"]] == [
        ("WEB-1001", 1, "2027-01-10")
    ]


def test_a_posted_order_that_must_wait_shows_in_the_digest(
    intake: Intake, supplied: e.Database
) -> None:
    answer = intake.post(order("WEB-2001", (1, "B", 5)))  # PO-1:2 holds only 2 of B
    assert answer.status_code == 200
    assert [line["status"] for line in answer.json()["lines"]] == ["queued"]

    result = run(supplied, "digest", "--json")

    assert result.exit_code == 0, result.stderr
    waiting = json.loads(result.stdout)["unallocated"]
    assert [(q["sku"], q["lines"], q["units"]) for q in waiting] == [("B", 1, 5)]


# --- the engine side --------------------------------------------------------------------------


def test_an_order_imported_again_as_stored_is_counted_unchanged(
    db: e.Database, actor: e.Actor
) -> None:
    e.apply_records(db, actor, [po("PO-1", (1, "A", 2, "2027-01-10"))])
    first = e.apply_records(
        db, actor, sales=[so("SO-1", 0, (1, "A", 1)), so("SO-2", 0, (1, "A", 5))]
    )
    assert first.unchanged == {"purchase_orders": 0, "sales_orders": 0}
    before = dump(db)

    again = e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "A", 2, "2027-01-10"))],
        [so("SO-1", 0, (1, "A", 1)), so("SO-2", 0, (1, "A", 5))],
    )

    assert again.unchanged == {"purchase_orders": 1, "sales_orders": 2}
    assert not again.changed
    assert dump(db) == before
    grown = e.apply_records(db, actor, sales=[so("SO-1", 0, (1, "A", 1), (2, "A", 1))])
    assert grown.unchanged == {"purchase_orders": 0, "sales_orders": 0}


def test_order_lines_tell_where_each_line_stands(db: e.Database, actor: e.Actor) -> None:
    e.apply_records(
        db,
        actor,
        [po("PO-1", (1, "A", 3, "2027-01-10"))],
        [so("SO-1", 0, (1, "A", 2), (2, "A", 2)), so("SO-2", 1, (1, "A", 1))],
    )
    e.remove(db, actor, "PO-1", 1, [e.LineRef("SO-2", 1)])

    found = e.order_lines(db, ["SO-2", "SO-1", "SO-404"])

    assert [(x.order, x.line, x.state, x.po, x.po_line) for x in found] == [
        ("SO-1", 1, "allocated", "PO-1", 1),
        ("SO-1", 2, "queued", None, None),
        ("SO-2", 1, "parked", None, None),
    ]
    promised = found[0].promised_date
    assert promised is not None and promised.isoformat() == "2027-01-10"


def test_apply_orders_reports_the_lines_as_a_read_after_it_finds_them(
    db: e.Database, actor: e.Actor
) -> None:
    e.apply_records(db, actor, [po("PO-1", (1, "A", 3, "2027-01-10"), (2, "B", 9, "2027-02-01"))])
    e.apply_records(db, actor, sales=[so("SO-0", 0, (1, "B", 9))])  # B is sold out
    orders = [so("SO-2", 2, (2, "B", 1), (1, "A", 2)), so("SO-1", 1, (1, "A", 2))]

    outcome, lines = e.apply_orders(db, actor, orders)

    assert outcome.created["sales_orders"] == 2
    assert lines == e.order_lines(db, ["SO-1", "SO-2"])
    assert [(x.order, x.line, x.state) for x in lines] == [
        ("SO-1", 1, "allocated"),
        ("SO-2", 1, "queued"),  # SO-1, placed first, took A's last units but one
        ("SO-2", 2, "queued"),
    ]
    again, replayed = e.apply_orders(db, actor, orders)
    assert again.unchanged == {"purchase_orders": 0, "sales_orders": 2}
    assert replayed == lines
    check_invariants(db)


def test_a_control_character_in_a_name_is_the_senders_mistake(
    intake: Intake, supplied: e.Database
) -> None:
    """PostgreSQL cannot store NUL in text: refused as a bad field, not a database outage."""
    before = dump(supplied)
    bad = order("WEB-3001", (1, "A", 1))
    bad["customer"] = "Ada\x00Lovelace"

    reply = intake.post([bad])

    assert reply.status_code == 400
    (problem,) = reply.json()["problems"]
    assert problem["field"] == "customer" and "U+0000" in problem["reason"]
    assert dump(supplied) == before


@pytest.mark.postgres
def test_an_order_for_a_sku_a_sweep_holds_is_answered_at_once_and_placed_after_it(
    pg_db: e.Database, serve_intake: ServeIntake
) -> None:
    """While a sweep batch holds SKU A, an order for A is answered at once, its line queued;
    the intake then asks for a sweep of A, which places it when the batch is done."""
    e.apply_records(pg_db, e.Actor("seed", e.Source.CLI), [po("PO-1", (1, "A", 10, "2027-01-10"))])
    intake = serve_intake(pg_db)
    with pg_db.engine.begin() as batch:
        batch.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':sku:A', 0))")
        )
        started = time.monotonic()
        reply = intake.post(order("SO-1", (1, "A", 2)))
        took = time.monotonic() - started
        assert reply.status_code == 200, reply.text
        assert [x["status"] for x in reply.json()["lines"]] == ["queued"]
    assert took < 2, f"the order waited {took:.1f} s for the sweep"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not e.order_lines(pg_db, ["SO-1"])[0].po:
        time.sleep(0.05)
    assert e.order_lines(pg_db, ["SO-1"])[0].po == "PO-1"
    check_invariants(pg_db)
