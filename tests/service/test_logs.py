"""The service's log lines (bot/service/logs.py): plain text, or one JSON object per line,
never with a password or a customer's email address."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from bot.service.logs import JsonLines, LogFormat, PlainLines, configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.NOTSET)


def test_json_lines_carry_time_level_logger_message_and_the_extra_fields(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json")
    log = logging.getLogger("bot.scheduler")
    log.info("job %s: 3 order lines allocated", "sweep", extra={"job": "sweep", "allocated": 3})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("job sweep: failed")
    logging.getLogger("apscheduler.scheduler").info("Added job")  # routine chatter: not shown
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    done, failed = (json.loads(line) for line in lines)
    assert list(done) == ["time", "level", "logger", "message", "job", "allocated"]
    assert done["level"] == "INFO" and done["logger"] == "bot.scheduler"
    assert done["message"] == "job sweep: 3 order lines allocated"
    assert done["allocated"] == 3
    assert datetime.fromisoformat(done["time"]).utcoffset() is not None
    assert failed["level"] == "ERROR" and "ValueError: boom" in failed["exc_info"]


def test_plain_lines_read_as_before(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("plain")
    logging.getLogger("bot.server").warning("health check: %s", "no answer", extra={"x": 1})
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(" WARNING bot.server: health check: no answer")


@pytest.mark.parametrize("format", ["plain", "json"])
def test_a_database_password_never_reaches_a_log_line(
    restored_logging: None, capsys: pytest.CaptureFixture[str], format: LogFormat
) -> None:
    configure_logging(format, secrets=["hunter22"])
    log = logging.getLogger("bot.server")
    log.warning("database postgresql+psycopg://app:s3cret@db.example/orders is slow")
    try:
        raise RuntimeError("cannot reach mysql://app:s3cret@db.example/x (password hunter22)")
    except RuntimeError:
        log.exception("job sweep: failed")
    err = capsys.readouterr().err
    assert len(err.splitlines()) >= 2
    assert "s3cret" not in err and "hunter22" not in err
    assert "postgresql+psycopg://app:***@db.example/orders" in err


@pytest.mark.parametrize("formatter", [PlainLines(), JsonLines()])
def test_log_lines_never_carry_an_email_address(formatter: logging.Formatter) -> None:
    record = logging.LogRecord(
        "bot.intake", logging.ERROR, __file__, 1,
        "insert failed: [parameters: ('WEB-1', 'Ada', 'ada.lovelace@example.com')] db %s",
        ("postgresql://preorder@127.0.0.1/shop",), None,
    )  # fmt: skip
    line = formatter.format(record)
    assert "ada.lovelace@example.com" not in line and "a***@example.com" in line
    assert "preorder@127.0.0.1" in line  # a database URL's user is not an address
