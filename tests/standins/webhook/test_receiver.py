"""The webhook receiver refuses what a store's receiver following the README's recipe refuses
(a bad signature, a stale timestamp: 401, nothing recorded) and answers a good request as the
test scripts it."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from notify.webhook import EVENT_ID, SIGNATURE, TIMESTAMP, sign
from tests.standins.webhook.receiver import SECRET, Receiver, Reply

EVENT: dict[str, Any] = {
    "id": "evt_1_1",
    "type": "order.promise_changed",
    "created_at": "2026-12-05T09:00:00Z",
    "data": {"order": "SO-1", "customer": "Ada", "email": None, "lines": []},
}


def post(receiver: Receiver, *, secret: str = SECRET, age: int = 0) -> requests.Response:
    body = json.dumps(EVENT).encode()
    stamp = int(time.time()) - age
    headers = {
        "Content-Type": "application/json",
        EVENT_ID: str(EVENT["id"]),
        TIMESTAMP: str(stamp),
        SIGNATURE: sign(secret, stamp, body),
    }
    return requests.post(receiver.url, data=body, headers=headers, timeout=10)


def test_a_bad_signature_or_a_stale_timestamp_is_refused_and_not_recorded(
    receiver: Receiver,
) -> None:
    assert post(receiver, secret="another secret").status_code == 401
    assert post(receiver, age=301).status_code == 401
    assert receiver.refused_signatures == 2 and receiver.received == []


def test_a_signed_event_is_answered_as_scripted(receiver: Receiver) -> None:
    receiver.answer = lambda d: Reply(429, "slow down", (("Retry-After", "7"),))
    answer = post(receiver)
    assert (answer.status_code, answer.text, answer.headers["Retry-After"]) == (
        429,
        "slow down",
        "7",
    )
    receiver.answer = lambda d: Reply()
    assert post(receiver).status_code == 200
    assert [d.event for d in receiver.received] == [EVENT, EVENT]
    assert [d.event_id for d in receiver.accepted] == ["evt_1_1"]
