"""What the Slack stand-in knows about its workspace, and its Web API methods.

Kept apart from the HTTP server in :mod:`tests.standins.slack.standin`: triggers (3 s, once),
views with their hashes and modal stacks (3 deep), Home tabs, messages and response URLs (5
uses in 30 minutes), each method refusing what Slack refuses with Slack's error names.
Everything here runs under the stand-in's lock, one request at a time.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tests.standins.slack.limits import Kind, problems

if TYPE_CHECKING:
    from tests.standins.slack.standin import SlackStandin

# Errors views.open / views.push answer for a trigger that cannot be exchanged.
TRIGGER_ERRORS = ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id")
MAX_MODAL_STACK = 3
MAX_VIEW_BYTES = 250_000
MAX_MESSAGE_TEXT = 40_000
_TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-zA-Z]+$")
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]+$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")

# (HTTP status, extra headers, JSON body)
Answer = tuple[int, dict[str, str], dict[str, Any]]


@dataclass
class Trigger:
    user_id: str
    view_id: str | None
    expires_at: float  # time.monotonic()
    used: bool = False


@dataclass
class _ResponseUrl:
    created: float
    uses: int = 0


class Workspace:
    """Slack-side state and the Web API methods that read and change it."""

    def __init__(self, cfg: SlackStandin) -> None:
        self.cfg = cfg  # team, bot and user configuration, read live
        self.triggers: dict[str, Trigger] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.stacks: dict[str, list[str]] = {}  # view id -> the modal stack holding it
        self.user_stack: dict[str, list[str]] = {}  # user id -> their current modal stack
        self.external_ids: dict[str, str] = {}
        self.home: dict[str, str] = {}  # user id -> Home tab view id
        self.closed: set[str] = set()  # modals the user closed: views.update finds them no more
        self.messages: list[dict[str, Any]] = []
        self.response_urls: dict[str, _ResponseUrl] = {}
        self.ts_counter = 0

    # --- scripting and inspection -------------------------------------------------------------

    def new_trigger_id(self, user_id: str, view_id: str | None, ttl: float) -> str:
        trigger_id = f"{int(time.time())}.{secrets.randbelow(10**9)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user_id, view_id, time.monotonic() + ttl)
        return trigger_id

    def new_response_url_id(self) -> str:
        url_id = secrets.token_hex(8)
        self.response_urls[url_id] = _ResponseUrl(time.monotonic())
        return url_id

    def post_response(self, url_id: str, body: Any) -> tuple[int, str]:
        """What Slack answers a POST to a response_url: ``ok`` or why not."""
        entry = self.response_urls.get(url_id)
        if entry is None or time.monotonic() - entry.created > self.cfg.response_url_ttl:
            return 404, "expired_url"
        if entry.uses >= self.cfg.response_url_uses:
            return 404, "used_url"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        if problems(body, "message"):
            return 400, "invalid_blocks"
        entry.uses += 1
        return 200, "ok"

    def close_view(self, view_id: str) -> None:
        stack = self.stacks.get(view_id)
        if stack is None:
            return
        at = stack.index(view_id)
        for gone in stack[at:]:
            self.stacks.pop(gone, None)
            self.closed.add(gone)
            self.external_ids.pop(self.views[gone].get("external_id") or "", None)
        del stack[at:]

    # --- Web API methods ----------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> Answer:
        return answer_ok(
            {
                "url": "https://preorder-test.slack.com/",
                "team": self.cfg.team_name,
                "user": "preorder",
                "team_id": self.cfg.team_id,
                "user_id": self.cfg.bot_user_id,
                "bot_id": self.cfg.bot_id,
                "is_enterprise_install": False,
            }
        )

    def _views_open(self, params: dict[str, Any]) -> Answer:
        view = params.get("view")
        refused = _refuse_view(view, "modal")
        if refused:
            return refused
        assert isinstance(view, dict)  # _refuse_view refuses anything else
        trigger, error = self._exchange(
            params.get("trigger_id") or params.get("interactivity_pointer")
        )
        if trigger is None:
            return error
        external = view.get("external_id")
        if external and external in self.external_ids:
            return answer_error("duplicate_external_id")
        stored = self._store_view(view, stack=[])
        self.user_stack[trigger.user_id] = self.stacks[stored["id"]]
        return answer_ok({"view": copy.deepcopy(stored)})

    def _views_push(self, params: dict[str, Any]) -> Answer:
        view = params.get("view")
        refused = _refuse_view(view, "modal")
        if refused:
            return refused
        assert isinstance(view, dict)  # _refuse_view refuses anything else
        trigger, error = self._exchange(
            params.get("trigger_id") or params.get("interactivity_pointer")
        )
        if trigger is None:
            return error
        stack = self.stacks.get(trigger.view_id or "") or self.user_stack.get(trigger.user_id)
        if stack and len(stack) >= MAX_MODAL_STACK:
            return answer_error("push_limit_reached")
        external = view.get("external_id")
        if external and external in self.external_ids:
            return answer_error("duplicate_external_id")
        stored = self._store_view(view, stack=stack if stack is not None else [])
        self.user_stack[trigger.user_id] = self.stacks[stored["id"]]
        return answer_ok({"view": copy.deepcopy(stored)})

    def _views_update(self, params: dict[str, Any]) -> Answer:
        view_id = params.get("view_id") or self.external_ids.get(params.get("external_id") or "")
        if not params.get("view_id") and not params.get("external_id"):
            return _invalid("must provide view_id or external_id [json-pointer:/view_id]")
        current = self.views.get(view_id or "")
        if current is None or current["id"] in self.closed:
            return answer_error("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            return answer_error("hash_conflict")
        refused = _refuse_view(params.get("view"), current["type"])
        if refused:
            return refused
        return answer_ok({"view": copy.deepcopy(self._replace_view(current, params["view"]))})

    def _views_publish(self, params: dict[str, Any]) -> Answer:
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            return _invalid("must provide a string [json-pointer:/user_id]")
        refused = _refuse_view(params.get("view"), "home")
        if refused:
            return refused
        current = self.views.get(self.home.get(user_id, ""))
        if current is None:
            stored = self._store_view(params["view"], stack=None)
            self.home[user_id] = stored["id"]
            return answer_ok({"view": copy.deepcopy(stored)})
        if params.get("hash") and params["hash"] != current["hash"]:
            return answer_error("hash_conflict")
        return answer_ok({"view": copy.deepcopy(self._replace_view(current, params["view"]))})

    def _chat_post_message(self, params: dict[str, Any]) -> Answer:
        return self._post(params, ephemeral=False)

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> Answer:
        if not params.get("user"):
            return answer_error("user_not_found")
        return self._post(params, ephemeral=True)

    def _chat_update(self, params: dict[str, Any]) -> Answer:
        # Only by the conversation's ID (as chat.postMessage answered it): Slack finds no
        # message under a channel name or a user's ID.
        channel = params.get("channel")
        if not isinstance(channel, str) or not _CONVERSATION_ID.match(channel):
            return answer_error("channel_not_found")
        refused = self._refuse_channel(channel) or _refuse_message(params)
        if refused:
            return refused
        for message in self.messages:
            if (
                not message.get("ephemeral")
                and message["channel"] == params.get("channel")
                and message["ts"] == params.get("ts")
            ):
                for key in ("text", "blocks", "attachments"):
                    if key in params:
                        message[key] = params[key]
                message["edited"] = {"user": self.cfg.bot_user_id, "ts": self._next_ts()}
                body = {"channel": message["channel"], "ts": message["ts"], "text": message["text"]}
                return answer_ok({**body, "message": _public(message)})
        return answer_error("message_not_found")

    def _usergroups_users_list(self, params: dict[str, Any]) -> Answer:
        group = params.get("usergroup")
        if not isinstance(group, str) or not group:
            return _invalid("must provide a string [json-pointer:/usergroup]")
        if group not in self.cfg.usergroups:
            return answer_error("no_such_subteam")
        return answer_ok({"users": list(self.cfg.usergroups[group])})

    def _users_info(self, params: dict[str, Any]) -> Answer:
        user_id = params.get("user")
        if not isinstance(user_id, str) or not user_id:
            return answer_error("user_not_found")
        if user_id not in self.cfg.users and self.cfg.strict_users:
            return answer_error("user_not_found")
        name = user_id.lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.cfg.team_id,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": False,
            "tz": "UTC",
            "tz_label": "Coordinated Universal Time",
            "tz_offset": 0,
            "profile": {"real_name": f"User {user_id}", "display_name": name},
        }
        user.update(copy.deepcopy(self.cfg.users.get(user_id, {})))
        return answer_ok({"user": user})

    METHODS: ClassVar[dict[str, Callable[[Workspace, dict[str, Any]], Answer]]] = {
        "auth.test": _auth_test,
        "views.open": _views_open,
        "views.push": _views_push,
        "views.update": _views_update,
        "views.publish": _views_publish,
        "chat.postMessage": _chat_post_message,
        "chat.postEphemeral": _chat_post_ephemeral,
        "chat.update": _chat_update,
        "usergroups.users.list": _usergroups_users_list,
        "users.info": _users_info,
    }

    # --- helpers ------------------------------------------------------------------------------

    def _exchange(self, trigger_id: Any) -> tuple[Trigger | None, Answer]:
        if not isinstance(trigger_id, str) or not trigger_id:
            return None, _invalid("invalid `trigger_id`")
        if not _TRIGGER_FORMAT.match(trigger_id):
            return None, answer_error("invalid_trigger_id")
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            return None, answer_error("expired_trigger_id")
        if trigger.used:
            return None, answer_error("exchanged_trigger_id")
        if time.monotonic() > trigger.expires_at:
            return None, answer_error("expired_trigger_id")
        trigger.used = True
        return trigger, answer_ok({})

    def _store_view(self, view: dict[str, Any], stack: list[str] | None) -> dict[str, Any]:
        view_id = "V" + secrets.token_hex(5).upper()
        stored = self._view_record(view, view_id)
        if stack is not None:  # a modal: root first, each pushed view on top
            stored["root_view_id"] = stack[0] if stack else view_id
            stored["previous_view_id"] = stack[-1] if stack else None
            stack.append(view_id)
            self.stacks[view_id] = stack
        self.views[view_id] = stored
        return stored

    def _replace_view(self, current: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
        self.external_ids.pop(current.get("external_id") or "", None)
        stored = self._view_record(view, current["id"])
        stored["root_view_id"] = current.get("root_view_id")
        stored["previous_view_id"] = current.get("previous_view_id")
        self.views[current["id"]] = stored
        return stored

    def _view_record(self, view: dict[str, Any], view_id: str) -> dict[str, Any]:
        stored: dict[str, Any] = {
            "id": view_id,
            "team_id": self.cfg.team_id,
            "type": view.get("type"),
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
            "root_view_id": view_id,
            "app_id": self.cfg.app_id,
            "external_id": "",
            "app_installed_team_id": self.cfg.team_id,
            "bot_id": self.cfg.bot_id,
        }
        stored.update(copy.deepcopy({k: v for k, v in view.items() if k not in ("id", "hash")}))
        if stored["external_id"]:
            self.external_ids[stored["external_id"]] = view_id
        return stored

    def _post(self, params: dict[str, Any], *, ephemeral: bool) -> Answer:
        # Slack takes a channel's ID or name, or a user's ID (the app's DM with them), and
        # answers with the conversation's ID, which is what a later chat.update must name.
        passed = params.get("channel")
        channel = conversation_id(passed) if isinstance(passed, str) else None
        if channel is None:
            return answer_error("channel_not_found")
        refused = self._refuse_channel(channel) or _refuse_message(params)
        if refused:
            return refused
        message: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": self._next_ts(),
            "text": params.get("text", ""),
            "user": self.cfg.bot_user_id,
            "bot_id": self.cfg.bot_id,
            "app_id": self.cfg.app_id,
            "team": self.cfg.team_id,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        if ephemeral:
            message["ephemeral"] = True
            message["recipient"] = params["user"]
        self.messages.append(message)
        if ephemeral:
            return answer_ok({"message_ts": message["ts"]})
        return answer_ok({"channel": channel, "ts": message["ts"], "message": _public(message)})

    def _refuse_channel(self, channel: str) -> Answer | None:
        """The error scripted for the conversation ``channel`` (an ID), if any."""
        error = self.cfg.refused_channels.get(channel)
        return answer_error(error) if error else None

    def _next_ts(self) -> str:
        self.ts_counter += 1
        return f"{int(time.time())}.{self.ts_counter:06d}"


# --- pure helpers ---------------------------------------------------------------------------


def conversation_id(channel: str) -> str | None:
    """The conversation ``channel`` names, by its ID, as Slack answers chat.* calls: an ID
    (``C…``, ``G…``, ``D…``) as it is; a user's ID (``U…``, ``W…``) their DM with the app
    (``D…``); a channel name (``#buying`` or ``buying``) that public channel (``C…``). None
    for what names no conversation (Slack answers ``channel_not_found``). The IDs are derived
    from what they stand for, so one name is one channel for the stand-in's whole life."""
    if _CONVERSATION_ID.match(channel):
        return channel
    if _USER_ID.match(channel):
        return "D" + _derived(channel)
    name = channel.removeprefix("#").lower()
    if _CHANNEL_NAME.match(name):
        return "C" + _derived(name)
    return None


def _derived(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10].upper()


def answer_ok(body: dict[str, Any]) -> Answer:
    return 200, {}, {"ok": True, **body}


def answer_error(error: str) -> Answer:
    return 200, {}, {"ok": False, "error": error}


def _invalid(*messages: str) -> Answer:
    """Slack's answer to a view or argument it will not take: one ``[ERROR]`` line each."""
    lines = [f"[ERROR] {m}" for m in messages]
    return (
        200,
        {},
        {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": lines}},
    )


def _refuse_view(view: Any, kind: str) -> Answer | None:
    if not isinstance(view, dict):
        return _invalid("must provide an object [json-pointer:/view]")
    found = problems(view, _kind(kind))
    if found:
        return _invalid(*found)
    if len(json.dumps(view)) > MAX_VIEW_BYTES:
        return answer_error("view_too_large")
    return None


def _refuse_message(params: dict[str, Any]) -> Answer | None:
    blocks = params.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        return answer_error("invalid_blocks_format")
    if not params.get("text") and not blocks and not params.get("attachments"):
        return answer_error("no_text")
    if isinstance(params.get("text"), str) and len(params["text"]) > MAX_MESSAGE_TEXT:
        return answer_error("msg_too_long")
    found = problems(blocks or [], "message")
    if found:
        lines = [f"[ERROR] {m}" for m in found]
        body = {"ok": False, "error": "invalid_blocks", "errors": found}
        return 200, {}, {**body, "response_metadata": {"messages": lines}}
    return None


def _kind(kind: str) -> Kind:
    if kind == "home":
        return "home"
    if kind == "message":
        return "message"
    return "modal"


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in message.items() if k not in ("channel", "recipient")}
