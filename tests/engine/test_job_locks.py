"""Job locks and run claims (engine/locks.py): one runner per job across processes and
replicas, on PostgreSQL (advisory locks) and on SQLite (a file lock beside the database)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import engine as e
from engine.locks import claim_run, forget_runs, job_lock, lock_key, run_key
from tests.fixtures.databases import fresh_sqlite

SCHEDULER = e.Actor("scheduler", e.Source.SCHEDULER)
SLOT = datetime(2027, 3, 14, 13, 0, tzinfo=UTC)

HOLDER = textwrap.dedent(
    """
    import sys
    from engine import Database
    from engine.locks import job_lock

    with job_lock(Database(sys.argv[1]), sys.argv[2]) as held:
        print("held" if held else "busy", flush=True)
        sys.stdin.readline()
    """
)


@contextmanager
def held_elsewhere(url: str, name: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``name``'s lock until the block ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "held"
        yield child
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_second_process_on_one_sqlite_file_does_not_get_the_lock(
    sqlite_template: Path, tmp_path: Path
) -> None:
    db = fresh_sqlite(sqlite_template, tmp_path)
    try:
        with held_elsewhere(db.url, "sweep"):
            with job_lock(db, "sweep") as held:
                assert held is False
            with job_lock(db, "digest") as other:
                assert other is True  # another job's lock is another lock
        with job_lock(db, "sweep") as held:
            assert held is True  # released when the holder ended
        assert (tmp_path / "preorder.db.sweep.lock").exists()
    finally:
        db.dispose()


def test_two_holders_in_one_process_exclude_each_other_too(db: e.Database) -> None:
    second = e.Database(db.url)
    try:
        with job_lock(db, "sweep") as first:
            assert first is True
            with job_lock(second, "sweep") as again:
                assert again is False
        with job_lock(second, "sweep") as later:
            assert later is True
    finally:
        second.dispose()


def test_the_lock_is_released_when_the_job_raises(db: e.Database) -> None:
    with pytest.raises(RuntimeError), job_lock(db, "sweep") as held:
        assert held
        raise RuntimeError("the job failed")
    with job_lock(db, "sweep") as held:
        assert held is True


def test_an_in_memory_database_is_locked_within_the_process() -> None:
    db = e.Database("sqlite://")
    try:
        with job_lock(db, "sweep") as first, job_lock(db, "sweep") as second:
            assert (first, second) == (True, False)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_a_second_replica_on_postgresql_does_not_get_the_lock(pg_db: e.Database) -> None:
    with held_elsewhere(pg_db.url, "sweep"), job_lock(pg_db, "sweep") as held:
        assert held is False
    with job_lock(pg_db, "sweep") as held:
        assert held is True


@pytest.mark.postgres
def test_a_replica_that_loses_its_connection_loses_its_lock(pg_db: e.Database) -> None:
    other = e.Database(pg_db.url)
    try:
        with job_lock(pg_db, "sweep") as held:
            assert held
            with other.engine.begin() as conn:
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                key = lock_key(f"{schema}:sweep")
                holder = conn.execute(
                    text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid)"
                    ),
                    {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF},
                ).scalar_one()
                # With a timeout it returns once the backend is gone (its locks with it), not
                # as soon as it is signalled: no race with the lock taken next.
                gone = conn.execute(
                    text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": holder}
                ).scalar_one()
                assert gone is True
            with job_lock(other, "sweep") as taken:
                assert taken is True
        # The holder's release failed quietly, and its pool is still good.
        with pg_db.read() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        other.dispose()


def test_a_run_is_claimed_once(db: e.Database) -> None:
    assert claim_run(db, "digest", SLOT, SCHEDULER) is True
    assert claim_run(db, "digest", SLOT, SCHEDULER) is False
    assert claim_run(db, "digest", SLOT + timedelta(minutes=1), SCHEDULER) is True
    assert claim_run(db, "sheet-sync", SLOT, SCHEDULER) is True
    assert e.applied_keys(db, [run_key("digest", SLOT)]) == {"job:digest:20270314T130000000000Z"}


def test_old_claims_are_forgotten_and_recent_ones_kept(db: e.Database) -> None:
    for days in (10, 8, 1, 0):
        claim_run(db, "sweep", SLOT - timedelta(days=days), SCHEDULER)
    claim_run(db, "digest", SLOT - timedelta(days=10), SCHEDULER)
    assert forget_runs(db, "sweep", SLOT - timedelta(days=7)) == 2
    keys = [run_key("sweep", SLOT - timedelta(days=d)) for d in (10, 8, 1, 0)]
    assert e.applied_keys(db, keys) == set(keys[2:])
    assert e.applied_keys(db, [run_key("digest", SLOT - timedelta(days=10))])


def test_run_keys_name_the_same_instant_the_same_way_in_any_zone() -> None:
    from zoneinfo import ZoneInfo

    local = SLOT.astimezone(ZoneInfo("America/New_York"))
    assert run_key("sweep", local) == run_key("sweep", SLOT)
    assert lock_key("x:sweep") == lock_key("x:sweep") != lock_key("x:digest")
