"""The body of ``POST /orders`` read into validated sales orders, and the answer written back.

A body is JSON in one of three shapes, each order in the import format's ``sales_orders`` shape
(``{"order", "customer", "email", "placed_at", "lines": [{"line", "sku", "quantity"}],
"allow_split"}``, the customer, the email and allow_split optional):

* ``{"sales_orders": [ORDER, ...]}``, as in an import file;
* ``[ORDER, ...]``;
* ``ORDER``, one order alone.

Every order is checked before any is stored, with the import's models and messages, so a
body with one bad field is refused whole, each problem named by order and field.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from engine import OrderLineState, SORecord
from engine.parsing import placed_at_window
from engine.records import error_reason, field_path, kind_of

LIST_KEY = "sales_orders"
# The most a body may be: the server refuses a bigger one as it arrives, before it is read.
MAX_BODY = 1024 * 1024
# The longest number any field takes: an order number written as a number (64 characters).
# Python refuses to read an integer of more than 4,300 digits at all, with an error that
# would tell the sender nothing.
MAX_DIGITS = 64
# The order an answer's per-state counts are told in.
STATES = ("allocated", "ready", "queued", "parked", "cancelled", "fulfilled")


@dataclass(frozen=True)
class Problem:
    """One bad field: the order's place in the body, its number when it has a usable one, the
    field (None: the order as a whole) and why."""

    index: int | None
    order: str | None
    field: str | None
    reason: str


class BadOrders(Exception):
    """A body that is not a list of valid orders. ``count`` is how many orders it held (for the
    metrics), or 1 when it could not be read as orders at all."""

    def __init__(self, error: str, problems: Sequence[Problem] = (), count: int = 1) -> None:
        super().__init__(error)
        self.error = error
        self.problems = list(problems)
        self.count = count

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error, "problems": [asdict(p) for p in self.problems]}


def parse_orders(body: bytes) -> list[SORecord]:
    """The orders of a body, or ``BadOrders`` naming every problem. A ``placed_at`` must be
    from 2000 on and at most a day ahead (``engine.records.placed_at_window``)."""
    try:
        data = json.loads(body, parse_int=_whole_number)
    except json.JSONDecodeError as exc:
        raise BadOrders(
            f"the body is not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from None
    except UnicodeDecodeError:  # not UTF-8 (or -16, -32)
        raise BadOrders("the body is not JSON: it is not UTF-8 text") from None
    except _TooLong as exc:
        raise BadOrders(
            f"the body is not usable JSON: a number of {exc.digits} digits (no field takes "
            f"more than {MAX_DIGITS})"
        ) from None
    except RecursionError:
        raise BadOrders(
            "the body is not usable JSON: its lists and objects are nested too deeply"
        ) from None
    with placed_at_window():
        return _orders(_items(data))


class _TooLong(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(f"a number of {digits} digits")
        self.digits = digits


def _whole_number(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise _TooLong(digits)
    return int(text)


def _orders(items: list[Any]) -> list[SORecord]:
    if not items:
        raise BadOrders("no orders: give at least one")
    problems: list[Problem] = []
    orders: list[SORecord] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            record = SORecord.model_validate(item)
        except ValidationError as exc:
            number = _number_of(item)
            problems.extend(
                Problem(i, number, field_path(err["loc"]) or None, error_reason(err))
                for err in exc.errors()
            )
            continue
        if record.order in seen:
            problems.append(
                Problem(
                    i,
                    record.order,
                    "order",
                    f"order {record.order} is also at [{seen[record.order]}]; give each once",
                )
            )
            continue
        seen[record.order] = i
        orders.append(record)
    if problems:
        raise BadOrders("invalid orders; nothing was stored", problems, len(items))
    return orders


def _items(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise BadOrders(
            f'expected {{"{LIST_KEY}": [...]}}, a list of orders or one order; found '
            f"{kind_of(data)}"
        )
    if "purchase_orders" in data:
        raise BadOrders("purchase orders are not taken here: import them with 'preorder import'")
    if LIST_KEY not in data:
        return [data]  # one order alone
    extra = sorted(set(data) - {LIST_KEY})
    if extra:
        raise BadOrders(f"unknown key {extra[0]!r} beside {LIST_KEY!r}")
    items = data[LIST_KEY]
    if not isinstance(items, list):
        raise BadOrders(f"{LIST_KEY} should be a list of orders; found {kind_of(items)}")
    return items


def _number_of(item: Any) -> str | None:
    """The order number of an invalid order, if it has a readable one."""
    number = item.get("order") if isinstance(item, dict) else None
    if isinstance(number, int) and not isinstance(number, bool):
        return str(number)
    return number.strip() if isinstance(number, str) and number.strip() else None


def answer(orders: Sequence[SORecord], lines: Sequence[OrderLineState]) -> dict[str, Any]:
    """Every line of the orders as it stands, in the body's order then by line: the PO line it
    is allocated to, or that it waits. The same orders posted again answer the same."""
    place = {o.order: i for i, o in enumerate(orders)}
    ordered = sorted(lines, key=lambda ln: (place.get(ln.order, len(place)), ln.line))
    return {"orders": len(orders), "lines": [line_json(ln) for ln in ordered]}


def line_json(line: OrderLineState) -> dict[str, Any]:
    # A ready line is allocated with its stock in (an order placed on a PO line received).
    allocated = line.state in ("allocated", "ready")
    promised = line.promised_date if allocated else None
    return {
        "order": line.order,
        "line": line.line,
        "sku": line.sku,
        "quantity": line.quantity,
        "status": line.state,
        "po": line.po if allocated else None,
        "po_line": line.po_line if allocated else None,
        "promised_date": promised.isoformat() if promised is not None else None,
    }


def tally(lines: Sequence[OrderLineState]) -> str:
    """``5 lines: 4 allocated, 1 queued``."""
    counts = Counter(ln.state for ln in lines)
    parts = ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s])
    noun = "line" if len(lines) == 1 else "lines"
    return f"{len(lines)} {noun}: {parts}" if parts else f"0 {noun}"
