"""The scheduler and its jobs (bot/service/scheduler.py, bot/service/jobs.py): triggers in the
configured zone across DST changes, crontab weekdays as cron means them, fixed job ids that
never duplicate, and the discipline of every run: lock, claim, log with counts, count, never
raise."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient

import engine as e
from bot.service.crontab import cron_trigger
from bot.service.jobs import (
    DELIVER,
    DIGEST,
    JOB_IDS,
    REBALANCE,
    SHEET_SYNC,
    SWEEP,
    last_fire_time,
)
from bot.service.metrics import Metrics
from bot.service.scheduler import Scheduler, add_jobs, anchor, build_scheduler
from bot.service.settings import ServiceSettings
from engine.locks import job_lock
from notify.settings import NotifySettings
from sheets.settings import SheetsSettings
from tests.fixtures.databases import fresh_postgres
from tests.fixtures.events import Clock, hooks
from tests.helpers import po, so
from tests.service.serving import seed_queue
from tests.standins.sheets.standin import SheetsStandin
from tests.standins.slack.fixtures import make_client
from tests.standins.slack.standin import SlackStandin
from tests.standins.webhook.receiver import Receiver, Reply

NY = ZoneInfo("America/New_York")
SLOT = datetime(2027, 3, 15, 9, 0, tzinfo=NY)
NO_SHEET = SheetsSettings(sheet_id="", google_credentials="")


@pytest.fixture(autouse=True)
def no_service_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [n for n in os.environ if n.startswith("PREORDER_") and "TEST" not in n]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env


def service(**values: Any) -> ServiceSettings:
    return ServiceSettings(**values)


def fires(trigger: Any, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``after``, as APScheduler computes them."""
    found: list[datetime] = []
    previous, now = None, after
    for _ in range(count):
        previous = now = trigger.get_next_fire_time(previous, now)
        found.append(now)
    return found


def extra(record: logging.LogRecord, name: str) -> Any:
    """A field the job logged with ``extra=`` (an attribute of the record mypy cannot know)."""
    return record.__dict__[name]


def sample(metrics: Metrics, job: str, result: str) -> float:
    value = metrics.registry.get_sample_value(
        "preorder_job_runs_total", {"job": job, "result": result}
    )
    return value or 0.0


# --- triggers ---------------------------------------------------------------------------------


def test_the_weekday_digest_stays_at_nine_local_across_both_dst_changes() -> None:
    scheduler = build_scheduler(
        service(timezone="America/New_York", digest_channel="C1"),
        e.Database("sqlite://"),
        None,
        Metrics(),
        sheets=NO_SHEET,
    )
    trigger = scheduler.get_job(DIGEST).trigger
    spring = fires(trigger, datetime(2027, 3, 11, 12, 0, tzinfo=NY), 3)  # DST starts Sun 14th
    assert [(f.date().isoformat(), f.hour, f.minute, str(f.utcoffset())) for f in spring] == [
        ("2027-03-12", 9, 0, "-1 day, 19:00:00"),  # Friday, -05:00
        ("2027-03-15", 9, 0, "-1 day, 20:00:00"),  # Monday, -04:00
        ("2027-03-16", 9, 0, "-1 day, 20:00:00"),
    ]
    assert [f.astimezone(UTC).hour for f in spring] == [14, 13, 13]
    autumn = fires(trigger, datetime(2027, 11, 4, 12, 0, tzinfo=NY), 3)  # DST ends Sun 7th
    assert [(f.date().isoformat(), f.hour, f.utcoffset()) for f in autumn] == [
        ("2027-11-05", 9, timedelta(hours=-4)),
        ("2027-11-08", 9, timedelta(hours=-5)),
        ("2027-11-09", 9, timedelta(hours=-5)),
    ]
    assert [f.astimezone(UTC).hour for f in autumn] == [13, 14, 14]


def test_a_daily_cron_fires_on_the_dst_days_themselves() -> None:
    trigger = cron_trigger("0 9 * * *", NY)
    days = fires(trigger, datetime(2027, 3, 13, 12, 0, tzinfo=NY), 2)
    assert [(f.day, f.hour, f.utcoffset()) for f in days] == [
        (14, 9, timedelta(hours=-4)),
        (15, 9, timedelta(hours=-4)),
    ]
    days = fires(trigger, datetime(2027, 11, 6, 12, 0, tzinfo=NY), 2)
    assert [(f.day, f.hour, f.utcoffset()) for f in days] == [
        (7, 9, timedelta(hours=-5)),
        (8, 9, timedelta(hours=-5)),
    ]


def test_crontab_weekday_numbers_count_from_sunday_as_in_cron() -> None:
    start = datetime(2027, 3, 6, 12, 0, tzinfo=NY)  # a Saturday
    numbers = fires(cron_trigger("0 9 * * 1-5", NY), start, 10)
    names = fires(cron_trigger("0 9 * * mon-fri", NY), start, 10)
    assert numbers == names
    assert {f.strftime("%a") for f in numbers} == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    sundays = fires(cron_trigger("0 9 * * 0", NY), start, 2)
    assert fires(cron_trigger("0 9 * * 7", NY), start, 2) == sundays
    assert {f.strftime("%a") for f in sundays} == {"Sun"}


def test_interval_jobs_fire_at_the_same_instants_on_every_replica() -> None:
    settings = service(timezone="America/New_York", sweep_minutes=15, rebalance=True)
    first = build_scheduler(settings, e.Database("sqlite://"), None, Metrics(), sheets=NO_SHEET)
    time.sleep(0.05)
    second = build_scheduler(settings, e.Database("sqlite://"), None, Metrics(), sheets=NO_SHEET)
    now = datetime.now(NY)
    for job in (SWEEP, REBALANCE):
        a = first.get_job(job).trigger.get_next_fire_time(None, now)
        b = second.get_job(job).trigger.get_next_fire_time(None, now)
        assert a == b
    sweep = first.get_job(SWEEP).trigger.get_next_fire_time(None, now)
    assert sweep.minute % 15 == 0 and sweep.second == 0 and sweep.microsecond == 0
    # Across the spring change an hourly rebalance stays on the hour, one hour apart in UTC.
    hourly = fires(first.get_job(REBALANCE).trigger, datetime(2027, 3, 14, 0, 30, tzinfo=NY), 4)
    assert [f.hour for f in hourly] == [1, 3, 4, 5]
    utc = [f.astimezone(UTC) for f in hourly]
    assert {b - a for a, b in pairwise(utc)} == {timedelta(hours=1)}


def test_a_run_belongs_to_the_latest_fire_time_before_it() -> None:
    interval = IntervalTrigger(seconds=3, start_date=anchor(UTC), timezone=UTC)
    at = datetime(2027, 3, 14, 12, 0, 4, 200_000, tzinfo=UTC)
    assert last_fire_time(interval, at, timedelta(minutes=1)) == at.replace(second=3, microsecond=0)
    cron = cron_trigger("0 9 * * mon-fri", NY)
    late = datetime(2027, 3, 15, 9, 0, 0, 300_000, tzinfo=NY)
    assert last_fire_time(cron, late, timedelta(hours=1)) == SLOT
    assert last_fire_time(cron, SLOT - timedelta(minutes=1), timedelta(hours=1)) is None


# --- jobs, ids and options --------------------------------------------------------------------


@pytest.fixture
def sheet(tmp_path: Path) -> SheetsSettings:
    key = tmp_path / "key.json"
    key.write_text("{}")
    return SheetsSettings(sheet_id="sheet-1", google_credentials=str(key))


# A webhook to deliver events to: the delivery job runs.
HOOKS = NotifySettings(webhook_url="https://shop.example.com/hooks", webhook_secret="s3cret")


def everything(**more: Any) -> ServiceSettings:
    return service(timezone="America/New_York", digest_channel="C1", rebalance=True, **more)


def test_jobs_have_fixed_ids_and_adding_them_again_never_duplicates(
    sheet: SheetsSettings,
) -> None:
    db = e.Database("sqlite://")
    scheduler = build_scheduler(everything(), db, None, Metrics(), sheets=sheet, notify=HOOKS)
    assert [j.id for j in scheduler.get_jobs()] == list(JOB_IDS)
    add_jobs(scheduler)
    add_jobs(scheduler)
    assert [j.id for j in scheduler.get_jobs()] == list(JOB_IDS)
    scheduler.start(paused=True)
    try:
        add_jobs(scheduler)
        ids = [j.id for j in scheduler.get_jobs()]
        assert sorted(ids) == sorted(JOB_IDS) and len(ids) == len(set(ids))
        for job in scheduler.get_jobs():
            assert job.coalesce is True and job.max_instances == 1
            assert job.misfire_grace_time == (3600 if job.id == DIGEST else 60)
            assert job.trigger.timezone == NY
            assert job.next_run_time.tzinfo == NY
    finally:
        scheduler.shutdown(wait=False)
    # A restart builds the same jobs under the same ids.
    again = build_scheduler(everything(), db, None, Metrics(), sheets=sheet, notify=HOOKS)
    assert [j.id for j in again.get_jobs()] == list(JOB_IDS)


def test_jobs_turned_off_are_not_scheduled_and_say_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    settings = service(sweep_minutes=0, queue_fold_seconds=0)
    scheduler = build_scheduler(settings, e.Database("sqlite://"), None, Metrics())
    assert scheduler.get_jobs() == []
    scheduler.start(paused=True)
    scheduler.shutdown(wait=False)
    said = {r.getMessage() for r in caplog.records}
    assert {
        "job digest: off (PREORDER_DIGEST_CHANNEL is not set)",
        "job sweep: off (PREORDER_SWEEP_MINUTES=0)",
        "job sheet-sync: off (no sheet configured: PREORDER_SHEET_ID is not set)",
        "job rebalance: off (PREORDER_REBALANCE is not 1)",
        "job deliver: off (no PREORDER_WEBHOOK_URL or PREORDER_SMTP_URL is set)",
        "job queue-fold: off (PREORDER_QUEUE_FOLD_SECONDS=0)",
    } <= said


def test_a_sheet_named_without_usable_credentials_turns_the_sheet_sync_off(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    sheets = SheetsSettings(sheet_id="sheet-1", google_credentials=str(tmp_path / "missing"))
    scheduler = build_scheduler(
        everything(), e.Database("sqlite://"), None, Metrics(), sheets=sheets
    )
    assert SHEET_SYNC not in [j.id for j in scheduler.get_jobs()]
    scheduler.start(paused=True)
    scheduler.shutdown(wait=False)
    assert any("job sheet-sync: off (PREORDER_GOOGLE_CREDENTIALS names" in r.getMessage()
               for r in caplog.records)  # fmt: skip


# --- one run ----------------------------------------------------------------------------------


@pytest.fixture
def sweeper(db: e.Database) -> Iterator[tuple[Scheduler, Metrics]]:
    metrics = Metrics()
    yield build_scheduler(service(), db, None, metrics, sheets=NO_SHEET), metrics


def test_a_sweep_run_logs_its_counts_and_is_not_repeated_for_the_same_time(
    db: e.Database, sweeper: tuple[Scheduler, Metrics], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    scheduler, metrics = sweeper
    seed_queue(db, 5, skus=2)
    scheduler.jobs.run(SWEEP, SLOT)
    scheduler.jobs.run(SWEEP, SLOT)  # the same run, from a replica whose timer fired later
    said = [r for r in caplog.records if getattr(r, "job", None) == SWEEP]
    assert said[0].getMessage() == "job sweep: started (run of 2027-03-15 09:00:00-04:00)"
    assert said[1].getMessage().startswith("job sweep: 5 order lines allocated (5 units) in ")
    record = said[1]
    assert (extra(record, "result"), extra(record, "allocated"), extra(record, "slot")) == (
        "done",
        5,
        SLOT.isoformat(),
    )
    assert said[-1].getMessage() == (
        "job sweep: skipped, already run for this time by another replica"
    )
    assert (sample(metrics, SWEEP, "done"), sample(metrics, SWEEP, "skipped")) == (1, 1)
    assert len(e.unallocated(db)) == 0


def test_a_run_is_skipped_while_another_replica_holds_the_lock(
    db: e.Database, sweeper: tuple[Scheduler, Metrics], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    scheduler, metrics = sweeper
    seed_queue(db, 3, skus=1)
    other = e.Database(db.url)
    try:
        with job_lock(other, SWEEP) as held:
            assert held
            scheduler.jobs.run(SWEEP, SLOT)
    finally:
        other.dispose()
    assert caplog.records[-1].getMessage() == "job sweep: skipped, another replica is running it"
    assert sample(metrics, SWEEP, "skipped") == 1 and sample(metrics, SWEEP, "done") == 0
    assert len(e.unallocated(db)) == 3
    scheduler.jobs.run(SWEEP, SLOT)  # the lock is free again, and the run was never claimed
    assert len(e.unallocated(db)) == 0


def test_a_failing_run_is_logged_with_the_job_name_and_counted_never_raised(
    db: e.Database,
    sweeper: tuple[Scheduler, Metrics],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("bot.service.jobs.auto_allocate", broken)
    scheduler, metrics = sweeper
    scheduler.jobs.run(SWEEP, SLOT)
    failure = caplog.records[-1]
    assert failure.levelno == logging.ERROR and failure.exc_info is not None
    assert failure.getMessage().startswith("job sweep: failed after ")
    assert failure.getMessage().endswith(": disk full")
    assert sample(metrics, SWEEP, "failed") == 1
    with job_lock(db, SWEEP) as held:
        assert held  # released despite the failure


# --- the digest -------------------------------------------------------------------------------


@pytest.fixture
def posts(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The arguments of every ``post_digest`` call the job makes (the real one runs)."""
    import bot.digest_post

    made: list[dict[str, Any]] = []
    real = bot.digest_post.post_digest

    def spy(db: e.Database, client: WebClient, channel: str, **kw: Any) -> Any:
        made.append({"channel": channel, **kw})
        return real(db, client, channel, **kw)

    monkeypatch.setattr(bot.digest_post, "post_digest", spy)
    return made


def test_a_digest_run_posts_once_per_scheduled_time(
    db: e.Database,
    slack_standin: SlackStandin,
    posts: list[dict[str, Any]],
    sheet: SheetsSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    clock = lambda: datetime(2027, 3, 15, 13, 0, 2, tzinfo=UTC)  # noqa: E731
    metrics = Metrics()
    scheduler = build_scheduler(
        service(digest_channel="C0DIGEST"), db, make_client(slack_standin), metrics,
        clock=clock, sheets=sheet,
    )  # fmt: skip
    scheduler.jobs.run(DIGEST, SLOT)
    scheduler.jobs.run(DIGEST, SLOT)  # the same run, from a replica whose timer fired later
    scheduler.jobs.run(DIGEST, SLOT + timedelta(days=1))
    messages = slack_standin.messages("C0DIGEST")
    assert len(messages) == 2 and all(m.get("blocks") for m in messages)
    assert posts[0] == {
        "channel": "C0DIGEST",
        "now": clock(),
        "sheet_url": "https://docs.google.com/spreadsheets/d/sheet-1",
        "zone": ZoneInfo("UTC"),  # PREORDER_TIMEZONE's default: the digest gives its time in it
    }
    assert (sample(metrics, DIGEST, "done"), sample(metrics, DIGEST, "skipped")) == (2, 1)
    done = [r.getMessage() for r in caplog.records if getattr(r, "result", "") == "done"]
    assert done[0].startswith("job digest: posted to C0DIGEST (")


def test_a_digest_slack_refuses_is_a_failed_run_and_an_api_error(
    db: e.Database,
    slack_standin: SlackStandin,
    posts: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack_standin.refuse_channel("C-GONE")
    metrics = Metrics()
    scheduler = build_scheduler(
        service(digest_channel="C-GONE"), db, make_client(slack_standin), metrics,
        sheets=NO_SHEET,
    )  # fmt: skip
    scheduler.jobs.run(DIGEST, SLOT)
    assert sample(metrics, DIGEST, "failed") == 1
    assert metrics.registry.get_sample_value("preorder_api_errors_total", {"api": "slack"}) == 1
    failure = caplog.records[-1]
    assert failure.levelno == logging.ERROR and not failure.exc_info  # Slack said why
    assert "channel_not_found" in failure.getMessage()


@pytest.mark.postgres
def test_two_replicas_post_each_due_digest_exactly_once(
    pg_url: str,
    slack_standin: SlackStandin,
    posts: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two schedulers, each with a database engine of its own (as two processes would have),
    the digest due every second instead of on its cron."""
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    dbs = [fresh_postgres(pg_url), e.Database(pg_url)]
    settings = service(digest_channel="C0DIGEST")
    every_second = IntervalTrigger(seconds=1, start_date=anchor(UTC), timezone=UTC)
    replicas = []
    for db in dbs:
        scheduler = build_scheduler(
            settings, db, make_client(slack_standin), Metrics(), sheets=NO_SHEET
        )
        scheduler.reschedule_job(DIGEST, trigger=every_second)
        replicas.append(scheduler)
    for scheduler in replicas:
        scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            runs = [
                (extra(r, "slot"), extra(r, "result"))
                for r in list(caplog.records)
                if getattr(r, "job", None) == DIGEST and hasattr(r, "result")
            ]
            by_slot = Counter(slot for slot, _ in runs)
            if sum(1 for n in by_slot.values() if n == 2) >= 3:
                break
            assert time.monotonic() < deadline, runs
            time.sleep(0.05)
    finally:
        for scheduler in replicas:
            scheduler.stop()
        for db in dbs:
            db.dispose()
    runs = [
        (extra(r, "slot"), extra(r, "result"))
        for r in caplog.records
        if getattr(r, "job", None) == DIGEST and hasattr(r, "result")
    ]
    done = Counter(slot for slot, result in runs if result == "done")
    assert set(done.values()) == {1}  # never twice for one scheduled time
    assert {result for _, result in runs} <= {"done", "skipped"}
    both = {slot for slot, n in Counter(slot for slot, _ in runs).items() if n == 2}
    assert both <= set(done)  # every time both replicas saw was posted by one of them
    assert len(slack_standin.messages("C0DIGEST")) == len(posts) == sum(done.values())


# --- the sheet sync ---------------------------------------------------------------------------


def test_a_sheet_sync_run_syncs_the_sheet_once_and_counts_google_errors(
    db: e.Database,
    sheets_standin: SheetsStandin,
    service_account_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    seed_queue(db, 2, skus=1)
    e.auto_allocate(db, e.Actor("tester", e.Source.CLI))
    sheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    sheets = SheetsSettings(
        sheet_id=sheet_id,
        google_credentials=str(service_account_file),
        google_api_url=sheets_standin.base_url,
        google_max_wait=0.5,
    )
    metrics = Metrics()
    scheduler = build_scheduler(service(), db, None, metrics, sheets=sheets)
    assert SHEET_SYNC in [j.id for j in scheduler.get_jobs()]
    scheduler.jobs.run(SHEET_SYNC, SLOT)
    scheduler.jobs.run(SHEET_SYNC, SLOT)
    rows = sheets_standin.records(sheet_id, "Allocations")
    assert [r["Key"] for r in rows] == ["SO-0000001:1", "SO-0000002:1"]
    assert (sample(metrics, SHEET_SYNC, "done"), sample(metrics, SHEET_SYNC, "skipped")) == (1, 1)
    done = next(r for r in caplog.records if getattr(r, "result", "") == "done")
    assert extra(done, "applied") == 0

    sheets_standin.fail_always(429, retry_after=0)
    scheduler.jobs.run(SHEET_SYNC, SLOT + timedelta(minutes=5))
    assert sample(metrics, SHEET_SYNC, "failed") == 1
    assert metrics.registry.get_sample_value("preorder_api_errors_total", {"api": "sheets"}) == 1


# --- the delivery of events -------------------------------------------------------------------


def test_the_delivery_job_counts_deliveries_by_channel_and_result(
    db: e.Database, receiver: Receiver, clock: Clock
) -> None:
    e.apply_records(
        db,
        e.Actor("seed", e.Source.CLI),
        [po("PO-1", (1, "A", 10, "2027-01-10"))],
        [so("SO-1", 1, (1, "A", 2)), so("SO-2", 2, (1, "A", 2))],
    )
    receiver.answer = lambda d: Reply(500) if d.order == "SO-2" else Reply()
    metrics = Metrics()
    settings = service(sweep_minutes=0, queue_fold_seconds=0)
    scheduler = build_scheduler(settings, db, None, metrics, notify=hooks(receiver))
    assert [j.id for j in scheduler.get_jobs()] == [DELIVER]
    scheduler.jobs.run(DELIVER)
    found = {
        (labels["channel"], labels["result"]): metrics.registry.get_sample_value(
            "preorder_deliveries_total", labels
        )
        for labels in (
            {"channel": "webhook", "result": result}
            for result in ("delivered", "retried", "dead_lettered", "skipped")
        )
    }
    assert found == {
        ("webhook", "delivered"): 1.0,
        ("webhook", "retried"): 1.0,
        ("webhook", "dead_lettered"): None,
        ("webhook", "skipped"): None,
    }


def test_a_delivery_run_without_its_database_fails_in_one_line_without_a_traceback(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """The job comes round every few seconds: an outage is one line a run, saying why."""
    down = e.Database("postgresql+psycopg://postgres@127.0.0.1:1/nothing-listens-here")
    metrics = Metrics()
    scheduler = build_scheduler(
        service(sweep_minutes=0), down, None, metrics, notify=hooks(receiver)
    )
    caplog.set_level(logging.INFO, logger="bot.scheduler")
    try:
        scheduler.jobs.run(DELIVER)
    finally:
        down.dispose()
    failure = caplog.records[-1]
    assert failure.levelno == logging.ERROR and not failure.exc_info
    assert failure.getMessage().startswith("job deliver: failed after ")
    assert failure.getMessage().endswith("Connection refused")
    assert sample(metrics, DELIVER, "failed") == 1
    assert receiver.received == []
