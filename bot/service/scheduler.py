"""The scheduler of ``preorder serve``: APScheduler 3.x in ``PREORDER_TIMEZONE``, one job per
fixed id (the digest on a crontab, the sweep, sheet sync, rebalance, event delivery and the
fold of the queue's tallies on intervals) as the settings ask, each run by
``bot.service.jobs.Jobs``.

Interval jobs are anchored to a fixed instant (midnight of 1 January 2000, local time) rather
than to when each replica started, so every replica's timer fires at the same instants (a
15-minute sweep at :00, :15, :30 and :45) and their run claims name the same runs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.service.crontab import cron_trigger
from bot.service.jobs import (
    DELIVER,
    DIGEST,
    DIGEST_GRACE,
    FOLD,
    INTERVAL_GRACE,
    REBALANCE,
    SHEET_SYNC,
    SWEEP,
    Jobs,
    log_time,
)
from bot.service.metrics import Metrics
from bot.service.settings import ServiceSettings
from engine import Database

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from notify.settings import NotifySettings
    from sheets.settings import SheetsSettings

log = logging.getLogger("bot.scheduler")

# Runs of different jobs may overlap; each job runs one at a time (max_instances=1).
EXECUTOR_THREADS = 4


def anchor(zone: tzinfo) -> datetime:
    """The instant every replica counts intervals from."""
    return datetime(2000, 1, 1, tzinfo=zone)


def interval_trigger(minutes: float, zone: tzinfo) -> IntervalTrigger:
    return IntervalTrigger(minutes=minutes, start_date=anchor(zone), timezone=zone)


@dataclass(frozen=True)
class Planned:
    """One job as the settings ask for it: its trigger, or why it is off."""

    id: str
    trigger: BaseTrigger | None
    grace: int = INTERVAL_GRACE
    every: str = ""
    off: str = ""


class Scheduler(BackgroundScheduler):
    """A ``BackgroundScheduler`` that knows its jobs (for the start and stop log lines)."""

    def __init__(self, jobs: Jobs, plan: list[Planned], **options: Any) -> None:
        super().__init__(**options)
        self.jobs = jobs
        self.plan = plan
        jobs.scheduler = self

    def start(self, paused: bool = False) -> None:
        super().start(paused=paused)
        for p in self.plan:
            job = self.get_job(p.id)
            if job is None:
                log.info("job %s: off (%s)", p.id, p.off)
            else:
                log.info("job %s: %s, next run %s", p.id, p.every, log_time(job.next_run_time))

    def hold(self) -> None:
        """Start no new runs (the running ones go on); nothing when already stopped."""
        with contextlib.suppress(SchedulerNotRunningError):
            self.pause()

    def stop(self) -> None:
        """Take no new runs, let the running ones finish, then stop."""
        if self.state == STATE_STOPPED:
            return
        self.hold()
        running = self.jobs.running
        if running:
            log.info("waiting for job %s to finish", ", ".join(running))
        self.shutdown(wait=True)


def plan(
    settings: ServiceSettings,
    sheets: SheetsSettings | None,
    sheets_off: str,
    *,
    slack: bool = True,
    notify: NotifySettings | None = None,
) -> list[Planned]:
    """Each job's trigger from the settings, or why it is off (``slack``: whether the service
    has its Slack face, which the digest is posted with; ``notify``: where events go)."""
    zone = settings.zone
    found: list[Planned] = []
    if settings.digest_channel.strip() and not slack:
        found.append(
            Planned(DIGEST, None, off="it is posted to Slack: no PREORDER_SLACK_* settings")
        )
    elif settings.digest_channel.strip():
        found.append(
            Planned(
                DIGEST,
                cron_trigger(settings.digest_cron, zone),
                DIGEST_GRACE,
                every=f"cron '{settings.digest_cron}' ({settings.timezone})",
            )
        )
    else:
        found.append(Planned(DIGEST, None, off="PREORDER_DIGEST_CHANNEL is not set"))
    found.append(_interval(SWEEP, settings.sweep_minutes, zone, "PREORDER_SWEEP_MINUTES=0"))
    if sheets is not None:
        found.append(
            _interval(
                SHEET_SYNC, settings.sheet_sync_minutes, zone, "PREORDER_SHEET_SYNC_MINUTES=0"
            )
        )
    else:
        found.append(Planned(SHEET_SYNC, None, off=sheets_off))
    if settings.rebalance:
        found.append(_interval(REBALANCE, settings.rebalance_minutes, zone, ""))
    else:
        found.append(Planned(REBALANCE, None, off="PREORDER_REBALANCE is not 1"))
    if notify is None or not notify.channels():
        found.append(
            Planned(DELIVER, None, off="no PREORDER_WEBHOOK_URL or PREORDER_SMTP_URL is set")
        )
    else:
        found.append(
            _interval(DELIVER, notify.deliver_seconds / 60, zone, "PREORDER_DELIVER_SECONDS=0")
        )
    found.append(
        _interval(FOLD, settings.queue_fold_seconds / 60, zone, "PREORDER_QUEUE_FOLD_SECONDS=0")
    )
    return found


def _interval(job: str, minutes: float, zone: tzinfo, off: str) -> Planned:
    if minutes <= 0:
        return Planned(job, None, off=off)
    return Planned(job, interval_trigger(minutes, zone), every=f"every {_minutes(minutes)}")


def add_jobs(scheduler: Scheduler) -> None:
    """Put the planned jobs on ``scheduler`` under their fixed ids, replacing any already there
    (adding them again never makes a second copy) and removing those now off."""
    for p in scheduler.plan:
        existing = scheduler.get_job(p.id)
        # Before the start APScheduler keeps a list of pending additions, where a replacement
        # would be a second entry until the start: remove the first one instead.
        if existing is not None and (p.trigger is None or scheduler.state == STATE_STOPPED):
            scheduler.remove_job(p.id)
        if p.trigger is not None:
            scheduler.add_job(
                scheduler.jobs.run,
                p.trigger,
                args=[p.id],
                id=p.id,
                name=p.id,
                misfire_grace_time=p.grace,
                replace_existing=True,
            )


def build_scheduler(
    settings: ServiceSettings,
    db: Database,
    client: WebClient | None,
    metrics: Metrics,
    *,
    clock: Callable[[], datetime] | None = None,
    sheets: SheetsSettings | str | None = None,
    slack: bool = True,
    notify: NotifySettings | None = None,
) -> Scheduler:
    """The scheduler with its jobs, not started. ``sheets``: the Google Sheets settings, or
    why they could not be read (None: no sheet); the sheet sync runs only when they name a
    usable sheet. Without ``slack`` (the service runs without its Slack face) the digest is
    off; without a channel in ``notify`` the delivery of events is."""
    usable, sheets_off = sheet_to_sync(sheets)
    jobs = Jobs(settings, db, client, metrics, usable, clock=clock, notify=notify)
    scheduler = Scheduler(
        jobs,
        plan(settings, usable, sheets_off, slack=slack, notify=notify),
        timezone=settings.zone,
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(EXECUTOR_THREADS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": INTERVAL_GRACE},
    )
    add_jobs(scheduler)
    return scheduler


def sheet_to_sync(given: SheetsSettings | str | None) -> tuple[SheetsSettings | None, str]:
    """``given`` Google Sheets settings when they name a usable sheet, else None and why not
    (``given`` may be that reason already: settings that could not be read)."""
    if isinstance(given, str):
        return None, given
    if given is None or not given.sheet_id.strip():
        return None, "no sheet configured: PREORDER_SHEET_ID is not set"
    problems = given.problems()
    if problems:
        return None, "; ".join(problems)
    return given, ""


def _minutes(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:g} s"
    return f"{minutes:g} min"
