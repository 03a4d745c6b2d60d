"""The request builders of ``tests.standins.slack.signing`` are routed by a real slack_bolt App.

slack_bolt routes on Slack's field names and refuses badly signed or stale requests, so
dispatching each built payload to a Bolt app (whose WebClient talks to the stand-in) proves the
shapes and the signing are what the app will get from Slack.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from slack_bolt import Ack, App, BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from tests.standins.slack.fixtures import make_client
from tests.standins.slack.signing import (
    app_home_opened_event_body,
    block_actions_body,
    block_suggestion_body,
    signed_headers,
    slash_command_body,
    view_closed_body,
    view_submission_body,
)
from tests.standins.slack.standin import SlackStandin
from tests.standins.slack.view_state import state_values

SECRET = "test-signing-secret"

ALLOCATE_VIEW: dict[str, Any] = {
    "type": "modal",
    "callback_id": "allocate",
    "notify_on_close": True,
    "title": {"type": "plain_text", "text": "Allocate"},
    "submit": {"type": "plain_text", "text": "Allocate"},
    "blocks": [
        {
            "type": "input",
            "block_id": "lines",
            "label": {"type": "plain_text", "text": "Orders"},
            "element": {
                "type": "checkboxes",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "SO1 · 2"}, "value": "SO1:1"},
                    {"text": {"type": "plain_text", "text": "SO2 · 4"}, "value": "SO2:1"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "po",
            "label": {"type": "plain_text", "text": "PO line"},
            "element": {"type": "external_select", "action_id": "search", "min_query_length": 1},
        },
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
        {
            "type": "actions",
            "block_id": "tools",
            "elements": [
                {
                    "type": "button",
                    "action_id": "sync",
                    "text": {"type": "plain_text", "text": "Sync"},
                }
            ],
        },
    ],
}


def make_app(standin: SlackStandin, **options: Any) -> App:
    return App(client=make_client(standin), signing_secret=SECRET, **options)


def dispatch(app: App, body: str, **headers: str) -> BoltResponse:
    return app.dispatch(BoltRequest(body=body, headers={**signed_headers(body, SECRET), **headers}))


def test_a_slash_command_opens_a_modal_with_its_trigger_and_responds(
    slack_standin: SlackStandin,
) -> None:
    app = make_app(slack_standin, process_before_response=True)
    seen: dict[str, Any] = {}

    @app.command("/preorder")
    def preorder(ack: Any, command: dict[str, Any], client: Any, respond: Any) -> None:
        ack()
        seen.update(command)
        client.views_open(trigger_id=command["trigger_id"], view=ALLOCATE_VIEW)
        respond("Opening the allocation form…")

    url = slack_standin.new_response_url()
    body = slash_command_body(
        text="allocate PO1 1",
        user_id="U1",
        trigger_id=slack_standin.new_trigger_id("U1"),
        response_url=url,
    )
    response = dispatch(app, body)

    assert response.status == 200
    assert (seen["text"], seen["user_id"], seen["channel_id"]) == (
        "allocate PO1 1",
        "U1",
        "C0CHANNEL",
    )
    assert slack_standin.views_opened()[0]["callback_id"] == "allocate"
    assert slack_standin.responses(url)[0].body["text"] == "Opening the allocation form…"
    assert slack_standin.calls("auth.test")  # Bolt checked its token against the stand-in


def test_a_command_handled_after_the_ack_is_seen_with_wait_for(slack_standin: SlackStandin) -> None:
    app = make_app(slack_standin)  # Bolt's default: ack first, run the listener in a thread

    @app.command("/preorder")
    def preorder(ack: Any, say: Any) -> None:
        ack()
        time.sleep(0.05)
        say("Digest: 3 lines out of sync")

    assert dispatch(app, slash_command_body(text="digest")).status == 200
    call = slack_standin.wait_for("chat.postMessage")[0]
    assert (call.params["channel"], call.params["text"]) == (
        "C0CHANNEL",
        "Digest: 3 lines out of sync",
    )


def test_a_default_trigger_is_stale_like_an_old_one(slack_standin: SlackStandin) -> None:
    app = make_app(slack_standin, process_before_response=True)
    errors: list[str] = []

    @app.command("/preorder")
    def preorder(ack: Any, command: dict[str, Any], client: Any) -> None:
        ack()
        try:
            client.views_open(trigger_id=command["trigger_id"], view=ALLOCATE_VIEW)
        except SlackApiError as exc:
            errors.append(exc.response["error"])

    dispatch(app, slash_command_body())
    assert errors == ["expired_trigger_id"]


def test_block_actions_in_a_modal_and_in_a_message_are_routed(slack_standin: SlackStandin) -> None:
    app = make_app(slack_standin, process_before_response=True)
    seen: list[dict[str, Any]] = []

    @app.action("sync")
    def sync(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        seen.append({**body, "kind": body["container"]["type"], "block": action["block_id"]})

    client = make_client(slack_standin)
    view = client.views_open(trigger_id=slack_standin.new_trigger_id(), view=ALLOCATE_VIEW)["view"]
    dispatch(app, block_actions_body("sync", "PO1:1", view=view, answers={"pick": ["SO2:1"]}))
    message = client.chat_postMessage(channel="C1", text="t", blocks=ALLOCATE_VIEW["blocks"][3:])
    url = slack_standin.new_response_url()
    dispatch(
        app,
        block_actions_body("sync", message=message["message"], channel_id="C1", response_url=url),
    )

    in_view, in_message = seen
    assert (in_view["kind"], in_view["block"], in_view["view"]["id"]) == (
        "view",
        "tools",
        view["id"],
    )
    assert (
        in_view["view"]["state"]["values"]["lines"]["pick"]["selected_options"][0]["value"]
        == "SO2:1"
    )
    assert "response_url" not in in_view  # Slack gives none for modals
    assert (in_message["kind"], in_message["channel"]["id"]) == ("message", "C1")
    assert in_message["container"]["message_ts"] == message["ts"] == in_message["message"]["ts"]
    assert in_message["response_url"] == url


def test_a_view_submission_carries_the_answers_and_can_answer_errors(
    slack_standin: SlackStandin,
) -> None:
    app = make_app(slack_standin, process_before_response=True)
    values: dict[str, Any] = {}

    @app.view("allocate")
    def allocate(ack: Any, view: dict[str, Any]) -> None:
        values.update(view["state"]["values"])
        ack(response_action="errors", errors={"po": "PO1 line 1 has only 4 units free"})

    client = make_client(slack_standin)
    view = client.views_open(trigger_id=slack_standin.new_trigger_id(), view=ALLOCATE_VIEW)["view"]
    answers = {"lines/pick": ["SO1:1", "SO2:1"], "search": "PO1:1"}
    response = dispatch(app, view_submission_body(view, answers=answers, user_id="U1"))

    assert response.status == 200
    assert json.loads(response.body)["response_action"] == "errors"
    assert [o["value"] for o in values["lines"]["pick"]["selected_options"]] == ["SO1:1", "SO2:1"]
    assert values["po"]["search"]["selected_option"]["value"] == "PO1:1"
    assert values["note"]["text"] == {"type": "plain_text_input", "value": None}  # unanswered


def test_view_closed_and_block_suggestion_are_routed(slack_standin: SlackStandin) -> None:
    app = make_app(slack_standin, process_before_response=True)
    closed: list[bool] = []

    @app.view_closed("allocate")
    def on_close(ack: Any, body: dict[str, Any]) -> None:
        ack()
        closed.append(body["is_cleared"])

    @app.options("search")
    def search(ack: Any, payload: dict[str, Any]) -> None:
        query = payload["value"]
        ack(
            options=[
                {"text": {"type": "plain_text", "text": f"{query} line 1"}, "value": f"{query}:1"}
            ]
        )

    assert dispatch(app, view_closed_body(ALLOCATE_VIEW)).status == 200
    answer = dispatch(app, block_suggestion_body("search", "PO7", view=ALLOCATE_VIEW))

    assert closed == [False]
    assert json.loads(answer.body)["options"][0]["value"] == "PO7:1"


def test_app_home_opened_is_routed_and_the_home_tab_published(slack_standin: SlackStandin) -> None:
    app = make_app(slack_standin, process_before_response=True)

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: Any) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "3 out of sync"}}
                ],
            },
        )

    assert dispatch(app, app_home_opened_event_body("U1")).status == 200
    published = slack_standin.home_view("U1")
    assert published is not None and published["blocks"][0]["text"]["text"] == "3 out of sync"


@pytest.mark.parametrize("tamper", ["signature", "stale", "secret"])
def test_bolt_refuses_requests_not_signed_as_slack_signs(
    slack_standin: SlackStandin, tamper: str
) -> None:
    app = make_app(slack_standin, process_before_response=True)
    ran: list[str] = []

    def listener(ack: Ack) -> None:
        ran.append("ran")
        ack()

    app.command("/preorder")(listener)
    body = slash_command_body()
    headers = signed_headers(body, SECRET)
    if tamper == "signature":
        good = headers["X-Slack-Signature"]
        headers["X-Slack-Signature"] = good[:-1] + ("1" if good.endswith("0") else "0")
    elif tamper == "stale":
        headers = signed_headers(body, SECRET, timestamp=int(time.time()) - 301)
    else:
        headers = signed_headers(body, "not-the-secret")

    assert app.dispatch(BoltRequest(body=body, headers=dict(headers))).status == 401
    assert ran == []


def test_state_values_refuse_an_option_the_view_does_not_offer() -> None:
    with pytest.raises(ValueError, match="does not offer 'SO9:1'"):
        state_values(ALLOCATE_VIEW, {"pick": ["SO9:1"]})
    with pytest.raises(ValueError, match="no element for answers"):
        state_values(ALLOCATE_VIEW, {"missing": "x"})
