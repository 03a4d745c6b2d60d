"""What every test may use: the database fixtures (``tests/fixtures/databases.py``: each
engine test runs on SQLite and on PostgreSQL), the events' (``tests/fixtures/events.py``: a
clock moved by hand, the outbox read back) and the stand-ins' fixtures (a fresh Slack Web API,
Socket Mode or Sheets stand-in, webhook receiver or SMTP server per test). Fixtures of one face
live beside its tests (``tests/slack/conftest.py``: the Slack app behind its server).
"""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.events",
    "tests.standins.slack.fixtures",
    "tests.standins.sheets.fixtures",
    "tests.standins.webhook.fixtures",
    "tests.standins.smtp.fixtures",
]
