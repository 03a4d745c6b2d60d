"""``POST /receipts``: stock arriving at the warehouse, pushed by its system (rule 9).

Signed as ``POST /orders`` is (``X-Preorder-Signature``: the hex HMAC-SHA256 of the raw body with
the intake secret, checked before the body is parsed). The body is one receipt::

    {"receipt": "GRN-4411", "po": "PO-1001", "line": 1, "quantity": 40,
     "final": false, "date": "2027-01-12"}

``final`` (default false: more may come) and ``date`` (default today, UTC) are optional. The
receipt id makes the receipt count once: sent again (a lost answer, a retry) it changes nothing
and the answer says ``"replayed": true`` with the first recording's operation.

| status | when | recorded |
|---|---|---|
| 200 | recorded (or recorded before under this id) | yes |
| 400 | not JSON, or a bad field (named in ``problems``) | nothing |
| 401 | signature missing or wrong | nothing |
| 404 | no such PO or PO line | nothing |
| 409 | the PO line is closed (cancelled, or received in full) | nothing |
| 422 | a rule refuses it (a receipt of 0 that is not final) | nothing |
| 503 | the database is unavailable (``Retry-After``) | nothing |
| 500 | the database refused a write the engine should have kept from it (our fault) | nothing |

``GET /metrics`` counts each request by its result (``preorder_intake_receipts_total``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any
from wsgiref.types import WSGIApplication

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

import engine
from bot.intake.http import (
    ACTOR,
    RETRY_AFTER_SECONDS,
    Reply,
    StartResponse,
    _check_signature,
    _json,
    _read_body,
)
from engine.parsing import parse_date, parse_int, parse_key
from engine.records import error_reason, field_path

if TYPE_CHECKING:
    from bot.service.metrics import Metrics

log = logging.getLogger("bot.intake")

# A receipt id as senders write them (a goods-received note number): the key's rules.
ReceiptId = Annotated[str, BeforeValidator(lambda v: parse_key(v, "receipt"))]


class ReceiptBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    receipt: ReceiptId
    po: Annotated[str, BeforeValidator(lambda v: parse_key(v, "po"))]
    line: Annotated[int, BeforeValidator(lambda v: parse_int(v, "line", minimum=1))]
    quantity: Annotated[int, BeforeValidator(lambda v: parse_int(v, "quantity", minimum=0))]
    final: Annotated[bool, Field(strict=True)] = False
    date: Annotated[date | None, BeforeValidator(lambda v: None if v is None else parse_date(v))]


def receipts_app(
    db: engine.Database, secret: str, metrics: Metrics | None = None
) -> WSGIApplication:
    """The WSGI app of ``POST /receipts`` (mounted by ``bot.service.server.wsgi_app``); each
    request counted by its result in ``metrics`` when given."""
    if not secret:
        raise ValueError("the receipts endpoint needs a secret (PREORDER_INTAKE_SECRET)")
    key = secret.encode()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _json(
                start_response, "405 Method Not Allowed", {"error": "use POST"}, [("Allow", "POST")]
            )
        try:
            body = _read_body(environ)
            _check_signature(key, body, environ.get("HTTP_X_PREORDER_SIGNATURE"))
            receipt = _parse(body)
            reply = _record(db, receipt)
        except Reply as refusal:
            if metrics is not None:
                metrics.intake_receipts.labels(refusal.result).inc()
            log.warning(
                "receipts: %s from %s: %s",
                refusal.status.split()[0],
                environ.get("REMOTE_ADDR", "?"),
                refusal,
            )
            return _json(start_response, refusal.status, refusal.body, refusal.headers)
        if metrics is not None:
            metrics.intake_receipts.labels("replayed" if reply["replayed"] else "recorded").inc()
        return _json(start_response, "200 OK", reply)

    return app


def _parse(body: bytes) -> ReceiptBody:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _bad("the body is not JSON") from None
    if not isinstance(data, dict):
        raise _bad("the body must be one receipt object")
    if "date" not in data:
        data["date"] = None
    try:
        return ReceiptBody.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": field_path(err["loc"]) or None, "reason": error_reason(err)}
            for err in exc.errors()
        ]
        raise _bad("invalid receipt; nothing was recorded", problems) from None


def _bad(error: str, problems: list[dict[str, Any]] | None = None) -> Reply:
    return Reply("400 Bad Request", {"error": error, "problems": problems or []}, result="invalid")


def _record(db: engine.Database, receipt: ReceiptBody) -> dict[str, Any]:
    try:
        outcome = engine.receive(
            db,
            ACTOR,
            receipt.po,
            receipt.line,
            receipt.quantity,
            final=receipt.final,
            received_on=receipt.date,
            key=f"receipt:{receipt.receipt}",
        )
    except engine.NotFound as exc:
        raise Reply("404 Not Found", {"error": str(exc)}, result="refused") from None
    except engine.Closed as exc:
        raise Reply("409 Conflict", {"error": str(exc)}, result="refused") from None
    except engine.InvalidInput as exc:
        raise _bad(str(exc)) from None
    except engine.EngineError as exc:
        raise Reply("422 Unprocessable Content", {"error": str(exc)}, result="refused") from None
    except engine.ConstraintViolation:
        # A constraint the engine should have kept: a fault here, not the sender's.
        log.exception("receipts: the database refused receipt %s", receipt.receipt)
        raise Reply(
            "500 Internal Server Error",
            {"error": "internal error; nothing was recorded"},
            result="failed",
        ) from None
    except engine.StorageError as exc:
        log.error("receipts: the database is unavailable: %s", str(exc).splitlines()[0:1])
        raise Reply(
            "503 Service Unavailable",
            {"error": "the database is unavailable; send the same receipt again later"},
            result="unavailable",
            headers=[("Retry-After", str(RETRY_AFTER_SECONDS))],
        ) from None
    head = engine.po_line(db, receipt.po, receipt.line)
    log.info(
        "receipts: %s on %s:%d, %d units%s (%d lines ready)%s",
        receipt.receipt,
        receipt.po,
        receipt.line,
        receipt.quantity,
        ", final" if receipt.final else "",
        outcome.ready_count,
        ", recorded before" if outcome.replayed else "",
    )
    return {
        "receipt": receipt.receipt,
        "operation": outcome.operation_id,
        "replayed": outcome.replayed,
        "po": head.po,
        "line": head.line,
        "status": head.status,
        "quantity": head.quantity,
        "received": head.received,
        "atp": head.atp,
        "ready": [{"order": r.order, "line": r.line} for r in outcome.ready],
        "ready_count": outcome.ready_count,
        "released": [{"order": p.order, "line": p.line} for p in outcome.released],
    }
