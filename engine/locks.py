"""Keeping a scheduled job to one runner across replicas: a lock per job, and a claim per run.

``job_lock`` stops two replicas running the same job at the same moment. On PostgreSQL it is a
session advisory lock on a connection held for the run: the server drops it by itself if the
replica dies or loses its connection, so a crash never leaves a job locked. On SQLite (one
machine) it is an exclusive ``flock`` on a file beside the database, which the kernel likewise
drops when the process ends.

A lock alone does not stop the same run happening twice: replicas' timers fire a few
milliseconds apart, and a quick job can finish and unlock before the second replica looks. So
each run also claims its scheduled time (``run_key``) in ``applied_keys``: an engine operation
passes the key as its idempotency key, so the claim commits with its work; other jobs call
``claim_run`` before they act.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from engine.db import Database, sqlite_file
from engine.models import applied_keys
from engine.unit import Actor

log = logging.getLogger("engine.locks")

RUN_KEY_PREFIX = "job:"
# Compact and fixed-width, so that keys of one job sort by time under any collation.
_SLOT_FORMAT = "%Y%m%dT%H%M%S%fZ"

_LOCK_NOT_AVAILABLE = "55P03"
# How often a wait for a lock on SQLite looks again.
_POLL = 0.05

# For databases that only this process can open (in-memory SQLite).
_local_locks: dict[tuple[str, str], threading.Lock] = {}
_local_guard = threading.Lock()


@contextmanager
def job_lock(db: Database, name: str) -> Iterator[bool]:
    """Hold the lock named ``name`` for the ``with`` block: yields True when this caller got it,
    False when another process (or connection) holds it. Never waits."""
    if db.is_postgres:
        with _advisory_lock(db, name) as held:
            yield held
        return
    path = sqlite_file(db.url)
    if path is None:
        with _local_lock(db.url, name) as held:
            yield held
        return
    with _file_lock(path.with_name(f"{path.name}.{_safe(name)}.lock")) as held:
        yield held


@contextmanager
def waiting_lock(db: Database, name: str) -> Iterator[None]:
    """Hold the lock named ``name`` (the one ``job_lock`` tries) for the ``with`` block,
    waiting for it as long as another holder keeps it: on PostgreSQL in the server's queue,
    so waiters get it in turn, first come first served."""
    if not db.is_postgres:
        path = sqlite_file(db.url)
        while True:
            lock = (
                _local_lock(db.url, name)
                if path is None
                else _file_lock(path.with_name(f"{path.name}.{_safe(name)}.lock"))
            )
            with lock as held:
                if held:
                    yield
                    return
            time.sleep(_POLL)
    with db.storage_errors():
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            key = lock_key(f"{schema}:{name}")
            while True:
                try:
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                    break
                except DBAPIError as exc:
                    # The server's lock_timeout (``serve`` bounds every lock wait): the holder
                    # is a long sweep, still running; wait again. Anything else is an error.
                    if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                        raise
        except BaseException:
            conn.invalidate()  # a wait cut short may still be granted: never pool it
            conn.close()
            raise
    try:
        yield
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        except DBAPIError as exc:
            log.warning("could not release the lock of %s (%s)", name, exc.orig)
            conn.invalidate()
        conn.close()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (Python's ``hash`` varies by run)."""
    digest = hashlib.blake2b(f"preorder:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def run_key(job: str, slot: datetime) -> str:
    """The idempotency key of ``job``'s run scheduled for ``slot`` (an aware datetime)."""
    return f"{RUN_KEY_PREFIX}{job}:{slot.astimezone(UTC).strftime(_SLOT_FORMAT)}"


def claim_run(db: Database, job: str, slot: datetime, actor: Actor) -> bool:
    """Record that ``job``'s run for ``slot`` is being done; False when it already was."""
    row = {
        "key": run_key(job, slot),
        "operation": job[:32],
        "operation_id": str(uuid.uuid4()),
        "actor": actor.name,
        "source": actor.source.value,
        "at": db.clock(),
    }

    def work(conn: Connection) -> bool:
        dialect = postgresql if db.is_postgres else sqlite
        stmt = dialect.insert(applied_keys).values(row).on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports no row count for this statement.
        return conn.execute(stmt.returning(applied_keys.c.key)).first() is not None

    return db.run(work)


def forget_runs(db: Database, job: str, before: datetime) -> int:
    """Drop ``job``'s run claims for slots before ``before`` (they only guard against a second
    replica repeating a recent run); returns how many went."""
    prefix = f"{RUN_KEY_PREFIX}{job}:"
    # The range lets the primary key's index find the rows; LIKE makes sure of the prefix
    # whatever the collation.
    stmt = delete(applied_keys).where(
        applied_keys.c.key >= prefix,
        applied_keys.c.key < run_key(job, before),
        applied_keys.c.key.startswith(prefix, autoescape=True),
    )
    return db.run(lambda conn: conn.execute(stmt).rowcount)


@contextmanager
def _advisory_lock(db: Database, name: str) -> Iterator[bool]:
    # Autocommit: the lock belongs to the session, and a transaction left open for the whole
    # run would hold back vacuum for nothing.
    with db.storage_errors():
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            # Two deployments sharing a database in different schemas must not block each other.
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            key = lock_key(f"{schema}:{name}")
            held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        except BaseException:
            conn.close()
            raise
    try:
        yield held
    finally:
        if held:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except DBAPIError as exc:
                # The session is gone and its lock with it; a pooled connection that might still
                # hold the lock must never be handed out again.
                log.warning("could not release the lock of %s (%s)", name, exc.orig)
                conn.invalidate()
        conn.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    try:
        import fcntl
    except ImportError:  # not POSIX: one process per database file is all we can promise
        with _local_lock(str(path), "") as held:
            yield held
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        # The file stays: removing it would let a third process lock a new file while the
        # second still holds the old one.
        os.close(fd)


@contextmanager
def _local_lock(scope: str, name: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault((scope, name), threading.Lock())
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
