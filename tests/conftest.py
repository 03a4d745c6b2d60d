"""What every test may use: the database fixtures (``tests/fixtures/databases.py``: each
engine test runs on SQLite and on PostgreSQL) and the stand-ins' fixtures (a fresh Slack Web
API, Socket Mode or Sheets stand-in per test). Fixtures of one face live beside its tests
(``tests/slack/conftest.py``: the Slack app behind its server).
"""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.standins.slack.fixtures",
    "tests.standins.sheets.fixtures",
]
