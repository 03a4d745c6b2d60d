"""The digest in Slack: the Block Kit message within Slack's limits however much needs
attention, its buttons opening the app's own modals; posting it (``post_digest``, ``preorder
digest --post``) and its errors. What it reads is tested in ``tests/engine/test_digest.py``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

import engine as e
from bot.digest_post import DigestNotPosted, PostedDigest, post_digest, sheet_url
from bot.ids import ActionId, CallbackId
from bot.views.blocks import MESSAGE_BLOCKS, TEXT_MAX
from bot.views.digest import NOTHING, digest_message, digest_text, share
from bot.views.state import ViewState
from engine.digest import (
    ArrivingLine,
    ATPLine,
    Digest,
    OutOfSyncLine,
    QueueBySku,
    ReadyBySku,
    StrandedByPO,
    digest,
)
from tests.cli.helpers import error_line, run
from tests.fixtures.databases import fresh_sqlite
from tests.helpers import T0, po, so
from tests.slack.harness import CHANNEL, SlackApp, button_value, texts
from tests.standins.slack.fixtures import make_client
from tests.standins.slack.limits import problems
from tests.standins.slack.standin import SlackStandin

Load = Callable[..., e.Outcome]
R = e.LineRef
TODAY = T0.date()  # 2026-11-02
NOW = T0 + timedelta(days=3, hours=2)
EVENING = T0 + timedelta(hours=9)  # the same day as T0
DIGEST_CHANNEL = "C0DIGEST"
SHEET_ID = "1AbCdEfGhIjK"
OTHER = e.Actor("someone-else", e.Source.CLI)


# --- the Block Kit message --------------------------------------------------------------------


def validated(blocks: list[Block]) -> list[dict[str, Any]]:
    """The message as Slack receives it, checked by slack_sdk's models (each block and what it
    holds, and again after a round trip through ``Block.parse``) and by Slack's own limits."""
    assert len(blocks) <= MESSAGE_BLOCKS
    data = []
    for block in blocks:
        block.validate_json()
        as_dict = block.to_dict()  # validates every element inside
        again = Block.parse(as_dict)
        assert again is not None and again.to_dict() == as_dict
        data.append(as_dict)
    assert problems(data, "message") == []
    for entry in data:
        for text in [entry.get("text"), *(entry.get("elements") or [])]:
            if isinstance(text, dict) and isinstance(text.get("text"), str):
                assert len(text["text"]) <= TEXT_MAX
    return data


def elements(data: Any, action_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in data:
        for el in [block.get("accessory"), *(block.get("elements") or [])]:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                found.append(el)
    return found


def stranded_shop(db: e.Database) -> None:
    """5,000 orders stranded by 60 cancelled POs over 120 SKUs; 30 SKUs with parked lines on
    PO lines arriving this week with ATP, out of sync; 40 more lines arriving with ATP."""
    skus = [f"SKU-{s:03d}" for s in range(120)]
    pos = [po(f"PO-S{p:02d}", (1, skus[2 * p], 200, "2027-01-10"),
              (2, skus[2 * p + 1], 200, "2027-01-10")) for p in range(60)]  # fmt: skip
    pos.append(
        po("PO-PARK", *[(i + 1, f"PK-{i:02d}", 9, "2026-11-06") for i in range(30)]),
    )
    pos.append(po("PO-NEW", *[(i + 1, f"NEW-{i:02d}", 20, "2026-11-04") for i in range(40)]))
    orders = [
        so(f"SO-{n:05d}", T0 + timedelta(seconds=n), (1, skus[n % 120], 1 + n % 2))
        for n in range(5000)
    ]
    orders += [so(f"SO-P{i:02d}", T0 + timedelta(hours=2, seconds=i),
                  *[(k + 1, f"PK-{i:02d}", 1) for k in range(3)]) for i in range(30)]  # fmt: skip
    e.apply_records(db, OTHER, pos, orders)
    for p in range(60):
        e.cancel_po(db, OTHER, f"PO-S{p:02d}")
    for i in range(30):
        e.remove(db, OTHER, "PO-PARK", i + 1, [R(f"SO-P{i:02d}", 1), R(f"SO-P{i:02d}", 2)])
        e.set_arrival(db, OTHER, "PO-PARK", i + 1, date(2026, 11, 7), allow_past=True)


@pytest.fixture
def big_db(tmp_path: Path, sqlite_template: Path) -> Iterator[e.Database]:
    database = fresh_sqlite(sqlite_template, tmp_path)
    stranded_shop(database)
    yield database
    database.dispose()


def test_5000_stranded_orders_fit_one_message_within_slacks_limits(
    big_db: e.Database, slack_standin: SlackStandin
) -> None:
    data = digest(big_db, today=TODAY)
    assert sum(s.lines for s in data.stranded) == 5000 and len(data.stranded) == 60
    assert len(data.unallocated) == 150 and len(data.out_of_sync) == 30
    assert len(data.arriving) == 70

    url = sheet_url(SHEET_ID)
    blocks = digest_message(data, now=EVENING, sheet_url=url)
    message = validated(blocks)
    said = texts(message)
    assert len(message) <= 50
    assert message[0]["type"] == "header" and "Pre-order digest · 2026-11-02" in said
    titles = (
        "Unallocated order lines",
        "Parked order lines",
        "Promises out of sync",
        "Arriving by 2026-11-09 with ATP left",
        "Cancelled POs whose orders still wait",
    )
    assert all(title in said for title in titles)
    assert "5,060 lines" in said and "150 SKUs" in said and "(60 parked)" in said
    assert "5,000 order lines, 7,500 units from 60 POs" in said
    # What does not fit is counted, with the command that lists it.
    assert "more order lines in" in said and "run `preorder unallocated`" in said
    assert "more POs (" in said and "run `preorder digest`" in said
    # Buttons on the first rows of each part, with ids the app handles and a ViewState.
    allocate = elements(message, ActionId.ALLOCATE)
    sync = elements(message, ActionId.SYNC_DATE)
    assert len(allocate) >= 5 and len(sync) >= 5
    for button in [*allocate, *sync]:
        state = ViewState.from_json(button["value"])
        assert state.po and state.line >= 1 and len(button["value"]) <= 2000
    assert {ViewState.from_json(b["value"]).po for b in sync} == {"PO-PARK"}
    (sheet,) = elements(message, ActionId.OPEN_SHEET)
    assert sheet["url"] == f"https://docs.google.com/spreadsheets/d/{SHEET_ID}"
    assert all(len(b.get("elements", [])) <= 5 for b in message if b["type"] == "actions")

    # Slack's stand-in takes it as it is, and so does post_digest.
    client = make_client(slack_standin)
    answer = client.chat_postMessage(channel=DIGEST_CHANNEL, text=digest_text(data), blocks=blocks)
    assert answer["ok"]
    posted = post_digest(big_db, client, DIGEST_CHANNEL, now=EVENING, sheet_url=url)
    assert posted == PostedDigest(DIGEST_CHANNEL, posted.ts, len(blocks), False)
    assert slack_standin.last("chat.postMessage").ok
    assert slack_standin.messages(DIGEST_CHANNEL)[-1]["blocks"] == message


def huge_digest(n: int) -> Digest:
    """Every part far longer than a message, with the longest keys the schema allows."""
    long = "X" * 60
    return Digest(
        unallocated=[
            QueueBySku(
                f"{long}{i:04d}",
                3,
                5000,
                1,
                T0,
                parked_units=2,
                atp_open=40,
                atp_line=ATPLine(f"{long}P{i:03d}", 999, date(2027, 1, 1), 20),
            )
            for i in range(n)
        ],
        out_of_sync=[
            OutOfSyncLine(
                f"{long}{i:04d}",
                1,
                long,
                date(2027, 1, 1),
                2,
                4,
                date(2026, 12, 1),
                date(2026, 12, 9),
            )
            for i in range(n)
        ],
        arriving=[ArrivingLine(f"{long}{i:04d}", 2, long, date(2026, 11, 5), 7) for i in range(n)],
        stranded=[StrandedByPO(f"{long}{i:04d}", "cancelled", 50, 75, 3, T0) for i in range(n)],
        today=TODAY,
    )


@pytest.mark.parametrize("max_blocks", [50, 30, 13])
def test_any_amount_of_data_stays_within_the_blocks_given(max_blocks: int) -> None:
    data = huge_digest(5000)
    blocks = digest_message(data, now=NOW, sheet_url=sheet_url("x" * 100), max_blocks=max_blocks)
    message = validated(blocks)
    assert len(message) <= max_blocks
    said = texts(message)
    for closing in ("more order lines in", "more parked lines in", "more PO lines (",
                    "more POs ("):  # fmt: skip
        assert closing in said
    assert all(len(b["text"]["text"]) <= TEXT_MAX for b in message if b["type"] == "section")
    with pytest.raises(ValueError, match="max_blocks"):
        digest_message(data, now=NOW, sheet_url="https://example.com/", max_blocks=12)


def test_blocks_go_where_there_is_more_to_show() -> None:
    assert share([2, 2, 40, 3, 40], 43) == [2, 2, 18, 3, 18]
    assert share([5, 5], 43) == [5, 5]
    assert sum(share([9, 9, 9, 9, 9], 43)) <= 43


def test_a_small_digest_shows_every_row_with_its_button() -> None:
    data = Digest(
        unallocated=[
            QueueBySku(
                "A",
                3,
                9,
                1,
                T0,
                parked_units=2,
                atp_open=8,
                atp_line=ATPLine("PO-2", 1, date(2027, 1, 10), 6),
            ),
            QueueBySku("C", 1, 1, 0, T0 - timedelta(days=30)),
        ],
        out_of_sync=[
            OutOfSyncLine(
                "PO-1", 1, "A", date(2027, 2, 1), 2, 5, date(2027, 1, 10), date(2027, 1, 12)
            ),
        ],
        arriving=[
            ArrivingLine("PO-3", 1, "A", date(2026, 11, 2), 5),
            ArrivingLine("PO-3", 2, "B", date(2026, 11, 9), 5),
        ],
        stranded=[StrandedByPO("PO-9", "open", 4, 10, 2, T0)],
        today=TODAY,
    )
    message = validated(digest_message(data, now=NOW))
    said = texts(message)
    assert (
        "`A` · 3 lines, 9 units (1 parked) · oldest waited 3 days · *ATP 8 open*, 6 of it on "
        "PO-2:1" in said
    )
    assert "`C` · 1 line, 1 unit · oldest waited 33 days · no ATP open" in said
    assert "`A` · 1 parked line, 2 units · *ATP 8 open*, 6 of it on PO-2:1" in said
    assert (
        "*PO-1:1* `A` · arrives 2027-02-01 · 2 order lines (5 units) promised 2027-01-10 to "
        "2027-01-12" in said
    )
    assert "*PO-3:1* `A` · arrives 2026-11-02 (today) · *ATP 5* · 3 order lines of the SKU " in said
    assert "*PO-3:2* `B` · arrives 2026-11-09 (in 7 days) · *ATP 5*" in said
    assert "*PO-9* (lines cancelled) · 4 order lines, 10 units waiting in 2 SKUs" in said
    assert "more" not in said and "Open the sheet" not in said
    # A SKU with ATP gets Allocate on its line with the most; a line arriving for a SKU that
    # nobody waits for only gets Review.
    allocate = [ViewState.from_json(b["value"]) for b in elements(message, ActionId.ALLOCATE)]
    assert [(s.po, s.line, s.sku) for s in allocate] == [
        ("PO-2", 1, "A"), ("PO-2", 1, "A"), ("PO-3", 1, "A")
    ]  # fmt: skip
    (review,) = elements(message, ActionId.REVIEW)
    assert ViewState.from_json(review["value"]) == ViewState(po="PO-3", line=2, sku="B")
    (sync,) = elements(message, ActionId.SYNC_DATE)
    assert ViewState.from_json(sync["value"]) == ViewState(po="PO-1", line=1, sku="A")
    assert digest_text(data) == (
        "Pre-order digest: 4 unallocated order lines in 2 SKUs (1 parked), 1 PO line with "
        "promises out of sync, 2 PO lines arriving soon with ATP, 4 order lines stranded by "
        "1 cancelled PO"
    )


def test_received_lines_ready_to_ship_are_counted_within_slacks_limits(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 10, "2027-01-10")),
        so("SO-1", 1, (1, "A", 3)),
        so("SO-2", 2, (1, "A", 4)),
    )
    e.receive(db, OTHER, "PO-1", 1, 7)
    data = digest(db, today=TODAY)
    assert data.ready == [ReadyBySku("A", 2, 7, data.ready[0].oldest_ready_at)]
    assert data.to_dict()["ready"]["lines"] == 2
    said = texts(validated(digest_message(data, now=NOW)))
    assert "*Received, ready to ship* · 2 lines, 7 units in 1 SKU" in said
    assert "`A` · 2 lines, 7 units" in said
    assert digest_text(data) == "Pre-order digest: 2 order lines received, ready to ship"
    many = Digest(
        [], [], today=TODAY, ready=[ReadyBySku(f"S{i:04d}", 2, 3, T0) for i in range(900)]
    )
    message = validated(digest_message(many, now=NOW))
    assert "more ready lines in" in texts(message)


def test_nothing_needs_attention_is_said_with_a_tick() -> None:
    quiet = Digest([], [], today=TODAY)
    message = validated(digest_message(quiet, now=NOW, sheet_url=sheet_url(SHEET_ID)))
    assert [b["type"] for b in message] == ["header", "context", "section", "actions"]
    assert message[2]["text"]["text"] == NOTHING == "Nothing needs attention :white_check_mark:"
    assert digest_text(quiet) == "Pre-order digest: nothing needs attention"
    assert sheet_url("  ") is None


# --- the buttons open the app's modals --------------------------------------------------------


def test_the_digests_buttons_open_the_matching_modals(slack_app: SlackApp) -> None:
    db = slack_app.db
    e.apply_records(
        db,
        OTHER,
        [po("PO-1", (1, "A", 10, "2026-11-04")), po("PO-2", (1, "B", 3, "2026-11-05"))],
        [so("SO-1", 1, (1, "A", 4)), so("SO-2", 2, (1, "A", 3)), so("SO-3", 3, (1, "B", 3))],
    )
    # Out of sync, ATP 3 arriving (on the digest's clock; the real one has passed it).
    e.set_arrival(db, OTHER, "PO-1", 1, date(2026, 11, 6), allow_past=True)
    e.remove(db, OTHER, "PO-2", 1, [R("SO-3", 1)])  # parked; PO-2:1 has ATP 3 again
    posted = post_digest(
        db, make_client(slack_app.slack), CHANNEL, now=NOW, sheet_url=sheet_url(SHEET_ID)
    )
    assert posted.channel == CHANNEL and not posted.empty
    (message,) = slack_app.messages()
    assert problems(message["blocks"], "message") == []

    slack_app.click(ActionId.SYNC_DATE, message=message)
    sync = slack_app.modal(0)
    assert sync["callback_id"] == CallbackId.SYNC_DATE_CONFIRM
    assert "PO-1:1" in texts(sync) and "2026-11-06" in texts(sync)

    value = next(
        b["accessory"]["value"]
        for b in message["blocks"]
        if b.get("accessory", {}).get("action_id") == ActionId.ALLOCATE
        and "`B`" in b["text"]["text"]
    )
    assert ViewState.from_json(value).po == "PO-2"
    slack_app.click(ActionId.ALLOCATE, value, message=message)
    confirm = slack_app.modal(1)
    assert confirm["callback_id"] == CallbackId.ALLOCATE_CONFIRM
    assert "*PO-2:1*" in texts(confirm) and "`B`" in texts(confirm)

    # The sheet link only needs an ack: no modal, no error message.
    opened = len(slack_app.slack.calls("views.open"))
    link = button_value(message, ActionId.OPEN_SHEET)
    answer = slack_app.click(ActionId.OPEN_SHEET, link, message=message)
    assert answer.status == 200
    assert len(slack_app.slack.calls("views.open")) == opened
    assert len(slack_app.messages()) == 1


# --- posting ----------------------------------------------------------------------------------


def test_post_digest_names_slacks_error(db: e.Database, slack_standin: SlackStandin) -> None:
    client = make_client(slack_standin)
    posted = post_digest(db, client, DIGEST_CHANNEL, now=NOW)
    assert posted.empty and posted.blocks == 3
    assert slack_standin.messages(DIGEST_CHANNEL)[0]["text"] == (
        "Pre-order digest: nothing needs attention"
    )
    slack_standin.refuse_channel("G0PRIVATE")
    with pytest.raises(DigestNotPosted) as refused:
        post_digest(db, client, "G0PRIVATE", now=NOW)
    assert refused.value.error == "channel_not_found"
    assert "channel_not_found" in str(refused.value) and "/invite @preorder" in str(refused.value)
    slack_standin.fail_next("chat.postMessage", status=500)
    with pytest.raises(DigestNotPosted, match="fatal_error"):
        post_digest(db, client, DIGEST_CHANNEL, now=NOW)
    with pytest.raises(DigestNotPosted, match="invalid_auth") as bad:
        post_digest(db, make_client(slack_standin, token="xoxb-wrong"), DIGEST_CHANNEL, now=NOW)
    assert bad.value.error == "invalid_auth"


POST_VARS = (
    "PREORDER_SLACK_BOT_TOKEN",
    "PREORDER_SLACK_API_URL",
    "PREORDER_DIGEST_CHANNEL",
    "PREORDER_SHEET_ID",
    "PREORDER_SLACK_TIMEOUT",
)


@pytest.fixture
def post_env(
    slack_standin: SlackStandin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str | None]:
    """The settings ``digest --post`` needs, aimed at the stand-in; nothing from a ``.env``."""
    for name in POST_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return {
        "PREORDER_SLACK_BOT_TOKEN": slack_standin.token,
        "PREORDER_SLACK_API_URL": slack_standin.url,
        "PREORDER_DIGEST_CHANNEL": DIGEST_CHANNEL,
    }


def test_digest_post_posts_to_the_channel(
    db: e.Database, load: Load, slack_standin: SlackStandin, post_env: dict[str, str | None]
) -> None:
    load(po("PO-1", (1, "A", 1, "2027-01-10")), so("SO-1", 1, (1, "A", 2)))
    result = run(db, "digest", "--post", env={**post_env, "PREORDER_SHEET_ID": SHEET_ID})
    assert result.exit_code == 0, result.output
    (message,) = slack_standin.messages(DIGEST_CHANNEL)
    blocks = len(message["blocks"])
    # Told by its ID, Slack's answer names the same: no "#" before an ID.
    assert result.stdout == f"Posted the digest to {DIGEST_CHANNEL}: {blocks} blocks\n"
    assert "`A` · 1 line, 2 units" in texts(message)
    assert message["text"].startswith("Pre-order digest: 1 unallocated order line in 1 SKU")
    (sheet,) = elements(message["blocks"], ActionId.OPEN_SHEET)
    assert sheet["url"].endswith(SHEET_ID)

    # By name: as given, with the ID Slack answers with.
    result = run(db, "digest", "--post", env={**post_env, "PREORDER_DIGEST_CHANNEL": "#buying"})
    assert result.exit_code == 0, result.output
    answered = slack_standin.last("chat.postMessage").response["channel"]
    assert answered.startswith("C") and answered != DIGEST_CHANNEL
    assert result.stdout == f"Posted the digest to #buying ({answered}): {blocks - 1} blocks\n"

    # By name, the channel is told by the ID Slack answers with, whatever name was given.
    result = run(
        db, "digest", "--post", "--json", env={**post_env, "PREORDER_DIGEST_CHANNEL": "#buying"}
    )
    assert result.exit_code == 0, result.output
    posted = json.loads(result.stdout)
    (message,) = [m for m in slack_standin.messages() if m["ts"] == posted["ts"]]
    assert posted == {
        "channel": message["channel"], "ts": message["ts"], "blocks": blocks - 1, "empty": False,
    }  # fmt: skip
    assert posted["channel"] == slack_standin.last("chat.postMessage").response["channel"]
    assert posted["channel"].startswith("C") and "buying" not in posted["channel"]


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        (("PREORDER_SLACK_BOT_TOKEN", "PREORDER_DIGEST_CHANNEL"),
         "PREORDER_SLACK_BOT_TOKEN, PREORDER_DIGEST_CHANNEL"),
        (("PREORDER_DIGEST_CHANNEL",), "PREORDER_DIGEST_CHANNEL"),
        (("PREORDER_SLACK_BOT_TOKEN",), "PREORDER_SLACK_BOT_TOKEN"),
    ],
)  # fmt: skip
def test_digest_post_without_its_settings_names_them(
    db: e.Database,
    slack_standin: SlackStandin,
    post_env: dict[str, str | None],
    unset: tuple[str, ...],
    named: str,
) -> None:
    result = run(db, "digest", "--post", env={**post_env, **dict.fromkeys(unset)})
    assert result.exit_code == 1 and result.stdout == ""
    assert error_line(result) == (
        f"error: posting the digest needs {named} (environment variables or .env)"
    )
    assert slack_standin.calls() == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PREORDER_SLACK_BOT_TOKEN": "xoxp-user"},
         "error: bad settings: PREORDER_SLACK_BOT_TOKEN: must be a bot token (xoxb-...)"),
        ({"PREORDER_SLACK_API_URL": "slack.com"},
         "error: bad settings: PREORDER_SLACK_API_URL: must be an https:// URL"),
        ({"PREORDER_SLACK_BOT_TOKEN": "xoxb-wrong"},
         f"error: Slack did not post the digest to {DIGEST_CHANNEL}: invalid_auth ("),
        ({"PREORDER_DIGEST_CHANNEL": "G0PRIVATE"},
         "error: Slack did not post the digest to G0PRIVATE: channel_not_found ("),
    ],
)  # fmt: skip
def test_digest_post_refused_says_why_in_one_line(
    db: e.Database,
    slack_standin: SlackStandin,
    post_env: dict[str, str | None],
    env: dict[str, str],
    message: str,
) -> None:
    slack_standin.refuse_channel("G0PRIVATE")
    result = run(db, "digest", "--post", env={**post_env, **env})
    assert result.exit_code == 1 and result.stdout == ""
    assert error_line(result).startswith(message)
    assert slack_standin.messages() == []


def test_the_posted_digest_gives_its_time_in_the_teams_zone(
    db: e.Database, load: Load, slack_standin: SlackStandin, post_env: dict[str, str | None]
) -> None:
    load(po("PO-1", (1, "A", 1, "2027-01-10")), so("SO-1", 1, (1, "A", 2)))
    env = {**post_env, "PREORDER_TIMEZONE": "America/New_York"}
    result = run(db, "digest", "--post", env=env)
    assert result.exit_code == 0, result.output
    (message,) = slack_standin.messages(DIGEST_CHANNEL)
    (as_of,) = [t for t in texts(message).splitlines() if t.startswith("As of ")]
    assert re.match(r"As of \d{4}-\d\d-\d\d \d\d:\d\d E[SD]T · ", as_of), as_of
    assert "UTC" not in as_of
    assert not problems(message["blocks"], "message")
