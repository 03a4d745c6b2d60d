"""HTTP plumbing of the Sheets stand-in: which endpoint a path is, Google's error bodies, and the
request handler that hands every request to :meth:`SheetsStandin._serve`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.standins.local_server import standin_of
from tests.standins.sheets.cells import ApiError

if TYPE_CHECKING:
    from tests.standins.sheets.standin import SheetsStandin

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
STATUS_MESSAGES = {
    500: "Internal error encountered.",
    502: "Bad Gateway",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}
Answer = tuple[int, dict[str, str], Any]  # status, extra headers, JSON body (or raw bytes)


@dataclass
class Route:
    op: str
    kind: str
    spreadsheet_id: str = ""
    target: str = ""  # a range or a metadata id


JSON_BODIES = {
    "spreadsheets.create",
    "spreadsheets.batchUpdate",
    "values.update",
    "values.batchUpdate",
    "values.append",
    "values.batchClear",
    "developerMetadata.search",
}


def route(method: str, path: str) -> Route | None:
    """Which endpoint a request is for, from the path still percent-encoded (so that an encoded
    ``:`` inside a range is not taken for ``:append``)."""
    if path == "/token":
        return Route("token", "token") if method == "POST" else None
    parts = path.split("/")
    if parts[:3] != ["", "v4", "spreadsheets"]:
        return None
    rest = parts[3:]
    if rest in ([], [""]):
        return Route("spreadsheets.create", "write") if method == "POST" else None
    head = unquote(rest[0])
    if len(rest) == 1:
        if head.endswith(":batchUpdate") and method == "POST":
            return Route("spreadsheets.batchUpdate", "write", head[: -len(":batchUpdate")])
        return Route("spreadsheets.get", "read", head) if method == "GET" else None
    tail = rest[1:]
    simple = {
        ("GET", "values:batchGet"): ("values.batchGet", "read"),
        ("POST", "values:batchUpdate"): ("values.batchUpdate", "write"),
        ("POST", "values:batchClear"): ("values.batchClear", "write"),
        ("POST", "developerMetadata:search"): ("developerMetadata.search", "read"),
    }
    if len(tail) == 1 and (method, tail[0]) in simple:
        return Route(*simple[(method, tail[0])], head)
    if len(tail) == 2 and tail[0] == "developerMetadata" and method == "GET":
        return Route("developerMetadata.get", "read", head, unquote(tail[1]))
    if len(tail) != 2 or tail[0] != "values":
        return None
    segment = tail[1]
    for suffix, op in ((":append", "values.append"), (":clear", "values.clear")):
        if segment.endswith(suffix) and method == "POST":
            return Route(op, "write", head, unquote(segment[: -len(suffix)]))
    if method in ("GET", "PUT"):
        op = "values.get" if method == "GET" else "values.update"
        return Route(op, "read" if method == "GET" else "write", head, unquote(segment))
    return None


def json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected an object.")
    return data


def error_answer(status: int, message: str) -> Answer:
    name = STATUS_NAMES.get(status, "UNKNOWN")
    return status, {}, {"error": {"code": status, "message": message, "status": name}}


def quota_error(kind: str, limit: int, project_id: str) -> dict[str, Any]:
    metric = "Read requests" if kind == "read" else "Write requests"
    consumer = f"project_number:{abs(hash(project_id)) % 10**12:012d}"
    return {
        "error": {
            "code": 429,
            "message": (
                f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per "
                f"user' of service 'sheets.googleapis.com' for consumer '{consumer}'."
            ),
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "domain": "googleapis.com",
                    "metadata": {
                        "service": "sheets.googleapis.com",
                        "quota_metric": f"sheets.googleapis.com/{kind}_requests",
                        "quota_limit": f"{kind.capitalize()}RequestsPerMinutePerUser",
                        "quota_limit_value": str(limit),
                        "consumer": consumer.replace("project_number:", "projects/"),
                    },
                }
            ],
        }
    }


class Handler(BaseHTTPRequestHandler):
    """Routes every method to :meth:`SheetsStandin._serve`; keep-alive as Google's front end."""

    server_version = "ESF"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid a 40 ms stall

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        standin: SheetsStandin = standin_of(self)
        status, extra, answer = standin._serve(self.command, self.path, headers, body)
        if isinstance(answer, bytes):
            payload, content_type = answer, "text/html; charset=UTF-8"
        else:
            payload, content_type = json.dumps(answer).encode(), "application/json; charset=UTF-8"
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("Content-Type", content_type))
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the records are the log."""
