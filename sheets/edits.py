"""People's edits found in a pulled sheet: validated and applied through the engine, one
operation each, each with an idempotency key so that a rerun after a crash applies nothing
twice."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import engine as e
from engine.parsing import parse_int, parse_key
from sheets.cells import shown
from sheets.layout import (
    ALLOCATIONS,
    HOLD_FOR_STORE,
    MOVE_PREFIX,
    OLD_HOLD_FOR_STORE,
    PO_LINES,
    REMOVE,
    UNALLOCATED,
)

PO_LINE_REF = re.compile(r"^\s*(?P<po>[^:\s][^:]*?)\s*:\s*(?P<line>[0-9]+)\s*$")


class Refusal(Exception):
    """An edit that cannot be applied; ``str()`` is the reason shown in Status."""


# An editable cell as ``sheets.cells.parse`` reads it: text, a whole number, a checkbox, a date,
# or None for an empty cell.
CellValue = str | int | bool | date | None


@dataclass(frozen=True)
class Line:
    """The lines a row names, as the database had them when the pull began: a PO lines row its
    PO line, an Allocations row its order line and the PO line holding it, an Unallocated row
    its order line."""

    po: str | None = None
    po_line: int | None = None
    order: str | None = None
    order_line: int | None = None
    # An Allocations row of a split line (rule 10): its parts as the row shows them.
    parts: str | None = None

    def po_ref(self) -> tuple[str, int]:
        if self.po is None or self.po_line is None:
            raise Refusal("this row names no PO line")
        return self.po, self.po_line

    def order_ref(self) -> e.LineRef:
        if self.order is None or self.order_line is None:
            raise Refusal("this row names no order line")
        return e.LineRef(self.order, self.order_line)


@dataclass(frozen=True)
class Edit:
    """One editable cell a person changed: its tab, its row's key, its column, what it holds
    (parsed), and the lines its row names."""

    tab: str
    key: str
    column: str
    value: CellValue
    line: Line = Line()

    def idempotency_key(self, mirror: str, snapshot: Mapping[str, object] | None) -> str:
        # The same value typed into the same cell of the same pushed row is one request, however
        # often it is read; typed again after a later push (the snapshot moved on) it is new.
        text = json.dumps(
            [mirror, self.tab, self.key, self.column, _plain(self.value), snapshot],
            sort_keys=True,
            default=str,
        )
        return "sheet:" + hashlib.sha256(text.encode()).hexdigest()[:48]


Apply = Callable[[str], e.Outcome]  # takes the idempotency key
# How to apply an edit, and what to say once it is applied.
Planned = tuple[Apply, str]
Handler = Callable[[Edit, e.Actor, e.Database], Planned | None]


def plan(edit: Edit, actor: e.Actor, db: e.Database) -> Planned | None:
    """How to apply ``edit`` and what to say when done, or None when it asks for nothing (an
    emptied command cell, an unticked box). Raises ``Refusal`` for a bad edit."""
    handler = _HANDLERS.get((edit.tab, edit.column))
    if handler is None:
        raise Refusal(f"{edit.column} is not editable")
    return handler(edit, actor, db)


def _units(value: object, column: str, if_empty: str) -> int:
    """A count of units typed in ``column``: a whole number, 0 or more, or a Refusal saying
    what is wrong (``if_empty``: what to write instead of nothing)."""
    if value is None:
        raise Refusal(f"{column} cannot be empty: {if_empty}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refusal(f"{column} must be a whole number, not {shown(value)}")
    if value < 0:
        raise Refusal(f"{column} cannot be negative ({value})")
    return value


def _store_hold(edit: Edit, actor: e.Actor, db: e.Database) -> Planned:
    po, line = edit.line.po_ref()
    units = _units(edit.value, "Store hold", "write 0 to hold nothing")
    return (
        lambda key: e.set_store_hold(db, actor, po, line, units, key=key),
        f"store hold {units}",
    )


def _received(edit: Edit, actor: e.Actor, db: e.Database) -> Planned:
    po, line = edit.line.po_ref()
    total = _units(edit.value, "Received", "write the units received so far")
    return (
        lambda key: e.record_received(db, actor, po, line, total, key=key),
        f"received {total} in all",
    )


def _arrival(edit: Edit, actor: e.Actor, db: e.Database) -> Planned:
    po, line = edit.line.po_ref()
    day = edit.value
    if day is None:
        raise Refusal("Arrival date cannot be empty")
    if not isinstance(day, date):
        raise Refusal(f"Arrival date must be a date, not {shown(day)}")
    # A date in the past is the engine's to refuse: one rule for the sheet and the CLI.
    return (
        lambda key: e.set_arrival(db, actor, po, line, day, key=key),
        f"arrival date {day.isoformat()} (promised dates unchanged until synced)",
    )


def _sync_dates(edit: Edit, actor: e.Actor, db: e.Database) -> Planned | None:
    if not edit.value:
        return None
    po, line = edit.line.po_ref()
    return (lambda key: e.sync_date(db, actor, po, line, key=key), "promised dates synced")


def _action(edit: Edit, actor: e.Actor, db: e.Database) -> Planned | None:
    if edit.value is None:
        return None
    po, line = edit.line.po_ref()
    ref = edit.line.order_ref()
    typed = " ".join(str(edit.value).split())
    action = typed.lower()
    # A split line (rule 10) is removed or moved whole: the Status says what became of each part.
    split = f"the whole split line ({edit.line.parts})" if edit.line.parts else ""
    if action == REMOVE:
        said = f"removed {split}: every part's units back to ATP" if split else "removed"
        return (lambda key: e.remove(db, actor, po, line, [ref], key=key), said)
    if action in (HOLD_FOR_STORE, OLD_HOLD_FOR_STORE):
        said = (
            f"removed {split}: the part on {po}:{line} held for the store, the others' units "
            "back to ATP"
            if split
            else "removed; units held for the store"
        )
        return (
            lambda key: e.remove(db, actor, po, line, [ref], hold_for_store=True, key=key),
            said,
        )
    if action.startswith(MOVE_PREFIX):
        # The prefix is matched in any case; the PO number is kept as typed.
        to_po, to_line = _po_line(typed[len(MOVE_PREFIX) :])
        said = (
            f"moved {split} to {to_po}:{to_line}, all of it there"
            if split
            else f"moved to {to_po}:{to_line}"
        )
        return (lambda key: e.move(db, actor, [ref], to_po, to_line, key=key), said)
    raise Refusal(
        f"unknown action {shown(edit.value)!r}: write {REMOVE}, {HOLD_FOR_STORE}, "
        f"or {MOVE_PREFIX}PO:LINE"
    )


def _allocate_to(edit: Edit, actor: e.Actor, db: e.Database) -> Planned | None:
    if edit.value is None:
        return None
    po, line = _po_line(str(edit.value))
    ref = edit.line.order_ref()
    return (
        lambda key: e.allocate(db, actor, po, line, [ref], key=key),
        f"allocated to {po}:{line}",
    )


def _po_line(text: str) -> tuple[str, int]:
    found = PO_LINE_REF.match(text)
    if found is None:
        raise Refusal(f"{text.strip()!r} is not PO:LINE (for example PO-1001:1)")
    # Checked as the import checks them, so that the engine is only asked about a PO line that
    # could exist: a line number past the INTEGER column is refused here, not by the database.
    try:
        po = parse_key(found.group("po"), "PO number")
        line = parse_int(found.group("line"), "line", minimum=1)
    except ValueError as exc:
        raise Refusal(f"{text.strip()!r}: {exc}") from None
    return po, line


def _plain(value: CellValue) -> str | int | bool | None:
    return value.isoformat() if isinstance(value, date) else value


_HANDLERS: dict[tuple[str, str], Handler] = {
    (PO_LINES.name, "Received"): _received,
    (PO_LINES.name, "Store hold"): _store_hold,
    (PO_LINES.name, "Arrival date"): _arrival,
    (PO_LINES.name, "Sync dates"): _sync_dates,
    (ALLOCATIONS.name, "Action"): _action,
    (UNALLOCATED.name, "Allocate to"): _allocate_to,
}

# Order of a row's edits: supply first, then what depends on it.
COLUMN_ORDER = (
    "Received",
    "Store hold",
    "Arrival date",
    "Sync dates",
    "Action",
    "Allocate to",
)
