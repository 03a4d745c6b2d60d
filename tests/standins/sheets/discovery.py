"""Every request the Sheets stand-in serves, checked against Google's own description of the API:
the Sheets v4 discovery document that google-api-python-client ships.

Query parameters must be ones the method takes; a JSON body must name only fields its schema has
(in lowerCamelCase or as proto field names, as Google's parser accepts), each of the right type,
enums among their values, 32-bit integers in range. Refusals are 400s in Google's words. Fields the
document marks deprecated are accepted, as Google accepts them, and reported, so that a test can
insist the app sends none.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from tests.standins.sheets.cells import invalid

DOCUMENT = "discovery_cache/documents/sheets.v4.json"
INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)


@cache
def document() -> dict[str, Any]:
    found: dict[str, Any] = json.loads((files("googleapiclient") / DOCUMENT).read_text("utf-8"))
    return found


def method(op: str) -> dict[str, Any]:
    """The discovery entry of a stand-in route's ``op`` ("values.batchUpdate" and the like)."""
    path = op.split(".")
    if path[0] != "spreadsheets":
        path = ["spreadsheets", *path]
    resource: dict[str, Any] = document()
    for name in path[:-1]:
        resource = resource["resources"][name]
    found: dict[str, Any] = resource["methods"][path[-1]]
    return found


def check_query(op: str, query: dict[str, list[str]]) -> None:
    """Refuse a query parameter the method does not take, or an enum value it does not know."""
    known = {**document()["parameters"], **method(op).get("parameters", {})}
    for name, values in query.items():
        spec = known.get(name)
        if spec is None or spec.get("location") != "query":
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message."
            )
        for value in values:
            if "enum" in spec and value not in spec["enum"]:
                raise _bad_value(_snake(name), spec, value)


def check_body(op: str, body: dict[str, Any]) -> list[str]:
    """Refuse a body its schema does not allow; returns the deprecated fields it sets."""
    ref = method(op).get("request", {}).get("$ref")
    if ref is None:
        return []
    deprecated: list[str] = []
    _check_object(document()["schemas"][ref], body, "", deprecated)
    return deprecated


def _check_object(schema: dict[str, Any], value: Any, at: str, deprecated: list[str]) -> None:
    if not isinstance(value, dict):
        raise invalid(
            f"Invalid value at '{at}' ({schema.get('id', 'object')}), {json.dumps(value)}"
            if at
            else "Invalid JSON payload received. Expected an object."
        )
    properties = schema.get("properties", {})
    by_proto_name = {_snake(name): name for name in properties}
    for key, item in value.items():
        name = key if key in properties else by_proto_name.get(key)
        if name is None:
            where = f" at '{at}'" if at else ""
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
            )
        spec = properties[name]
        path = f"{at}.{_snake(name)}" if at else _snake(name)
        if spec.get("deprecated"):
            deprecated.append(path)
        _check(spec, item, path, deprecated)


def _check(spec: dict[str, Any], value: Any, at: str, deprecated: list[str]) -> None:
    if "$ref" in spec:
        _check_object(document()["schemas"][spec["$ref"]], value, at, deprecated)
        return
    kind = spec.get("type")
    if kind == "any" or value is None:
        return
    if kind == "object":
        if "additionalProperties" in spec:
            if not isinstance(value, dict):
                raise _bad_value(at, spec, value)
            for key, item in value.items():
                _check(spec["additionalProperties"], item, f"{at}[{key}]", deprecated)
        else:
            _check_object(spec, value, at, deprecated)
        return
    if kind == "array":
        if not isinstance(value, list):
            raise _bad_value(at, spec, value)
        for i, item in enumerate(value):
            _check(spec.get("items", {}), item, f"{at}[{i}]", deprecated)
        return
    if not _fits(spec, value):
        raise _bad_value(at, spec, value)


def _fits(spec: dict[str, Any], value: Any) -> bool:
    kind, form = spec.get("type"), spec.get("format")
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        if not isinstance(value, str):
            # int64 and the like travel as strings, but a number is taken too.
            return form in ("int64", "uint64") and _whole(value)
        return "enum" not in spec or value in spec["enum"]
    if kind == "integer":
        number = int(value) if isinstance(value, str) and re.fullmatch(r"-?\d+", value) else value
        if not _whole(number):
            return False
        low, high = UINT32 if form == "uint32" else INT32
        return bool(low <= number <= high)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _whole(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _bad_value(at: str, spec: dict[str, Any], value: Any) -> Exception:
    kind = (
        "TYPE_ENUM"
        if "enum" in spec
        else f"TYPE_{str(spec.get('format') or spec.get('type')).upper()}"
    )
    return invalid(f"Invalid value at '{at}' ({kind}), {json.dumps(value)}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
