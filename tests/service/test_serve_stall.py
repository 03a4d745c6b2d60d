"""``preorder serve`` while its PostgreSQL database stops answering: a TCP proxy between them
stops forwarding and keeps every connection open, so the service's connections wait on
sockets that never reply (SQLite has no network to fail this way).

Forty order posts at once are each answered 503 with Retry-After within a few seconds, and
meanwhile /healthz answers (503: the database does not) and Slack's ``/preorder help``, which
needs no database, is acked within Slack's 3 seconds. Once the database answers again, the
same posts are stored, each once."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import engine as e
from bot.intake.http import SIGNATURE_HEADER, sign
from tests.fixtures.databases import fresh_postgres
from tests.helpers import po
from tests.invariants import check_invariants
from tests.service.serving import Serve
from tests.slack.harness import SECRET as SLACK_SECRET
from tests.slack.harness import texts
from tests.standins.slack.signing import signed_headers, slash_command_body
from tests.standins.slack.standin import SlackStandin
from tests.standins.tcp_proxy import TcpProxy

INTAKE_SECRET = "intake-secret"
POSTS = 40


def order(number: str) -> dict[str, Any]:
    return {"order": number, "customer": "Ada", "placed_at": "2026-11-02T09:00:00Z",
            "lines": [{"line": 1, "sku": "A", "quantity": 1}]}  # fmt: skip


def request(url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 30) -> tuple[int, dict[str, str], bytes, float]:  # fmt: skip
    """Status, headers, body and seconds of one request (an HTTP error is an answer too)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, body, headers or {}), timeout=timeout
        ) as answer:
            found = (answer.status, dict(answer.headers), answer.read())
    except urllib.error.HTTPError as exc:
        found = (exc.code, dict(exc.headers), exc.read())
    return (*found, time.monotonic() - started)


def post_order(base: str, number: str) -> tuple[int, dict[str, str], bytes, float]:
    body = json.dumps([order(number)]).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(INTAKE_SECRET, body)}
    return request(base + "/orders", body, headers)


@pytest.mark.postgres
def test_a_database_that_stops_answering_leaves_the_service_answering(
    pg_url: str, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    db = fresh_postgres(pg_url)
    e.apply_records(db, e.Actor("seed", e.Source.CLI), [po("PO-1", (1, "A", 100, "2027-01-10"))])
    proxy = TcpProxy.to_database(pg_url)
    serve = Serve(
        proxy.url_for(pg_url),
        slack_standin,
        tmp_path,
        PREORDER_INTAKE_SECRET=INTAKE_SECRET,
        PREORDER_SCHEDULER="0",
    )
    try:
        assert post_order(serve.url, "SO-0")[0] == 200  # the service's connections are open

        with proxy.stalled(), ThreadPoolExecutor(POSTS) as pool:
            posts = [pool.submit(post_order, serve.url, f"SO-{i}") for i in range(1, POSTS + 1)]
            time.sleep(1)  # the posts take every thread the intake may hold
            health = request(serve.url + "/healthz", timeout=10)
            command = slash_command_body(text="help", trigger_id=slack_standin.new_trigger_id())
            ack = request(
                serve.url + "/slack/events",
                command.encode(),
                signed_headers(command, SLACK_SECRET),
                timeout=10,
            )
            answers = [p.result() for p in posts]

        slowest = max(seconds for *_, seconds in answers)
        print(f"\nstalled: {POSTS} posts answered 503 in at most {slowest:.2f} s; "
              f"/healthz {health[0]} in {health[3]:.2f} s; /preorder help acked in "
              f"{ack[3]:.2f} s")  # fmt: skip
        assert [status for status, *_ in answers] == [503] * POSTS
        assert all(headers["Retry-After"] == "5" for _, headers, *_ in answers)
        assert slowest < 7, slowest
        assert health[0] == 503 and health[3] < 4.5, health
        assert ack[0] == 200 and ack[3] < 3, ack
        assert "/preorder review" in texts(json.loads(ack[2]))

        # Answering again: the same posts are stored, each once (a post the stalled batch had
        # taken is stored when it resumes, and its retry is answered as a duplicate).
        deadline = time.monotonic() + 60
        pending = [f"SO-{i}" for i in range(1, POSTS + 1)]
        while pending and time.monotonic() < deadline:
            pending = [n for n in pending if post_order(serve.url, n)[0] != 200]
            time.sleep(0.2)
        assert pending == []
        assert request(serve.url + "/healthz")[0] == 200
        assert serve.stop() == 0
    finally:
        serve.kill()
        proxy.close()
    assert e.po_line(db, "PO-1", 1).allocated == POSTS + 1
    check_invariants(db)
    db.dispose()
