"""``preorder demo``: sample data and a walk through every rule, on the real engine.

The catalogue is fixed and the pre-orders come from a seeded generator, so the same seed prints
the same story: each SKU's demand is a fixed multiset of line quantities (only who ordered when
varies), which keeps every step meaningful whatever the seed (the chairs always outgrow the
later PO line once the early one is cancelled; the lamps are always oversubscribed).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import click
from rich.console import Console, RenderableType
from rich.text import Text

import engine as e
from bot import text
from bot.cli import tables
from bot.cli.arguments import parse_whole
from bot.cli.context import CliContext, pass_cli
from bot.cli.errors import fail
from bot.cli.output import console
from engine.digest import digest
from engine.redact import shown_url

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
DAYS = 5
ORDERS = 300
DEMO_FILE = "preorder-demo.db"

# po, supplier, [(line, sku, quantity, arrival)]
CATALOGUE: list[tuple[str, str, list[tuple[int, str, int, str]]]] = [
    ("PO-1001", "Nordlys Lighting", [(1, "LAMP-ARC", 60, "2027-02-01")]),
    ("PO-1002", "Oakworks", [(1, "CHAIR-OAK", 40, "2027-02-08")]),
    (
        "PO-1003",
        "Ceramica Sud",
        [(1, "MUG-SET4", 120, "2027-02-15"), (2, "KETTLE-BRS", 40, "2027-02-15")],
    ),
    ("PO-1004", "Loom & Weft", [(1, "RUG-WOOL", 30, "2027-02-22")]),
    ("PO-1005", "Nordlys Lighting", [(1, "LAMP-ARC", 50, "2027-03-08")]),
    ("PO-1006", "Oakworks", [(1, "CHAIR-OAK", 80, "2027-03-15")]),
    (
        "PO-1007",
        "Ceramica Sud",
        [(1, "MUG-SET4", 80, "2027-03-29"), (2, "KETTLE-BRS", 30, "2027-03-29")],
    ),
    ("PO-1008", "Loom & Weft", [(1, "RUG-WOOL", 40, "2027-04-12")]),
]

# sku -> how many order lines of quantity 1, 2 and 3
DEMAND: dict[str, tuple[int, int, int]] = {
    "LAMP-ARC": (70, 25, 5),  # 135 units for 110: oversubscribed
    "CHAIR-OAK": (50, 19, 4),  # 100 units for 120, then 80 once PO-1002 is cancelled
    "MUG-SET4": (60, 20, 0),
    "KETTLE-BRS": (40, 8, 0),
    "RUG-WOOL": (40, 10, 2),
}

FIRST = [
    "Ada",
    "Ben",
    "Chloé",
    "Dev",
    "Elif",
    "Finn",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kai",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
]
LAST = [
    "Adler",
    "Berg",
    "Costa",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haas",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lund",
    "Moreau",
]


def catalogue() -> list[e.PORecord]:
    return [
        e.PORecord(
            po=po,
            supplier=supplier,
            lines=[
                e.POLineRecord(
                    line=ln, sku=sku, quantity=qty, arrival_date=date.fromisoformat(arrival)
                )
                for ln, sku, qty, arrival in lines
            ],
        )
        for po, supplier, lines in CATALOGUE
    ]


def pre_orders(seed: int) -> list[e.SORecord]:
    """``ORDERS`` pre-orders over ``DAYS`` days; the lines left over make two-line orders."""
    rng = random.Random(seed)
    slots = [
        (sku, qty) for sku, counts in DEMAND.items() for qty, n in enumerate(counts, 1)
        for _ in range(n)
    ]  # fmt: skip
    rng.shuffle(slots)
    orders: list[list[tuple[str, int]]] = [[slot] for slot in slots[:ORDERS]]
    for slot in slots[ORDERS:]:
        # The next one-line order of another SKU from a random start becomes a two-line order.
        start = rng.randrange(ORDERS)
        for k in range(ORDERS):
            pick = orders[(start + k) % ORDERS]
            if len(pick) == 1 and pick[0][0] != slot[0]:
                pick.append(slot)
                break
    minutes = sorted(rng.uniform(0, DAYS * 24 * 60) for _ in range(ORDERS))
    return [
        e.SORecord(
            order=f"SO-{5001 + i}",
            customer=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            placed_at=(START + timedelta(minutes=minute)).replace(microsecond=0),
            lines=[
                e.SOLineRecord(line=n, sku=sku, quantity=qty)
                for n, (sku, qty) in enumerate(lines, 1)
            ],
        )
        for i, (minute, lines) in enumerate(zip(minutes, orders, strict=True))
    ]


class Walkthrough:
    """Each step: a titled section saying why, what was done, and a table of the result."""

    def __init__(self, db: e.Database, actor: e.Actor, out: Console, zone: tzinfo = UTC) -> None:
        self.db = db
        self.actor = actor
        self.out = out
        self.zone = zone  # the team's (PREORDER_TIMEZONE): every time a table shows
        self.step = 0

    def section(self, title: str, why: str) -> None:
        self.step += 1
        self.out.print()
        self.out.rule(Text(f"{self.step}. {title}", style="bold"), align="left")
        self.out.print(why)

    def say(self, outcome: e.Outcome, atp_of: tuple[str, int] | None = None) -> None:
        for sentence in text.describe(outcome, [atp_of] if atp_of else ()):
            self.out.print(f"  → {sentence}")

    def show(self, *renderables: RenderableType) -> None:
        for item in renderables:
            self.out.print()
            self.out.print(item)

    def supply(self, title: str, sku: str | None = None) -> None:
        lines = [
            s
            for po, _, _ in CATALOGUE
            for s in e.purchase_order(self.db, po).lines
            if sku in (None, s.sku)
        ]
        lines.sort(key=lambda s: (s.sku, s.arrival_date, s.po, s.line))
        self.show(tables.po_lines_table(lines, title=title))

    def review(self, po: str, line: int, rows: int) -> None:
        review = e.review(self.db, po, line, limit=rows + 1)
        note = f"first {rows} shown" if len(review.allocations) > rows else ""
        self.show(tables.review_view(_first(review, rows), note=note, zone=self.zone))


def run_demo(
    db: e.Database, actor: e.Actor, out: Console, *, seed: int = 7, zone: tzinfo = UTC
) -> None:
    """Import the sample, then show each rule at work on it."""
    w = Walkthrough(db, actor, out, zone)
    purchase, sales = catalogue(), pre_orders(seed)
    w.section(
        "Import purchase orders and pre-orders",
        f"{len(purchase)} POs from {len({s for _, s, _ in CATALOGUE})} suppliers and "
        f"{len(sales)} pre-orders placed over "
        f"{DAYS} days (seed {seed}), some with two lines.",
    )
    w.say(e.apply_records(db, actor, purchase, sales))

    w.section(
        "FIFO auto-allocation",
        "Each new order line went whole to the earliest-arriving PO line of its SKU with ATP "
        "for it, first placed first served. Lamps are oversubscribed, so some lamp lines wait.",
    )
    w.supply("PO lines by SKU and arrival")
    w.show(tables.queue_by_sku_table(digest(db).unallocated, zone=w.zone))

    w.section("Review a PO line", "The first lamp shipment and who it is promised to:")
    w.review("PO-1001", 1, 8)

    _cancel_and_reallocate(w)
    _move_arrival(w)
    parked = _in_store(w)
    _final_sweep(w, parked)


def _first(review: e.Review, n: int) -> e.Review:
    return replace(review, allocations=review.allocations[:n])


def _cancel_and_reallocate(w: Walkthrough) -> None:
    db, actor, out = w.db, w.actor, w.out
    w.section(
        "Cancel a PO: its orders are stranded",
        "Oakworks cancels PO-1002. Its chair orders lose their allocation and wait, unparked, "
        "for a person or the next sweep.",
    )
    w.say(e.cancel_po(db, actor, "PO-1002"))
    stranded = e.unallocated(db, sku="CHAIR-OAK")
    w.show(
        tables.queue_table(
            stranded[:10],
            title="CHAIR-OAK order lines now unallocated",
            note=f"first 10 of {len(stranded)} shown",
            zone=w.zone,
        )
    )

    atp = e.po_line(db, "PO-1006", 1).atp
    w.section(
        "Allocate stranded orders by hand",
        f"The later chair shipment PO-1006:1 has {atp} units of ATP left. Allocation is all or "
        "nothing: asking for more than the ATP is refused and changes nothing.",
    )
    attempt, asked = [], 0
    for q in stranded:
        attempt.append(e.LineRef(q.order, q.line))
        asked += q.quantity
        if asked > atp:
            break
    out.print(f"$ preorder allocate PO-1006 1 {_args(attempt)}")
    try:
        e.allocate(db, actor, "PO-1006", 1, attempt)
        out.print("  (they all fit: nothing to refuse)")
    except e.Refused as exc:
        out.print(Text.assemble("  ", ("error:", "red"), f" {exc.message}: {exc.problems[-1]}"))
    fit, room = [], atp
    for q in stranded:
        if q.quantity <= room:
            fit.append(e.LineRef(q.order, q.line))
            room -= q.quantity
    out.print(f"$ preorder allocate PO-1006 1 {_args(fit)}")
    if fit:
        outcome = e.allocate(db, actor, "PO-1006", 1, fit)
        w.say(outcome, ("PO-1006", 1))
    w.supply("Chair PO lines now", "CHAIR-OAK")


def _args(refs: list[e.LineRef], most: int = 3) -> str:
    shown = " ".join(str(r) for r in refs[:most])
    return shown + (f" … ({len(refs)} order lines)" if len(refs) > most else "")


def _move_arrival(w: Walkthrough) -> None:
    db, actor, out = w.db, w.actor, w.out
    w.section(
        "An arrival date moves",
        "Oakworks ships PO-1006 three weeks late. Promises do not change silently: the "
        "allocated lines show as out of sync until someone syncs them.",
    )
    w.say(e.set_arrival(db, actor, "PO-1006", 1, date(2027, 4, 5)))
    w.review("PO-1006", 1, 5)
    out.print()
    out.print("Sync the promised dates; each change is recorded so customers can be told:")
    w.say(e.sync_date(db, actor, "PO-1006", 1))
    w.supply("Chair PO lines after the sync", "CHAIR-OAK")


def _in_store(w: Walkthrough) -> list[e.LineRef]:
    db, actor = w.db, w.actor
    w.section(
        "Remove allocations for in-store sales",
        "The store wants some of the first lamp shipment. Removed lines are parked, so "
        "automatic allocation does not put them straight back; with --hold-for-store the "
        "freed units go to the store hold, otherwise back to ATP.",
    )
    held = e.review(db, "PO-1001", 1).allocations
    latest = [e.LineRef(a.order, a.line) for a in held[-5:]]
    w.say(e.remove(db, actor, "PO-1001", 1, latest[:3], hold_for_store=True))
    w.say(e.remove(db, actor, "PO-1001", 1, latest[3:]))
    w.supply("Lamp PO lines now", "LAMP-ARC")
    return latest


def _final_sweep(w: Walkthrough, parked: list[e.LineRef]) -> None:
    db, actor, out = w.db, w.actor, w.out
    w.section(
        "The periodic sweep skips parked lines",
        "auto-allocate runs rule 1 over every SKU. The free lamp units go to the next "
        "unparked lamp lines in the queue, not back to the parked ones placed before them.",
    )
    w.say(e.auto_allocate(db, actor))
    # Keyed as a LineRef's parts, whose line may be None (a whole order): such a key finds none.
    waiting: dict[tuple[str, int | None], e.QueuedLine] = {
        (q.order, q.line): q for q in e.unallocated(db, sku="LAMP-ARC")
    }
    skipped = [r for r in parked if waiting.get((r.order, r.line)) is not None]
    w.show(
        tables.queue_table(
            [waiting[(r.order, r.line)] for r in skipped],
            title="Parked lamp lines, still unallocated",
            zone=w.zone,
        )
    )
    out.print(
        f"The sweep skipped all {len(skipped)} parked lines; 'preorder unpark' or "
        "'preorder allocate' brings them back."
        if len(skipped) == len(parked)
        else f"The sweep skipped {len(skipped)} of {len(parked)} parked lines."
    )
    w.show(tables.queue_by_sku_table(digest(db).unallocated, zone=w.zone))


@click.command()
@click.option(
    "--db",
    "url",
    metavar="URL",
    help=f"Run on this (empty) database instead of a fresh ./{DEMO_FILE}.",
)
@click.option("--seed", default="7", metavar="N", show_default=True, help="Sample data seed.")
@pass_cli
def demo(cli: CliContext, url: str | None, seed: str) -> None:
    """Walk through the product on sample data: FIFO auto-allocation, a review, a cancelled PO
    and its stranded orders allocated by hand, a moved arrival date synced, allocations
    removed for in-store sales, and a sweep that skips parked lines.

    Needs no configuration: it (re)creates ./preorder-demo.db in the current directory
    (PREORDER_DATABASE_URL is ignored); --db runs it on another database, which must be empty.

    \b
    Example:
      preorder demo
      preorder demo --seed 3
    """
    number = parse_whole(seed, "--seed", minimum=0)
    target = url or cli.url
    fresh = target is None
    if fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{DEMO_FILE}{suffix}").unlink(missing_ok=True)
        target = f"sqlite:///{DEMO_FILE}"
    cli.url = target
    db = cli.database(need_schema=False)
    e.upgrade(db)
    if not e.is_empty(db):
        fail(
            f"the demo needs an empty database, but {shown_url(db.url)} already holds orders; "
            "leave --db out to use a fresh ./preorder-demo.db"
        )
    run_demo(db, e.Actor(cli.actor_name, e.Source.CLI), console(), seed=number, zone=cli.zone())
    if fresh:
        console().print(
            f"\nThe demo data stays in ./{DEMO_FILE}: try "
            f"'preorder --db sqlite:///{DEMO_FILE} review PO-1001 1'."
        )


COMMANDS = [demo]
