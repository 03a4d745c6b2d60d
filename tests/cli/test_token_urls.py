"""Where the Slack bot token and Google's access token may be sent: the API base URLs are
``https://`` (``http://`` only on loopback) and come from the environment, never from a ``.env``
in the working directory, which could otherwise hand the real token to a listener of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import engine as e
from bot.cli import cli
from bot.settings import SlackSettings
from engine.config import SettingsError, load
from sheets.settings import SheetsSettings
from tests.cli.helpers import error_line, run
from tests.helpers import po, so
from tests.standins.sheets.standin import SheetsStandin
from tests.standins.slack.standin import SlackStandin

URL_VARS = ("PREORDER_SLACK_API_URL", "PREORDER_GOOGLE_API_URL")


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty working directory (for a ``.env`` of the test's own) and no API URL set in the
    environment."""
    for name in URL_VARS:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_a_dotenv_cannot_send_the_bot_token_to_another_slack(
    db: e.Database, slack_standin: SlackStandin, workdir: Path
) -> None:
    # The stand-in plays the local listener a .env would name: it must hear nothing.
    (workdir / ".env").write_text(f"PREORDER_SLACK_API_URL={slack_standin.url}\n")
    env = {"PREORDER_SLACK_BOT_TOKEN": "xoxb-real-token", "PREORDER_DIGEST_CHANNEL": "C0DIGEST"}
    result = run(db, "digest", "--post", env=env)
    assert result.exit_code == 1 and result.stdout == ""
    assert error_line(result) == (
        "error: bad settings: PREORDER_SLACK_API_URL: may not come from a .env file, since it "
        "decides where credentials or customers' data are sent; set it in the environment instead"
    )
    assert slack_standin.calls() == []

    # Set in the environment, the same stand-in is where the digest goes.
    (workdir / ".env").unlink()
    env = {**env, "PREORDER_SLACK_BOT_TOKEN": slack_standin.token,
           "PREORDER_SLACK_API_URL": slack_standin.url}  # fmt: skip
    assert run(db, "digest", "--post", env=env).exit_code == 0
    assert [c.method for c in slack_standin.calls()] == ["chat.postMessage"]


def test_a_dotenv_cannot_send_googles_token_to_another_sheets_api(
    db: e.Database,
    actor: e.Actor,
    sheets_standin: SheetsStandin,
    service_account_file: Path,
    workdir: Path,
) -> None:
    e.apply_records(
        db, actor, [po("PO-1", (1, "A", 5, "2027-01-10"))], [so("SO-1", 1, (1, "A", 2))]
    )
    sheet_id = sheets_standin.create_spreadsheet(tabs=["Sheet1"])
    (workdir / ".env").write_text(f"PREORDER_GOOGLE_API_URL={sheets_standin.base_url}\n")
    env = {"PREORDER_SHEET_ID": sheet_id, "PREORDER_GOOGLE_CREDENTIALS": str(service_account_file)}
    result = run(db, "sheets", "push", env=env)
    assert result.exit_code == 1
    assert error_line(result) == (
        "error: bad settings: PREORDER_GOOGLE_API_URL: may not come from a .env file, since it "
        "decides where credentials or customers' data are sent; set it in the environment instead"
    )
    assert sheets_standin.requests == [] and sheets_standin.token_requests == []


def test_a_key_file_whose_token_uri_is_plain_http_elsewhere_is_refused(
    db: e.Database, sheets_standin: SheetsStandin, service_account_file: Path, workdir: Path
) -> None:
    """The key file's token_uri receives an assertion signed with the private key (worth an
    access token): the same rule as the API URL."""
    key = json.loads(service_account_file.read_text())
    key["token_uri"] = "http://oauth.example/token"
    service_account_file.write_text(json.dumps(key))
    env = {"PREORDER_SHEET_ID": sheets_standin.create_spreadsheet(tabs=["Sheet1"]),
           "PREORDER_GOOGLE_CREDENTIALS": str(service_account_file),
           "PREORDER_GOOGLE_API_URL": sheets_standin.base_url}  # fmt: skip
    result = run(db, "sheets", "push", env=env)
    assert result.exit_code == 1
    assert error_line(result) == (
        f"error: Google Sheets is not configured: the token_uri in {service_account_file} "
        "must be an https:// URL, so that the token is never sent in clear text (http:// only "
        "to this machine: 127.0.0.1, ::1 or localhost)"
    )
    assert sheets_standin.requests == []


def test_serve_refuses_a_dotenv_that_names_the_slack_api(
    slack_standin: SlackStandin, workdir: Path, tmp_path: Path, sqlite_template: Path
) -> None:
    from tests.fixtures.databases import fresh_sqlite

    fresh_sqlite(sqlite_template, tmp_path).dispose()
    (workdir / ".env").write_text(
        f"PREORDER_SLACK_API_URL={slack_standin.url}\nPREORDER_SLACK_SIGNING_SECRET=s\n"
        "PREORDER_SLACK_MERCHANDISERS=U1\n"
    )
    env = {"PREORDER_SLACK_BOT_TOKEN": slack_standin.token}
    # Were the token sent, serve would stop there (rather than serve on) and the test fail.
    slack_standin.fail_next("auth.test", status=200, error="invalid_auth")
    result = CliRunner(env=env).invoke(cli, ["--db", f"sqlite:///{tmp_path / 'preorder.db'}",
                                             "serve"])  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith("error: bad settings: PREORDER_SLACK_API_URL: may not come")
    assert slack_standin.calls() == []  # not even auth.test: the token stayed here


@pytest.mark.parametrize(
    "url",
    ["https://slack.example/api/", "http://127.0.0.1:8080/api/", "http://127.1.2.3/api/",
     "http://[::1]:8080/api/", "http://localhost:8080/api/", "http://LOCALHOST/api/"],
)  # fmt: skip
def test_a_token_url_is_https_or_loopback(workdir: Path, url: str) -> None:
    assert load(SlackSettings, slack_api_url=url).slack_api_url == url
    assert SheetsSettings(google_api_url=url).google_api_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://slack.example/api/", "must be an https:// URL, so that the token is never sent "
                                      "in clear text (http:// only to this machine"),
        ("http://10.0.0.5/api/", "must be an https:// URL, so that the token is never sent"),
        ("http://localhost.example/", "must be an https:// URL, so that the token is never sent"),
        ("http://127.0.0.1.example/", "must be an https:// URL, so that the token is never sent"),
        ("slack.com", "must be an https:// URL"),
        ("ftp://slack.example/", "must be an https:// URL"),
        ("https://", "must be an https:// URL"),
        ("http://127.0.0.1:port/", "'http://127.0.0.1:port/' is not a URL"),
    ],
)  # fmt: skip
def test_a_token_url_elsewhere_in_clear_text_is_a_configuration_error(
    workdir: Path, url: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as slack:
        load(SlackSettings, slack_api_url=url)
    assert str(slack.value).startswith(f"bad settings: PREORDER_SLACK_API_URL: {reason}")
    with pytest.raises(ValidationError) as google:
        SheetsSettings(google_api_url=url)
    (problem,) = google.value.errors()
    assert problem["loc"] == ("google_api_url",)
    assert problem["msg"].removeprefix("Value error, ").startswith(reason)


def test_a_dotenv_may_hold_the_other_settings(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens, secrets and the rest may come from a .env (they are the file owner's own); the
    environment still wins over it, and sets the URLs."""
    for name in ("PREORDER_SLACK_BOT_TOKEN", "PREORDER_SLACK_MERCHANDISERS", "PREORDER_SHEET_ID"):
        monkeypatch.delenv(name, raising=False)
    (workdir / ".env").write_text(
        "PREORDER_SLACK_BOT_TOKEN=xoxb-from-file\nPREORDER_SLACK_MERCHANDISERS=U1\n"
        "PREORDER_SHEET_ID=sheet-from-file\n"
    )
    monkeypatch.setenv("PREORDER_SLACK_MERCHANDISERS", "U2")
    monkeypatch.setenv("PREORDER_SLACK_API_URL", "https://slack.example/api/")
    settings = load(SlackSettings)
    assert (settings.slack_bot_token, settings.merchandisers) == ("xoxb-from-file", {"U2"})
    assert settings.slack_api_url == "https://slack.example/api/"
    assert SheetsSettings().sheet_id == "sheet-from-file"


@pytest.mark.parametrize(
    "variable",
    ["PREORDER_WEBHOOK_URL", "PREORDER_SMTP_URL"],
)
def test_a_dotenv_cannot_say_where_customers_data_is_sent(
    db: e.Database, workdir: Path, variable: str
) -> None:
    """Events carry orders and customers' addresses, and the SMTP URL its password: a .env in
    whatever directory a command runs in must not redirect them."""
    value = "https://listener.example/hook" if "WEBHOOK" in variable else "smtps://u:pw@x:465"
    (workdir / ".env").write_text(f"{variable}={value}\n")
    result = run(db, "events", "deliver", env={"PREORDER_WEBHOOK_SECRET": "s"})
    assert result.exit_code == 1
    assert error_line(result) == (
        f"error: bad settings: {variable}: may not come from a .env file, since it decides where "
        "credentials or customers' data are sent; set it in the environment instead"
    )
