"""The Slack Web API stand-in answers the real slack_sdk WebClient the way Slack does.

These tests pin the behaviour the app's tests will rely on: triggers that expire and cannot be
reused, views refused for breaking a platform limit, 429 with Retry-After (retried by
slack_sdk's RateLimitErrorRetryHandler), 5xx surfacing, view hashes, the modal stack, response
URLs with their 5-use limit, ``apps.connections.open`` answering the app-level token only, and
request signing that slack_sdk's own verifier accepts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from tests.standins.slack.fixtures import make_client
from tests.standins.slack.signing import signed_headers, slash_command_body
from tests.standins.slack.standin import TRIGGER_ERRORS, SlackStandin


def modal(*blocks: dict[str, Any], title: str = "Allocate", **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "allocate",
        "title": {"type": "plain_text", "text": title},
        "blocks": list(blocks) or [section("Pick the orders to allocate.")],
    }
    view.update(extra)
    return view


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def options(count: int, text: str = "Order", value: str = "SO") -> list[dict[str, Any]]:
    return [
        {"text": {"type": "plain_text", "text": f"{text} {i}"}, "value": f"{value}{i}"}
        for i in range(count)
    ]


def input_block(element: dict[str, Any], block_id: str = "pick") -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": "Orders"},
        "element": element,
    }


def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


# --- triggers ---------------------------------------------------------------------------------


def test_views_open_with_a_fresh_trigger_succeeds_and_is_recorded(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    view = modal(private_metadata="PO1:1")
    answer = slack_client.views_open(trigger_id=slack_standin.new_trigger_id("U1"), view=view)

    opened = answer["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["root_view_id"] == opened["id"] and opened["private_metadata"] == "PO1:1"
    call = slack_standin.last("views.open")
    assert call.ok and call.params["view"] == view
    assert call.headers["authorization"] == f"Bearer {slack_standin.token}"
    assert call.headers["content-type"].startswith("application/json")
    assert slack_standin.views_opened() == [opened]
    assert slack_standin.modal_stack("U1") == [opened]


def test_a_trigger_works_once(slack_standin: SlackStandin, slack_client: WebClient) -> None:
    trigger = slack_standin.new_trigger_id()
    slack_client.views_open(trigger_id=trigger, view=modal())

    error = api_error(lambda: slack_client.views_open(trigger_id=trigger, view=modal()))

    assert error.response["error"] == "exchanged_trigger_id"  # Slack's name for a reused one
    assert error.response["error"] in TRIGGER_ERRORS
    assert len(slack_standin.views_opened()) == 1


def test_an_expired_trigger_cannot_open_a_view(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    trigger = slack_standin.new_trigger_id(ttl=0.05)
    time.sleep(0.1)

    error = api_error(lambda: slack_client.views_open(trigger_id=trigger, view=modal()))

    assert error.response["error"] == "expired_trigger_id"


def test_triggers_last_three_seconds_by_default(slack_standin: SlackStandin) -> None:
    trigger = slack_standin.new_trigger_id()
    assert 2.9 < slack_standin._workspace.triggers[trigger].expires_at - time.monotonic() <= 3.0


@pytest.mark.parametrize(
    ("trigger", "error"),
    [("1700000000.123.deadbeef", "expired_trigger_id"), ("not-a-trigger", "invalid_trigger_id")],
)
def test_a_trigger_the_standin_never_issued_is_refused(
    slack_client: WebClient, trigger: str, error: str
) -> None:
    refused = api_error(lambda: slack_client.views_open(trigger_id=trigger, view=modal()))
    assert refused.response["error"] == error


# --- platform limits --------------------------------------------------------------------------

LIMIT_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "101 blocks",
        modal(*[{"type": "divider"}] * 101),
        "no more than 100 items allowed [json-pointer:/view/blocks]",
    ),
    (
        "11 checkboxes",
        modal(input_block({"type": "checkboxes", "action_id": "lines", "options": options(11)})),
        "no more than 10 items allowed [json-pointer:/view/blocks/0/element/options]",
    ),
    (
        "11 radio buttons",
        modal(input_block({"type": "radio_buttons", "action_id": "po", "options": options(11)})),
        "no more than 10 items allowed [json-pointer:/view/blocks/0/element/options]",
    ),
    (
        "101 select options",
        modal(input_block({"type": "static_select", "action_id": "po", "options": options(101)})),
        "no more than 100 items allowed [json-pointer:/view/blocks/0/element/options]",
    ),
    (
        "title of 25",
        modal(title="x" * 25),
        "must be less than 25 characters [json-pointer:/view/title/text]",
    ),
    (
        "submit of 25",
        modal(submit={"type": "plain_text", "text": "y" * 25}),
        "must be less than 25 characters [json-pointer:/view/submit/text]",
    ),
    (
        "close of 25",
        modal(close={"type": "plain_text", "text": "z" * 25}),
        "must be less than 25 characters [json-pointer:/view/close/text]",
    ),
    (
        "private_metadata of 3001",
        modal(private_metadata="m" * 3001),
        "must be less than 3001 characters [json-pointer:/view/private_metadata]",
    ),
    (
        "callback_id of 256",
        modal(callback_id="c" * 256),
        "must be less than 256 characters [json-pointer:/view/callback_id]",
    ),
    (
        "section text of 3001",
        modal(section("s" * 3001)),
        "must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]",
    ),
    (
        "header of 151",
        modal({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}),
        "must be less than 151 characters [json-pointer:/view/blocks/0/text/text]",
    ),
    (
        "option text of 76",
        modal(
            input_block(
                {"type": "static_select", "action_id": "po", "options": options(1, "t" * 76)}
            ),
            submit={"type": "plain_text", "text": "Go"},
        ),
        "must be less than 76 characters [json-pointer:/view/blocks/0/element/options/0/text/text]",
    ),
    (
        "option value of 151",
        modal(
            input_block(
                {"type": "static_select", "action_id": "po", "options": options(1, value="v" * 151)}
            ),
            submit={"type": "plain_text", "text": "Go"},
        ),
        "must be less than 151 characters [json-pointer:/view/blocks/0/element/options/0/value]",
    ),
    (
        "duplicate block_id",
        modal(section("a", block_id="row"), section("b", block_id="row")),
        'duplicate block_id "row" [json-pointer:/view/blocks/1/block_id]',
    ),
    (
        "duplicate action_id in a block",
        modal(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "go",
                        "text": {"type": "plain_text", "text": "A"},
                    },
                    {
                        "type": "button",
                        "action_id": "go",
                        "text": {"type": "plain_text", "text": "B"},
                    },
                ],
            }
        ),
        'duplicate action_id "go" in one block [json-pointer:/view/blocks/0/elements/1/action_id]',
    ),
    (
        "no title",
        {"type": "modal", "blocks": []},
        "must provide an object [json-pointer:/view/title]",
    ),
    (
        "input without label",
        modal(
            {"type": "input", "element": {"type": "plain_text_input", "action_id": "q"}},
            submit={"type": "plain_text", "text": "Go"},
        ),
        "must provide an object [json-pointer:/view/blocks/0/label]",
    ),
    (
        "input without element",
        modal(
            {"type": "input", "label": {"type": "plain_text", "text": "Qty"}},
            submit={"type": "plain_text", "text": "Go"},
        ),
        "must provide an object [json-pointer:/view/blocks/0/element]",
    ),
]


@pytest.mark.parametrize(("case", "view", "reason"), LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_views_open_refuses_a_view_over_a_platform_limit(
    slack_standin: SlackStandin,
    slack_client: WebClient,
    case: str,
    view: dict[str, Any],
    reason: str,
) -> None:
    trigger = slack_standin.new_trigger_id()

    error = api_error(lambda: slack_client.views_open(trigger_id=trigger, view=view))

    assert error.response["error"] == "invalid_arguments"
    assert f"[ERROR] {reason}" in error.response["response_metadata"]["messages"]
    assert reason in str(error)  # the SlackApiError text names the limit
    assert slack_standin.views_opened() == []
    # validation comes before the trigger is exchanged, so a fixed view can still open
    slack_client.views_open(trigger_id=trigger, view=modal())


def test_the_same_action_id_in_different_blocks_is_accepted(
    slack_client: WebClient, slack_standin: SlackStandin
) -> None:
    button = {
        "type": "button",
        "action_id": "remove",
        "text": {"type": "plain_text", "text": "Remove"},
    }
    view = modal(section("SO1", accessory=button), section("SO2", accessory=button))
    assert slack_client.views_open(trigger_id=slack_standin.new_trigger_id(), view=view)["ok"]


def test_views_at_exactly_the_limits_are_accepted(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    checkboxes = {"type": "checkboxes", "action_id": "lines", "options": options(10)}
    select = {"type": "static_select", "action_id": "po", "options": options(100)}
    blocks = [
        input_block(checkboxes, "lines"),
        input_block(select, "po"),
        *[{"type": "divider"}] * 98,
    ]
    view = modal(
        *blocks,
        title="t" * 24,
        submit={"type": "plain_text", "text": "s" * 24},
        private_metadata="m" * 3000,
    )
    assert slack_client.views_open(trigger_id=slack_standin.new_trigger_id(), view=view)["ok"]


def test_messages_are_limited_to_50_blocks(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    blocks = [section(f"line {i}") for i in range(51)]

    error = api_error(lambda: slack_client.chat_postMessage(channel="C1", text="t", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert error.response["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert slack_standin.messages() == []
    assert slack_client.chat_postMessage(channel="C1", text="t", blocks=blocks[:50])["ok"]


def test_home_tab_is_limited_to_100_blocks(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    home = {"type": "home", "blocks": [{"type": "divider"}] * 101}

    error = api_error(lambda: slack_client.views_publish(user_id="U1", view=home))

    assert "no more than 100 items allowed [json-pointer:/view/blocks]" in str(error)
    home["blocks"] = home["blocks"][:100]
    published = slack_client.views_publish(user_id="U1", view=home)["view"]
    assert slack_standin.home_view("U1") == published


# --- rate limits and failures -----------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_by_the_rate_limit_handler(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    slack_standin.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()

    answer = slack_client.chat_postMessage(channel="C1", text="Digest")

    assert answer["ok"] and time.monotonic() - started >= 1.0  # it waited Retry-After
    calls = slack_standin.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].error == "ratelimited"
    assert len(slack_standin.messages("C1")) == 1


def test_a_429_surfaces_with_its_retry_after_without_a_retry_handler(
    slack_standin: SlackStandin,
) -> None:
    client = make_client(slack_standin, retries=0)
    slack_standin.fail_next("views.update", status=429, retry_after=7)

    error = api_error(lambda: client.views_update(view_id="V1", view=modal()))

    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_surfaces_as_slack_api_error(
    slack_standin: SlackStandin, slack_client: WebClient, status: int
) -> None:
    slack_standin.fail_next("chat.postMessage", status=status)

    error = api_error(lambda: slack_client.chat_postMessage(channel="C1", text="x"))

    assert error.response.status_code == status
    assert len(slack_standin.calls("chat.postMessage")) == 1  # not retried
    assert slack_client.chat_postMessage(channel="C1", text="x")["ok"]  # only the next call


def test_any_slack_error_can_be_injected(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    slack_standin.fail_next("chat.postMessage", status=200, error="not_in_channel", times=2)

    for _ in range(2):
        error = api_error(lambda: slack_client.chat_postMessage(channel="C1", text="x"))
        assert error.response["error"] == "not_in_channel"
    assert slack_client.chat_postMessage(channel="C1", text="x")["ok"]


def test_a_stalled_call_outlasts_the_clients_timeout_and_only_that_call(
    slack_standin: SlackStandin,
) -> None:
    # slack_sdk annotates timeout as int, but hands it to urllib, which takes any seconds.
    client = WebClient(
        token=slack_standin.token,
        base_url=slack_standin.url,
        timeout=0.2,  # type: ignore[arg-type]
    )
    slack_standin.stall_next("chat.postMessage", seconds=30)
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        client.chat_postMessage(channel="C1", text="hangs")

    assert time.monotonic() - started < 1.0  # the client gave up, the test did not wait 30 s
    (held,) = slack_standin.stalled("chat.postMessage")
    assert (held.status, held.params["text"]) == (0, "hangs")
    assert slack_standin.calls("chat.postMessage") == []  # not answered (yet)
    assert client.chat_postMessage(channel="C1", text="next")["ok"]  # only the next call
    assert client.views_open(trigger_id=slack_standin.new_trigger_id(), view=modal())["ok"]


def test_a_stall_shorter_than_the_timeout_is_answered_late(slack_standin: SlackStandin) -> None:
    client = WebClient(token=slack_standin.token, base_url=slack_standin.url, timeout=5)
    slack_standin.stall_next("chat.postMessage", seconds=0.2, times=2)
    started = time.monotonic()

    for text in ("one", "two"):
        assert client.chat_postMessage(channel="C1", text=text)["ok"]

    assert time.monotonic() - started >= 0.4
    assert [m["text"] for m in slack_standin.messages("C1")] == ["one", "two"]
    assert len(slack_standin.stalled()) == 2 and len(slack_standin.calls()) == 2


def test_stopping_wakes_stalled_calls_and_drops_them_unanswered() -> None:
    standin = SlackStandin().start()
    # No retry handlers: slack_sdk's default would retry the dropped connection after a pause.
    client = WebClient(token=standin.token, base_url=standin.url, timeout=10, retry_handlers=[])
    standin.stall_next("views.update", seconds=60)
    caught: list[BaseException] = []

    def call() -> None:
        try:
            client.views_update(view_id="V1", view=modal())
        except Exception as exc:  # whatever a connection closed unanswered raises
            caught.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 2
    while not standin.stalled("views.update") and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    standin.stop()
    caller.join(timeout=5)

    assert time.monotonic() - started < 1.0 and not caller.is_alive()
    assert len(caught) == 1 and standin.calls() == []
    assert not standin.internal_errors


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
def test_a_refused_channel_answers_its_error_to_every_chat_method(
    slack_standin: SlackStandin, slack_client: WebClient, error: str
) -> None:
    slack_standin.refuse_channel("C0SECRET", error)
    posted = slack_client.chat_postMessage(channel="C1", text="elsewhere")

    for call in (
        lambda: slack_client.chat_postMessage(channel="C0SECRET", text="x"),
        lambda: slack_client.chat_postEphemeral(channel="C0SECRET", user="U1", text="x"),
        lambda: slack_client.chat_update(channel="C0SECRET", ts=posted["ts"], text="x"),
    ):
        assert api_error(call).response["error"] == error
    assert slack_client.chat_postMessage(channel="U1", text="a DM")["ok"]
    slack_standin.clear()  # configuration, kept
    assert api_error(lambda: slack_client.chat_postMessage(channel="C0SECRET", text="x"))
    slack_standin.refuse_channel("C0SECRET", None)
    assert slack_client.chat_postMessage(channel="C0SECRET", text="invited")["ok"]
    assert [m["text"] for m in slack_standin.messages()] == ["invited"]


def test_posting_faster_than_about_one_per_second_per_channel_is_rate_limited(
    slack_standin: SlackStandin,
) -> None:
    client = make_client(slack_standin, retries=0)
    slack_standin.enforce_post_rate(burst=3)

    for _ in range(3):
        client.chat_postMessage(channel="C1", text="burst")
    error = api_error(lambda: client.chat_postMessage(channel="C1", text="one too many"))

    assert error.response.status_code == 429
    assert int(error.response.headers["Retry-After"]) >= 1
    assert client.chat_postMessage(channel="C2", text="another channel")["ok"]
    slack_standin.enforce_post_rate(False)
    assert client.chat_postMessage(channel="C1", text="off again")["ok"]


# --- views: hashes and the modal stack --------------------------------------------------------


def test_views_update_with_a_stale_hash_is_a_hash_conflict(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    opened = slack_client.views_open(trigger_id=slack_standin.new_trigger_id(), view=modal())[
        "view"
    ]
    updated = slack_client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal(section("Allocated."))
    )["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]

    error = api_error(
        lambda: slack_client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    )

    assert error.response["error"] == "hash_conflict"
    assert slack_standin.view(opened["id"])["blocks"] == updated["blocks"]


def test_views_update_finds_views_by_external_id_and_refuses_unknown_ones(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    slack_client.views_open(
        trigger_id=slack_standin.new_trigger_id(), view=modal(external_id="po-1")
    )

    updated = slack_client.views_update(external_id="po-1", view=modal(section("new")))["view"]
    assert updated["blocks"][0]["text"]["text"] == "new"
    assert (
        api_error(lambda: slack_client.views_update(view_id="VNOPE", view=modal())).response[
            "error"
        ]
        == "not_found"
    )


def test_the_modal_stack_holds_three_views(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    root = slack_client.views_open(trigger_id=slack_standin.new_trigger_id("U1"), view=modal())[
        "view"
    ]
    second = slack_client.views_push(
        trigger_id=slack_standin.new_trigger_id("U1", view_id=root["id"]), view=modal(title="Two")
    )["view"]
    third = slack_client.views_push(
        trigger_id=slack_standin.new_trigger_id("U1", view_id=second["id"]), view=modal(title="3")
    )["view"]
    assert (third["root_view_id"], third["previous_view_id"]) == (root["id"], second["id"])

    error = api_error(
        lambda: slack_client.views_push(
            trigger_id=slack_standin.new_trigger_id("U1", view_id=third["id"]), view=modal()
        )
    )

    assert error.response["error"] == "push_limit_reached"
    slack_standin.close_view(third["id"])
    assert len(slack_standin.modal_stack("U1")) == 2
    closed = api_error(lambda: slack_client.views_update(view_id=third["id"], view=modal()))
    assert closed.response["error"] == "not_found"
    assert slack_client.views_push(trigger_id=slack_standin.new_trigger_id("U1"), view=modal())[
        "ok"
    ]


# --- messages, users, groups, auth ------------------------------------------------------------


def test_messages_are_kept_and_updated(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    posted = slack_client.chat_postMessage(channel="C1", text="PO1 arrives 3 June")
    slack_client.chat_postEphemeral(channel="C1", user="U1", text="Only you")
    slack_client.chat_update(channel="C1", ts=posted["ts"], text="PO1 arrives 5 June")

    messages = slack_standin.messages("C1")
    assert [m["text"] for m in messages] == ["PO1 arrives 5 June", "Only you"]
    assert messages[1]["ephemeral"] and messages[1]["recipient"] == "U1"
    assert slack_standin.messages("C2") == []
    missing = api_error(lambda: slack_client.chat_update(channel="C1", ts="1.2", text="x"))
    assert missing.response["error"] == "message_not_found"


def test_chat_answers_with_the_conversation_id_however_the_channel_was_named(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    by_name = slack_client.chat_postMessage(channel="#buying", text="by name")
    channel = by_name["channel"]
    assert channel.startswith("C") and channel != "#buying"
    assert slack_client.chat_postMessage(channel="buying", text="again")["channel"] == channel
    assert slack_client.chat_postMessage(channel=channel, text="by id")["channel"] == channel
    dm = slack_client.chat_postMessage(channel="U0ADA", text="a DM")["channel"]
    assert dm.startswith("D") and dm != "U0ADA"
    assert slack_client.chat_postMessage(channel="U0ADA", text="another")["channel"] == dm
    slack_client.chat_postEphemeral(channel="#buying", user="U0ADA", text="only you")

    # Kept under the ID, found by any of the names.
    assert [m["text"] for m in slack_standin.messages(channel)] == [
        "by name", "again", "by id", "only you"
    ]  # fmt: skip
    assert slack_standin.messages("#buying") == slack_standin.messages(channel)
    assert {m["channel"] for m in slack_standin.messages("U0ADA")} == {dm}
    # chat.update finds a message by the ID only, as on Slack.
    for name in ("#buying", "buying"):
        error = api_error(
            lambda name=name: slack_client.chat_update(channel=name, ts=by_name["ts"], text="x")
        )
        assert error.response["error"] == "channel_not_found"
    assert slack_client.chat_update(channel=channel, ts=by_name["ts"], text="edited")["ok"]
    # What names no conversation at all is refused.
    for nothing in ("#no such channel", "", "#"):
        error = api_error(lambda n=nothing: slack_client.chat_postMessage(channel=n, text="x"))
        assert error.response["error"] == "channel_not_found"
    # A channel refused by name is refused by its ID too.
    slack_standin.refuse_channel("#private", "not_in_channel")
    private = slack_standin.conversation_id("#private")
    error = api_error(lambda: slack_client.chat_postMessage(channel=private, text="x"))
    assert error.response["error"] == "not_in_channel"


def test_usergroups_and_users_answer_from_configuration() -> None:
    with SlackStandin(usergroups={"S1": ["U1", "U2"]}, users={"U1": {"tz": "Europe/Paris"}}) as s:
        client = make_client(s)
        assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
        error = api_error(lambda: client.usergroups_users_list(usergroup="S9"))
        assert error.response["error"] == "no_such_subteam"
        assert client.users_info(user="U1")["user"]["tz"] == "Europe/Paris"
        assert client.users_info(user="U7")["user"]["id"] == "U7"
        s.strict_users = True
        assert api_error(lambda: client.users_info(user="U7")).response["error"] == "user_not_found"


def test_form_encoded_calls_are_read_like_json_ones(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]'
    slack_client.api_call(
        "chat.postMessage", params={"channel": "C1", "text": "t", "blocks": blocks}
    )

    call = slack_standin.last("chat.postMessage")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"][0]["text"]["text"] == "hi"


def test_a_wrong_or_missing_token_is_refused(slack_standin: SlackStandin) -> None:
    wrong = make_client(slack_standin, token="xoxb-wrong")
    assert api_error(wrong.auth_test).response["error"] == "invalid_auth"
    missing = WebClient(base_url=slack_standin.url)
    assert api_error(missing.auth_test).response["error"] == "not_authed"
    assert make_client(slack_standin).auth_test()["user_id"] == slack_standin.bot_user_id
    assert [c.ok for c in slack_standin.calls("auth.test")] == [False, False, True]


def test_apps_connections_open_gives_a_socket_url_to_the_app_token_only(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    client = WebClient(base_url=slack_standin.url)
    app_token = slack_standin.app_token

    def refusal(token: str) -> str:
        with pytest.raises(SlackApiError) as refused:
            client.apps_connections_open(app_token=token)
        return str(refused.value.response["error"])

    assert refusal(app_token) == "invalid_auth"  # Socket Mode off: an app token like any other
    urls = iter(["ws://127.0.0.1:1/link/?ticket=a", "ws://127.0.0.1:1/link/?ticket=b"])
    slack_standin.socket_url = lambda: next(urls)
    assert client.apps_connections_open(app_token=app_token)["url"].endswith("ticket=a")
    assert client.apps_connections_open(app_token=app_token)["url"].endswith("ticket=b")
    assert refusal(slack_standin.token) == "not_allowed_token_type"
    assert refusal("xapp-1-A0APP-1-forged") == "invalid_auth"
    # The app-level token is for connections only.
    wrong_kind = make_client(slack_standin, token=app_token, retries=0)
    assert api_error(wrong_kind.auth_test).response["error"] == "not_allowed_token_type"
    assert slack_client.auth_test()["ok"]


def test_an_unknown_method_is_refused(slack_client: WebClient) -> None:
    assert (
        api_error(lambda: slack_client.api_call("pins.add")).response["error"] == "unknown_method"
    )


def test_wait_for_sees_calls_made_after_the_ack(
    slack_standin: SlackStandin, slack_client: WebClient
) -> None:
    later = threading.Timer(0.1, lambda: slack_client.chat_postMessage(channel="C1", text="late"))
    later.start()
    assert slack_standin.wait_for("chat.postMessage", timeout=3)[0].params["text"] == "late"
    with pytest.raises(AssertionError, match=r"views\.open called 0 times"):
        slack_standin.wait_for("views.open", timeout=0.1)
    slack_standin.clear()
    assert slack_standin.calls() == [] and slack_standin.messages() == []


# --- response URLs ----------------------------------------------------------------------------


def test_response_url_posts_are_recorded_and_limited_to_five(slack_standin: SlackStandin) -> None:
    url = slack_standin.new_response_url()
    respond = Respond(response_url=url)

    for n in range(5):
        assert respond(text=f"update {n}", replace_original=True).status_code == 200
    sixth = respond(text="one too many")

    assert (sixth.status_code, sixth.body) == (404, "used_url")
    posts = slack_standin.responses(url)
    assert [p.body["text"] for p in posts] == [f"update {n}" for n in range(5)]
    assert posts[0].body["replace_original"] is True
    assert len(slack_standin.responses(url, include_refused=True)) == 6
    assert slack_standin.responses(slack_standin.new_response_url()) == []


def test_response_urls_expire_and_refuse_invalid_blocks() -> None:
    with SlackStandin(response_url_ttl=0.05) as standin:
        expired = standin.new_response_url()
        time.sleep(0.1)
        assert Respond(response_url=expired)(text="late").body == "expired_url"
    with SlackStandin() as standin:
        url = standin.new_response_url()
        answer = Respond(response_url=url)(blocks=[{"type": "divider"}] * 51)
        assert (answer.status_code, answer.body) == (400, "invalid_blocks")


# --- signing ----------------------------------------------------------------------------------


def test_signed_headers_are_accepted_by_slack_sdks_verifier() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = slash_command_body(text="review PO1 1")
    headers = signed_headers(body, secret)
    verifier = SignatureVerifier(secret)

    assert verifier.is_valid_request(body, headers)
    assert verifier.is_valid_request(body.encode(), signed_headers(body.encode(), secret))
    assert not verifier.is_valid_request(body + "&x=1", headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    stale = signed_headers(body, secret, timestamp=int(time.time()) - 6 * 60)
    assert not verifier.is_valid_request(body, stale)  # older than 5 minutes


def test_signed_headers_match_slacks_documented_example() -> None:
    """The worked example in Slack's "Verifying requests from Slack" guide."""
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect"
        "&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554"
        "%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = signed_headers(body, "8f742231b10e8888abcd99yyyzzz85a5", timestamp=1531420618)
    assert headers["X-Slack-Signature"] == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )
