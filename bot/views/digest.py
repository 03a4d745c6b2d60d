"""The digest as a Slack message: what needs attention, from ``engine.digest``'s data.

One part per kind of attention (unallocated, parked, out of sync, arriving soon, stranded by a
cancelled PO, dead-lettered event deliveries), each a title and its rows. A message holds 50
blocks and a section 3000 characters, while the data can name thousands of SKUs and POs; so
the blocks are shared out among the parts (a small part gives what it does not need to the
others), the first rows of a part that can be acted on get a section with a button each, the
next rows (up to ``PART_ROWS`` in all) are packed into a few sections, and the rest is counted
in a closing line naming the command that lists it all.

The buttons are those of a PO message (same action ids and ``ViewState`` value), so the
handlers that serve ``/preorder po`` open their modals from the digest too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock

from bot.ids import ActionId
from bot.text import day, waited
from bot.views.blocks import (
    ELLIPSIS,
    MESSAGE_BLOCKS,
    at,
    button,
    context,
    escape,
    header,
    line_name,
    pack,
    plain,
    promise_range,
    section,
)
from bot.views.state import ViewState
from engine.deliveries import DeadByChannel
from engine.digest import (
    ArrivingLine,
    Digest,
    OutOfSyncLine,
    QueueBySku,
    ReadyBySku,
    StrandedByPO,
)

TITLE = "Pre-order digest"
BUTTON_ROWS = 5  # per part: rows shown as a section with its own button
# Rows shown per part, buttoned or not, when the blocks would hold more: a digest is read at a
# glance, and the commands named in the closing line list everything.
PART_ROWS = 20
CLOSING_ROOM = 300  # kept free in a part's last section for its "… and N more" line
ALLOCATE = "Allocate…"
REVIEW = "Review"
SYNC_DATES = "Sync dates…"
OPEN_SHEET = "Open the sheet"
NOTHING = "Nothing needs attention :white_check_mark:"


def digest_message(
    digest: Digest,
    *,
    now: datetime,
    sheet_url: str | None = None,
    max_blocks: int = MESSAGE_BLOCKS,
    zone: tzinfo = UTC,
) -> list[Block]:
    """The digest in at most ``max_blocks`` blocks. ``now`` is when it was read (the waits of
    the oldest lines count to it), shown in the team's ``zone``; ``sheet_url`` adds a button
    that opens the spreadsheet."""
    today = digest.today or now.date()
    top: list[Block] = [
        header(f"{TITLE} · {day(today)}"),
        context(f"As of {at(now, zone)} · {escape(summary(digest))}"),
    ]
    tail: list[Block] = [_sheet_button(sheet_url)] if sheet_url else []
    if digest.is_empty:
        return [*top, section(NOTHING), *tail]
    parts = _parts(digest, now, today)
    room = max_blocks - len(top) - len(tail)
    if room < 2 * len(parts):
        raise ValueError(f"max_blocks {max_blocks} leaves less than 2 blocks per part")
    dividers = room - (len(parts) - 1) >= 3 * len(parts)
    if dividers:
        room -= len(parts) - 1
    shares = share([len(p.render(None)) for p in parts], room)
    blocks = list(top)
    for i, (part, blocks_for_part) in enumerate(zip(parts, shares, strict=True)):
        if i and dividers:
            blocks.append(DividerBlock())
        blocks += part.render(blocks_for_part)
    return blocks + tail


def digest_text(digest: Digest) -> str:
    """The notification text beside the blocks (what a phone or a screen reader says)."""
    return f"{TITLE}: {summary(digest)}"


def summary(digest: Digest) -> str:
    """One sentence of counts: what needs attention, or that nothing does."""
    if digest.is_empty:
        return "nothing needs attention"
    said: list[str] = []
    if digest.unallocated:
        lines = sum(q.lines for q in digest.unallocated)
        parked = sum(q.parked for q in digest.unallocated)
        said.append(
            f"{count(lines, 'unallocated order line')} in {count(len(digest.unallocated), 'SKU')}"
            + (f" ({parked:,} parked)" if parked else "")
        )
    if digest.out_of_sync:
        said.append(f"{count(len(digest.out_of_sync), 'PO line')} with promises out of sync")
    if digest.arriving:
        said.append(f"{count(len(digest.arriving), 'PO line')} arriving soon with ATP")
    if digest.stranded:
        lines = sum(s.lines for s in digest.stranded)
        said.append(
            f"{count(lines, 'order line')} stranded by "
            f"{count(len(digest.stranded), 'cancelled PO')}"
        )
    if digest.ready:
        lines = sum(r.lines for r in digest.ready)
        said.append(f"{count(lines, 'order line')} received, ready to ship")
    if digest.dead_letters:
        dead = sum(d.deliveries for d in digest.dead_letters)
        said.append(
            f"{count(dead, 'dead-lettered event delivery', 'dead-lettered event deliveries')}"
        )
    if digest.split_lines:
        # Rule 10: worth knowing, not a problem; told only beside what needs attention.
        said.append(f"{count(digest.split_lines, 'line')} allocated in parts")
    return ", ".join(said)


def count(n: int, word: str, many: str | None = None) -> str:
    """``plural`` with thousands separators: "4,950 order lines"."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def share(needs: Sequence[int], room: int) -> list[int]:
    """Blocks for each part: what it needs, up to an equal share of what the smaller parts
    leave over (water filling), so no block goes unused while a part has more to show."""
    out = [0] * len(needs)
    left = room
    order = sorted(range(len(needs)), key=lambda i: needs[i])
    for done, i in enumerate(order):
        out[i] = min(needs[i], left // (len(needs) - done))
        left -= out[i]
    return out


# --- parts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    text: str  # one line of mrkdwn
    button: ButtonElement | None = None


@dataclass(frozen=True)
class Part:
    """A titled list of rows, buttoned rows first; ``closing(shown)`` words the rows beyond
    the first ``shown`` ("… and 40 more …: run `preorder …`")."""

    title: str
    rows: list[Row]
    closing: Callable[[int], str]

    def render(self, room: int | None) -> list[Block]:
        """The part in at most ``room`` blocks (at least 2), or all of it (``None``)."""
        buttoned = 0
        while (
            buttoned < min(BUTTON_ROWS, len(self.rows)) and self.rows[buttoned].button is not None
        ):
            buttoned += 1
        if room is not None:
            buttoned = min(buttoned, room - 1)
            if buttoned < len(self.rows) and buttoned == room - 1:
                buttoned -= 1  # one section for the rest, or at least for counting it
        blocks: list[Block] = [section(self.title)]
        blocks += [section(r.text, accessory=r.button) for r in self.rows[:buttoned]]
        rest = [r.text for r in self.rows[buttoned:]]
        if rest:
            space = None if room is None else room - 1 - buttoned
            blocks += pack(
                rest[: PART_ROWS - buttoned],
                max_blocks=space,
                total=len(rest),
                closing=lambda shown: self.closing(buttoned + shown),
                closing_room=CLOSING_ROOM,
            )
        return blocks


def _parts(digest: Digest, now: datetime, today: date) -> list[Part]:
    found = [
        _unallocated(digest.unallocated, now),
        _parked(digest.unallocated),
        _out_of_sync(digest.out_of_sync),
        _arriving(digest.arriving, digest.unallocated, today, digest.arriving_until),
        _stranded(digest.stranded, now),
        _ready(digest.ready),
        _dead_letters(digest.dead_letters, now),
    ]
    return [p for p in found if p is not None]


def _allocate(q: QueueBySku) -> ButtonElement | None:
    """Allocate (rule 3) onto the SKU's PO line with the most ATP: where a line the sweep
    skipped (parked, or too big for the line it would get) can be placed by hand."""
    if q.atp_line is None:
        return None
    value = ViewState(po=q.atp_line.po, line=q.atp_line.line, sku=q.sku).to_json()
    return button(ALLOCATE, ActionId.ALLOCATE, value, style="primary")


def _atp_note(q: QueueBySku) -> str:
    top = q.atp_line
    if top is None:
        return "no ATP open"
    name = escape(line_name(top.po, top.line))
    if top.atp == q.atp_open:
        return f"*ATP {q.atp_open:,} open* on {name}"
    return f"*ATP {q.atp_open:,} open*, {top.atp:,} of it on {name}"


def _unallocated(queue: Sequence[QueueBySku], now: datetime) -> Part | None:
    if not queue:
        return None
    # The SKUs a person can act on first (ATP open), then the longest waits.
    rows = sorted(queue, key=lambda q: (q.atp_line is None, q.oldest_placed_at, q.sku))
    lines = sum(q.lines for q in queue)
    units = sum(q.units for q in queue)
    parked = sum(q.parked for q in queue)
    title = (
        f":hourglass_flowing_sand: *Unallocated order lines* · {count(lines, 'line')}, "
        f"{count(units, 'unit')} in {count(len(queue), 'SKU')}"
        + (f" ({parked:,} parked)" if parked else "")
    )

    def text(q: QueueBySku) -> str:
        parked = f" ({q.parked:,} parked)" if q.parked else ""
        return (
            f"`{escape(q.sku)}` · {count(q.lines, 'line')}, {count(q.units, 'unit')}{parked} · "
            f"oldest waited {waited(q.age(now))} · {_atp_note(q)}"
        )

    def closing(shown: int) -> str:
        rest = rows[shown:]
        more = sum(q.lines for q in rest)
        return (
            f"{ELLIPSIS} and {count(more, 'more order line')} in {count(len(rest), 'SKU')}: "
            "run `preorder unallocated`"
        )

    return Part(title, [Row(text(q), _allocate(q)) for q in rows], closing)


def _parked(queue: Sequence[QueueBySku]) -> Part | None:
    rows = sorted((q for q in queue if q.parked), key=lambda q: (q.atp_line is None, q.sku))
    if not rows:
        return None
    lines = sum(q.parked for q in rows)
    units = sum(q.parked_units for q in rows)
    title = (
        f":parking: *Parked order lines* · {count(lines, 'line')}, {count(units, 'unit')} in "
        f"{count(len(rows), 'SKU')}: automatic allocation skips them until someone allocates them"
    )

    def text(q: QueueBySku) -> str:
        return (
            f"`{escape(q.sku)}` · {count(q.parked, 'parked line')}, "
            f"{count(q.parked_units, 'unit')} · {_atp_note(q)}"
        )

    def closing(shown: int) -> str:
        rest = rows[shown:]
        more = sum(q.parked for q in rest)
        return (
            f"{ELLIPSIS} and {count(more, 'more parked line')} in {count(len(rest), 'SKU')}: "
            "run `preorder unallocated`"
        )

    return Part(title, [Row(text(q), _allocate(q)) for q in rows], closing)


def _ready(rows: Sequence[ReadyBySku]) -> Part | None:
    if not rows:
        return None
    lines = sum(r.lines for r in rows)
    units = sum(r.units for r in rows)
    title = (
        f":package: *Received, ready to ship* · {count(lines, 'line')}, {count(units, 'unit')} "
        f"in {count(len(rows), 'SKU')}: `preorder ready` lists them, `preorder fulfil` closes "
        "them once shipped"
    )

    def closing(shown: int) -> str:
        rest = rows[shown:]
        more = sum(r.lines for r in rest)
        return (
            f"{ELLIPSIS} and {count(more, 'more ready line')} in {count(len(rest), 'SKU')}: "
            "run `preorder ready`"
        )

    return Part(
        title,
        [
            Row(f"`{escape(r.sku)}` · {count(r.lines, 'line')}, {count(r.units, 'unit')}")
            for r in rows
        ],
        closing,
    )


def _out_of_sync(lines: Sequence[OutOfSyncLine]) -> Part | None:
    if not lines:
        return None
    orders = sum(o.lines for o in lines)
    title = (
        f":date: *Promises out of sync with the arrival date* · {count(len(lines), 'PO line')}, "
        f"{count(orders, 'order line')}"
    )

    def text(o: OutOfSyncLine) -> str:
        promised = promise_range(o)
        return (
            f"*{escape(line_name(o.po, o.line))}* `{escape(o.sku)}` · arrives "
            f"{day(o.arrival_date)} · {count(o.lines, 'order line')} "
            f"({count(o.units, 'unit')}) promised {promised}"
        )

    def sync(o: OutOfSyncLine) -> ButtonElement:
        return button(
            SYNC_DATES, ActionId.SYNC_DATE, ViewState(po=o.po, line=o.line, sku=o.sku).to_json()
        )

    def closing(shown: int) -> str:
        rest = lines[shown:]
        more = sum(o.lines for o in rest)
        return (
            f"{ELLIPSIS} and {count(len(rest), 'more PO line')} "
            f"({count(more, 'order line')}): run `preorder digest`"
        )

    return Part(title, [Row(text(o), sync(o)) for o in lines], closing)


def _arriving(
    lines: Sequence[ArrivingLine],
    queue: Sequence[QueueBySku],
    today: date,
    until: date | None,
) -> Part | None:
    if not lines:
        return None
    queued = {q.sku: q.lines for q in queue}
    by = f" by {day(until)}" if until else ""
    title = (
        f":truck: *Arriving{by} with ATP left* · {count(len(lines), 'PO line')}, "
        f"{count(sum(a.atp for a in lines), 'unit')} to promise"
    )

    def text(a: ArrivingLine) -> str:
        days = (a.arrival_date - today).days
        when_ = "today" if days == 0 else f"in {count(days, 'day')}" if days > 0 else "late"
        waiting = queued.get(a.sku, 0)
        note = f" · {count(waiting, 'order line')} of the SKU waiting" if waiting else ""
        return (
            f"*{escape(line_name(a.po, a.line))}* `{escape(a.sku)}` · arrives "
            f"{day(a.arrival_date)} ({when_}) · *ATP {a.atp:,}*{note}"
        )

    def act(a: ArrivingLine) -> ButtonElement:
        # Allocate when orders of the SKU wait; otherwise there is only something to look at.
        value = ViewState(po=a.po, line=a.line, sku=a.sku).to_json()
        if queued.get(a.sku):
            return button(ALLOCATE, ActionId.ALLOCATE, value, style="primary")
        return button(REVIEW, ActionId.REVIEW, value)

    def closing(shown: int) -> str:
        rest = rows[shown:]
        atp = sum(a.atp for a in rest)
        return (
            f"{ELLIPSIS} and {count(len(rest), 'more PO line')} "
            f"({count(atp, 'unit')} ATP): run `preorder digest`"
        )

    # Lines that orders wait for first (something to allocate), each group by arrival.
    rows = sorted(lines, key=lambda a: not queued.get(a.sku))
    return Part(title, [Row(text(a), act(a)) for a in rows], closing)


def _stranded(stranded: Sequence[StrandedByPO], now: datetime) -> Part | None:
    if not stranded:
        return None
    # The biggest strandings first: they are where customers wait in numbers.
    rows = sorted(stranded, key=lambda s: (-s.lines, s.po))
    lines = sum(s.lines for s in rows)
    units = sum(s.units for s in rows)
    title = (
        f":warning: *Cancelled POs whose orders still wait* · {count(lines, 'order line')}, "
        f"{count(units, 'unit')} from {count(len(rows), 'PO')}"
    )

    def text(s: StrandedByPO) -> str:
        what = "cancelled" if s.status == "cancelled" else "lines cancelled"
        return (
            f"*{escape(s.po)}* ({what}) · {count(s.lines, 'order line')}, "
            f"{count(s.units, 'unit')} waiting in {count(s.skus, 'SKU')} · "
            f"oldest waited {waited(now - s.oldest_placed_at)}"
        )

    def closing(shown: int) -> str:
        rest = rows[shown:]
        more = sum(s.lines for s in rest)
        return (
            f"{ELLIPSIS} and {count(len(rest), 'more PO')} ({count(more, 'order line')} "
            "waiting): run `preorder digest`"
        )

    return Part(title, [Row(text(s)) for s in rows], closing)


def _dead_letters(rows: Sequence[DeadByChannel], now: datetime) -> Part | None:
    """Deliveries a receiver refused for good or never took within the maximum age: the store
    (or the customer) was not told, and on a webhook the order's later events wait too."""
    if not rows:
        return None
    dead = sum(d.deliveries for d in rows)
    title = (
        f":incoming_envelope: *Event deliveries dead-lettered* · "
        f"{count(dead, 'delivery', 'deliveries')}: run `preorder events list --failed`, then "
        "`preorder events retry`"
    )

    def text(d: DeadByChannel) -> str:
        held = f" · {count(d.held, 'later event')} held back" if d.held else ""
        return (
            f"*{escape(d.kind)}* · {count(d.deliveries, 'delivery', 'deliveries')} for "
            f"{count(d.orders, 'order')} · oldest event {waited(now - d.oldest)} ago{held}"
        )

    def closing(shown: int) -> str:
        return f"{ELLIPSIS} and more: run `preorder events list --failed`"

    return Part(title, [Row(text(d)) for d in rows], closing)


def _sheet_button(url: str) -> ActionsBlock:
    return ActionsBlock(
        elements=[ButtonElement(text=plain(OPEN_SHEET, 75), url=url, action_id=ActionId.OPEN_SHEET)]
    )
