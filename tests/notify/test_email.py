"""Customer emails (DESIGN.md section 5) through a real SMTP server on 127.0.0.1: the net change
of an order's promised dates over PREORDER_NOTIFY_DELAY, one email per customer per order per
window, plain text and HTML from templates a brand may override, over plain SMTP on this
machine, STARTTLS with a login, or SMTPS. On SQLite and PostgreSQL where a database is used."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

import engine as e
from engine import config
from engine.config import SettingsError
from notify.email import ChangedLine, Notice, Templates
from notify.settings import NotifySettings, deliverable
from tests.cli.helpers import ok
from tests.fixtures.events import Clock, deliver, hooks
from tests.helpers import T0, po
from tests.standins.smtp.server import (
    PASSWORD,
    USER,
    Mailbox,
    SilentServer,
    SmtpServer,
    authenticate,
    self_signed,
    server_context,
)
from tests.standins.webhook.receiver import Receiver

Load = Callable[..., e.Outcome]
ACTOR = e.Actor("t", e.Source.CLI)
DELAY = 600
A, B, C = date(2027, 1, 10), date(2027, 2, 1), date(2027, 3, 1)
SENDER = "Shop <orders@shop.example.com>"


def mail(server: SmtpServer, **more: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "smtp_url": f"smtp://127.0.0.1:{server.port}",
        "email_from": SENDER,
        "notify_delay": DELAY,
        "webhook_url": "",
        **more,
    }
    return NotifySettings(**values)


def order(number: str, minutes: int, *lines: tuple[int, str, int], email: str | None) -> e.SORecord:
    return e.SORecord(
        order=number,
        customer=f"customer of {number}",
        email=email,
        placed_at=T0 + timedelta(minutes=minutes),
        lines=[e.SOLineRecord(line=ln, sku=sku, quantity=q) for ln, sku, q in lines],
    )


def parsed(message: Message) -> EmailMessage:
    """A message as its reader's mail program parses it."""
    found = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(found, EmailMessage)
    return found


def text_of(message: Message) -> str:
    part = parsed(message).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: Message) -> str:
    part = parsed(message).get_body(("html",))
    assert part is not None
    return str(part.get_content())


def told(load: Load, db: e.Database, clock: Clock, settings: NotifySettings) -> None:
    """SO-1 (ada@example.com) allocated on PO-1:1 (A) and told so, the window closed."""
    load(
        po("PO-1", (1, "MUG", 10, A.isoformat())),
        order("SO-1", 0, (1, "MUG", 2), email="ada@example.com"),
    )
    clock.advance(DELAY)
    assert deliver(db, settings).count("email", "delivered") == 1


def test_a_promise_that_goes_away_and_comes_back_in_the_window_notifies_no_one(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    settings = mail(server)
    told(load, db, clock, settings)
    clock.advance(60)
    e.set_quantity(db, ACTOR, "PO-1", 1, 0)  # released: A -> none
    clock.advance(60)
    e.set_quantity(db, ACTOR, "PO-1", 1, 10)  # the sweep gives it straight back: none -> A
    clock.advance(DELAY - 61)
    assert deliver(db, settings).total == 0  # the window is not over yet
    clock.advance(1)
    report = deliver(db, settings)
    assert report.count("email", "skipped") == 1 and report.no_change == 1
    assert not report.failed
    assert len(box.messages) == 1  # the first promise only


def test_several_changes_in_the_window_make_one_email_with_the_first_and_last_dates(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    settings = mail(server)
    told(load, db, clock, settings)
    clock.advance(60)
    e.set_arrival(db, ACTOR, "PO-1", 1, B, sync=True)
    clock.advance(120)
    e.set_arrival(db, ACTOR, "PO-1", 1, C, sync=True)
    clock.advance(DELAY)
    report = deliver(db, settings)
    assert report.count("email", "delivered") == 1
    [_, second] = box.messages
    body = text_of(second)
    assert "was Sunday 10 January 2027, now Monday 1 March 2027" in body
    assert "February" not in body and "February" not in html_of(second)
    # Both events of the window went with that one email.
    listed = ok(db, "events", "list", "--order", "SO-1", "--json").stdout
    assert listed.count('"status": "delivered"') == 3


def test_a_change_after_the_window_closed_is_the_next_email(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    settings = mail(server)
    told(load, db, clock, settings)
    e.set_arrival(db, ACTOR, "PO-1", 1, B, sync=True)
    clock.advance(DELAY + 1)
    e.set_arrival(db, ACTOR, "PO-1", 1, C, sync=True)
    assert deliver(db, settings).count("email", "delivered") == 1  # A -> B; C not due yet
    clock.advance(DELAY)
    assert deliver(db, settings).count("email", "delivered") == 1  # B -> C
    bodies = [text_of(m) for m in box.messages[1:]]
    assert "was Sunday 10 January 2027, now Monday 1 February 2027" in bodies[0]
    assert "was Monday 1 February 2027, now Monday 1 March 2027" in bodies[1]


def test_one_email_per_order_lists_every_changed_line_in_text_and_html(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    settings = mail(server)
    load(
        po("PO-1", (1, "MUG", 10, A.isoformat()), (2, "PLATE", 10, B.isoformat())),
        order("SO-1", 0, (1, "MUG", 2), (2, "PLATE", 3), (3, "BOWL", 1), email="ada@example.com"),
        order("SO-2", 1, (1, "MUG", 1), email="bo@example.com"),
    )
    clock.advance(DELAY)
    report = deliver(db, settings)
    assert report.count("email", "delivered") == 2
    [several] = box.to("ada@example.com")
    assert several["Subject"] == "Your order SO-1: new expected dates"
    assert several["From"] == SENDER
    assert str(several["To"]) == "customer of SO-1 <ada@example.com>"
    text = text_of(several)
    assert "The dates we expect to ship 2 items of your order SO-1 have changed:" in text
    assert "- 2 x MUG (line 1): had no date yet, now Sunday 10 January 2027" in text
    assert "- 3 x PLATE (line 2): had no date yet, now Monday 1 February 2027" in text
    assert "BOWL" not in text  # no PO line for it: no date, no news
    html = html_of(several)
    row = "<tr><td>MUG (line 1)</td><td>2</td><td>no date yet</td><td>Sunday 10 January 2027</td>"
    assert row + "</tr>" in html
    assert html.count("<tr><td>") == 2
    [one] = box.to("bo@example.com")
    assert one["Subject"] == "Your order SO-2: a new expected date"
    assert "The date we expect to ship an item of your order SO-2 has changed:" in text_of(one)


def test_a_customer_without_an_email_is_skipped_and_counted(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    load(
        po("PO-1", (1, "MUG", 10, A.isoformat())),
        order("SO-1", 0, (1, "MUG", 2), email=None),
        order("SO-2", 1, (1, "MUG", 2), email="bo@example.com"),
    )
    clock.advance(DELAY)
    report = deliver(db, mail(server))
    assert report.count("email", "delivered") == 1 and report.count("email", "skipped") == 1
    assert report.no_email == 1 and not report.failed
    assert "1 with no email address" in report.summary()
    assert [str(m["To"]) for m in box.messages] == ["customer of SO-2 <bo@example.com>"]


def test_a_refused_address_is_dead_lettered_and_a_busy_server_retried(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    box.refuse = {
        "gone@example.com": "550 5.1.1 no such mailbox",
        "busy@example.com": "451 4.3.0 try later",
    }
    load(
        po("PO-1", (1, "MUG", 10, A.isoformat())),
        order("SO-1", 0, (1, "MUG", 2), email="gone@example.com"),
        order("SO-2", 1, (1, "MUG", 2), email="busy@example.com"),
    )
    clock.advance(DELAY)
    report = deliver(db, mail(server))
    assert report.count("email", "dead_lettered") == 1 and report.count("email", "retried") == 1
    rows = {r["order"]: r for r in json.loads(ok(db, "events", "list", "--json").stdout)}
    assert (rows["SO-1"]["status"], rows["SO-1"]["answer_status"]) == ("dead", 550)
    assert rows["SO-1"]["answer"] == "5.1.1 no such mailbox"
    assert (rows["SO-2"]["status"], rows["SO-2"]["answer_status"]) == ("pending", 451)
    box.refuse.clear()
    clock.advance(60)
    assert deliver(db, mail(server)).count("email", "delivered") == 1


def test_a_mail_server_that_hangs_costs_a_run_one_timeout_and_loses_nothing(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    silent = SilentServer()
    silent.start()
    try:
        load(
            po("PO-1", (1, "MUG", 100, A.isoformat())),
            *(order(f"SO-{n}", n, (1, "MUG", 1), email=f"c{n}@example.com") for n in range(40)),
        )
        clock.advance(DELAY)
        hung = mail(_server_at(silent.port), smtp_timeout=0.5, deliver_workers=2)
        started = time.monotonic()
        report = deliver(db, hung)
        took = time.monotonic() - started
        # Without giving up on the server, 40 emails over 2 workers would wait 20 timeouts.
        assert report.count("email", "retried") == 40 and report.count("email", "delivered") == 0
        assert took < 5, took
        assert silent.connections <= 2
        rows = json.loads(ok(db, "events", "list", "--json").stdout)
        answers = {r["answer"] for r in rows if r["channel"] == "email"}
        assert any(a.startswith("no answer from 127.0.0.1") for a in answers), answers
        assert all("no answer from 127.0.0.1" in a for a in answers), answers
    finally:
        silent.stop()
    # The server back (here: a working one), every email goes out on a later run.
    box, server = mailbox
    clock.advance(3600)
    assert deliver(db, mail(server)).count("email", "delivered") == 40
    assert len(box.messages) == 40


def _server_at(port: int) -> SmtpServer:
    """Stands for a server at ``port`` in ``mail()``, which reads only its port."""
    return cast(SmtpServer, SimpleNamespace(port=port))


def test_webhooks_get_every_event_at_once_while_emails_wait_for_the_net_change(
    db: e.Database,
    load: Load,
    clock: Clock,
    mailbox: tuple[Mailbox, SmtpServer],
    receiver: Receiver,
) -> None:
    box, server = mailbox
    settings = mail(server, **hooks(receiver).model_dump(include={"webhook_url", "webhook_secret"}))
    load(
        po("PO-1", (1, "MUG", 10, A.isoformat())),
        order("SO-1", 0, (1, "MUG", 2), email="ada@example.com"),
    )
    e.set_arrival(db, ACTOR, "PO-1", 1, B, sync=True)
    report = deliver(db, settings)
    assert report.count("webhook", "delivered") == 2 and box.messages == []
    clock.advance(DELAY)
    deliver(db, settings)
    [message] = box.messages
    assert "had no date yet, now Monday 1 February 2027" in text_of(message)


def test_events_older_than_the_maximum_age_when_first_seen_are_not_emailed(
    db: e.Database, load: Load, clock: Clock, mailbox: tuple[Mailbox, SmtpServer]
) -> None:
    box, server = mailbox
    load(
        po("PO-1", (1, "MUG", 10, A.isoformat())),
        order("SO-1", 0, (1, "MUG", 2), email="ada@example.com"),
    )
    clock.advance(4 * 24 * 3600)  # email configured days later: that news is stale
    report = deliver(db, mail(server))
    assert report.total == 0 and box.messages == []
    [row] = json.loads(ok(db, "events", "list", "--json").stdout)
    assert row["status"] == "skipped" and "older than 3 days" in row["answer"]


# --- templates and transports (no database) ---------------------------------------------------

NOTICE = Notice(
    "SO-9",
    "Ada <& Co>",
    "ada@example.com",
    [ChangedLine(1, "MUG", 2, A, None), ChangedLine(2, "PLATE", 1, None, B)],
)


def test_the_html_part_escapes_what_customers_typed() -> None:
    message = Templates().message(NOTICE, SENDER)
    assert "Hello Ada &lt;&amp; Co&gt;," in html_of(message)
    assert "Hello Ada <& Co>," in text_of(message)
    assert "no date for now (we will write as soon as we have one)" in text_of(message)


def test_templates_are_overridden_from_a_folder_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "promise_changed.subject.txt").write_text(
        "News about {{ order }} for {{ customer }}"
    )
    (tmp_path / "promise_changed.txt").write_text(
        "{% for l in lines %}{{ l.sku }}: {{ l.promised|day or 'later' }}\n{% endfor %}"
    )
    message = parsed(Templates(tmp_path).message(NOTICE, SENDER))
    assert message["Subject"] == "News about SO-9 for Ada <& Co>"
    assert text_of(message) == "MUG: later\nPLATE: Monday 1 February 2027\n"
    assert "<table>" in html_of(message)  # not overridden: the built-in one


def test_a_missing_template_folder_or_sender_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"PREORDER_EMAIL_TEMPLATES: names .* not a folder"):
        config.load(
            NotifySettings,
            smtp_url="smtp://127.0.0.1:25",
            email_from=SENDER,
            email_templates=str(tmp_path / "x"),
        )
    with pytest.raises(SettingsError, match=r"PREORDER_EMAIL_FROM .* is required"):
        deliverable(config.load(NotifySettings, smtp_url="smtp://127.0.0.1:25", email_from=""))
    with pytest.raises(SettingsError, match="PREORDER_SMTP_URL: must be smtp://"):
        config.load(NotifySettings, smtp_url="http://mail.example.com", email_from=SENDER)


def send_one(settings: NotifySettings) -> bool:
    from notify.email import Mailer

    assert settings.smtp is not None
    mailer = Mailer(settings.smtp, timeout=5)
    try:
        return mailer.send(Templates().message(NOTICE, SENDER)).accepted
    finally:
        mailer.close()


def test_starttls_with_a_login_over_a_self_signed_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    box = Mailbox()
    server = SmtpServer(
        box,
        tls_context=server_context(cert, key),
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    server.start()
    try:
        secret = PASSWORD.replace("@", "%40").replace(" ", "%20")
        url = f"smtp://{USER}:{secret}@127.0.0.1:{server.port}"
        assert send_one(NotifySettings(smtp_url=url, email_from=SENDER))
        assert box.logins == [USER] and len(box.messages) == 1
        # A certificate the client does not trust: nothing is sent.
        monkeypatch.delenv("SSL_CERT_FILE")
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
        assert not send_one(NotifySettings(smtp_url=url, email_from=SENDER))
        assert len(box.messages) == 1
    finally:
        server.stop()


def test_smtps_talks_tls_from_the_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    box = Mailbox()
    server = SmtpServer(box, ssl_context=server_context(cert, key))
    server.start()
    try:
        assert send_one(
            NotifySettings(smtp_url=f"smtps://127.0.0.1:{server.port}", email_from=SENDER)
        )
        [message] = box.messages
        assert message["Subject"] == "Your order SO-9: new expected dates"
    finally:
        server.stop()
