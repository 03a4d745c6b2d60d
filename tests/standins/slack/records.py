"""What the Slack stand-in records, and how it reads a request body the way Slack does.

Kept apart from the server so tests can type their assertions (``Call``, ``ResponsePost``)
without pulling in the HTTP machinery.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

# Web API arguments that Slack takes as JSON-encoded strings in form bodies.
JSON_FIELDS = ("view", "blocks", "attachments", "metadata")


@dataclass
class Call:
    """One Web API request as the stand-in saw it, and what it answered."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]  # names in lower case
    time: float  # time.time() on arrival
    status: int = 200  # 0: held by a stall (SlackStandin.stalled), not answered then
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        value = self.response.get("error")
        return value if isinstance(value, str) else None


@dataclass
class ResponsePost:
    """One POST to a ``response_url`` (what ``respond()`` sent), and the stand-in's answer."""

    id: str
    body: Any
    headers: dict[str, str]  # names in lower case
    time: float
    status: int
    answer: str

    @property
    def ok(self) -> bool:
        return self.status == 200


class BadRequest(Exception):
    """A body Slack could not read; ``error`` is the name Slack answers with."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def parse_params(content_type: str, body: bytes, query: str) -> tuple[dict[str, Any], bool]:
    """Parameters of a Web API call from its query string and body; also whether it was JSON.

    slack_sdk sends ``views.*`` and ``chat.*`` as JSON and most others form-encoded (or as
    multipart when a method takes files); Slack accepts all three, and in form bodies takes
    ``view`` / ``blocks`` as JSON strings, which are decoded here so records look alike.
    """
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    media = content_type.split(";", 1)[0].strip().lower()
    is_json = media == "application/json"
    if body:
        if is_json:
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise BadRequest("invalid_json") from None
            if not isinstance(data, dict):
                raise BadRequest("invalid_json")
            params.update(data)
        elif media in ("application/x-www-form-urlencoded", ""):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("invalid_form_data") from None
            params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        elif media == "multipart/form-data":
            params.update(_multipart(content_type, body))
        else:
            raise BadRequest("invalid_post_type")
    if not is_json:
        for key in JSON_FIELDS:
            value = params.get(key)
            if isinstance(value, str) and value[:1] in ("{", "["):
                # an undecodable value stays a string: the method answers as Slack would
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(value)
    return params, is_json


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadRequest("invalid_form_data")
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            out[name] = raw
        else:
            out[name] = raw.decode("utf-8", errors="replace")
    return out
