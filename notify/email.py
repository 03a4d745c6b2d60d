"""Customer emails (DESIGN.md section 5): the net change of an order's promised dates over the
debounce window, rendered from templates (Jinja2, plain text and HTML) and sent over SMTP.

A window's events are folded line by line: a line's date before the first event that names it
against its date after the last. A line back where it started (2027-02-15 -> none ->
2027-02-15) has no news, nor does a line the customer cancelled (the store confirms a
cancellation itself); an order with no line left sends nothing. Templates are looked for first
in ``PREORDER_EMAIL_TEMPLATES`` (when set), then among the built-in ones, by name:
``promise_changed.subject.txt``, ``promise_changed.txt`` and ``promise_changed.html``.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email.charset import QP, SHORTEST, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Any, cast

import jinja2

from engine.deliveries import clip
from engine.outbox import Event
from notify.settings import SmtpServer

SUBJECT = "promise_changed.subject.txt"
TEXT = "promise_changed.txt"
HTML = "promise_changed.html"
SMTP_TIMEOUT = 30.0
# Bodies in quoted-printable (readable as they are, where base64 is not), headers as short as
# they can be.
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP
UTF8.header_encoding = SHORTEST


@dataclass(frozen=True)
class ChangedLine:
    line: int
    sku: str
    quantity: int
    previous: date | None  # None: it had no date
    promised: date | None  # None: it has none now (back in the queue)


@dataclass(frozen=True)
class Notice:
    """What one customer is told of one order: the lines whose date changed, net."""

    order: str
    customer: str
    email: str | None
    lines: list[ChangedLine]


def net_change(events: Sequence[Event]) -> Notice:
    """Fold an order's events, oldest first, into the news for its customer."""
    first: dict[int, dict[str, Any]] = {}
    last: dict[int, dict[str, Any]] = {}
    data: dict[str, Any] = {}
    for event in events:
        data = json.loads(event.data)
        for line in data.get("lines") or []:
            first.setdefault(line["line"], line)
            last[line["line"]] = line
    lines = []
    for number in sorted(last):
        was, now = first[number]["previous_promised_date"], last[number]["promised_date"]
        if was == now or last[number]["state"] == "cancelled":
            continue
        lines.append(
            ChangedLine(
                number,
                last[number]["sku"],
                last[number]["quantity"],
                date.fromisoformat(was) if was else None,
                date.fromisoformat(now) if now else None,
            )
        )
    return Notice(data.get("order", ""), data.get("customer") or "", data.get("email"), lines)


def day(value: date | None) -> str:
    """``Monday 1 February 2027``."""
    if value is None:
        return ""
    return f"{value:%A} {value.day} {value:%B %Y}"


class Templates:
    """The email templates: a brand's folder first, the built-in ones after."""

    def __init__(self, folder: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if folder is not None:
            loaders.append(jinja2.FileSystemLoader(str(folder)))
        loaders.append(jinja2.PackageLoader("notify", "templates"))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self.env.filters["day"] = day

    def message(self, notice: Notice, sender: str) -> Message:
        """The email for ``notice``: a subject, a plain-text part and an HTML part.

        Built with ``email.mime`` (the compat32 policy): ``EmailMessage`` parses every header
        it is given again, which took 4 ms a message, more than sending it."""
        context = {"order": notice.order, "customer": notice.customer, "lines": notice.lines}
        subject = " ".join(self.env.get_template(SUBJECT).render(context).split())
        message = MIMEMultipart("alternative")
        message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
        message["From"] = sender
        message["To"] = formataddr((notice.customer, notice.email or ""), charset="utf-8")
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        message.attach(_text_part(self.env.get_template(TEXT).render(context), "plain"))
        message.attach(_text_part(self.env.get_template(HTML).render(context), "html"))
        return message


def _text_part(text: str, subtype: str) -> MIMEText:
    # MIMEText takes a Charset (its stubs say a name only): the one that says quoted-printable.
    return MIMEText(text, subtype, cast(Any, UTF8))


@dataclass(frozen=True)
class Sent:
    """How the mail server took one message: ``accepted``, or ``retry`` later, or neither
    (refused for good: a 5xx reply to the recipient or the message). ``code`` is the SMTP
    reply code (None: no reply) and ``text`` what it said or what went wrong."""

    accepted: bool
    retry: bool
    code: int | None = None
    text: str | None = None


class Mailer:
    """Sends messages over SMTP, one connection per thread, kept for the run (``close``).

    A server that does not answer in ``timeout`` seconds, or cannot be reached at all, is not
    tried again by this mailer: every later message is put off at once ("not tried"), so a
    hung server costs a delivery run one timeout per worker, not one per email."""

    def __init__(self, server: SmtpServer, *, timeout: float = SMTP_TIMEOUT) -> None:
        self.server = server
        self.timeout = timeout
        self._local = threading.local()
        self._open: list[smtplib.SMTP] = []
        self._guard = threading.Lock()
        self._down: str | None = None

    def send(self, message: Message) -> Sent:
        if self._down is not None:
            return Sent(False, True, None, clip(f"not tried: {self._down}"))
        try:
            smtp = self._connection()
        except smtplib.SMTPResponseException as exc:
            # A greeting, STARTTLS or login refused: the server's or our setup's trouble, not
            # this message's. Tried again later.
            return Sent(False, True, exc.smtp_code, _text(exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            return self._unreachable(exc)
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()))
            return Sent(False, code < 500, code, _text(said))
        except smtplib.SMTPDataError as exc:
            return Sent(False, exc.smtp_code < 500, exc.smtp_code, _text(exc.smtp_error))
        except smtplib.SMTPResponseException as exc:
            # The sender refused: tried again later, on a new connection.
            self._drop()
            return Sent(False, True, exc.smtp_code, _text(exc.smtp_error))
        except TimeoutError as exc:
            self._drop()
            return self._unreachable(exc)
        except (smtplib.SMTPException, OSError) as exc:
            # A kept connection the server closed while idle, say: the next message opens
            # a new one.
            self._drop()
            return Sent(False, True, None, clip(f"no answer: {exc}") or "no answer")
        return Sent(True, False, 250, None)

    def _unreachable(self, exc: BaseException) -> Sent:
        where = f"{self.server.host}:{self.server.port}"
        said = f"no answer from {where}: {str(exc) or type(exc).__name__}"
        self._down = said
        return Sent(False, True, None, clip(said))

    def close(self) -> None:
        with self._guard:
            connections, self._open = self._open, []
        for smtp in connections:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        if smtp is None:
            smtp = self._connect()
            self._local.smtp = smtp
            with self._guard:
                self._open.append(smtp)
        return smtp

    def _drop(self) -> None:
        smtp = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is not None:
            with self._guard:
                if smtp in self._open:
                    self._open.remove(smtp)
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if server.tls:
            smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            try:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif not server.loopback:
                    # Customers' addresses (and the password) never cross a network in clear.
                    raise smtplib.SMTPNotSupportedError(
                        f"{server.host} offers no STARTTLS: refusing to send in clear text "
                        "(use smtps:// for TLS from the start)"
                    )
            except BaseException:
                smtp.close()
                raise
        if server.user:
            try:
                smtp.login(server.user, server.password or "")
            except BaseException:
                smtp.close()
                raise
        return smtp


def _text(said: bytes | str) -> str | None:
    return clip(said.decode("utf-8", "replace") if isinstance(said, bytes) else said)
