"""``POST /receipts`` over real HTTP (waitress on 127.0.0.1, ``requests``): signed as
``/orders``; a receipt covers the PO line's allocations FIFO and counts once per receipt id;
a bad field is 400 naming it, an unknown PO line 404, a closed one 409; nothing is recorded then."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import engine as e
from bot.intake.http import SIGNATURE_HEADER, sign
from bot.intake.receipts import receipts_app
from bot.service.metrics import Metrics
from bot.service.server import RECEIPTS_PATH, HttpServer, wsgi_app
from tests.helpers import dump, po, so
from tests.invariants import check_invariants

SECRET = "receipts-secret-for-tests"
Post = Callable[..., requests.Response]


@pytest.fixture
def stocked(db: e.Database) -> e.Database:
    """PO-1:1 (A, 10) holds SO-1 (3), SO-2 (4), SO-3 (2); PO-1:2 (B, 5) is cancelled."""
    e.apply_records(
        db,
        e.Actor("seed", e.Source.CLI),
        [po("PO-1", (1, "A", 10, "2027-01-10"), (2, "B", 5, "2027-01-10"))],
        [so("SO-1", 1, (1, "A", 3)), so("SO-2", 2, (1, "A", 4)), so("SO-3", 3, (1, "A", 2))],
    )
    e.cancel_po(db, e.Actor("seed", e.Source.CLI), "PO-1", line=2)
    return db


@pytest.fixture
def server(stocked: e.Database) -> Iterator[HttpServer]:
    """The service's router (metrics and receipts; no Slack) on a free local port."""
    metrics = Metrics()
    router = wsgi_app(
        None,
        stocked,
        slack=False,
        metrics=metrics,
        receipts=receipts_app(stocked, SECRET, metrics),
    )
    server = HttpServer(router, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server
    server.stop(timeout=5)
    thread.join(timeout=5)


@pytest.fixture
def post(server: HttpServer) -> Post:
    def send(payload: Any, *, signature: str | None = "good") -> requests.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "good":
            headers[SIGNATURE_HEADER] = sign(SECRET, body)
        elif signature is not None:
            headers[SIGNATURE_HEADER] = signature
        return requests.post(f"{server.url}{RECEIPTS_PATH}", data=body, headers=headers, timeout=30)

    return send


def receipt(**fields: Any) -> dict[str, Any]:
    return {"receipt": "GRN-1", "po": "PO-1", "line": 1, "quantity": 7, **fields}


def test_a_signed_receipt_makes_lines_ready_and_counts_once(
    stocked: e.Database, post: Post
) -> None:
    db = stocked
    reply = post(receipt())
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["ready"] == [{"order": "SO-1", "line": 1}, {"order": "SO-2", "line": 1}]
    assert (data["received"], data["status"], data["replayed"]) == (7, "open", False)
    before = dump(db)
    again = post(receipt())
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["operation"] == data["operation"]
    assert dump(db) == before
    final = post(receipt(receipt="GRN-2", quantity=1, final=True, date="2026-12-01"))
    assert final.status_code == 200, final.text
    # 8 received in all: SO-3 (2) does not fit after SO-1 and SO-2 (7): it goes back to the queue.
    assert final.json()["released"] == [{"order": "SO-3", "line": 1}]
    assert (final.json()["status"], final.json()["atp"]) == ("received", 0)
    with db.read() as conn:
        from sqlalchemy import text

        sources = set(
            conn.execute(text("SELECT source FROM audit_events WHERE action = 'receive'")).scalars()
        )
    assert sources == {"api"}
    check_invariants(db)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (receipt(quantity=-1), "quantity", "quantity -1 must be at least 0"),
        (receipt(quantity="many"), "quantity", "not a whole number"),
        (receipt(line=0), "line", "line 0 must be at least 1"),
        (receipt(final="yes"), "final", "final"),
        (receipt(date="2027-02-30"), "date", "does not exist"),
        ({"po": "PO-1", "line": 1, "quantity": 1}, "receipt", "receipt is missing"),
        (receipt(colour="red"), "colour", "unknown field 'colour'"),
    ],
)
def test_a_bad_field_is_400_naming_it_and_records_nothing(
    stocked: e.Database, post: Post, body: dict[str, Any], field: str, reason: str
) -> None:
    before = dump(stocked)
    reply = post(body)
    assert reply.status_code == 400, reply.text
    [problem] = reply.json()["problems"]
    assert problem["field"] == field and reason in problem["reason"]
    assert dump(stocked) == before


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (receipt(po="PO-9"), 404, "unknown PO PO-9"),
        (receipt(line=7), 404, "PO PO-1 has no line 7"),
        (receipt(line=2), 409, "PO PO-1 line 2 is cancelled"),
        (receipt(quantity=0), 422, "a receipt of 0 units changes nothing"),
        (receipt(date="2999-01-01"), 422, "in the future"),
    ],
)
def test_unknown_closed_or_refused_lines_record_nothing(
    stocked: e.Database, post: Post, body: dict[str, Any], status: int, says: str
) -> None:
    before = dump(stocked)
    reply = post(body)
    assert reply.status_code == status, reply.text
    assert says in reply.json()["error"]
    assert dump(stocked) == before


def test_unsigned_or_malformed_requests_record_nothing(stocked: e.Database, post: Post) -> None:
    before = dump(stocked)
    assert post(receipt(), signature=None).status_code == 401
    assert post(receipt(), signature="sha256=" + "0" * 64).status_code == 401
    assert post(b"not json").status_code == 400
    assert post([receipt()]).status_code == 400
    assert dump(stocked) == before


def test_metrics_count_each_receipt_by_its_result(server: HttpServer, post: Post) -> None:
    assert post(receipt()).status_code == 200
    assert post(receipt()).status_code == 200  # the same receipt id again
    assert post(receipt(receipt="GRN-2", po="PO-9")).status_code == 404
    assert post(receipt(receipt="GRN-3", line=2)).status_code == 409
    assert post(receipt(quantity="many")).status_code == 400
    assert post(receipt(), signature=None).status_code == 401
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    counts = {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "preorder_intake_receipts_total"
    }
    assert counts == {
        "recorded": 1,
        "replayed": 1,
        "refused": 2,
        "invalid": 1,
        "unauthorized": 1,
    }
