"""``tests.standins.slack.limits.problems`` refuses exactly what Slack refuses, at each
limit's edge.

The view builders of the app will be tested against this function, so each limit is pinned
at its boundary: the largest value Slack accepts passes, one more fails with Slack's wording
and the JSON pointer of the offending field.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.standins.slack.limits import Kind, problems


def text(value: str, kind: str = "plain_text") -> dict[str, str]:
    return {"type": kind, "text": value}


def opts(count: int, label: str = "Option", value: str = "v") -> list[dict[str, Any]]:
    return [{"text": text(f"{label}{i}"), "value": f"{value}{i}"} for i in range(count)]


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "title": text("Review"), "blocks": list(blocks)}
    view.update(extra)
    return view


def with_input(element: dict[str, Any]) -> dict[str, Any]:
    block = {"type": "input", "block_id": "in", "label": text("Pick"), "element": element}
    return modal(block, submit=text("Save"))


def test_a_typical_review_modal_has_no_problems() -> None:
    view = modal(
        {"type": "header", "text": text("PO1 line 1 · SKU-1")},
        {
            "type": "section",
            "block_id": "summary",
            "fields": [text("*Qty* 10", "mrkdwn"), text("*ATP* 4", "mrkdwn")],
        },
        {"type": "divider"},
        {
            "type": "section",
            "block_id": "SO1:1",
            "text": text("SO1 · 2 units", "mrkdwn"),
            "accessory": {"type": "button", "action_id": "remove", "text": text("Remove")},
        },
        {
            "type": "section",
            "block_id": "SO2:1",
            "text": text("SO2 · 4 units", "mrkdwn"),
            "accessory": {"type": "button", "action_id": "remove", "text": text("Remove")},
        },
        {
            "type": "input",
            "block_id": "date",
            "label": text("Arrival"),
            "element": {"type": "datepicker", "action_id": "d", "initial_date": "2025-06-03"},
        },
        {"type": "context", "elements": [text("Synced 2 minutes ago", "mrkdwn")]},
        submit=text("Save"),
        close=text("Cancel"),
        callback_id="review",
        private_metadata='{"po": "PO1", "line": 1}',
    )
    assert problems(view, "modal") == []


@pytest.mark.parametrize(
    ("kind", "limit", "where"),
    [("modal", 100, "/view/blocks"), ("home", 100, "/view/blocks"), ("message", 50, "/blocks")],
)
def test_block_counts_per_surface(kind: Kind, limit: int, where: str) -> None:
    blocks = [{"type": "divider"}] * limit
    assert problems(blocks, kind) == []
    assert problems([*blocks, {"type": "divider"}], kind) == [
        f"no more than {limit} items allowed [json-pointer:{where}]"
    ]


@pytest.mark.parametrize(("kind", "limit"), [("checkboxes", 10), ("radio_buttons", 10)])
def test_checkboxes_and_radio_buttons_take_ten_options(kind: str, limit: int) -> None:
    ok = with_input({"type": kind, "action_id": "a", "options": opts(limit)})
    over = with_input({"type": kind, "action_id": "a", "options": opts(limit + 1)})
    assert problems(ok, "modal") == []
    assert problems(over, "modal") == [
        f"no more than {limit} items allowed [json-pointer:/view/blocks/0/element/options]"
    ]


@pytest.mark.parametrize("kind", ["static_select", "multi_static_select"])
def test_static_selects_take_a_hundred_options_or_groups(kind: str) -> None:
    assert (
        problems(with_input({"type": kind, "action_id": "a", "options": opts(100)}), "modal") == []
    )
    over = with_input({"type": kind, "action_id": "a", "options": opts(101)})
    assert problems(over, "modal") == [
        "no more than 100 items allowed [json-pointer:/view/blocks/0/element/options]"
    ]
    groups = [{"label": text(f"G{g}"), "options": opts(1, value=f"g{g}-")} for g in range(101)]
    grouped = with_input({"type": kind, "action_id": "a", "option_groups": groups})
    assert problems(grouped, "modal") == [
        "no more than 100 items allowed [json-pointer:/view/blocks/0/element/option_groups]"
    ]


def test_a_static_select_needs_options_or_groups_not_both() -> None:
    neither = with_input({"type": "static_select", "action_id": "a"})
    both = with_input(
        {
            "type": "static_select",
            "action_id": "a",
            "options": opts(1),
            "option_groups": [{"label": text("G"), "options": opts(1, value="w")}],
        }
    )
    expected = "must provide exactly one of options or option_groups"
    assert any(expected in p for p in problems(neither, "modal"))
    assert any(expected in p for p in problems(both, "modal"))


@pytest.mark.parametrize(("field", "limit"), [("title", 24), ("submit", 24), ("close", 24)])
def test_modal_title_submit_and_close_take_24_characters(field: str, limit: int) -> None:
    assert problems(modal(**{field: text("x" * limit)}), "modal") == []
    assert problems(modal(**{field: text("x" * (limit + 1))}), "modal") == [
        f"must be less than {limit + 1} characters [json-pointer:/view/{field}/text]"
    ]


@pytest.mark.parametrize(
    ("field", "limit"), [("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)]
)
def test_view_string_fields_have_their_limits(field: str, limit: int) -> None:
    assert problems(modal(**{field: "x" * limit}), "modal") == []
    assert problems(modal(**{field: "x" * (limit + 1)}), "modal") == [
        f"must be less than {limit + 1} characters [json-pointer:/view/{field}]"
    ]


@pytest.mark.parametrize(
    ("block", "limit", "where"),
    [
        ({"type": "section", "text": text("{}", "mrkdwn")}, 3000, "/text/text"),
        ({"type": "section", "text": text("{}")}, 3000, "/text/text"),
        ({"type": "header", "text": text("{}")}, 150, "/text/text"),
        ({"type": "section", "fields": [text("{}", "mrkdwn")]}, 2000, "/fields/0/text"),
    ],
)
def test_text_lengths(block: dict[str, Any], limit: int, where: str) -> None:
    def sized(n: int) -> dict[str, Any]:
        return _fill(block, "x" * n)

    assert problems(modal(sized(limit)), "modal") == []
    assert problems([sized(limit + 1)], "message") == [
        f"must be less than {limit + 1} characters [json-pointer:/blocks/0{where}]"
    ]


def _fill(obj: Any, value: str) -> Any:
    if isinstance(obj, dict):
        return {k: _fill(v, value) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, value) for v in obj]
    return value if obj == "{}" else obj


def test_option_text_value_and_description_limits() -> None:
    option = {"text": text("t" * 75), "value": "v" * 150, "description": text("d" * 75)}
    assert (
        problems(
            with_input({"type": "static_select", "action_id": "a", "options": [option]}), "modal"
        )
        == []
    )
    long = {"text": text("t" * 76), "value": "v" * 151, "description": text("d" * 76)}
    found = problems(
        with_input({"type": "checkboxes", "action_id": "a", "options": [long]}), "modal"
    )
    where = "/view/blocks/0/element/options/0"
    assert found == [
        f"must be less than 76 characters [json-pointer:{where}/text/text]",
        f"must be less than 151 characters [json-pointer:{where}/value]",
        f"must be less than 76 characters [json-pointer:{where}/description/text]",
    ]


def test_block_ids_are_unique_in_a_view_and_action_ids_in_a_block() -> None:
    button = {"type": "button", "action_id": "go", "text": text("Go")}
    view = modal(
        {"type": "actions", "block_id": "a", "elements": [button, button]},
        {"type": "actions", "block_id": "a", "elements": [button]},
    )
    assert problems(view, "modal") == [
        'duplicate action_id "go" in one block [json-pointer:/view/blocks/0/elements/1/action_id]',
        'duplicate block_id "a" [json-pointer:/view/blocks/1/block_id]',
    ]


def test_a_modal_needs_a_title_and_a_submit_for_inputs() -> None:
    field = {
        "type": "input",
        "label": text("Qty"),
        "element": {"type": "number_input", "action_id": "q", "is_decimal_allowed": False},
    }
    assert problems({"type": "modal", "blocks": [field]}, "modal") == [
        "must provide an object [json-pointer:/view/title]",
        "must provide submit when the view has input blocks [json-pointer:/view/submit]",
    ]
    assert problems({"type": "home", "blocks": [field]}, "home") == []


def test_input_blocks_need_a_label_and_an_element() -> None:
    view = modal({"type": "input"}, submit=text("Save"))
    assert problems(view, "modal") == [
        "must provide an object [json-pointer:/view/blocks/0/label]",
        "must provide an object [json-pointer:/view/blocks/0/element]",
    ]


def test_titles_buttons_and_labels_must_be_plain_text() -> None:
    view = modal(
        {
            "type": "actions",
            "elements": [{"type": "button", "action_id": "b", "text": text("Go", "mrkdwn")}],
        },
        title=text("*Bold*", "mrkdwn"),
    )
    assert problems(view, "modal") == [
        "must be one of: plain_text [json-pointer:/view/title/type]",
        "must be one of: plain_text [json-pointer:/view/blocks/0/elements/0/text/type]",
    ]


def test_empty_text_and_unknown_types_are_refused() -> None:
    found = problems(
        [
            {"type": "section", "text": text("", "mrkdwn")},
            {"type": "table"},
            {"type": "actions", "elements": [{"type": "slider"}]},
        ],
        "message",
    )
    assert found == [
        "must be more than 0 characters [json-pointer:/blocks/0/text/text]",
        'unknown block type "table": failed to match all allowed schemas [json-pointer:/blocks/1]',
        'unknown element type "slider": failed to match all allowed schemas '
        "[json-pointer:/blocks/2/elements/0]",
    ]


def test_an_initial_option_must_be_one_of_the_options() -> None:
    options = opts(3)
    ok = with_input(
        {
            "type": "radio_buttons",
            "action_id": "a",
            "options": options,
            "initial_option": options[1],
        }
    )
    assert problems(ok, "modal") == []
    stray = {"text": text("Elsewhere"), "value": "x"}
    bad = with_input(
        {"type": "static_select", "action_id": "a", "options": options, "initial_option": stray}
    )
    assert problems(bad, "modal") == [
        "initial option must exactly match one of the options "
        "[json-pointer:/view/blocks/0/element/initial_option]"
    ]


def test_the_view_type_must_match_the_surface() -> None:
    assert problems({"type": "home", "blocks": []}, "modal")[0] == (
        "must be one of: modal [json-pointer:/view/type]"
    )
    with pytest.raises(ValueError, match="kind"):
        problems([], "dialog")  # type: ignore[arg-type]  # an unknown kind, on purpose


def test_a_message_dict_is_checked_by_its_blocks() -> None:
    assert problems({"text": "plain message"}, "message") == []
    assert problems({"text": "t", "blocks": [{"type": "divider"}] * 51}, "message") == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]
