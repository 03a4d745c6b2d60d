"""The real Slack app behind the real WSGI server, its Web API the stand-in: tests POST signed
requests exactly as Slack does and read what the app did from the stand-in and the database.

``SlackApp`` starts ``bot.app.create_app`` behind ``bot.service.server.HttpServer`` (waitress) on
127.0.0.1, port 0, in a thread. Its helpers build Slack's payloads with triggers the stand-in
issued (so ``views.open`` works once, within 3 s, as on Slack) and wait for the work a handler
does after its ack.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, timedelta, tzinfo
from typing import Any

import engine as e
from bot.app import create_app
from bot.service.metrics import Metrics
from bot.service.server import SLACK_PATH, HttpServer, wsgi_app
from bot.settings import SlackSettings
from engine.models import (
    allocations,
    po_lines,
    products,
    purchase_orders,
    sales_orders,
    so_lines,
)
from tests.helpers import T0
from tests.standins.slack.signing import (
    app_home_opened_event_body,
    block_actions_body,
    block_suggestion_body,
    signed_headers,
    slash_command_body,
    view_submission_body,
)
from tests.standins.slack.standin import SlackStandin

SECRET = "test-signing-secret"
CHANNEL = "C0CHANNEL"
MERCHANDISER = "U0MERCH"  # listed in PREORDER_SLACK_MERCHANDISERS
GROUPIE = "U0GROUPIE"  # a member of the merchandiser user group
VIEWER = "U0VIEWER"  # neither: may look, not change
GROUP = "S0MERCH"
USERGROUPS = {GROUP: [GROUPIE]}


@dataclass
class Answer:
    """The app's HTTP answer to one request."""

    status: int
    body: bytes
    elapsed: float

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}


def texts(node: Any) -> str:
    """Every text in a view, message or block list, one per line: what the user reads."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("text"), str):
                found.append(value["text"])
            for key, child in value.items():
                if key != "text" or not isinstance(child, str):
                    walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(node)
    return "\n".join(found)


def settings_for(slack: SlackStandin, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.token,
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.url,
        "slack_merchandisers": MERCHANDISER,
        "slack_merchandiser_group": GROUP,
        "_env_file": None,
    }
    values.update(overrides)
    return SlackSettings(**values)


class SlackApp:
    def __init__(
        self, slack: SlackStandin, db: e.Database, *, zone: tzinfo = UTC, **settings: Any
    ) -> None:
        self.slack = slack
        self.db = db
        self.settings = settings_for(slack, **settings)
        self.metrics = Metrics()
        self.app = create_app(self.settings, db, metrics=self.metrics, zone=zone)
        router = wsgi_app(
            self.app, db, signing_secret=self.settings.slack_signing_secret, metrics=self.metrics
        )
        self.server = HttpServer(router, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.url = self.base + SLACK_PATH
        self.last_response_url: str | None = None  # of the latest click on a message

    def close(self) -> None:
        self.server.stop(timeout=5)
        self.thread.join(timeout=5)
        executor = self.app.listener_runner.listener_executor
        executor.shutdown(wait=True)

    # --- requests -----------------------------------------------------------------------------

    def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: Mapping[str, str] | None = None,
        path: str = SLACK_PATH,
    ) -> Answer:
        raw = body.encode()
        sent = {**signed_headers(raw, secret, timestamp), **(headers or {})}
        return self.request(path, data=raw, headers=sent)

    def request(
        self, path: str, data: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Answer:
        request = urllib.request.Request(self.base + path, data=data, headers=dict(headers or {}))
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, response.read(), time.monotonic() - start)
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read(), time.monotonic() - start)

    def command(
        self, text: str, user: str = MERCHANDISER, *, channel: str = CHANNEL
    ) -> tuple[Answer, str]:
        """``/preorder text`` in ``channel``; returns the ack and the response_url the app may
        answer on."""
        url = self.slack.new_response_url()
        body = slash_command_body(
            text=text,
            user_id=user,
            trigger_id=self.slack.new_trigger_id(user),
            response_url=url,
            channel_id=channel,
        )
        return self.post(body), url

    def click(
        self,
        action_id: str,
        value: str | None = None,
        *,
        user: str = MERCHANDISER,
        view: Mapping[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        respond: bool = True,
        channel: str = CHANNEL,
        answers: Mapping[str, Any] | None = None,
    ) -> Answer:
        """A click in a modal or Home tab (``view``) or on a message (with a response_url);
        ``answers`` fills the inputs of ``view`` as the user left them (``state.values``)."""
        if value is None and not fields:  # a button's value; a picker's answer is in fields
            value = button_value(view or message or {}, action_id)
        modal = view is not None and view.get("type") == "modal"
        trigger = self.slack.new_trigger_id(user, view_id=view["id"] if view and modal else None)
        url = self.slack.new_response_url() if respond and view is None else None
        self.last_response_url = url
        body = block_actions_body(
            action_id,
            value,
            user_id=user,
            view=view,
            message=message,
            fields=fields,
            answers=answers,
            channel_id=channel,
            trigger_id=trigger,
            response_url=url,
        )
        return self.post(body)

    def submit(
        self, view: Mapping[str, Any], answers: Mapping[str, Any] | None = None, **kw: Any
    ) -> Answer:
        user = kw.pop("user", MERCHANDISER)
        return self.post(view_submission_body(view, answers=answers, user_id=user), **kw)

    def suggest(self, action_id: str, value: str, view: Mapping[str, Any]) -> Answer:
        return self.post(block_suggestion_body(action_id, value, view=view, user_id=MERCHANDISER))

    def home_opened(self, user: str = MERCHANDISER, **kw: Any) -> Answer:
        return self.post(app_home_opened_event_body(user), **kw)

    # --- waiting for work done after the ack --------------------------------------------------

    def modal(
        self, index: int = -1, *, callback_id: str | None = None, timeout: float = 3.0
    ) -> dict[str, Any]:
        """:func:`filled_modal` of this app's stand-in."""
        return filled_modal(self.slack, index, callback_id=callback_id, timeout=timeout)

    def opened(self, callback_id: str) -> int:
        """How many modals opened so far show ``callback_id`` (filled): the index the next one
        will have, for :meth:`modal` to wait for it rather than return an earlier one."""
        return sum(
            1
            for c in self.slack.calls()
            if c.method in ("views.open", "views.push")
            and c.ok
            and self.slack.view(c.response["view"]["id"]).get("callback_id") == callback_id
        )

    def wait_view(
        self, view_id: str, until: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not until(view := self.slack.view(view_id)):
            if time.monotonic() > deadline:
                raise AssertionError(f"view {view_id} never matched: {texts(view)[:500]}")
            time.sleep(0.01)
        return view

    def responses(self, url: str, count: int = 1, timeout: float = 3.0) -> list[Any]:
        """What the app posted to ``url`` (bodies), once there are ``count`` posts."""
        deadline = time.monotonic() + timeout
        while len(found := self.slack.responses(url)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} posts to the response_url, wanted {count}")
            time.sleep(0.01)
        return [r.body for r in found]

    def messages(self, count: int = 1, timeout: float = 3.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(found := self.slack.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} messages posted, wanted {count}")
            time.sleep(0.01)
        return found


def filled_modal(
    slack: SlackStandin,
    index: int = -1,
    *,
    callback_id: str | None = None,
    timeout: float = 3.0,
) -> dict[str, Any]:
    """The modal opened by the ``index``-th ``views.open``/``views.push`` call once the handler
    has filled it (its loading view replaced).

    With ``callback_id``, the ``index``-th of the opened modals that show it, waiting until
    there is one: a click in a modal that pushes another acks first and pushes after, so until
    the push arrives the latest modal is still the one clicked in, and the default ``-1``
    alone would return that one."""
    deadline = time.monotonic() + timeout
    while True:
        opened = [
            c.response["view"]["id"]
            for c in slack.calls()
            if c.method in ("views.open", "views.push") and c.ok
        ]
        views = [slack.view(view_id) for view_id in opened]
        if callback_id is not None:
            views = [v for v in views if v.get("callback_id") == callback_id]
        if views and len(views) >= (index + 1 if index >= 0 else -index):
            view = views[index]
            if view.get("callback_id") != "loading":
                return view
        if time.monotonic() > deadline:
            seen = [(c.method, c.error) for c in slack.calls()]
            shown = [v.get("callback_id") for v in views]
            raise AssertionError(
                f"no filled modal #{index} ({callback_id or 'any'}); shown: {shown}; calls: {seen}"
            )
        time.sleep(0.01)


def shown(view: Mapping[str, Any], answer: Answer | Mapping[str, Any]) -> dict[str, Any]:
    """The modal Slack shows after answering a submission of ``view`` with ``response_action``
    update or push: the answer's view, with the id kept on update and a new hash either way."""
    body = answer.json() if isinstance(answer, Answer) else answer
    assert body.get("response_action") in ("update", "push"), body
    stamp = f"{int(time.time())}.{time.monotonic_ns() % 10**9:x}"
    kept = {"id": view["id"]} if body["response_action"] == "update" else {"id": f"VP{stamp[-8:]}"}
    return {**body["view"], **kept, "hash": stamp, "type": "modal"}


def button_value(surface: Mapping[str, Any], action_id: str) -> str:
    """The value of the first element with ``action_id`` in a view, message or block list."""
    blocks = surface.get("blocks") if isinstance(surface, Mapping) else surface
    for block in blocks or []:
        for element in [block.get("accessory"), *(block.get("elements") or [])]:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return str(element.get("value"))
    raise AssertionError(f"no {action_id} in {texts(surface)[:300]}")


@contextmanager
def running(slack: SlackStandin, db: e.Database, **settings: Any) -> Iterator[SlackApp]:
    app = SlackApp(slack, db, **settings)
    try:
        yield app
    finally:
        app.close()


# --- data -------------------------------------------------------------------------------------


def seed_big_line(db: e.Database, n: int, *, po: str = "PO-BIG", sku: str = "SKU-BIG") -> None:
    """A PO line with ``n`` allocations of one unit each, inserted in bulk (the intake would
    take a minute for this many), consistent with the schema's constraints."""
    arrival = date(2027, 1, 10)
    with db.write() as conn:
        conn.execute(products.insert(), [{"sku": sku}])
        po_id = conn.execute(
            purchase_orders.insert().returning(purchase_orders.c.id),
            [{"po_number": po, "supplier": "Bulk", "status": "open",
              "created_at": T0, "updated_at": T0}],
        ).scalar_one()  # fmt: skip
        line_id = conn.execute(
            po_lines.insert().returning(po_lines.c.id),
            [{"po_id": po_id, "po_number": po, "line": 1, "sku": sku, "quantity": n + 10,
              "store_hold": 0, "allocated": n, "allocated_lines": n, "arrival_date": arrival,
              "status": "open", "updated_at": T0}],
        ).scalar_one()  # fmt: skip
        orders = [
            {"id": i + 1, "order_number": f"SO-B{i:06d}", "customer": f"Customer {i}",
             "placed_at": T0 + timedelta(seconds=i), "created_at": T0}
            for i in range(n)
        ]  # fmt: skip
        conn.execute(sales_orders.insert(), orders)
        conn.execute(
            so_lines.insert(),
            [{"id": o["id"], "so_id": o["id"], "order_number": o["order_number"],
              "placed_at": o["placed_at"], "line": 1, "sku": sku, "quantity": 1,
              "status": "open", "parked": False, "po_line_id": line_id,
              "promised_date": arrival} for o in orders],
        )  # fmt: skip
        conn.execute(
            allocations.insert(),
            [{"so_line_id": o["id"], "po_line_id": line_id, "sku": sku, "quantity": 1,
              "operation_id": "seed", "actor": "seed", "source": "cli", "created_at": T0}
             for o in orders],
        )  # fmt: skip


def seed_shop(db: e.Database) -> None:
    """PO-1001 line 1 (SKU-RED, 10 units, ATP 5: SO-1 and SO-2 allocated) and line 2 (SKU-BLUE,
    5 units, SO-5 allocated); SO-3 and SO-4 were removed from line 1 (parked) and SO-6 wants 6
    units, more than the ATP: the SKU-RED queue is SO-3, SO-4, SO-6 in FIFO order."""
    from tests.helpers import po, so

    actor = e.Actor("seed", e.Source.CLI)
    e.apply_records(
        db,
        actor,
        [po("PO-1001", (1, "SKU-RED", 10, "2027-01-10"), (2, "SKU-BLUE", 5, "2027-02-01"))],
        [
            so("SO-1", 1, (1, "SKU-RED", 2), customer="Ada Lovelace"),
            so("SO-2", 2, (1, "SKU-RED", 3), customer="Bob Stone"),
            so("SO-3", 3, (1, "SKU-RED", 4), customer="Cleo Park"),
            so("SO-4", 4, (1, "SKU-RED", 1), customer="Dan Wu"),
            so("SO-5", 5, (1, "SKU-BLUE", 2), customer="Eve Moss"),
        ],
    )
    e.remove(db, actor, "PO-1001", 1, [e.LineRef("SO-3", 1), e.LineRef("SO-4", 1)])
    e.apply_records(db, actor, [], [so("SO-6", 6, (1, "SKU-RED", 6), customer="Fay Lin")])


def acked_view(answer: Answer) -> dict[str, Any]:
    """The view an ack answered a submission with (update or push), after checking it breaks
    no platform limit (the stand-in checks only what the app sends through the Web API)."""
    from tests.standins.slack.limits import problems

    body = answer.json()
    assert body.get("response_action") in ("update", "push"), body
    assert problems(body["view"], "modal") == []
    return dict(body["view"])
