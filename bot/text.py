"""The text the command line and the Slack app share, so that both tell a change in the same
words: outcomes in the words a merchandiser uses ("Allocated 3 order lines (7 units) to
PO-1001:1; ATP left 33"), in the conditional for a dry run so that nobody mistakes a preview
for a change; and the small formatters of counts, dates, instants and waits. Pure functions of
engine results; nothing here imports rich or Slack (a test holds it to that), so either face
may use it without loading the other's libraries.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from engine import Outcome

LIST_AT_MOST = 8  # order lines named in one sentence before "and N more"
DRY_RUN = "Dry run: nothing was changed. This is what would happen:"
FIELD_NAMES = {"arrival_date": "arrival date", "store_hold": "store hold"}

Verb = Callable[[str, str], str]  # (past tense, plain form) -> the words for this outcome


def when(moment: datetime, zone: tzinfo = UTC) -> str:
    """An instant in ``zone`` (the team's; UTC unless told) to the minute: the column heading
    or the sentence names the zone (``zone_name``)."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def zone_name(zone: tzinfo) -> str:
    """A zone as headings name it: ``UTC``, ``America/New_York``."""
    return str(zone)


def day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def waited(delta: timedelta) -> str:
    """How long something has waited, in the largest whole unit: "3 days", "5 hours"."""
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return plural(hours // 24, "day")
    if hours >= 1:
        return plural(hours, "hour")
    return "under an hour"


def names(refs: Sequence[object], most: int = LIST_AT_MOST) -> str:
    shown = ", ".join(str(r) for r in refs[:most])
    return shown + (f" and {len(refs) - most} more" if len(refs) > most else "")


def _verb(outcome: Outcome) -> Verb:
    if outcome.dry_run:
        return lambda past, plain: f"Would {plain}"
    return lambda past, plain: past


def describe(outcome: Outcome, atp_of: Collection[tuple[str, int]] = ()) -> list[str]:
    """What an operation changed (or would change), one sentence per kind of change, in the
    order a person reads them: what happened to the PO, then to the order lines. ``atp_of``:
    the PO lines (PO, line) whose ATP left is told with their allocations, as the outcome's
    headers give it."""
    verb = _verb(outcome)
    said: list[str] = []
    if outcome.undid:
        said.append(f"{verb('Undid', 'undo')} operation {outcome.undid}:")
    said += _records(outcome, verb)
    said += _status_changes(outcome, verb)
    if outcome.cancelled:
        said.append(
            f"{verb('Cancelled', 'cancel')} {plural(len(outcome.cancelled), 'order line')}: "
            f"{names(outcome.cancelled)}"
        )
    said += _released(outcome, verb)
    said += _split(outcome, verb)
    said += _field_changes(outcome, verb)
    said += _moved(outcome, verb)
    said += _allocated(outcome, verb, atp_of)
    # A first promise comes with its allocation, told above: these are promises changed.
    synced = [p for p in outcome.promises if p.old is not None and p.new is not None]
    if synced:
        said.append(
            f"{verb('Changed', 'change')} {plural(len(synced), 'promised date')} to the "
            "arrival date (customers may need telling)"
        )
    if outcome.unparked:
        said.append(
            f"{verb('Unparked', 'unpark')} {plural(len(outcome.unparked), 'order line')}: "
            f"{names(outcome.unparked)}; automatic allocation takes them again"
        )
    if outcome.ready_count:
        more = outcome.ready_count - len(outcome.ready)
        listed = names(outcome.ready) + (f" and {more} more" if more else "")
        said.append(
            f"{plural(outcome.ready_count, 'order line')} "
            f"{'would be' if outcome.dry_run else 'now'} ready to ship (stock in): {listed}"
        )
    if outcome.fulfilled:
        said.append(
            f"{verb('Fulfilled', 'fulfil')} {plural(len(outcome.fulfilled), 'order line')}: "
            f"{names(outcome.fulfilled)}"
        )
    if not said:
        said.append("Nothing would change." if outcome.dry_run else "Nothing to change.")
    if outcome.dry_run:
        said.insert(0, DRY_RUN)
    return said


def import_summary(
    outcome: Outcome, *, files: int, purchase_orders: int, sales_orders: int
) -> list[str]:
    """An import in a few sentences: what was read, created, updated and auto-allocated, and
    what the updates released, moved or left out of sync."""
    verb = _verb(outcome)
    said = [
        f"Read {plural(files, 'file')}: {plural(purchase_orders, 'purchase order')}, "
        f"{plural(sales_orders, 'sales order')}.",
        f"{verb('Created', 'create')}: {_counts(outcome.created)}.",
        f"{verb('Updated', 'update')}: {_counts(outcome.updated)}.",
    ]
    said += _released(outcome, verb)
    said += _moved(outcome, verb)
    said.append(
        f"{verb('Auto-allocated', 'auto-allocate')} "
        f"{plural(outcome.allocated_count, 'order line')} "
        f"({plural(outcome.allocated_units, 'unit')}) first in, first out."
    )
    moved_dates = sum(c.field == "arrival_date" for c in outcome.po_changes)
    if moved_dates:
        said.append(
            f"{plural(moved_dates, 'arrival date')} changed; 'preorder digest' lists the "
            "allocated lines now out of sync."
        )
    if outcome.dry_run:
        said.insert(0, DRY_RUN)
    return said


def _counts(counts: Mapping[str, int]) -> str:
    return (
        f"{plural(counts.get('purchase_orders', 0), 'PO')} "
        f"({plural(counts.get('po_lines', 0), 'line')}), "
        f"{plural(counts.get('sales_orders', 0), 'order')} "
        f"({plural(counts.get('so_lines', 0), 'line')})"
    )


def _records(outcome: Outcome, verb: Verb) -> list[str]:
    said = []
    for counts, past, plain in (
        (outcome.created, "Created", "create"),
        (outcome.updated, "Updated", "update"),
    ):
        if any(counts.values()):
            said.append(f"{verb(past, plain)} {_counts(counts)}")
    return said


def _status_changes(outcome: Outcome, verb: Verb) -> list[str]:
    """Whole-PO cancellations in one sentence with their lines; other status changes each."""
    changes = [c for c in outcome.po_changes if c.field == "status"]
    whole = {c.po for c in changes if c.line is None and c.after == "cancelled"}
    said = []
    for po in sorted(whole):
        lines = [str(c.line) for c in changes if c.po == po and c.line is not None]
        label = "line" if len(lines) == 1 else "lines"
        which = f" ({label} {', '.join(lines)})" if lines else ""
        said.append(f"{verb('Cancelled', 'cancel')} {po}{which}")
    for change in changes:
        if change.po in whole:
            continue
        what = f"{change.po} line {change.line}" if change.line is not None else change.po
        if change.after == "cancelled":
            said.append(f"{verb('Cancelled', 'cancel')} {what}")
        else:
            said.append(f"{verb('Marked', 'mark')} {what} {change.after}")
    return said


def _field_changes(outcome: Outcome, verb: Verb) -> list[str]:
    changes = [c for c in outcome.po_changes if c.field != "status"]
    said = []
    for change in changes[:LIST_AT_MOST]:
        name = FIELD_NAMES.get(change.field, change.field)
        said.append(
            f"{verb('Changed', 'change')} {change.po}:{change.line} {name} from "
            f"{_value(change.before)} to {_value(change.after)}"
        )
    if len(changes) > LIST_AT_MOST:
        said.append(f"… and {len(changes) - LIST_AT_MOST} more PO line changes")
    return said


def _released(outcome: Outcome, verb: Verb) -> list[str]:
    if not outcome.released:
        return []
    groups: dict[str, int] = defaultdict(int)
    for p in outcome.released:
        groups[f"{p.po}:{p.po_line}"] += 1
    where = (
        next(iter(groups))
        if len(groups) == 1
        else ", ".join(f"{k} ({plural(n, 'line')})" for k, n in groups.items())
    )
    refs = [f"{p.order}:{p.line}" for p in outcome.released]
    sentence = (
        f"{verb('Released', 'release')} {plural(len(refs), 'order line')} "
        f"({plural(outcome.released_units, 'unit')}) from {where}: {names(refs)}"
    )
    released = {(p.order, p.line) for p in outcome.released}
    parked = {(r.order, r.line) for r in outcome.parked}
    cancelled = {(r.order, r.line) for r in outcome.cancelled}
    if released <= parked:
        sentence += (
            "; parked, so automatic allocation leaves them alone until someone allocates "
            "or unparks them"
        )
    elif not released & cancelled:
        sentence += "; back in the unallocated queue"
    return [sentence]


# Split lines named one by one in a summary; more are counted.
SPLIT_NAMED = 5


def _split(outcome: Outcome, verb: Verb) -> list[str]:
    """Rule 10: a split line released or moved goes whole, off every PO line it was on; say
    which, since the PO line named above is only its latest part's."""
    from engine import parts_text

    said = []
    released = [p for p in outcome.released if p.parts]
    if released:
        named = "; ".join(
            f"{p.order}:{p.line} ({parts_text(p.parts)})" for p in released[:SPLIT_NAMED]
        )
        more = f"; and {len(released) - SPLIT_NAMED} more" if len(released) > SPLIT_NAMED else ""
        said.append(
            f"{verb('Released', 'release')} {plural(len(released), 'split order line')} whole, "
            f"from every PO line {'it was' if len(released) == 1 else 'they were'} on: "
            f"{named}{more}"
        )
    moved = [m for m in outcome.moved if m.parts]
    if moved:
        named = "; ".join(
            f"{m.order}:{m.line} ({parts_text(m.parts)}) → {m.to_po}:{m.to_line}"
            for m in moved[:SPLIT_NAMED]
        )
        more = f"; and {len(moved) - SPLIT_NAMED} more" if len(moved) > SPLIT_NAMED else ""
        said.append(
            f"{verb('Moved', 'move')} {plural(len(moved), 'split order line')} whole onto one "
            f"PO line: {named}{more}"
        )
    return said


def _moved(outcome: Outcome, verb: Verb) -> list[str]:
    if not outcome.moved:
        return []
    pairs = Counter(f"{m.from_po}:{m.from_line} → {m.to_po}:{m.to_line}" for m in outcome.moved)
    units = sum(m.quantity for m in outcome.moved)
    if _all_earlier(outcome):
        where = "earlier PO lines"
    else:
        where = "another PO line" if len(pairs) == 1 else "other PO lines"
    return [
        f"{verb('Moved', 'move')} {plural(len(outcome.moved), 'order line')} "
        f"({plural(units, 'unit')}) to {where}: "
        + ", ".join(f"{k} ({n})" for k, n in pairs.items())
        + "; their promises stay out of sync until synced"
    ]


def _all_earlier(outcome: Outcome) -> bool:
    """Whether every move went to a PO line arriving earlier, as a rebalance's do (rule 7),
    by the headers the outcome carries; a person may move orders anywhere."""
    for m in outcome.moved:
        source, target = (
            outcome.po_line(m.from_po, m.from_line),
            outcome.po_line(m.to_po, m.to_line),
        )
        if source is None or target is None or target.arrival_date >= source.arrival_date:
            return False
    return True


def _allocated(outcome: Outcome, verb: Verb, atp_of: Collection[tuple[str, int]]) -> list[str]:
    if not outcome.allocated_count:
        return []
    head = (
        f"{verb('Allocated', 'allocate')} {plural(outcome.allocated_count, 'order line')} "
        f"({plural(outcome.allocated_units, 'unit')})"
    )
    groups: Counter[tuple[str, int]] = Counter((p.po, p.po_line) for p in outcome.allocated)
    if outcome.allocated_truncated:
        return [f"{head} to {len(groups)} or more PO lines"]
    if len(groups) > LIST_AT_MOST:
        return [f"{head} to {plural(len(groups), 'PO line')}"]
    if len(groups) == 1:
        key = next(iter(groups))
        sentence = f"{head} to {key[0]}:{key[1]}"
        line = outcome.po_line(*key) if key in atp_of else None
        if line is not None:
            sentence += f"; ATP left {line.atp}"
        return [sentence]
    return [f"{head} to " + ", ".join(f"{po}:{ln} ({n})" for (po, ln), n in groups.items())]


def _value(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
