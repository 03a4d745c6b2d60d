"""``manifest.yml``: valid against Slack's app manifest schema, and declaring what the app's code
needs, no more: the slash command, interactivity (with the options URL for external selects),
the Home tab and its event, and the least bot scopes for the Web API methods the code calls.

The schema is Slack's (MIT licence beside it in ``tests/slack/data``). The scope check reads the
code itself: every ``WebClient`` method called anywhere in ``bot/`` must be in ``SCOPES`` below,
so a new call cannot ship without the manifest asking for its scope.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_sdk import WebClient

from bot.ids import BOT_NAME
from bot.service.server import SLACK_PATH
from bot.views.help import COMMAND, USAGE

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
SCHEMA = Path(__file__).resolve().parent / "data" / "slack-manifest.schema.json"

# The bot scopes each Web API method the app calls needs (docs.slack.dev/reference/methods).
# views.* need none (the trigger_id or the user's App Home is the permission), nor do auth.test
# (called at start: by Bolt for the token, by the app for its workspace) and the app_home_opened
# event.
SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "usergroups.users.list": {"usergroups:read"},
    "views.open": set(),
    "views.push": set(),
    "views.update": set(),
    "views.publish": set(),
}
# Needed for what the manifest declares rather than for a Web API call.
DECLARED = {"commands"}  # the /preorder slash command
# A change's summary goes (chat.postMessage) to the channel the command or the PO message came
# from, where the bot is usually not a member: chat:write alone answers not_in_channel there.
# chat:write.public lets it post in any public channel; in a private one the app still gets
# not_in_channel and falls back to a DM (Req.post in bot/handlers/request.py).
POSTS_WHERE_NOT_A_MEMBER = {"chat.postMessage": {"chat:write.public"}}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def bot_calls() -> dict[str, set[str]]:
    """Web API methods called in ``bot/`` (``client.chat_postMessage(...)`` etc.), each with
    the files calling it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name.startswith("_") or name == "api_call":
                continue
            if callable(getattr(WebClient, name, None)):
                found.setdefault(name.replace("_", "."), set()).add(path.name)
    return found


def registered(kind: str) -> set[str]:
    """The first argument of every ``app.<kind>("...")`` listener registration in ``bot/``."""
    found: set[str] = set()
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == kind
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "app"
                and node.args
            ):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                else:
                    found.add(ast.unparse(arg))
    return found


def test_the_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]
    assert errors == []


def test_the_schema_copy_keeps_its_licence() -> None:
    licence = (SCHEMA.parent / "slack-manifest.schema.LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence and "Slack Technologies" in licence


def test_it_declares_the_slash_command_with_a_usage_hint(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND == "/preorder"
    assert command["url"].endswith(SLACK_PATH)
    hint = command["usage_hint"]
    for syntax, _ in USAGE:  # every subcommand the parser knows is hinted
        assert syntax.split()[0] in hint


def test_interactivity_has_the_request_and_options_urls(manifest: dict[str, Any]) -> None:
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith(SLACK_PATH)
    # The allocate modal's external select asks for its options here.
    assert registered("options"), "no options handler: drop message_menu_options_url"
    assert interactivity["message_menu_options_url"].endswith(SLACK_PATH)


def test_the_home_tab_is_on_and_its_event_subscribed(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    # Summaries fall back to a DM (the app's Messages tab); the app reads no messages.
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"].endswith(SLACK_PATH)
    assert set(events["bot_events"]) == registered("event") == {"app_home_opened"}


def test_every_url_is_https_on_the_one_slack_path(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = [
        *(c["url"] for c in manifest["features"]["slash_commands"]),
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
    ]
    assert len({u.removesuffix(SLACK_PATH) for u in urls}) == 1
    assert all(u.startswith("https://") and u.endswith(SLACK_PATH) for u in urls)
    assert settings["socket_mode_enabled"] is False  # the URLs are used: HTTP is the default


def test_the_invite_hint_names_the_bot_user(manifest: dict[str, Any]) -> None:
    # A summary sent by DM tells the user to type `/invite @<BOT_NAME>` in the channel.
    assert manifest["features"]["bot_user"]["display_name"] == BOT_NAME


def test_the_bot_scopes_are_exactly_those_the_code_needs(manifest: dict[str, Any]) -> None:
    calls = bot_calls()
    unknown = {m: files for m, files in calls.items() if m not in SCOPES}
    assert not unknown, f"add these methods' scopes to SCOPES (and the manifest): {unknown}"
    needed = set().union(*(SCOPES[m] for m in calls)) | DECLARED
    needed |= set().union(*(POSTS_WHERE_NOT_A_MEMBER.get(m, set()) for m in calls))
    scopes = manifest["oauth_config"]["scopes"]
    assert sorted(scopes["bot"]) == sorted(needed)
    assert len(scopes["bot"]) == len(set(scopes["bot"]))
    assert not scopes.get("user"), "the app acts as its bot only"
