"""The size of each SKU's queue by hour of ``placed_at``, and a queued line's place in it.

A queued line's place (the queued lines and units of its SKU before it in FIFO order, the
``ahead`` of ``preorder order``) is the sum of the tallies of its SKU's earlier hours plus a
count of the queue index inside its own hour: a few dozen index entries however long the
queue, where counting the whole range walks one entry per line ahead.

Queued means open, unallocated and unparked, exactly the lines the count has always named.

**Kept by the database.** Triggers on ``so_lines`` keep the tallies, so no statement that
changes the queue (an intake, an import, the sweep, a manual allocation, a release, a park, a
cancel, a fulfilment, an undo, or any path written later) can forget them:

* SQLite: row triggers add each line leaving or joining the queue to its hour's tally (one
  writer at a time holds the whole database, so a tally row is never anyone's hot spot).
* PostgreSQL: statement-level triggers read the statement's transition tables and append one
  row per SKU and hour it changed to ``queue_tally_deltas``, set-based. An append takes no lock
  another writer waits for, so an intake never waits for a sweep batch holding its SKU's tally
  (issue 12), nor two intakes for each other. ``fold_queue_tallies`` sums the deltas into
  ``queue_tallies`` in a short transaction of its own; a reader sums both, so the count is
  exact whether or not the deltas were folded yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, literal, select, text, tuple_, union_all

from engine.db import Database
from engine.models import queue_tallies, queue_tally_deltas, so_lines

QUEUED = "status = 'open' AND po_line_id IS NULL AND NOT parked"

# The hour a stored instant falls in, as each database writes it: on SQLite the text SQLAlchemy
# stores instants as ('2026-06-01 09:41:07.000000'), cut to its hour in the same form, so that
# tallies compare with bound instants (a string cut costs a row trigger less than strftime's
# parse; FIFO already relies on every instant being stored in this one form); on PostgreSQL a
# timestamp.
SQLITE_HOUR = "substr({col}, 1, 13) || ':00:00.000000'"
POSTGRES_HOUR = "date_trunc('hour', {col})"

_SQLITE_UPDATE = "UPDATE OF status, po_line_id, parked, sku, placed_at, quantity"
_SQLITE_EVENTS = {
    # name: (event, row, sign)
    "queue_tallies_insert": ("INSERT", "NEW", 1),
    "queue_tallies_leave": (_SQLITE_UPDATE, "OLD", -1),
    "queue_tallies_join": (_SQLITE_UPDATE, "NEW", 1),
    "queue_tallies_delete": ("DELETE", "OLD", -1),
}


def _sqlite_trigger(name: str, event: str, row: str, sign: int) -> str:
    """A row trigger: a line joining the queue adds to its hour's tally (creating it), a line
    leaving takes from it. The tally of a line leaving exists (it was made when the line
    joined, or by the migration's count; SQLite's tallies are never deleted), so leaving is a
    plain update: about half the cost of an upsert, and the sweep pays it per line."""
    queued = f"{row}.status = 'open' AND {row}.po_line_id IS NULL AND NOT {row}.parked"
    hour = SQLITE_HOUR.format(col=f"{row}.placed_at")
    if sign > 0:
        change = (
            "INSERT INTO queue_tallies (sku, hour, lines, units) "
            f"VALUES ({row}.sku, {hour}, 1, {row}.quantity) "
            "ON CONFLICT (sku, hour) DO UPDATE SET lines = lines + 1, "
            "units = units + excluded.units"
        )
    else:
        change = (
            f"UPDATE queue_tallies SET lines = lines - 1, units = units - {row}.quantity "
            f"WHERE sku = {row}.sku AND hour = {hour}"
        )
    return f"CREATE TRIGGER {name} AFTER {event} ON so_lines WHEN {queued} BEGIN {change}; END"


def _postgres_delta(sources: list[tuple[str, int]]) -> str:
    """The statement appending the net change of the transition tables ``sources`` (each with
    the sign its rows count with) per SKU and hour."""
    hour = POSTGRES_HOUR.format(col="placed_at")
    parts = " UNION ALL ".join(
        f"SELECT sku, {hour} AS hour, {sign} AS lines, {sign} * quantity::bigint AS units "
        f"FROM {table} WHERE {QUEUED}"
        for table, sign in sources
    )
    return (
        "INSERT INTO queue_tally_deltas (sku, hour, lines, units) "
        f"SELECT sku, hour, sum(lines), sum(units) FROM ({parts}) AS changed "
        "GROUP BY sku, hour HAVING sum(lines) <> 0 OR sum(units) <> 0"
    )


# name: (event, REFERENCING clause, sources)
_POSTGRES_EVENTS: dict[str, tuple[str, str, list[tuple[str, int]]]] = {
    "queue_tallies_insert": ("INSERT", "NEW TABLE AS new_rows", [("new_rows", 1)]),
    "queue_tallies_update": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        [("new_rows", 1), ("old_rows", -1)],
    ),
    "queue_tallies_delete": ("DELETE", "OLD TABLE AS old_rows", [("old_rows", -1)]),
}


def create_triggers(conn: Connection) -> None:
    """Install the triggers that keep the tallies (the migration's work)."""
    if conn.dialect.name == "postgresql":
        for name, (event, referencing, sources) in _POSTGRES_EVENTS.items():
            conn.execute(
                text(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN {_postgres_delta(sources)}; RETURN NULL; END $$"
                )
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER {name} AFTER {event} ON so_lines "
                    f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
                )
            )
        return
    for name, (event, row, sign) in _SQLITE_EVENTS.items():
        conn.execute(text(_sqlite_trigger(name, event, row, sign)))


def drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for name in _POSTGRES_EVENTS:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON so_lines"))
            conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))
        return
    for name in _SQLITE_EVENTS:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


def recount(conn: Connection) -> None:
    """Set the tallies from the SO lines themselves: the migration's backfill, and for data
    loaded with the triggers off (PostgreSQL's ``session_replication_role = replica``)."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Writers wait until this commits: a change committed between the two statements below
        # would otherwise be counted in the recount and again in its delta.
        conn.execute(text("LOCK TABLE so_lines IN SHARE MODE"))
    hour = (POSTGRES_HOUR if postgres else SQLITE_HOUR).format(col="placed_at")
    conn.execute(queue_tally_deltas.delete())
    conn.execute(queue_tallies.delete())
    conn.execute(
        text(
            "INSERT INTO queue_tallies (sku, hour, lines, units) "
            f"SELECT sku, {hour}, count(*), sum(quantity) FROM so_lines WHERE {QUEUED} "
            f"GROUP BY sku, {hour}"
        )
    )


# Sums the deltas appended so far into the tallies and deletes them, in one statement. Deltas
# of transactions still running are not visible to it and stay for the next fold.
_FOLD = text(
    "WITH gone AS (DELETE FROM queue_tally_deltas RETURNING sku, hour, lines, units), "
    "summed AS (SELECT sku, hour, sum(lines) AS lines, sum(units) AS units FROM gone "
    "GROUP BY sku, hour) "
    "INSERT INTO queue_tallies (sku, hour, lines, units) "
    "SELECT sku, hour, lines, units FROM summed WHERE lines <> 0 OR units <> 0 "
    "ON CONFLICT (sku, hour) DO UPDATE SET lines = queue_tallies.lines + excluded.lines, "
    "units = queue_tallies.units + excluded.units "
    "RETURNING sku, hour, lines, units"
).columns(queue_tallies.c.sku, queue_tallies.c.hour, queue_tallies.c.lines, queue_tallies.c.units)
# One fold at a time; another caller skips rather than waits (the next fold takes its share).
_FOLD_LOCK = "queue-tally-fold"


def fold_queue_tallies(db: Database) -> int:
    """Sum the appended deltas into the tallies (PostgreSQL; nothing to do on SQLite) and drop
    the hours whose queue is empty again. Returns how many tallies changed. Takes no lock a
    writer waits for: the intake and the sweep only append deltas."""
    if not db.is_postgres:
        return 0
    from engine.locks import lock_key

    def work(conn: Connection) -> int:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        key = lock_key(f"{schema}:{_FOLD_LOCK}")
        if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar():
            return 0
        changed = conn.execute(_FOLD).all()
        empty = [(r.sku, r.hour) for r in changed if r.lines == 0 and r.units == 0]
        if empty:
            conn.execute(
                queue_tallies.delete().where(
                    tuple_(queue_tallies.c.sku, queue_tallies.c.hour).in_(empty)
                )
            )
        return len(changed)

    return db.run(work)


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def ahead(
    conn: Connection, sku: str, placed_at: datetime, order_number: str, line: int
) -> tuple[int, int]:
    """The queued lines and units of ``sku`` before the line (``placed_at``, ``order_number``,
    ``line``) in FIFO order: its earlier hours' tallies and deltas, and its own hour counted
    from the queue index (``ix_so_lines_queue``). One statement, so one view of all three."""
    hour = _hour(placed_at)
    tallied = select(
        func.sum(queue_tallies.c.lines).label("lines"),
        func.sum(queue_tallies.c.units).label("units"),
    ).where(queue_tallies.c.sku == sku, queue_tallies.c.hour < hour)
    pending = select(
        func.sum(queue_tally_deltas.c.lines), func.sum(queue_tally_deltas.c.units)
    ).where(queue_tally_deltas.c.sku == sku, queue_tally_deltas.c.hour < hour)
    inside = select(func.count(), func.sum(so_lines.c.quantity)).where(
        so_lines.c.sku == sku,
        so_lines.c.status == "open",
        so_lines.c.po_line_id.is_(None),
        so_lines.c.parked.is_(False),
        so_lines.c.placed_at >= hour,
        tuple_(so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)
        < tuple_(
            literal(placed_at, type_=so_lines.c.placed_at.type),
            literal(order_number),
            literal(line),
        ),
    )
    parts = union_all(tallied, pending, inside).subquery()
    lines, units = conn.execute(
        select(func.coalesce(func.sum(parts.c.lines), 0), func.coalesce(func.sum(parts.c.units), 0))
    ).one()
    return int(lines), int(units)
