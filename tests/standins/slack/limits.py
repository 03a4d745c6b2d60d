"""Block Kit limits, checked the way Slack checks them, as a pure function.

Slack refuses a view or message that breaks a platform limit with ``invalid_arguments`` (views)
or ``invalid_blocks`` (messages) and one ``[ERROR] <reason> [json-pointer:<where>]`` line per
problem. ``slack_sdk`` checks only some of these on the client side (none at all for plain dict
payloads, and never the 10-option cap of checkboxes and radio buttons), so a view builder that is
"fine" in unit tests can still fail in production. :func:`problems` returns those lines (without
the ``[ERROR] `` prefix) so the stand-in can refuse exactly what Slack refuses and a builder test
can assert ``problems(view, "modal") == []``.

Wording: "must be less than N characters", "no more than N items allowed", "must provide a
string" and "must provide at least 1 items" are Slack's own phrases; the rest (duplicate ids,
initial options, unknown types) are worded here, since Slack's exact text could not be confirmed.
Lengths are counted in Python characters (code points).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Kind = Literal["modal", "home", "message"]

MAX_BLOCKS: dict[str, int] = {"modal": 100, "home": 100, "message": 50}
MAX_VIEW_TITLE = 24  # title, submit and close of a modal
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_EXTERNAL_ID = 255
MAX_BLOCK_ID = 255
MAX_ACTION_ID = 255
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTION_DESCRIPTION = 75
MAX_CHOICE_OPTIONS = 10  # checkboxes, radio_buttons
MAX_SELECT_OPTIONS = 100  # static_select, multi_static_select (also option_groups)
MAX_OVERFLOW_OPTIONS = 5
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_ALT_TEXT = 2000
MAX_TEXT_INPUT = 3000
MAX_MARKDOWN_BLOCK = 12000

_TEXT_TYPES = ("plain_text", "mrkdwn")
_PLAIN = ("plain_text",)
_SELECTS_WITH_OPTIONS = {"static_select", "multi_static_select"}
_EXTERNAL_SELECTS = {"external_select", "multi_external_select"}
_OTHER_SELECTS = {
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
}
_CHOICES = {"checkboxes", "radio_buttons"}
_PLAIN_INPUTS = {
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "rich_text_input",
    "file_input",
}
_ELEMENT_TYPES = (
    {"button", "overflow", "image", "workflow_button"}
    | _SELECTS_WITH_OPTIONS
    | _EXTERNAL_SELECTS
    | _OTHER_SELECTS
    | _CHOICES
    | _PLAIN_INPUTS
)
_BLOCK_TYPES = {
    "section",
    "divider",
    "header",
    "context",
    "actions",
    "input",
    "image",
    "rich_text",
    "markdown",
    "video",
    "file",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")


def problems(view_or_blocks: Mapping[str, Any] | Sequence[Any], kind: Kind) -> list[str]:
    """Every limit ``view_or_blocks`` breaks, as Slack words it, or ``[]`` when Slack accepts it.

    ``kind`` is ``"modal"`` or ``"home"`` for a view (a view dict, or just its blocks) and
    ``"message"`` for a message (a list of blocks, or a message dict with ``blocks``). Each
    string ends with ``[json-pointer:...]`` naming the offending field, rooted at ``/view`` for
    views and at ``/blocks`` for messages, as in Slack's answers.
    """
    if kind not in MAX_BLOCKS:
        raise ValueError(f"kind must be modal, home or message, not {kind!r}")
    checker = _Checker(kind)
    if isinstance(view_or_blocks, Mapping):
        if kind == "message":
            if "blocks" in view_or_blocks:
                checker.blocks(view_or_blocks["blocks"], "/blocks")
        else:
            checker.view(view_or_blocks)
    elif isinstance(view_or_blocks, Sequence) and not isinstance(view_or_blocks, str):
        checker.blocks(view_or_blocks, "/blocks" if kind == "message" else "/view/blocks")
    else:
        checker.add("must provide an object", "/view" if kind != "message" else "/blocks")
    return checker.out


class _Checker:
    """Walks one payload, collecting Slack-style problem lines with their JSON pointers."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.out: list[str] = []
        self.block_ids: set[str] = set()
        self.action_ids: set[str] = set()  # per block: Slack wants them unique in their block

    def add(self, reason: str, where: str) -> None:
        self.out.append(f"{reason} [json-pointer:{where}]")

    # --- scalars ----------------------------------------------------------------------------

    def string(
        self, obj: Mapping[str, Any], key: str, where: str, *, limit: int, required: bool = False
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.add("must provide a string", f"{where}/{key}")
            return None
        if not isinstance(value, str):
            self.add("must provide a string", f"{where}/{key}")
            return None
        if len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", f"{where}/{key}")
        return value

    def text(
        self,
        obj: Any,
        where: str,
        *,
        limit: int,
        types: tuple[str, ...] = _TEXT_TYPES,
    ) -> str | None:
        """A text object: its type, a non-empty string, and its length limit."""
        if not isinstance(obj, Mapping):
            self.add("must provide an object", where)
            return None
        if obj.get("type") not in types:
            self.add(f"must be one of: {', '.join(types)}", f"{where}/type")
        value = obj.get("text")
        if not isinstance(value, str):
            self.add("must provide a string", f"{where}/text")
            return None
        if value == "":
            self.add("must be more than 0 characters", f"{where}/text")
        elif len(value) > limit:
            self.add(f"must be less than {limit + 1} characters", f"{where}/text")
        return value

    def array(
        self, obj: Mapping[str, Any], key: str, where: str, *, most: int, least: int = 1
    ) -> list[Any]:
        value = obj.get(key)
        if not isinstance(value, list):
            self.add("must provide an array", f"{where}/{key}")
            return []
        if len(value) > most:
            self.add(f"no more than {most} items allowed", f"{where}/{key}")
        elif len(value) < least:
            self.add(f"must provide at least {least} items", f"{where}/{key}")
        return value

    # --- views and blocks -------------------------------------------------------------------

    def view(self, view: Mapping[str, Any]) -> None:
        where = "/view"
        if view.get("type") != self.kind:
            self.add(f"must be one of: {self.kind}", f"{where}/type")
        if self.kind == "modal":
            if "title" not in view:
                self.add("must provide an object", f"{where}/title")
            else:
                self.text(view["title"], f"{where}/title", limit=MAX_VIEW_TITLE, types=_PLAIN)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                self.text(view[key], f"{where}/{key}", limit=MAX_VIEW_TITLE, types=_PLAIN)
        self.string(view, "private_metadata", where, limit=MAX_PRIVATE_METADATA)
        self.string(view, "callback_id", where, limit=MAX_CALLBACK_ID)
        self.string(view, "external_id", where, limit=MAX_EXTERNAL_ID)
        if "blocks" not in view:
            self.add("must provide an array", f"{where}/blocks")
            return
        blocks = self.blocks(view["blocks"], f"{where}/blocks")
        has_input = any(isinstance(b, Mapping) and b.get("type") == "input" for b in blocks)
        if self.kind == "modal" and has_input and view.get("submit") is None:
            self.add("must provide submit when the view has input blocks", f"{where}/submit")

    def blocks(self, blocks: Any, where: str) -> list[Any]:
        if not isinstance(blocks, list):
            self.add("must provide an array", where)
            return []
        if len(blocks) > MAX_BLOCKS[self.kind]:
            self.add(f"no more than {MAX_BLOCKS[self.kind]} items allowed", where)
        for index, block in enumerate(blocks):
            self.block(block, f"{where}/{index}")
        return blocks

    def block(self, block: Any, where: str) -> None:
        if not isinstance(block, Mapping):
            self.add("must provide an object", where)
            return
        kind = block.get("type")
        if kind not in _BLOCK_TYPES:
            self.add(f'unknown block type "{kind}": failed to match all allowed schemas', where)
            return
        block_id = self.string(block, "block_id", where, limit=MAX_BLOCK_ID)
        if block_id is not None:
            if block_id in self.block_ids:
                self.add(f'duplicate block_id "{block_id}"', f"{where}/block_id")
            self.block_ids.add(block_id)
        self.action_ids = set()
        getattr(self, f"block_{kind}", self.block_other)(block, where)

    def block_section(self, block: Mapping[str, Any], where: str) -> None:
        if block.get("text") is None and block.get("fields") is None:
            self.add("must provide text or fields", where)
        if block.get("text") is not None:
            self.text(block["text"], f"{where}/text", limit=MAX_SECTION_TEXT)
        if block.get("fields") is not None:
            fields = self.array(block, "fields", where, most=MAX_SECTION_FIELDS)
            for index, field in enumerate(fields):
                self.text(field, f"{where}/fields/{index}", limit=MAX_FIELD_TEXT)
        if block.get("accessory") is not None:
            self.element(block["accessory"], f"{where}/accessory")

    def block_header(self, block: Mapping[str, Any], where: str) -> None:
        self.text(block.get("text"), f"{where}/text", limit=MAX_HEADER_TEXT, types=_PLAIN)

    def block_context(self, block: Mapping[str, Any], where: str) -> None:
        elements = self.array(block, "elements", where, most=MAX_CONTEXT_ELEMENTS)
        for index, element in enumerate(elements):
            path = f"{where}/elements/{index}"
            if isinstance(element, Mapping) and element.get("type") == "image":
                self.element(element, path)
            else:
                self.text(element, path, limit=MAX_SECTION_TEXT)

    def block_actions(self, block: Mapping[str, Any], where: str) -> None:
        elements = self.array(block, "elements", where, most=MAX_ACTIONS_ELEMENTS)
        for index, element in enumerate(elements):
            self.element(element, f"{where}/elements/{index}")

    def block_input(self, block: Mapping[str, Any], where: str) -> None:
        if "label" not in block:
            self.add("must provide an object", f"{where}/label")
        else:
            self.text(block["label"], f"{where}/label", limit=MAX_LABEL, types=_PLAIN)
        if block.get("hint") is not None:
            self.text(block["hint"], f"{where}/hint", limit=MAX_LABEL, types=_PLAIN)
        if "element" not in block:
            self.add("must provide an object", f"{where}/element")
        else:
            self.element(block["element"], f"{where}/element")

    def block_image(self, block: Mapping[str, Any], where: str) -> None:
        self.string(block, "alt_text", where, limit=MAX_ALT_TEXT, required=True)
        self.string(block, "image_url", where, limit=MAX_URL)
        if block.get("title") is not None:
            self.text(block["title"], f"{where}/title", limit=MAX_ALT_TEXT, types=_PLAIN)

    def block_markdown(self, block: Mapping[str, Any], where: str) -> None:
        if self.kind != "message":
            self.add("markdown blocks are only allowed in messages", where)
        self.string(block, "text", where, limit=MAX_MARKDOWN_BLOCK, required=True)

    def block_rich_text(self, block: Mapping[str, Any], where: str) -> None:
        self.array(block, "elements", where, most=10**6)

    def block_other(self, block: Mapping[str, Any], where: str) -> None:
        """divider, video, file: nothing the app is likely to overflow."""

    # --- elements ---------------------------------------------------------------------------

    def element(self, element: Any, where: str) -> None:
        if not isinstance(element, Mapping):
            self.add("must provide an object", where)
            return
        kind = element.get("type")
        if kind not in _ELEMENT_TYPES:
            self.add(f'unknown element type "{kind}": failed to match all allowed schemas', where)
            return
        action_id = self.string(element, "action_id", where, limit=MAX_ACTION_ID)
        if action_id is not None:
            if action_id in self.action_ids:
                self.add(f'duplicate action_id "{action_id}" in one block', f"{where}/action_id")
            self.action_ids.add(action_id)
        if element.get("placeholder") is not None:
            self.text(
                element["placeholder"], f"{where}/placeholder", limit=MAX_PLACEHOLDER, types=_PLAIN
            )
        if element.get("confirm") is not None:
            self.confirm(element["confirm"], f"{where}/confirm")
        if kind == "button":
            self.text(element.get("text"), f"{where}/text", limit=MAX_BUTTON_TEXT, types=_PLAIN)
            self.string(element, "value", where, limit=MAX_BUTTON_VALUE)
            self.string(element, "url", where, limit=MAX_URL)
            if element.get("style") not in (None, "primary", "danger"):
                self.add("must be one of: primary, danger", f"{where}/style")
        elif kind in _SELECTS_WITH_OPTIONS:
            self.static_select(element, where)
        elif kind in _EXTERNAL_SELECTS:
            self.initial_options(element, where, None, _PLAIN)
        elif kind in _CHOICES:
            options = self.array(element, "options", where, most=MAX_CHOICE_OPTIONS)
            self.options(options, f"{where}/options", _TEXT_TYPES)
            self.initial_options(element, where, options, _TEXT_TYPES)
        elif kind == "overflow":
            options = self.array(element, "options", where, most=MAX_OVERFLOW_OPTIONS)
            self.options(options, f"{where}/options", _PLAIN)
        elif kind == "image":
            self.string(element, "alt_text", where, limit=MAX_ALT_TEXT, required=True)
            self.string(element, "image_url", where, limit=MAX_URL)
        elif kind in _PLAIN_INPUTS:
            self.plain_input(element, where)

    def static_select(self, element: Mapping[str, Any], where: str) -> None:
        has_options = element.get("options") is not None
        has_groups = element.get("option_groups") is not None
        if has_options == has_groups:
            self.add("must provide exactly one of options or option_groups", where)
        every: list[Any] = []
        if has_options:
            every = self.array(element, "options", where, most=MAX_SELECT_OPTIONS)
            self.options(every, f"{where}/options", _PLAIN)
        if has_groups:
            groups = self.array(element, "option_groups", where, most=MAX_SELECT_OPTIONS)
            for index, group in enumerate(groups):
                path = f"{where}/option_groups/{index}"
                if not isinstance(group, Mapping):
                    self.add("must provide an object", path)
                    continue
                self.text(group.get("label"), f"{path}/label", limit=MAX_OPTION_TEXT, types=_PLAIN)
                options = self.array(group, "options", path, most=MAX_SELECT_OPTIONS)
                self.options(options, f"{path}/options", _PLAIN)
                every.extend(options)
        self.initial_options(element, where, every, _PLAIN)

    def options(self, options: list[Any], where: str, types: tuple[str, ...]) -> None:
        for index, option in enumerate(options):
            self.option(option, f"{where}/{index}", types)

    def option(self, option: Any, where: str, types: tuple[str, ...]) -> None:
        if not isinstance(option, Mapping):
            self.add("must provide an object", where)
            return
        self.text(option.get("text"), f"{where}/text", limit=MAX_OPTION_TEXT, types=types)
        self.string(option, "value", where, limit=MAX_OPTION_VALUE, required=True)
        if option.get("description") is not None:
            self.text(option["description"], f"{where}/description", limit=MAX_OPTION_DESCRIPTION)
        self.string(option, "url", where, limit=MAX_URL)

    def initial_options(
        self,
        element: Mapping[str, Any],
        where: str,
        options: list[Any] | None,
        types: tuple[str, ...],
    ) -> None:
        """Slack wants each initial option to be exactly one of the element's options."""
        chosen: list[tuple[str, Any]] = []
        if element.get("initial_option") is not None:
            chosen.append((f"{where}/initial_option", element["initial_option"]))
        initial = element.get("initial_options")
        if isinstance(initial, list):
            chosen.extend((f"{where}/initial_options/{i}", o) for i, o in enumerate(initial))
        for path, option in chosen:
            self.option(option, path, types)
            if options is not None and option not in options:
                self.add("initial option must exactly match one of the options", path)

    def plain_input(self, element: Mapping[str, Any], where: str) -> None:
        kind = element["type"]
        if kind == "plain_text_input":
            for key in ("max_length", "min_length"):
                value = element.get(key)
                if value is not None and (not isinstance(value, int) or value > MAX_TEXT_INPUT):
                    self.add(f"must be less than {MAX_TEXT_INPUT + 1}", f"{where}/{key}")
            self.string(element, "initial_value", where, limit=MAX_TEXT_INPUT)
        elif kind == "number_input" and not isinstance(element.get("is_decimal_allowed"), bool):
            self.add("must provide a boolean", f"{where}/is_decimal_allowed")
        elif kind == "datepicker":
            date = element.get("initial_date")
            if date is not None and not (isinstance(date, str) and _DATE.match(date)):
                self.add("must be a date in the format YYYY-MM-DD", f"{where}/initial_date")
        elif kind == "timepicker":
            value = element.get("initial_time")
            if value is not None and not (isinstance(value, str) and _TIME.match(value)):
                self.add("must be a time in the format HH:mm", f"{where}/initial_time")

    def confirm(self, confirm: Any, where: str) -> None:
        if not isinstance(confirm, Mapping):
            self.add("must provide an object", where)
            return
        self.text(confirm.get("title"), f"{where}/title", limit=100, types=_PLAIN)
        self.text(confirm.get("text"), f"{where}/text", limit=300)
        self.text(confirm.get("confirm"), f"{where}/confirm", limit=30, types=_PLAIN)
        self.text(confirm.get("deny"), f"{where}/deny", limit=30, types=_PLAIN)
