"""Each Slack payload is applied once, however often it arrives.

Slack retries an event it thinks went unanswered (``X-Slack-Retry-Num``), users double-click
buttons and double-submit modals. ``delivery_key`` names what makes two deliveries the same
request; ``Deliveries`` remembers the keys for a while. A repeated submission gets the answer
of the first (waiting briefly if the first is still working), so Slack shows the same result
instead of closing a modal that should show an error.

The memory is per process: with several replicas a repeat may reach another one. There the
engine is the backstop (allocating or removing the same lines again is refused, syncing again
changes nothing) and the fingerprint check sees the changed line.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Keys that include a modal's hash stay unique once the modal changes, so they may live long;
# clicks on messages and the Home tab repeat legitimately (open the same review again), so a
# repeat counts as a double click only within a moment.
LONG_TTL = 600.0
CLICK_TTL = 2.0
REPLAY_WAIT = 2.5  # how long a repeat waits for the first delivery's answer (ack budget is 3 s)


@dataclass
class Delivery:
    expires: float
    answer: str = ""  # the HTTP body of the first delivery's ack
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float = REPLAY_WAIT) -> str:
        self.done.wait(timeout)
        return self.answer


class Deliveries:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, Delivery] = {}

    def claim(self, key: str, ttl: float = LONG_TTL) -> Delivery | None:
        """None when ``key`` is new (and now claimed), else the earlier delivery."""
        now = self.clock()
        with self._lock:
            if len(self._seen) > 1000:
                self._seen = {k: d for k, d in self._seen.items() if d.expires > now}
            earlier = self._seen.get(key)
            if earlier is not None and earlier.expires > now:
                return earlier
            self._seen[key] = Delivery(now + ttl)
            return None

    def settle(self, key: str | None, answer: str = "", *, forget: bool = False) -> None:
        """Record the first delivery's ack body (the HTTP body) for repeats to replay.
        ``forget``: nothing was applied (an inline error), so a later delivery may try again
        (repeats already waiting still get this answer)."""
        if key is None:
            return
        with self._lock:
            delivery = self._seen.pop(key, None) if forget else self._seen.get(key)
        if delivery is not None:
            delivery.answer = answer
            delivery.done.set()


def delivery_keys(body: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(key, ttl)`` pairs naming the request; a delivery is a repeat when any was seen. None
    for options requests and view_closed, which are harmless to repeat."""
    kind = body.get("type")
    if kind == "event_callback":
        return [(f"event:{body.get('event_id')}", LONG_TTL)]
    # Slack's own retries carry the same trigger; a double click gets a new one.
    trigger = [(f"trigger:{body['trigger_id']}", LONG_TTL)] if body.get("trigger_id") else []
    if body.get("command"):
        return trigger
    view = body.get("view") or {}
    if kind == "view_submission":
        # A modal answered with inline errors keeps its hash: what was chosen tells the
        # corrected submission from a repeat.
        values = json.dumps((view.get("state") or {}).get("values"), sort_keys=True)
        digest = hashlib.sha256(values.encode()).hexdigest()[:16]
        return [(f"submit:{view.get('id')}:{view.get('hash')}:{digest}", LONG_TTL)]
    if kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        what = json.dumps(
            [action.get("action_id"), action.get("block_id"), action.get("value"),
             action.get("selected_option")],
            sort_keys=True,
        )  # fmt: skip
        if view.get("type") == "modal":
            return [(f"action:{view.get('id')}:{view.get('hash')}:{what}", LONG_TTL), *trigger]
        user = (body.get("user") or {}).get("id")
        where = view.get("id") or (body.get("container") or {}).get("message_ts")
        return [(f"click:{user}:{where}:{what}", CLICK_TTL), *trigger]
    return []
