"""The command line's terminal tables (rich) for engine results: pure functions of what the
engine returns; the words in their cells come from ``bot.text``, as Slack's do.

Tables are compact (one space between columns, no side borders) so that the widest of them
still fits an 80-column terminal or a pipe, where rich assumes 80 columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, JustifyMethod, RenderableType
from rich.table import Table
from rich.text import Text

from bot.text import day, plural, waited, when, zone_name

if TYPE_CHECKING:  # for the signatures only: a command imports the engine modules it runs
    from engine import (
        OrderLineView,
        OrderView,
        Outcome,
        PODetail,
        POLineHeader,
        QueuedLine,
        ReadyLine,
        Review,
        ReviewLine,
    )
    from engine.deliveries import DeadByChannel
    from engine.digest import (
        ArrivingLine,
        Digest,
        OutOfSyncLine,
        ParkedBySku,
        QueueBySku,
        ReadyBySku,
        StrandedByPO,
    )

DETAIL_ROWS = 30  # rows of a change table before it is left to --json
JUSTIFY: dict[str, JustifyMethod] = {">": "right", "^": "center"}  # a column spec's last mark


def table(title: str | Text | None, *specs: str, caption: str | None = None) -> Table:
    """A compact table. Columns by name: a trailing ``>`` right-aligns one (numbers), ``^``
    centres it, ``~`` lets it wrap (free text such as names); codes and dates never wrap."""
    out = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0),
    )
    for spec in specs:
        name = spec.rstrip(">^~")
        free = spec.endswith("~")
        out.add_column(
            name,
            justify=JUSTIFY.get(spec[-1], "left"),
            no_wrap=not free,
            overflow="fold" if free else "ellipsis",
        )
    return out


# --- a PO line, a PO, the queue ---------------------------------------------------------------


def review_view(review: Review, *, note: str = "", zone: tzinfo = UTC) -> RenderableType:
    """Rule 2: the PO line's header with totals, then its allocations in FIFO order (placed
    in ``zone``, the team's)."""
    line = review.head
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    supplier = f" from {review.supplier}" if review.supplier else ""
    head.add_row("PO line", Text(f"{line.po}:{line.line}{supplier} ({line.status})"))
    head.add_row("SKU", line.sku)
    head.add_row("Arrival", day(line.arrival_date))
    head.add_row(
        "Quantity",
        f"{line.quantity} (store hold {line.store_hold}, sellable {line.sellable})",
    )
    head.add_row("Allocated", f"{line.allocated}, ATP {line.atp}")
    if line.received:
        head.add_row("Received", f"{line.received} (lines it covers are ready to ship)")
    sync = (
        "all in sync"
        if not line.out_of_sync
        else f"{plural(line.out_of_sync, 'line')} out of sync: run "
        f"'preorder sync-date {line.po} {line.line}'"
    )
    totals = f"{plural(line.orders, 'order line')}, {plural(line.allocated, 'unit')}"
    head.add_row("Totals", f"{totals}; {sync}")
    if not review.allocations:
        return Group(head, Text("No order lines are allocated to this PO line."))
    rows = table(
        "Allocations, first in first out",
        "#>", "order", "line>", "customer~", f"placed ({zone_name(zone)})", "qty>", "promised",
        "in sync^", *(["stock"] if line.received else []),
    )  # fmt: skip
    for i, a in enumerate(review.allocations, 1):
        rows.add_row(
            str(i),
            a.order,
            str(a.line),
            Text(a.customer),
            when(a.placed_at, zone),
            # A split line's part here, of its whole quantity (rule 10).
            f"{a.quantity} of {a.line_quantity}" if a.split else str(a.quantity),
            day(a.promised_date),
            "✓" if a.in_sync else Text("✗ no", style="bold red"),
            *([_stock(a)] if line.received else []),
        )
    from engine import parts_text  # loaded already: the review is the engine's result

    # Rule 10: "5 of 15" alone does not say where the other 10 are, nor that a remove or move
    # takes the whole line; said once below the table, not in a column most lines leave empty.
    split = [
        Text(f"{a.order}:{a.line} is split ({parts_text(a.parts)}): removed or moved whole")
        for a in review.allocations
        if a.split and a.parts
    ]
    return Group(head, Text(""), rows, *split, *([Text(note)] if note else []))


def _stock(a: ReviewLine) -> str:
    """Whether a line's stock is in; a split line's part may be in before the rest is (rule
    10), and the line is ready only once every part is."""
    if not a.ready:
        return ""
    return "part in" if a.split and not all(p.ready for p in a.parts) else "ready"


def queue_table(
    lines: Sequence[QueuedLine], *, title: str = "", note: str = "", zone: tzinfo = UTC
) -> RenderableType:
    """Unallocated order lines in FIFO order, parked lines marked, with their totals (of the
    lines shown: ``note`` says when that is not all of them)."""
    units = sum(q.quantity for q in lines)
    parked = sum(q.parked for q in lines)
    caption = f"{plural(len(lines), 'line')}, {plural(units, 'unit')}, {parked} parked"
    rows = table(
        title or "Unallocated order lines, first in first out",
        "#>", "order", "line>", "sku", "qty>", f"placed ({zone_name(zone)})", "customer~",
        "parked",
        caption=f"shown: {caption}" if note else caption,
    )  # fmt: skip
    for i, q in enumerate(lines, 1):
        rows.add_row(
            str(i),
            q.order,
            str(q.line),
            q.sku,
            str(q.quantity),
            when(q.placed_at, zone),
            Text(q.customer),
            "parked" if q.parked else "",
        )
    return Group(rows, Text(note)) if note else rows


def ready_table(lines: Sequence[ReadyLine], *, note: str = "") -> RenderableType:
    """Order lines ready to ship in FIFO order, with the PO line their stock came in on."""
    caption = f"{plural(len(lines), 'line')}, {plural(sum(r.quantity for r in lines), 'unit')}"
    rows = table(
        "Ready to ship, first in first out",
        "#>", "order", "line>", "sku", "qty>", "placed (UTC)", "customer~", "PO line",
        "received (UTC)",
        caption=f"shown: {caption}" if note else caption,
    )  # fmt: skip
    for i, r in enumerate(lines, 1):
        rows.add_row(
            str(i),
            r.order,
            str(r.line),
            r.sku,
            str(r.quantity),
            when(r.placed_at),
            Text(r.customer),
            f"{r.po}:{r.po_line}",
            when(r.ready_at),
        )
    return Group(rows, Text(note)) if note else rows


def po_lines_table(lines: Sequence[POLineHeader], *, title: str | Text = "") -> Table:
    """PO lines with what is allocated, what is left to promise and what is out of sync."""
    rows = table(
        title or None,
        "PO line", "sku", "arrival", "qty>", "recv>", "hold>", "alloc>", "ATP>", "lines>",
        "unsynced>", "status",
    )  # fmt: skip
    for s in lines:
        rows.add_row(
            f"{s.po}:{s.line}",
            s.sku,
            day(s.arrival_date),
            str(s.quantity),
            str(s.received),
            str(s.store_hold),
            str(s.allocated),
            str(s.atp),
            str(s.orders),
            Text(str(s.out_of_sync), style="bold red") if s.out_of_sync else "0",
            s.status,
        )
    return rows


def po_view(detail: PODetail) -> Table:
    supplier = f" from {detail.supplier}" if detail.supplier else ""
    title = Text(f"{detail.po}{supplier} ({detail.status})", style="bold")
    return po_lines_table(detail.lines, title=title)


# --- the digest -------------------------------------------------------------------------------


def digest_view(data: Digest, *, now: datetime | None = None, zone: tzinfo = UTC) -> RenderableType:
    """What needs attention, part by part; a part with nothing in it says so in one line.
    ``now`` (default: the current time) is what the oldest lines' waits are counted to."""
    if data.is_empty:
        return Text("Nothing needs attention.")
    now = now or datetime.now(UTC)
    until = f" by {day(data.arriving_until)}" if data.arriving_until else ""
    waiting = {q.sku: q.waiting for q in data.unallocated}
    parked = data.parked
    parts: list[Table | str] = [
        queue_by_sku_table(data.unallocated, now=now, zone=zone)
        if data.unallocated
        else "No unallocated order lines.",
        parked_table(parked) if parked else "No parked order lines.",
        out_of_sync_table(data.out_of_sync)
        if data.out_of_sync
        else "Every allocated line is in sync with its PO line's arrival date.",
        arriving_table(data.arriving, until=until, waiting=waiting)
        if data.arriving
        else f"No PO line with ATP left arrives{until}.",
        stranded_table(data.stranded, now=now)
        if data.stranded
        else "No order released by a PO cancellation is still waiting.",
        dead_letters_table(data.dead_letters, now=now)
        if data.dead_letters
        else "No event delivery is dead-lettered.",
    ]
    if data.ready:
        parts.append(ready_by_sku_table(data.ready))
    if data.split_lines:
        parts.append(
            f"{plural(data.split_lines, 'order line')} allocated in parts across PO lines "
            "(rule 10): 'preorder order' shows where; a remove or move takes the whole line."
        )
    shown: list[RenderableType] = []
    for part in parts:
        # A blank line after each table; the one-line notes of empty parts run together.
        shown += [part, Text("")] if isinstance(part, Table) else [Text(part)]
    return Group(*shown)


def queue_by_sku_table(
    rows: Sequence[QueueBySku], *, now: datetime | None = None, zone: tzinfo = UTC
) -> Table:
    """The queue by SKU; with ``now``, how long the oldest line has waited and the ATP still
    open on the SKU's PO lines (where a person could place a parked or too-big line)."""
    specs = ["sku", "lines>", "units>", "parked>", f"oldest placed ({zone_name(zone)})"]
    if now is not None:
        specs += ["waited>", "ATP open>", "most ATP on"]
    out = table("Unallocated order lines by SKU", *specs, caption=None if rows else "none")
    for q in rows:
        cells = [q.sku, str(q.lines), str(q.units), str(q.parked), when(q.oldest_placed_at, zone)]
        if now is not None:
            top = q.atp_line
            cells += [
                waited(q.age(now)),
                str(q.atp_open),
                f"{top.po}:{top.line} ({top.atp})" if top else "-",
            ]
        out.add_row(*cells)
    return out


def ready_by_sku_table(rows: Sequence[ReadyBySku]) -> Table:
    lines = sum(r.lines for r in rows)
    units = sum(r.units for r in rows)
    out = table(
        "Received, ready to ship",
        "sku", "lines>", "units>", "first ready (UTC)",
        caption=f"{plural(lines, 'line')}, {plural(units, 'unit')}; 'preorder ready' lists them",
    )  # fmt: skip
    for r in rows:
        out.add_row(r.sku, str(r.lines), str(r.units), when(r.oldest_ready_at))
    return out


def parked_table(rows: Sequence[ParkedBySku]) -> Table:
    lines = sum(p.lines for p in rows)
    units = sum(p.units for p in rows)
    out = table(
        "Parked order lines",
        "sku", "lines>", "units>",
        caption=f"{plural(lines, 'line')}, {plural(units, 'unit')}; the sweep skips them",
    )  # fmt: skip
    for p in rows:
        out.add_row(p.sku, str(p.lines), str(p.units))
    return out


def out_of_sync_table(rows: Sequence[OutOfSyncLine]) -> Table:
    out = table(
        "Promises out of sync with the arrival date",
        "PO line", "sku", "arrival", "lines>", "units>", "promised",
        caption="'preorder sync-date PO LINE' syncs a line",
    )  # fmt: skip
    for o in rows:
        promised = day(o.earliest_promise)
        if o.latest_promise != o.earliest_promise:
            promised += f" .. {day(o.latest_promise)}"
        out.add_row(
            f"{o.po}:{o.line}", o.sku, day(o.arrival_date), str(o.lines), str(o.units), promised
        )
    return out


def arriving_table(
    rows: Sequence[ArrivingLine], *, until: str = "", waiting: Mapping[str, int] | None = None
) -> Table:
    """PO lines arriving soon with ATP left, and how many unparked lines of their SKU wait
    (``waiting``, by SKU)."""
    out = table(
        f"Arriving{until} with ATP left",
        "PO line", "sku", "arrival", "ATP>", "queued lines>",
    )  # fmt: skip
    for a in rows:
        queued = (waiting or {}).get(a.sku, 0)
        out.add_row(f"{a.po}:{a.line}", a.sku, day(a.arrival_date), str(a.atp), str(queued))
    return out


def stranded_table(rows: Sequence[StrandedByPO], *, now: datetime) -> Table:
    out = table(
        "Cancelled POs: orders still waiting",
        "PO", "PO status", "lines>", "units>", "SKUs>", "oldest waited>",
        caption="'preorder auto-allocate' places what fits",
    )  # fmt: skip
    for s in rows:
        out.add_row(
            s.po, s.status, str(s.lines), str(s.units), str(s.skus),
            waited(now - s.oldest_placed_at),
        )  # fmt: skip
    return out


def dead_letters_table(rows: Sequence[DeadByChannel], *, now: datetime) -> Table:
    out = table(
        "Dead-lettered event deliveries",
        "channel", "deliveries>", "orders>", "held back>", "oldest event>",
        caption="'preorder events list --failed' lists them; 'preorder events retry' retries",
    )  # fmt: skip
    for d in rows:
        out.add_row(d.kind, str(d.deliveries), str(d.orders), str(d.held), waited(now - d.oldest))
    return out


# --- what an operation touched ----------------------------------------------------------------


def changes_table(outcome: Outcome) -> Table | None:
    """Each order line the operation allocated, released or moved, when few enough to read."""
    rows: list[tuple[str, ...]] = []
    for p in outcome.released:
        rows.append(("released", f"{p.order}:{p.line}", p.sku, str(p.quantity),
                     f"{p.po}:{p.po_line}", day(p.promised_date)))  # fmt: skip
    for m in outcome.moved:
        rows.append(("moved", f"{m.order}:{m.line}", m.sku, str(m.quantity),
                     f"{m.from_po}:{m.from_line} → {m.to_po}:{m.to_line}", ""))  # fmt: skip
    for a in outcome.allocated:
        rows.append(("allocated", f"{a.order}:{a.line}", a.sku, str(a.quantity),
                     f"{a.po}:{a.po_line}", day(a.promised_date)))  # fmt: skip
    if not rows or len(rows) > DETAIL_ROWS or outcome.allocated_truncated:
        return None
    out = table(None, "change", "order line", "sku", "qty>", "PO line", "promised")
    for row in rows:
        out.add_row(*row)
    return out


# --- an order ---------------------------------------------------------------------------------


def _held_by(ln: OrderLineView) -> str:
    """The PO line holding an order line; each of a split line's (rule 10), with its part."""
    if ln.parts:
        return " + ".join(f"{p['po']}:{p['po_line']} ({p['quantity']})" for p in ln.parts)
    return f"{ln.po}:{ln.po_line}" if ln.po else "-"


def order_view(view: OrderView, *, zone: tzinfo = UTC) -> RenderableType:
    """Where each line of an order is and why, then its history oldest first; times in
    ``zone`` (the team's), as the headings say."""
    zone_shown = zone_name(zone)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    head.add_row("Order", Text(view.order))
    head.add_row("Customer", Text(view.customer or "-"))
    head.add_row("Email", Text(view.email or "-"))
    head.add_row("Placed", f"{when(view.placed_at, zone)} ({zone_shown})")
    lines = table(
        "Lines",
        "line>", "sku", "qty>", "state", "PO line", "promised", "in sync^", "why~",
    )  # fmt: skip
    for ln in view.lines:
        sync = "" if ln.in_sync is None else ("✓" if ln.in_sync else Text("✗ no", style="bold red"))
        lines.add_row(
            str(ln.line),
            ln.sku,
            str(ln.quantity),
            ln.state,
            _held_by(ln),
            day(ln.promised_date),
            sync,
            Text(ln.why),
        )
    history = table(
        "History, oldest first",
        f"at ({zone_shown})", "operation", "by~", "line>", "what~", "promised~",
        caption="'preorder undo OPERATION' sets a change back (the first 8 characters do)",
    )  # fmt: skip
    for h in view.history:
        promised = ""
        if h.promised_before or h.promised_after:
            promised = f"{day(h.promised_before)} → {day(h.promised_after)}"
        history.add_row(
            when(h.at, zone),
            h.operation[:8],
            Text(f"{h.actor} ({h.source})"),
            "" if h.line is None else str(h.line),
            Text(f"{h.kind}: {h.what}"),
            promised,
        )
    return Group(head, Text(""), lines, Text(""), history)
