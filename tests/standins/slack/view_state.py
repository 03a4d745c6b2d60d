"""Build ``view.state.values`` for a submitted view, shaped as Slack fills it per element type.

A handler reads a submission as ``state["values"][block_id][action_id]["selected_option"]`` and
the like; hand-writing those dicts in tests invites shapes Slack never sends and values the
modal never offered. :func:`state_values` takes plain answers keyed by ``action_id`` (or
``"block_id/action_id"``) and refuses an option the element does not offer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_VALUE = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_ONE_OPTION = {"static_select", "external_select", "radio_buttons"}
_MANY_OPTIONS = {"multi_static_select", "multi_external_select", "checkboxes"}
_SELECTED = {
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
}


def state_values(view: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """``{block_id: {action_id: {...}}}`` for ``view`` with ``answers`` filled in.

    Every input block appears (unanswered ones empty, as Slack sends them); other stateful
    elements appear when answered or when they carry an initial value. For selects, radio
    buttons and checkboxes an answer is an option ``value`` (or a list of them), or the option
    dict itself; external selects accept any value.
    """
    left = dict(answers)
    out: dict[str, dict[str, Any]] = {}
    for block_id, element, in_input in _stateful(view):
        action_id = element.get("action_id")
        if not isinstance(action_id, str):
            continue
        key = next((k for k in (f"{block_id}/{action_id}", action_id) if k in left), None)
        if key is None:
            entry = _initial(element)
            if entry is None and not in_input:
                continue
            entry = entry or _empty(element)
        else:
            entry = _answer(element, left.pop(key))
        out.setdefault(block_id, {})[action_id] = entry
    if left:
        known = [f"{b}/{e.get('action_id')}" for b, e, _ in _stateful(view)]
        raise ValueError(f"no element for answers {sorted(left)}; the view has {known}")
    return out


def _stateful(view: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    for index, block in enumerate(view.get("blocks") or []):
        block_id = block.get("block_id") or f"block{index}"
        if block.get("type") == "input" and isinstance(block.get("element"), Mapping):
            yield block_id, block["element"], True
        elif block.get("type") == "actions":
            for element in block.get("elements") or []:
                yield block_id, element, False
        elif block.get("type") == "section" and isinstance(block.get("accessory"), Mapping):
            yield block_id, block["accessory"], False


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found.extend(group.get("options") or [])
    return found


def _pick(element: Mapping[str, Any], answer: Any) -> Mapping[str, Any]:
    if isinstance(answer, Mapping):
        return answer
    kind = element["type"]
    if kind in ("external_select", "multi_external_select"):
        return {"text": {"type": "plain_text", "text": str(answer)}, "value": str(answer)}
    for option in _options(element):
        if option.get("value") == answer:
            return option
    offered = [o.get("value") for o in _options(element)]
    raise ValueError(f"{element.get('action_id')!r} does not offer {answer!r}; it offers {offered}")


def _answer(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    kind = element["type"]
    entry: dict[str, Any] = {"type": kind}
    if kind in _VALUE:
        entry["value"] = None if answer is None else str(answer)
    elif kind in _ONE_OPTION:
        entry["selected_option"] = None if answer is None else dict(_pick(element, answer))
    elif kind in _MANY_OPTIONS:
        many = answer if isinstance(answer, list | tuple) else [answer]
        entry["selected_options"] = [dict(_pick(element, a)) for a in many]
    elif kind in _SELECTED:
        entry[_SELECTED[kind]] = answer
    else:
        raise ValueError(f"cannot answer a {kind} element ({element.get('action_id')!r})")
    return entry


def _initial(element: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = element.get("type")
    if kind in _VALUE and element.get("initial_value") is not None:
        return {"type": kind, "value": element["initial_value"]}
    if kind in _ONE_OPTION and element.get("initial_option") is not None:
        return {"type": kind, "selected_option": element["initial_option"]}
    if kind in _MANY_OPTIONS and element.get("initial_options"):
        return {"type": kind, "selected_options": list(element["initial_options"])}
    if kind == "datepicker" and element.get("initial_date") is not None:
        return {"type": kind, "selected_date": element["initial_date"]}
    return None


def _empty(element: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(element.get("type"))
    if kind in _MANY_OPTIONS:
        return {"type": kind, "selected_options": []}
    if kind in _ONE_OPTION:
        return {"type": kind, "selected_option": None}
    if kind in _SELECTED:
        return {"type": kind, _SELECTED[kind]: None}
    return {"type": kind, "value": None}
