"""``preorder serve`` as the whole service, in real processes: settings checked at start,
replicas sharing one PostgreSQL database never running a job twice, and SIGTERM letting the
running job finish."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli import cli
from bot.intake.http import SIGNATURE_HEADER, sign
from tests.fixtures.databases import fresh_postgres, fresh_sqlite
from tests.invariants import check_invariants
from tests.service.serving import Serve, counter, seed_queue
from tests.slack.harness import MERCHANDISER, SECRET
from tests.standins.slack.standin import SlackStandin


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Good Slack settings and nothing else of ours in the environment (no .env either)."""
    import os

    for name in [n for n in os.environ if n.startswith("PREORDER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREORDER_SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("PREORDER_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("PREORDER_SLACK_MERCHANDISERS", MERCHANDISER)
    yield


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PREORDER_TIMEZONE": "Mars/Olympus"},
         "error: bad settings: PREORDER_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ({"PREORDER_DIGEST_CRON": "0 9 * * 8", "PREORDER_LOG_FORMAT": "xml"},
         "error: bad settings: PREORDER_DIGEST_CRON: not a crontab expression (weekday '8' is "
         "not 0-7 (0 and 7 are Sunday)); PREORDER_LOG_FORMAT: Input should be 'plain' or "
         "'json'"),
        ({"PREORDER_SWEEP_MINUTES": "-1"},
         "error: bad settings: PREORDER_SWEEP_MINUTES: Input should be greater than or equal "
         "to 0"),
    ],
)  # fmt: skip
def test_serve_with_bad_service_settings_exits_1_with_one_error_line(
    slack_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.output


def test_serve_help_explains_the_endpoints_jobs_and_settings() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for word in [
        "/slack/events", "/healthz", "/metrics", "/orders", "digest", "sweep", "sheet-sync",
        "rebalance", "PREORDER_TIMEZONE", "PREORDER_DIGEST_CHANNEL", "PREORDER_DIGEST_CRON",
        "PREORDER_SWEEP_MINUTES", "PREORDER_SHEET_SYNC_MINUTES", "PREORDER_REBALANCE",
        "PREORDER_REBALANCE_MINUTES", "PREORDER_SCHEDULER", "PREORDER_LOG_FORMAT",
        "PREORDER_INTAKE_SECRET", "SIGTERM",
    ]:  # fmt: skip
        assert word in result.output, word


def status(url: str, body: bytes) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body), timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _sweeps(records: list[dict[str, Any]]) -> dict[str, str]:
    """slot -> result of each sweep run a process logged (started lines left out)."""
    return {r["slot"]: r["result"] for r in records if r.get("job") == "sweep" and "result" in r}


@pytest.mark.postgres
def test_two_replicas_on_one_postgresql_database_run_each_sweep_once(
    pg_url: str, slack_standin: SlackStandin, tmp_path: Path
) -> None:
    db = fresh_postgres(pg_url)
    seed_queue(db, 300)
    env = {"PREORDER_SWEEP_MINUTES": "0.03", "PREORDER_LOG_FORMAT": "json"}  # every 1.8 s
    replicas = [
        Serve(pg_url, slack_standin, tmp_path, PREORDER_INTAKE_SECRET="s3cret", **env),
        Serve(pg_url, slack_standin, tmp_path, **env),
    ]
    try:
        # The order intake is there only where a secret is set (its own tests cover the rest).
        assert [status(r.url + "/orders", b"{}") for r in replicas] == [401, 404]
        # Wait for three runs that both replicas have seen, and read both replicas' counts
        # between two runs (the same logs before and after the reading).
        deadline = time.monotonic() + 20
        while True:
            seen = [_sweeps(r.records()) for r in replicas]
            both = sorted(set(seen[0]) & set(seen[1]))
            if len(both) >= 3:
                metrics = [r.metrics() for r in replicas]
                if [_sweeps(r.records()) for r in replicas] == seen:
                    break
            assert time.monotonic() < deadline, [r.lines for r in replicas]
            time.sleep(0.1)
    finally:
        codes = [r.stop() for r in replicas]
        for r in replicas:
            r.kill()
    assert codes == [0, 0]
    # PREORDER_LOG_FORMAT=json: every line is one JSON object, the announcements too.
    assert all(line.startswith("{") for r in replicas for line in r.lines)

    slots = sorted(set(seen[0]) | set(seen[1]))
    for slot in both:
        assert sorted([seen[0][slot], seen[1][slot]]) == ["done", "skipped"], slot
    done = [s for s in slots if "done" in (seen[0].get(s), seen[1].get(s))]
    assert all(Counter(r.get(s) for r in seen)["done"] == 1 for s in done)
    runs = {
        result: sum(counter(m, "preorder_job_runs", job="sweep", result=result) for m in metrics)
        for result in ("done", "skipped", "failed")
    }
    assert runs["done"] == len(done) and runs["failed"] == 0
    assert runs["done"] + runs["skipped"] == sum(len(s) for s in seen)

    # The database agrees: one claimed run per slot, and the queue allocated by one sweep.
    with db.read() as conn:
        claimed = conn.execute(
            text("SELECT count(*) FROM applied_keys WHERE key LIKE 'job:sweep:%'")
        ).scalar()
        operations = conn.execute(
            text(
                "SELECT count(DISTINCT operation_id), count(*) FROM audit_events "
                "WHERE operation = 'auto-allocate' AND actor = 'scheduler'"
            )
        ).one()
    assert claimed == len(done)
    assert tuple(operations) == (1, 300)
    allocated = sum(counter(m, "preorder_allocations", source="scheduler") for m in metrics)
    assert allocated == 300
    check_invariants(db)
    db.dispose()


def test_sigterm_during_a_sweep_lets_it_commit_whole(
    slack_standin: SlackStandin, sqlite_template: Path, tmp_path: Path
) -> None:
    db = fresh_sqlite(sqlite_template, tmp_path)
    lines = 40_000
    seed_queue(db, lines)
    serve = Serve(db.url, slack_standin, tmp_path, PREORDER_SWEEP_MINUTES="0.02")  # 1.2 s
    try:
        serve.wait_for(lambda line: "job sweep: started" in line, timeout=15)
        serve.process.send_signal(signal.SIGTERM)
        code = serve.stop()
    finally:
        serve.kill()
    assert code == 0, serve.lines
    log = "\n".join(serve.lines)
    # The signal came while the sweep ran, and the process waited for it.
    assert log.index("Stopping (SIGTERM)") < log.index("waiting for job sweep to finish"), log
    finished = log.index(f"job sweep: {lines} order lines allocated")
    assert finished > log.index("waiting for job sweep to finish")
    with db.read() as conn:
        count = conn.execute(text("SELECT count(*) FROM allocations")).scalar()
    assert count == lines  # committed whole (a killed sweep would leave none, never a part)
    check_invariants(db)
    db.dispose()


def test_a_replica_with_the_scheduler_off_runs_no_jobs(
    slack_standin: SlackStandin, sqlite_template: Path, tmp_path: Path
) -> None:
    db = fresh_sqlite(sqlite_template, tmp_path)
    db.dispose()
    serve = Serve(
        db.url, slack_standin, tmp_path, PREORDER_SCHEDULER="0", PREORDER_SWEEP_MINUTES="0.01"
    )
    try:
        serve.wait_for(lambda line: "scheduler off (PREORDER_SCHEDULER=0)" in line)
        time.sleep(1)  # a sweep would have come round in 0.6 s
        code = serve.stop()
    finally:
        serve.kill()
    assert code == 0
    assert not [line for line in serve.lines if "job " in line], serve.lines


def test_serve_without_slack_settings_runs_the_intake_the_jobs_health_and_metrics(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """A brand may take orders and run the sweep before (or without) installing the Slack app:
    with no PREORDER_SLACK_* setting at all, serve says once that the Slack face is off and
    runs everything else; the digest, which needs Slack, is off and says why."""
    db = fresh_sqlite(sqlite_template, tmp_path)
    seed_queue(db, 30)
    serve = Serve(
        db.url,
        None,
        tmp_path,
        PREORDER_INTAKE_SECRET="s3cret",
        PREORDER_DIGEST_CHANNEL="C0DIGEST",
        PREORDER_SWEEP_MINUTES="0.02",  # 1.2 s
    )
    try:
        serve.wait_for(lambda line: "job sweep: 30 order lines allocated" in line, timeout=20)
        body = json.dumps(
            {"order": "WEB-1", "placed_at": "2026-11-02T09:00:00Z",
             "lines": [{"line": 1, "sku": "SKU-000", "quantity": 1}]}
        ).encode()  # fmt: skip
        signed = {"Content-Type": "application/json", SIGNATURE_HEADER: sign("s3cret", body)}
        posted = urllib.request.Request(serve.url + "/orders", body, signed)
        with urllib.request.urlopen(posted, timeout=5) as answer:
            assert json.load(answer)["lines"][0]["status"] == "allocated"
        with urllib.request.urlopen(serve.url + "/healthz", timeout=5) as answer:
            assert answer.status == 200
        assert counter(serve.metrics(), "preorder_intake_orders", result="accepted") == 1
        assert status(serve.url + "/slack/events", b"command=%2Fpreorder") == 404
        code = serve.stop()
    finally:
        serve.kill()
    assert code == 0, serve.lines
    off = [line for line in serve.lines if "Slack face is off" in line]
    assert len(off) == 1, serve.lines
    assert "PREORDER_SLACK_" in off[0]
    assert any(
        "job digest: off" in line and "Slack face is off" not in line and "Slack" in line
        for line in serve.lines
    ), serve.lines
    assert not [line for line in serve.lines if "Traceback" in line], serve.lines
    check_invariants(db)
    db.dispose()
