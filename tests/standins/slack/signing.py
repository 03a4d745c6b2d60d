"""Requests as Slack sends them to the app: signed, and with Slack's payload shapes.

slack_bolt refuses a request whose signature or timestamp is wrong and routes on real field
names (``command``, ``type``, ``actions[].action_id``, ``view.callback_id``, ``action_id`` of a
block_suggestion, ``event.type``), so tests must send exactly what Slack sends. Shapes follow
Slack's documented payloads and slack_bolt's own test fixtures: slash commands are form fields;
interactivity (block_actions, view_submission, view_closed, block_suggestion) is one form field
``payload=<json>``; events are a JSON ``event_callback`` envelope.

Each shape has two builders: ``*_payload`` (``slash_command_fields`` for a command) gives the
dict, which Socket Mode carries as is in an envelope's ``payload``
(:mod:`tests.standins.slack.socket_mode`), and ``*_body`` encodes that dict as Slack posts it
over HTTP.

Defaults match :class:`tests.standins.slack.standin.SlackStandin` (team ``T0TEST``, app
``A0APP``, bot user ``U0BOT``). A ``trigger_id`` left out is a well-formed one the stand-in
never issued (so ``views.open`` answers ``expired_trigger_id``, as Slack does for a stale
one); a ``response_url`` left out is omitted, so ``respond()`` fails loudly instead of reaching out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec
from urllib.parse import urlencode

from tests.standins.slack.view_state import state_values

TEAM_ID = "T0TEST"
TEAM_DOMAIN = "preorder-test"
APP_ID = "A0APP"
BOT_USER_ID = "U0BOT"
USER_ID = "U0USER"
VERIFICATION_TOKEN = "verification-token"  # deprecated by Slack but still sent in payloads

P = ParamSpec("P")


def signed_headers(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack adds: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``.

    Also a ``Content-Type`` matching the body (JSON for events, form otherwise), since Slack
    always sends one. Pass an old ``timestamp`` to prove the app refuses replays (> 5 minutes).
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode("utf-8"), b"v0:%d:" % stamp + raw, hashlib.sha256)
    json_body = raw.lstrip()[:1] == b"{"
    return {
        "Content-Type": "application/json" if json_body else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def new_trigger_id() -> str:
    """A well-formed trigger_id that no stand-in issued (so it cannot open a modal)."""
    return f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"


def slash_command_fields(
    command: str = "/preorder",
    text: str = "",
    *,
    user_id: str = USER_ID,
    user_name: str = "merchandiser",
    trigger_id: str | None = None,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
    channel_id: str = "C0CHANNEL",
    channel_name: str = "preorders",
    api_app_id: str = APP_ID,
) -> dict[str, str]:
    """A slash command's fields: form-encoded over HTTP, an envelope's payload over Socket
    Mode."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
    }
    if response_url is not None:
        fields["response_url"] = response_url
    fields["trigger_id"] = trigger_id or new_trigger_id()
    return fields


def block_actions_payload(
    action_id: str,
    value: str | None = None,
    *,
    block_id: str | None = None,
    action_type: str = "button",
    fields: Mapping[str, Any] | None = None,
    user_id: str = USER_ID,
    view: Mapping[str, Any] | None = None,
    answers: Mapping[str, Any] | None = None,
    channel_id: str = "C0CHANNEL",
    message: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A click (or selection) on a Block Kit element, in a view or in a message.

    With ``view`` (a modal or Home tab, e.g. from ``standin.views_opened()``) the container is
    that view and there is no response_url, as with Slack; otherwise the container is
    ``message`` in ``channel_id``. ``fields`` adds element-specific keys to the action
    (``selected_option``, ``selected_date``...); ``answers`` fills ``view.state.values``.
    """
    action: dict[str, Any] = {
        "type": action_type,
        "action_id": action_id,
        "block_id": block_id or _block_of(view or message or {}, action_id),
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    action.update(fields or {})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        slack_view = _slack_view(view, answers, team_id)
        payload["container"] = {"type": "view", "view_id": slack_view["id"]}
        payload["view"] = slack_view
    else:
        shown = dict(message or {"type": "message", "text": "", "blocks": []})
        shown.setdefault("ts", f"{int(time.time())}.000100")
        payload["container"] = {
            "type": "message",
            "message_ts": shown["ts"],
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": "preorders"}
        payload["message"] = shown
        payload["state"] = {"values": state_values(shown, answers or {})}
        if response_url is not None:
            payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def view_submission_payload(
    view: Mapping[str, Any],
    *,
    answers: Mapping[str, Any] | None = None,
    user_id: str = USER_ID,
    response_urls: Sequence[Mapping[str, str]] = (),
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """The user pressed Submit on ``view``; ``answers`` fill ``view.state.values``."""
    return {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _slack_view(view, answers, team_id),
        "response_urls": [dict(r) for r in response_urls],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_closed_payload(
    view: Mapping[str, Any],
    *,
    user_id: str = USER_ID,
    is_cleared: bool = False,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """The user closed ``view`` (sent only when it had ``notify_on_close``)."""
    return {
        "type": "view_closed",
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _slack_view(view, None, team_id),
        "is_cleared": is_cleared,
        "enterprise": None,
        "is_enterprise_install": False,
    }


def block_suggestion_payload(
    action_id: str,
    value: str,
    *,
    view: Mapping[str, Any] | None = None,
    block_id: str | None = None,
    user_id: str = USER_ID,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """The user typed ``value`` into an external select; the app answers with options."""
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id or _block_of(view or {}, action_id),
        "value": value,
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        slack_view = _slack_view(view, None, team_id)
        payload["container"] = {"type": "view", "view_id": slack_view["id"]}
        payload["view"] = slack_view
    return payload


def app_home_opened_event_payload(
    user_id: str = USER_ID,
    *,
    view: Mapping[str, Any] | None = None,
    tab: str = "home",
    team_id: str = TEAM_ID,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """The Events API envelope for ``app_home_opened`` (JSON, type ``event_callback``).

    ``view`` is the Home tab the user last saw; Slack leaves it out before the first publish.
    """
    now = time.time()
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D0HOME",
        "tab": tab,
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = _slack_view(view, None, team_id)
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": secrets.token_hex(12),
    }


def _form(build: Callable[P, Mapping[str, str]]) -> Callable[P, str]:
    def body(*args: P.args, **kwargs: P.kwargs) -> str:
        return urlencode(build(*args, **kwargs))

    body.__doc__ = f"``{build.__name__}(...)``, form-encoded as Slack posts a slash command."
    return body


def _interactive(build: Callable[P, Mapping[str, Any]]) -> Callable[P, str]:
    def body(*args: P.args, **kwargs: P.kwargs) -> str:
        return urlencode({"payload": json.dumps(build(*args, **kwargs))})

    body.__doc__ = f"``{build.__name__}(...)`` as Slack posts it: one form field, ``payload``."
    return body


def _json(build: Callable[P, Mapping[str, Any]]) -> Callable[P, str]:
    def body(*args: P.args, **kwargs: P.kwargs) -> str:
        return json.dumps(build(*args, **kwargs))

    body.__doc__ = f"``{build.__name__}(...)`` as Slack posts an event: a JSON body."
    return body


slash_command_body = _form(slash_command_fields)
block_actions_body = _interactive(block_actions_payload)
view_submission_body = _interactive(view_submission_payload)
view_closed_body = _interactive(view_closed_payload)
block_suggestion_body = _interactive(block_suggestion_payload)
app_home_opened_event_body = _json(app_home_opened_event_payload)


def _team(team_id: str) -> dict[str, Any]:
    return {"id": team_id, "domain": TEAM_DOMAIN}


def _user(user_id: str, team_id: str) -> dict[str, Any]:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _block_of(surface: Mapping[str, Any], action_id: str) -> str:
    """The block_id holding ``action_id`` in a view or message, as Slack reports it."""
    for index, block in enumerate(surface.get("blocks") or []):
        elements = [block.get("element"), block.get("accessory"), *(block.get("elements") or [])]
        if any(isinstance(e, Mapping) and e.get("action_id") == action_id for e in elements):
            return str(block.get("block_id") or f"block{index}")
    return "block0"


def _slack_view(
    view: Mapping[str, Any], answers: Mapping[str, Any] | None, team_id: str
) -> dict[str, Any]:
    """``view`` as Slack echoes it back: stored fields filled in, state from ``answers``."""
    out: dict[str, Any] = {
        "id": "V0VIEW",
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": None,
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": "B0BOT",
    }
    out.update(json.loads(json.dumps(view)))
    out.setdefault("root_view_id", out["id"])
    given = (out.get("state") or {}).get("values")
    if answers is not None or not given:  # Slack always reports every input block
        out["state"] = {"values": state_values(out, answers or {})}
    return out
