"""What a view carries back to its handler: the PO line, the page cursor and a fingerprint.

Slack keeps no state for us between a modal and its next request; what the handler needs comes
back in ``private_metadata`` (3000 characters) or in a button's ``value``. Both hold a
``ViewState`` as compact JSON. The fingerprint of the PO line as it was shown lets a handler tell
that the data changed since the user opened the view, and the page cursor is the FIFO key of a
row, so the handler fetches page N by keyset at the cost of page 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from engine import LineRef, POLineHeader, QueuedLine, ReviewLine
from engine.parsing import INT_MAX, KEY_PATTERN

METADATA_MAX = 3000


class StateError(ValueError):
    """What is wrong with a view state or an option value, in words the user may be shown
    (naming the field): Slack returns them as we wrote them, so this is a forged or mangled
    one."""


FifoKey = tuple[str, str, int]
"""A row's FIFO position as JSON can hold it: (placed_at ISO 8601, order, line)."""


def fingerprint(head: POLineHeader) -> str:
    """A short digest of the PO line's figures: equal for two headers of the same line in the
    same state, different after any allocation, removal or PO change."""
    parts = (
        head.status,
        head.arrival_date.isoformat(),
        head.quantity,
        head.store_hold,
        head.allocated,
        head.orders,
        head.out_of_sync,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def fifo_key(row: ReviewLine | QueuedLine) -> FifoKey:
    return (row.placed_at.isoformat(), row.order, row.line)


def ref_value(row: ReviewLine | QueuedLine) -> str:
    """An order line as an option value: ``ORDER:LINE`` (at most 64 + 1 + digits, under 150)."""
    return f"{row.order}:{row.line}"


def parse_ref(value: str) -> LineRef:
    """The ``LineRef`` the engine takes, from ``ref_value``'s text (orders may contain ':')."""
    order, sep, line = value.rpartition(":")
    if not sep or not order or not re.fullmatch(r"[0-9]+", line):
        raise StateError(f"not an order line: {value!r}")
    return LineRef(order, _whole_text(line, f"the line number of {order}"))


def _whole_text(digits: str, what: str) -> int:
    # Compared as text first: int() of thousands of digits is slow, then refused.
    if len(digits.lstrip("0")) > len(str(INT_MAX)):
        shown = digits if len(digits) <= 24 else digits[:21] + "..."
        raise StateError(f"{what} {shown} is out of range (1 to {INT_MAX:,})")
    return _whole(int(digits), what)


def _whole(value: object, what: str) -> int:
    """``value`` if it is a whole number a line number or page can be (1 to the INTEGER
    columns' INT_MAX): a larger one would reach the database as an overflow, not as what it
    is."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateError(f"{what} {value!r} is not a whole number")
    if not 1 <= value <= INT_MAX:
        raise StateError(f"{what} {value} is out of range (1 to {INT_MAX:,})")
    return value


def engine_key(key: FifoKey) -> tuple[datetime, str, int]:
    """The cursor in the form ``engine.review(after=...)`` takes."""
    placed_at, order, line = key
    return (datetime.fromisoformat(placed_at), order, line)


@dataclass(frozen=True)
class ViewState:
    """The state of one view of one PO line; fields left at their default are not serialised.

    ``after``: the page shown starts after this key (None: the first page). ``before``: the page
    shown ends before this key (set on a Previous button: the page before the current one).
    ``picked``: ``ORDER:LINE`` refs chosen in a step that a confirmation step carries on.
    ``channel``: where the summary goes once a modal is submitted (modals know no channel).
    ``whole_po``: the view is about the whole PO (cancelling it), ``line`` only where it began.
    """

    po: str
    line: int
    sku: str = ""
    fingerprint: str = ""
    page: int = 1
    after: FifoKey | None = None
    before: FifoKey | None = None
    picked: tuple[str, ...] = field(default=())
    hold_for_store: bool = False
    channel: str = ""
    whole_po: bool = False

    @classmethod
    def of(cls, head: POLineHeader, **changes: Any) -> ViewState:
        return cls(
            po=head.po, line=head.line, sku=head.sku, fingerprint=fingerprint(head), **changes
        )

    def to_json(self) -> str:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("po", "line") or value != f.default:
                data[f.name] = list(value) if isinstance(value, tuple) else value
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(text) > METADATA_MAX:
            raise ValueError(f"view state is {len(text)} characters, over {METADATA_MAX}")
        return text

    @classmethod
    def from_json(cls, text: str) -> ViewState:
        data = json.loads(text)
        if not isinstance(data, dict) or "po" not in data or "line" not in data:
            raise ValueError("not a view state")
        picked = tuple(str(p) for p in data.get("picked", ()))
        for ref in picked:
            parse_ref(ref)
        return cls(
            po=str(data["po"]),
            line=_whole(data["line"], "line"),
            sku=str(data.get("sku", "")),
            fingerprint=str(data.get("fingerprint", "")),
            page=_whole(data.get("page", 1), "page"),
            after=_key(data.get("after")),
            before=_key(data.get("before")),
            picked=picked,
            hold_for_store=bool(data.get("hold_for_store", False)),
            channel=str(data.get("channel", "")),
            whole_po=bool(data.get("whole_po", False)),
        )

    def is_stale(self, head: POLineHeader) -> bool:
        """True when the PO line no longer looks as it did when this state was written."""
        return bool(self.fingerprint) and self.fingerprint != fingerprint(head)


def _key(value: object) -> FifoKey | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 3:
        raise StateError(f"not a FIFO key: {value!r}")
    placed_at, order, line = value
    try:
        datetime.fromisoformat(str(placed_at))
    except ValueError:
        raise StateError(f"not a FIFO key: {value!r}") from None
    return (str(placed_at), str(order), _whole(line, "the line number of the page's cursor"))


@dataclass(frozen=True)
class QueueState:
    """What a view of one SKU's unallocated queue carries back (the unpark choice): the SKU
    and the channel its summary goes to."""

    sku: str
    channel: str = ""

    def to_json(self) -> str:
        data = {"queue": self.sku} | ({"channel": self.channel} if self.channel else {})
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> QueueState:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("queue"), str):
            raise ValueError("not a queue state")
        sku = data["queue"]
        if not KEY_PATTERN.fullmatch(sku):
            raise StateError(f"not a SKU: {sku[:24]!r}")
        return cls(sku=sku, channel=str(data.get("channel", "")))
