"""What the scheduler runs: the digest, the auto-allocation sweep, the sheet sync, the
rebalance to earlier POs and the delivery of events, each run under one discipline
(``Jobs.run``).

Several replicas may run the same jobs against one database. A run takes the job's lock in the
database and skips when another replica holds it; claims its scheduled time, so that a replica
whose timer fired a moment later does not repeat it (the sweep and the rebalance claim it in
their own transaction, as the operation's idempotency key); logs its start and end with
counts; counts itself in the metrics; and catches whatever it raises, so that one bad run
never stops the scheduler.

The delivery job is the exception to the lock: replicas share its work, each claiming
different deliveries (``engine.deliveries``), so it runs in every replica at once. It runs
every few seconds, so its start, and its end when nothing was due, are logged at DEBUG only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.service.metrics import Metrics
from bot.service.settings import ServiceSettings
from engine import (
    Actor,
    Database,
    Source,
    StorageError,
    auto_allocate,
    fold_queue_tallies,
    rebalance,
)
from engine.locks import claim_run, forget_runs, job_lock, run_key

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler
    from slack_sdk import WebClient

    from bot.digest_post import PostedDigest
    from notify.settings import NotifySettings
    from sheets.settings import SheetsSettings

log = logging.getLogger("bot.scheduler")

DIGEST = "digest"
SWEEP = "sweep"
SHEET_SYNC = "sheet-sync"
REBALANCE = "rebalance"
DELIVER = "deliver"
FOLD = "queue-fold"
JOB_IDS = (DIGEST, SWEEP, SHEET_SYNC, REBALANCE, DELIVER, FOLD)
# Jobs every replica runs at once, without the job lock or a run claim: replicas share the
# deliveries (each claims others), and a fold that finds another folding skips by itself.
SHARED = (DELIVER, FOLD)
# Seconds a delivery run may start new rounds for: what is left waits for the next run, so a
# backlog never holds SIGTERM long.
DELIVER_BUDGET = 30.0

# How late a run may still start (a busy or paused process, a clock jump): interval jobs come
# round again soon anyway; a digest an hour late is still worth reading, later it is not.
INTERVAL_GRACE = 60
DIGEST_GRACE = 3600
# Run claims only guard against a replica repeating a recent run.
CLAIM_RETENTION = timedelta(days=7)
ACTOR = Actor("scheduler", Source.SCHEDULER)
# The sheet sync applies edits people made in the sheet: their audit events say so.
SHEET_ACTOR = Actor("scheduler", Source.SHEET)


def last_fire_time(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest time ``trigger`` fired at or before ``now`` (looking back ``lookback`` at
    most): the run a job started at ``now`` belongs to."""
    if isinstance(trigger, IntervalTrigger):
        # In seconds since the epoch, as APScheduler counts: adding a timedelta to a zoned
        # datetime would count wall-clock time and drift an hour across a DST change.
        start = trigger.start_date.timestamp()
        if now.timestamp() < start:
            return None
        runs = math.floor((now.timestamp() - start) / trigger.interval_length)
        stamp = round(start + runs * trigger.interval_length, 3)
        return datetime.fromtimestamp(stamp, tz=trigger.timezone)
    last = None
    fire = trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire)
    return last


class JobFailed(Exception):
    """A run that could not do its work for a reason its message explains (Slack refused the
    post, the sheet could not be read): logged without a traceback."""


@dataclass(frozen=True)
class Done:
    """What a run did: a phrase for the log line and its counts as fields."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


class Jobs:
    """The jobs' bodies and the discipline every run follows (see the module docstring)."""

    def __init__(
        self,
        settings: ServiceSettings,
        db: Database,
        client: WebClient | None,
        metrics: Metrics,
        sheets: SheetsSettings | None,
        *,
        clock: Callable[[], datetime] | None = None,
        notify: NotifySettings | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.metrics = metrics
        self.sheets = sheets
        self.notify = notify
        self.clock = clock or (lambda: datetime.now(UTC))
        self.scheduler: BaseScheduler | None = None
        self._running: set[str] = set()
        self._guard = threading.Lock()
        self._work: dict[str, Callable[[datetime], Done | None]] = {
            DIGEST: self._digest,
            SWEEP: self._sweep,
            SHEET_SYNC: self._sheet_sync,
            REBALANCE: self._rebalance,
            DELIVER: self._deliver,
            FOLD: self._fold,
        }

    @property
    def running(self) -> list[str]:
        with self._guard:
            return sorted(self._running)

    def run(self, job: str, slot: datetime | None = None) -> None:
        """One run of ``job`` for the scheduled time ``slot`` (default: the trigger's latest
        fire time). Never raises: a failure is logged with the job's name and counted."""
        slot = slot or self.slot(job)
        fields: dict[str, Any] = {"job": job, "slot": slot.isoformat()}
        started = time.monotonic()
        shared = job in SHARED
        lock = contextlib.nullcontext(True) if shared else job_lock(self.db, job)
        try:
            with lock as held:
                if not held:
                    self._skip(job, fields, "another replica is running it")
                    return
                with self._guard:
                    self._running.add(job)
                try:
                    log.log(
                        logging.DEBUG if shared else logging.INFO,
                        "job %s: started (run of %s)",
                        job,
                        log_time(slot),
                        extra=fields,
                    )
                    done = self._work[job](slot)
                finally:
                    with self._guard:
                        self._running.discard(job)
        except Exception as exc:
            seconds = time.monotonic() - started
            self.metrics.job_runs.labels(job, "failed").inc()
            log.error(
                "job %s: failed after %.1f s: %s",
                job,
                seconds,
                _first_line(exc),
                # A refusal the message explains needs no traceback; anything else does.
                exc_info=not isinstance(exc, JobFailed),
                extra={**fields, "result": "failed", "seconds": round(seconds, 3)},
            )
            return
        if done is None:
            self._skip(job, fields, "already run for this time by another replica")
            return
        seconds = time.monotonic() - started
        self.metrics.job_runs.labels(job, "done").inc()
        log.log(
            logging.DEBUG if shared and not any(done.counts.values()) else logging.INFO,
            "job %s: %s in %.1f s",
            job,
            done.text,
            seconds,
            extra={**fields, "result": "done", "seconds": round(seconds, 3), **done.counts},
        )
        if not shared:  # the shared jobs claim no runs
            self._forget_old_claims(job, slot)

    def slot(self, job: str) -> datetime:
        """The scheduled time the run starting now belongs to."""
        now = datetime.now(self.settings.zone)
        found = self.scheduler.get_job(job) if self.scheduler is not None else None
        if found is None:
            return now
        lookback = timedelta(seconds=(found.misfire_grace_time or INTERVAL_GRACE) + 60)
        return last_fire_time(found.trigger, now, lookback) or now

    # --- the jobs -----------------------------------------------------------------------------

    def _sweep(self, slot: datetime) -> Done | None:
        outcome = auto_allocate(self.db, ACTOR, key=run_key(SWEEP, slot))
        if outcome.replayed:
            return None
        n, units = outcome.allocated_count, outcome.allocated_units
        return Done(
            f"{_lines(n)} allocated ({units} units)", {"allocated": n, "allocated_units": units}
        )

    def _rebalance(self, slot: datetime) -> Done | None:
        outcome = rebalance(self.db, ACTOR, key=run_key(REBALANCE, slot))
        if outcome.replayed:
            return None
        moved, n = len(outcome.moved), outcome.allocated_count
        return Done(
            f"{_lines(moved)} moved to earlier PO lines, {_lines(n)} allocated",
            {"moved": moved, "allocated": n},
        )

    def _deliver(self, slot: datetime) -> Done | None:
        from notify.deliver import Deliverer

        if self.notify is None:
            raise JobFailed("no channel to deliver events to is configured")
        try:
            with Deliverer(self.db, self.notify) as deliverer:
                report = deliverer.run(budget=DELIVER_BUDGET)
        except StorageError as exc:
            # Said in one line, without a traceback: the job comes round every few seconds,
            # and an outage explains itself.
            raise JobFailed(str(exc)) from exc
        for (kind, result), n in report.counts.items():
            self.metrics.deliveries.labels(kind, result).inc(n)
        counts = {f"{kind}_{result}": n for (kind, result), n in report.counts.items()}
        return Done(report.summary(), counts)

    def _fold(self, slot: datetime) -> Done | None:
        try:
            changed = fold_queue_tallies(self.db)
        except StorageError as exc:
            raise JobFailed(str(exc)) from exc
        return Done(f"{changed} queue tallies folded", {"tallies": changed})

    def _digest(self, slot: datetime) -> Done | None:
        from slack_sdk.errors import SlackClientError

        from bot.digest_post import DigestNotPosted, sheet_url

        channel = self.settings.digest_channel.strip()
        if not claim_run(self.db, DIGEST, slot, ACTOR):
            return None
        link = sheet_url(self.sheets.sheet_id) if self.sheets is not None else None
        try:
            posted = _post_digest(
                self.db,
                self.client,
                channel,
                now=self.clock(),
                sheet_url=link,
                zone=self.settings.zone,
            )
        except DigestNotPosted as exc:
            self.metrics.api_errors.labels("slack").inc()
            raise JobFailed(str(exc)) from exc
        except (SlackClientError, OSError):
            self.metrics.api_errors.labels("slack").inc()
            raise
        quiet = ", nothing needs attention" if posted.empty else ""
        return Done(f"posted to {posted.channel} ({posted.blocks} blocks{quiet})",
                    {"blocks": posted.blocks})  # fmt: skip

    def _sheet_sync(self, slot: datetime) -> Done | None:
        from sheets.backend import SheetsError
        from sheets.google import GoogleSheet
        from sheets.sync import Sync

        sheets = self.sheets
        if sheets is None:
            raise JobFailed("no sheet is configured")
        if not claim_run(self.db, SHEET_SYNC, slot, SHEET_ACTOR):
            return None
        try:
            backend = GoogleSheet.from_settings(sheets)
            try:
                report = Sync(
                    self.db, backend, SHEET_ACTOR, clock=self.clock, zone=self.settings.zone
                ).sync()
            finally:
                backend.close()
        except SheetsError as exc:
            self.metrics.api_errors.labels("sheets").inc()
            raise JobFailed(str(exc)) from exc
        counts = {"applied": report.applied, "refused": report.refused,
                  "cells_written": report.cells_written}  # fmt: skip
        return Done(report.summary, counts)

    # --- bookkeeping --------------------------------------------------------------------------

    def _skip(self, job: str, fields: dict[str, Any], why: str) -> None:
        self.metrics.job_runs.labels(job, "skipped").inc()
        log.info("job %s: skipped, %s", job, why, extra={**fields, "result": "skipped"})

    def _forget_old_claims(self, job: str, slot: datetime) -> None:
        try:
            forget_runs(self.db, job, slot - CLAIM_RETENTION)
        except Exception as exc:  # housekeeping: the next run tries again
            log.warning("job %s: could not drop old run claims: %s", job, _first_line(exc))


def _post_digest(
    db: Database,
    client: WebClient | None,
    channel: str,
    *,
    now: datetime,
    sheet_url: str | None,
    zone: tzinfo,
) -> PostedDigest:
    # Imported when a digest is due: it brings the Block Kit views with it.
    from bot.digest_post import post_digest

    if client is None:
        raise JobFailed("no Slack client to post the digest with")
    return post_digest(db, client, channel, now=now, sheet_url=sheet_url, zone=zone)


def log_time(moment: datetime | None) -> str:
    """A time for a log line."""
    return "never" if moment is None else moment.isoformat(sep=" ")


def _lines(n: int) -> str:
    return f"{n} order line{'' if n == 1 else 's'}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
