"""The outbox's deliveries: each event on its way to each channel (a webhook URL, customers'
email), and every query a delivery run needs (DESIGN.md section 5).

A run, outside any operation's transaction (a slow receiver never holds a lock an operation
waits for):

1. ``enqueue``: events no run has seen yet get a pending delivery per channel;
2. ``claim``: due deliveries, each the first still waiting of its order on its channel (an
   order's next event waits until its previous one was accepted), are taken for a while (a
   lease: ``due_at`` moves to when it lapses, so a run that dies between sending and marking
   leaves them to be sent again, at least once); on PostgreSQL with ``FOR UPDATE SKIP
   LOCKED``, so that runs in several replicas never take the same delivery;
3. the caller sends them, with no transaction open;
4. ``settle``: each is marked delivered, to be retried at a time, dead-lettered or skipped.

On a webhook channel a dead-lettered delivery holds its order's later events back until it is
retried (``retry_events``) and accepted: receivers see an order's events in order, always.
Emails are each complete for their reader, so a dead one holds nothing back.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from engine.db import Database
from engine.errors import InvalidInput, NotFound, Refused
from engine.ledger import chunks
from engine.models import outbox_channels, outbox_deliveries, outbox_events
from engine.outbox import CANCELLED, Event

EMAIL = "email"
WEBHOOK = "webhook"
ENQUEUE_BATCH = 5000
# At most this much of an answer is kept (DESIGN.md section 5: the first 500 bytes).
ANSWER_BYTES = 500
Status = Literal["pending", "delivered", "dead", "skipped"]
WAITING = ("pending", "dead")

d = outbox_deliveries
ev = outbox_events
ch = outbox_channels


def status_is(table: Any, *statuses: str) -> ColumnElement[bool]:
    """``status = 'x'`` (or ``IN``) with the values written into the SQL, not bound: a partial
    index (``WHERE status = 'pending'``) serves a query only when the planner can see its
    condition there (SQLite at prepare time, PostgreSQL in a prepared statement's generic plan,
    which psycopg uses from a statement's sixth run on)."""
    values: list[ColumnElement[Any]] = [literal_column(f"'{s}'") for s in statuses]
    if len(values) == 1:
        return table.c.status == values[0]
    return table.c.status.in_(values)


def webhook_channel(url: str) -> str:
    return f"{WEBHOOK} {url}"


def channel_kind(name: str) -> str:
    """``webhook`` or ``email``: what a channel's deliveries are counted as."""
    return name.split(" ", 1)[0]


@dataclass(frozen=True)
class Channel:
    """A channel as a run delivers to it. ``delay``: how long after its event a delivery is
    first due (emails wait ``PREORDER_NOTIFY_DELAY`` for the net change); ``stale``: events
    older than this when first seen are not sent at all (a customer is not told today of a
    change made long ago), None: all are."""

    name: str
    delay: timedelta = timedelta(0)
    stale: timedelta | None = None

    @property
    def holds_order(self) -> bool:
        """Whether a dead-lettered delivery holds its order's later ones back."""
        return channel_kind(self.name) == WEBHOOK


# --- 1. enqueue -------------------------------------------------------------------------------


# Channel ids by database: a channel's row is never deleted or renamed, so once read its id
# holds for the life of the process (every claim would otherwise read it again).
_known: weakref.WeakKeyDictionary[Database, dict[str, int]] = weakref.WeakKeyDictionary()


def channel_ids(db: Database, names: Collection[str]) -> dict[str, int]:
    """The ids of the channels, created as needed."""
    known = _known.setdefault(db, {})
    wanted = sorted(set(names))
    if all(n in known for n in wanted):
        return {n: known[n] for n in wanted}

    def work(conn: Connection) -> dict[str, int]:
        dialect = postgresql if db.is_postgres else sqlite
        conn.execute(
            dialect.insert(ch).on_conflict_do_nothing(index_elements=[ch.c.name]),
            [{"name": n} for n in wanted],
        )
        rows = conn.execute(select(ch.c.name, ch.c.id).where(ch.c.name.in_(wanted)))
        return {name: id_ for name, id_ in rows}

    found = db.run(work, retry_unique=True)
    known.update(found)
    return found


def enqueue(db: Database, channels: Sequence[Channel], *, now: datetime) -> int:
    """Give every event not yet enqueued a delivery on each channel; returns how many events.
    Events enqueued while no channel is configured are kept for when one is (see README)."""
    if not channels:
        return 0
    ids = channel_ids(db, [c.name for c in channels])
    total = 0
    while True:
        done = db.run(lambda conn: _enqueue_batch(conn, db.is_postgres, channels, ids, now))
        total += done
        if done < ENQUEUE_BATCH:
            return total


def _enqueue_batch(
    conn: Connection,
    postgres: bool,
    channels: Sequence[Channel],
    ids: dict[str, int],
    now: datetime,
) -> int:
    query = (
        select(ev.c.id, ev.c.order_number, ev.c.created_at)
        .where(~ev.c.enqueued)  # as the partial index says it
        .order_by(ev.c.id)
        .limit(ENQUEUE_BATCH)
    )
    if postgres:
        # Two runs enqueueing at once take different events.
        query = query.with_for_update(skip_locked=True)
    events = conn.execute(query).all()
    if not events:
        return 0
    rows: list[dict[str, Any]] = []
    for c in channels:
        for e in events:
            stale = c.stale is not None and now - e.created_at > c.stale
            rows.append(
                {
                    "outbox_id": e.id,
                    "channel_id": ids[c.name],
                    "order_number": e.order_number,
                    "status": "skipped" if stale else "pending",
                    "due_at": e.created_at + c.delay,
                    "attempts": 0,
                    "done_at": now if stale else None,
                    "answer": f"not sent: older than {c.stale} when first seen" if stale else None,
                }
            )
    conn.execute(insert(d), rows)
    for chunk in chunks([e.id for e in events]):
        conn.execute(update(ev).where(ev.c.id.in_(chunk)).values(enqueued=True))
    return len(events)


# --- 2. claim ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by a run: its event, and its attempts so far (this one included)."""

    delivery: int
    channel: str
    order: str
    event: Event
    attempts: int
    first_attempt_at: datetime


@dataclass(frozen=True)
class Window:
    """An email's worth of one order's deliveries: the first one due (``head``, the one
    claimed) and every later one of the order whose event came within the channel's delay of
    the head's (the net change of those is what the customer is told)."""

    head: Claimed
    events: list[Event]
    members: list[int]  # the deliveries covered besides the head


def claim(
    db: Database,
    channel: Channel,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    due_by: datetime | None = None,
) -> list[Claimed]:
    """Take up to ``limit`` deliveries of ``channel`` due by ``due_by`` (default ``now``; see
    the module docstring), each the first still waiting of its order; they are due again at
    ``now + lease`` unless settled by then."""
    if limit <= 0:
        return []
    ids = channel_ids(db, [channel.name])
    due = now if due_by is None else due_by
    return db.run(
        lambda conn: _claim(
            conn, db.is_postgres, channel, ids[channel.name], now, due, limit, lease
        )
    )


def claim_windows(
    db: Database,
    channel: Channel,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    due_by: datetime | None = None,
) -> list[Window]:
    """``claim`` for email: each head with the later deliveries of its order within the
    channel's delay of it (those wait behind the head, so no other run can take them)."""
    heads = claim(db, channel, now=now, limit=limit, lease=lease, due_by=due_by)
    if not heads:
        return []
    channel_id = channel_ids(db, [channel.name])[channel.name]
    by_order = {h.order: h for h in heads}
    windows = {h.order: Window(h, [h.event], []) for h in heads}
    with db.read() as conn:
        for orders in chunks(sorted(by_order)):
            rows = conn.execute(
                select(d.c.id, d.c.order_number, *_EVENT_COLUMNS)
                .join(ev, ev.c.id == d.c.outbox_id)
                .where(
                    d.c.channel_id == channel_id,
                    status_is(d, *WAITING),
                    status_is(d, "pending"),
                    d.c.order_number.in_(orders),
                )
                .order_by(d.c.order_number, d.c.outbox_id)
            )
            for r in rows:
                head = by_order[r.order_number]
                if r.id == head.delivery:
                    continue
                if r.created_at <= head.event.created_at + channel.delay:
                    windows[r.order_number].events.append(_event(r))
                    windows[r.order_number].members.append(r.id)
    return [windows[h.order] for h in heads]


_EVENT_COLUMNS = (ev.c.event_id, ev.c.type, ev.c.created_at, ev.c.data)


def _event(row: Any) -> Event:
    return Event(row.event_id, row.type, row.created_at, row.data)


def _first_of_order(statuses: Sequence[str]) -> Any:
    """The lowest event of the delivery's order on its channel among deliveries in
    ``statuses``, as a correlated scalar subquery. A subquery rather than NOT EXISTS: the
    database runs it once per candidate through the index on (channel, order, event) whatever
    its statistics say (PostgreSQL, told by stale statistics that the table holds one row,
    turned NOT EXISTS into a scan of the whole channel per candidate: 180 ms a claim of 200 on
    5,000 deliveries)."""
    earlier = d.alias("earlier")
    # The partial index's own condition first, which lets SQLite use it.
    where = [status_is(earlier, *WAITING)]
    if tuple(statuses) != WAITING:
        where.append(status_is(earlier, *statuses))
    return (
        select(func.min(earlier.c.outbox_id))
        .where(
            earlier.c.channel_id == d.c.channel_id,
            earlier.c.order_number == d.c.order_number,
            *where,
        )
        .correlate(d)
        .scalar_subquery()
    )


def _claim(
    conn: Connection,
    postgres: bool,
    channel: Channel,
    channel_id: int,
    now: datetime,
    due_by: datetime,
    limit: int,
    lease: timedelta,
) -> list[Claimed]:
    # The first of the order's deliveries on this channel still in the way (dead ones too on a
    # webhook): this one is due only if it is that one.
    in_the_way = (*WAITING,) if channel.holds_order else ("pending",)
    query = (
        select(d.c.id, d.c.order_number, d.c.attempts, d.c.first_attempt_at, *_EVENT_COLUMNS)
        .join(ev, ev.c.id == d.c.outbox_id)
        .where(
            d.c.channel_id == channel_id,
            status_is(d, "pending"),
            d.c.due_at <= due_by,
            d.c.outbox_id == _first_of_order(in_the_way),
        )
        .order_by(d.c.due_at, d.c.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(of=d, skip_locked=True)
    rows = conn.execute(query).all()
    for chunk in chunks([r.id for r in rows]):
        conn.execute(
            update(d)
            .where(d.c.id.in_(chunk))
            .values(
                due_at=now + lease,
                attempts=d.c.attempts + 1,
                first_attempt_at=func.coalesce(d.c.first_attempt_at, now),
                last_attempt_at=now,
            )
        )
    return [
        Claimed(
            r.id,
            channel.name,
            r.order_number,
            _event(r),
            r.attempts + 1,
            r.first_attempt_at or now,
        )
        for r in rows
    ]


# --- 4. settle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """What became of one claimed delivery. ``retry_at`` for ``pending`` (tried again then);
    ``status`` and ``answer``: the receiver's answer (the answer cut to ``ANSWER_BYTES``);
    ``members``: deliveries this one's message covered, settled with it."""

    delivery: int
    outcome: Literal["delivered", "pending", "dead", "skipped"]
    status: int | None = None
    answer: str | None = None
    retry_at: datetime | None = None
    members: Sequence[int] = field(default_factory=tuple)


def clip(answer: str | bytes | None) -> str | None:
    """The first ``ANSWER_BYTES`` bytes of an answer, as text."""
    if answer is None:
        return None
    raw = answer.encode("utf-8", "replace") if isinstance(answer, str) else answer
    return raw[:ANSWER_BYTES].decode("utf-8", "replace")


def settle(db: Database, results: Iterable[Settled], *, now: datetime) -> None:
    """Record what became of claimed deliveries, in one transaction. A delivery settled by
    another run meanwhile (its lease lapsed and it was sent again) is left as that run left
    it."""
    done: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    for r in results:
        if r.outcome == "pending":
            assert r.retry_at is not None, "a delivery to retry needs its time"
            later.append({"did": r.delivery, "due": r.retry_at, "st": r.status, "ans": r.answer})
            continue
        for member in (r.delivery, *r.members):
            done.append(
                {
                    "did": member,
                    "status": r.outcome,
                    "st": r.status,
                    "ans": r.answer,
                    "merged": r.delivery if member != r.delivery else None,
                }
            )
    if not done and not later:
        return

    def work(conn: Connection) -> None:
        if done:
            conn.execute(_FINISH, [{**p, "now": now} for p in done])
        if later:
            conn.execute(_LATER, later)

    db.run(work)


_STILL_PENDING = and_(d.c.id == bindparam("did"), d.c.status == "pending")
_FINISH = (
    update(d)
    .where(_STILL_PENDING)
    .values(
        status=bindparam("status"),
        done_at=bindparam("now"),
        answer_status=bindparam("st"),
        answer=bindparam("ans"),
        merged_into=bindparam("merged"),
    )
)
_LATER = (
    update(d)
    .where(_STILL_PENDING)
    .values(due_at=bindparam("due"), answer_status=bindparam("st"), answer=bindparam("ans"))
)


# --- reading and retrying ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    """An event and where it stands on one channel (``channel`` None: no run has taken it up
    yet, as when no channel is configured). ``held``: a pending delivery waiting behind an
    earlier one of its order that is dead-lettered."""

    event_id: str
    type: str
    order: str
    created_at: datetime
    channel: str | None
    status: str
    attempts: int
    due_at: datetime | None
    last_attempt_at: datetime | None
    answer_status: int | None
    answer: str | None
    held: bool = False

    @property
    def cancelled(self) -> bool:
        """The event tells of cancelled lines (``order.cancelled``)."""
        return self.type == CANCELLED


def list_events(
    db: Database,
    *,
    failed: bool = False,
    order: str | None = None,
    limit: int = 100,
) -> list[DeliveryRow]:
    """The latest ``limit`` events with their deliveries, oldest first: all, the dead-lettered
    ones (``failed``), or one order's."""
    if limit < 1:
        raise InvalidInput("the limit must be at least 1")
    held = d.c.outbox_id > _first_of_order(("dead",))
    query = select(
        ev.c.id.label("outbox_id"),
        d.c.id.label("delivery"),
        ev.c.event_id,
        ev.c.type,
        ev.c.order_number,
        ev.c.created_at,
        ch.c.name.label("channel"),
        func.coalesce(d.c.status, literal("new")).label("status"),
        func.coalesce(d.c.attempts, 0).label("attempts"),
        d.c.due_at,
        d.c.last_attempt_at,
        d.c.answer_status,
        d.c.answer,
        case((and_(d.c.status == "pending", held), True), else_=False).label("held"),
    ).select_from(
        ev.outerjoin(d, d.c.outbox_id == ev.c.id).outerjoin(ch, ch.c.id == d.c.channel_id)
    )
    if failed:
        query = query.where(status_is(d, "dead"))
    if order is not None:
        query = query.where(ev.c.order_number == order)
    query = query.order_by(ev.c.id.desc(), d.c.id.desc()).limit(limit)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        DeliveryRow(
            r.event_id,
            r.type,
            r.order_number,
            r.created_at,
            r.channel,
            r.status,
            int(r.attempts),
            r.due_at,
            r.last_attempt_at,
            r.answer_status,
            r.answer,
            bool(r.held),
        )
        for r in reversed(rows)
    ]


def retry_events(
    db: Database, event_ids: Sequence[str] = (), *, failed: bool = False, now: datetime
) -> int:
    """Put dead-lettered deliveries back on their way, due at ``now``, with a fresh allowance
    of attempts: those of ``event_ids`` (each must have one: an unknown id, or one with none
    dead-lettered, refuses them all), or every one (``failed``). Returns how many. On a
    webhook channel a retried event goes before its order's later events, which waited."""
    if not event_ids and not failed:
        raise InvalidInput("name the events to retry, or retry every failed one")
    wanted = sorted(set(event_ids))

    def work(conn: Connection) -> int:
        dead = status_is(d, "dead")
        if wanted:
            found = conn.execute(
                select(ev.c.event_id, func.count(d.c.id))
                .select_from(ev.outerjoin(d, and_(d.c.outbox_id == ev.c.id, dead)))
                .where(ev.c.event_id.in_(wanted))
                .group_by(ev.c.event_id)
            ).all()
            counts: dict[str, int] = {i: int(n) for i, n in found}
            unknown = [i for i in wanted if i not in counts]
            if unknown:
                raise NotFound("unknown event", [f"no event {i}" for i in unknown])
            alive = [i for i in wanted if not counts[i]]
            if alive:
                raise Refused(
                    "nothing to retry", [f"{i} has no dead-lettered delivery" for i in alive]
                )
            targets = select(ev.c.id).where(ev.c.event_id.in_(wanted))
            where = and_(dead, d.c.outbox_id.in_(targets))
        else:
            where = dead
        result = conn.execute(
            update(d)
            .where(where)
            .values(
                status="pending",
                due_at=now,
                attempts=0,
                first_attempt_at=None,
                done_at=None,
            )
            .execution_options(preserve_rowcount=True)
        )
        return int(result.rowcount or 0)

    return db.run(work)


# --- the digest's part ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadByChannel:
    """Dead-lettered deliveries of one kind of channel (``webhook``, ``email``)."""

    kind: str
    deliveries: int
    orders: int
    oldest: datetime
    held: int  # later events of those orders waiting behind them


def dead_letters(conn: Connection) -> list[DeadByChannel]:
    """Dead-lettered deliveries by kind of channel, as aggregates (a partial index holds the
    dead ones, so this costs what they number, not the history)."""
    rows = conn.execute(
        select(
            ch.c.name,
            func.count().label("deliveries"),
            func.count(func.distinct(d.c.order_number)).label("orders"),
            func.min(ev.c.created_at).label("oldest"),
        )
        .select_from(d.join(ch, ch.c.id == d.c.channel_id).join(ev, ev.c.id == d.c.outbox_id))
        .where(status_is(d, "dead"))
        .group_by(ch.c.name)
    ).all()
    if not rows:
        return []
    # From the dead ones (few, in a partial index) to the pending ones behind them.
    first_dead = (
        select(d.c.channel_id, d.c.order_number, func.min(d.c.outbox_id).label("outbox_id"))
        .where(status_is(d, "dead"))
        .group_by(d.c.channel_id, d.c.order_number)
        .subquery("first_dead")
    )
    behind = d.alias("behind")
    held: dict[str, int] = {
        name: int(n)
        for name, n in conn.execute(
            select(ch.c.name, func.count())
            .select_from(
                first_dead.join(
                    behind,
                    and_(
                        behind.c.channel_id == first_dead.c.channel_id,
                        behind.c.order_number == first_dead.c.order_number,
                        behind.c.outbox_id > first_dead.c.outbox_id,
                    ),
                ).join(ch, ch.c.id == first_dead.c.channel_id)
            )
            .where(status_is(behind, *WAITING), status_is(behind, "pending"))
            .group_by(ch.c.name)
        )
    }
    found: dict[str, DeadByChannel] = {}
    for r in rows:
        kind = channel_kind(r.name)
        before = found.get(kind)
        oldest = r.oldest if before is None else min(before.oldest, r.oldest)
        found[kind] = DeadByChannel(
            kind,
            int(r.deliveries) + (before.deliveries if before else 0),
            # Orders counted per channel: one order dead on two webhooks counts twice.
            int(r.orders) + (before.orders if before else 0),
            oldest,
            int(held.get(r.name, 0)) + (before.held if before else 0),
        )
    return [found[k] for k in sorted(found)]
