"""A delivery run: what is due, once (``preorder events deliver`` and ``serve``'s job).

Each round claims a batch per channel (``engine.deliveries``: in the database, no transaction
held while sending), sends it with ``PREORDER_DELIVER_WORKERS`` threads and settles it; the run
ends when nothing it may take is due. A run takes only what was due when it started, so a
failed delivery is tried at most once per run, whatever its receiver's ``Retry-After``.

A failed attempt is tried again after an exponential backoff with jitter (or the receiver's
``Retry-After``), until ``PREORDER_WEBHOOK_MAX_AGE`` after its first attempt: the attempt that
would come later is not made, and the delivery is dead-lettered with the last answer.

A database failure stops a run with the engine's ``StorageError``: deliveries it sent but could
not record stay claimed, and are sent again once their claim lapses (at least once).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jinja2

from engine import Database
from engine.deliveries import (
    EMAIL,
    Channel,
    Claimed,
    Settled,
    Window,
    channel_kind,
    claim,
    claim_windows,
    enqueue,
    settle,
)
from notify.email import Mailer, Templates, net_change
from notify.settings import NotifySettings
from notify.webhook import WebhookSender

log = logging.getLogger("notify")

# Deliveries claimed per worker per round: enough to keep the workers busy between the two
# short transactions (claim, settle) of each round.
PER_WORKER = 50
BACKOFF_FIRST = 30.0  # seconds before the first retry (jittered)
BACKOFF_MOST = 3600.0
SOONEST = 1.0  # a retry is never sooner, whatever the Retry-After
# A claim lapses after the longest a round could take (its batch sent one after the other by
# each worker, each waiting the whole timeout), plus a margin.
LEASE_MARGIN = 60.0
RESULTS = ("delivered", "retried", "dead_lettered", "skipped")
FAILED = ("retried", "dead_lettered")


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try after ``attempts`` tries: doubling from 30 s up to an
    hour, the second half jittered (so receivers back from an outage are not hit at once)."""
    step = min(BACKOFF_MOST, BACKOFF_FIRST * 2 ** max(0, attempts - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


@dataclass
class Report:
    """What a run did, by kind of channel (``webhook``, ``email``) and result (delivered,
    retried, dead_lettered, skipped); ``no_email``: customers skipped for want of an address;
    ``no_change``: email windows whose net change was nothing."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    enqueued: int = 0
    no_email: int = 0
    no_change: int = 0

    def count(self, kind: str, result: str) -> int:
        return self.counts[(kind, result)]

    @property
    def failed(self) -> bool:
        """Any delivery of this run was not accepted (to be retried, or dead-lettered)."""
        return any(n for (_, result), n in self.counts.items() if result in FAILED)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """``webhook: 120 delivered, 2 retried; email: 30 delivered, 4 skipped (no email)``."""
        parts = []
        for kind in sorted({k for k, _ in self.counts}):
            said = [
                f"{self.count(kind, r)} {r.replace('_', '-')}"
                for r in RESULTS
                if self.count(kind, r)
            ]
            if kind == EMAIL and (self.no_email or self.no_change):
                why = []
                if self.no_email:
                    why.append(f"{self.no_email} with no email address")
                if self.no_change:
                    why.append(f"{self.no_change} with no net change")
                said.append("skipped: " + ", ".join(why))
            parts.append(f"{kind}: {', '.join(said)}")
        return "; ".join(parts) if parts else "nothing was due"


class Deliverer:
    """Delivers the outbox's events to the configured channels; ``close`` when done."""

    def __init__(
        self,
        db: Database,
        settings: NotifySettings,
        *,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or db.clock
        self.rng = rng or random.Random()
        self.channels = settings.channels()
        self.workers = settings.deliver_workers
        self.batch = self.workers * PER_WORKER
        self.senders = {
            c.name: WebhookSender(
                c.name.split(" ", 1)[1],
                settings.webhook_secret.strip(),
                timeout=settings.webhook_timeout,
                connections=self.workers,
            )
            for c in self.channels
            if c.name != EMAIL
        }
        smtp = settings.smtp
        self.mailer = Mailer(smtp, timeout=settings.smtp_timeout) if smtp is not None else None
        self.templates = Templates(settings.templates)
        self.sender = settings.email_from.strip()
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="deliver")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for sender in self.senders.values():
            sender.close()
        if self.mailer is not None:
            self.mailer.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, *, budget: float | None = None) -> Report:
        """Deliver what is due now; ``budget``: start no new round after that many seconds
        (what is left waits for the next run)."""
        report = Report()
        deadline = None if budget is None else time.monotonic() + budget
        due_by = self.clock()
        report.enqueued = enqueue(self.db, self.channels, now=due_by)
        while True:
            busy = False
            for channel in self.channels:
                busy |= self._drain(channel, due_by, report, deadline)
            if not busy or (deadline is not None and time.monotonic() > deadline):
                return report

    def _drain(
        self, channel: Channel, due_by: datetime, report: Report, deadline: float | None
    ) -> bool:
        """Rounds on one channel until nothing more of it is due. The next batch is claimed
        while this one is being sent: it cannot hold the next event of an order in flight,
        which is still pending until settled."""
        batch = self._claim(channel, due_by)
        if not batch:
            return False
        while batch:
            sending = [self.pool.submit(self._send, channel, item) for item in batch]
            more = deadline is None or time.monotonic() < deadline
            batch = self._claim(channel, due_by) if more else []
            results = [f.result() for f in sending]
            settle(self.db, [r for r, _ in results], now=self.clock())
            self._count(channel, results, report)
        return True

    def _claim(self, channel: Channel, due_by: datetime) -> list[Claimed] | list[Window]:
        now, lease = self.clock(), self._lease()
        if channel.name == EMAIL:
            return claim_windows(
                self.db, channel, now=now, limit=self.batch, lease=lease, due_by=due_by
            )
        return claim(self.db, channel, now=now, limit=self.batch, lease=lease, due_by=due_by)

    def _send(self, channel: Channel, item: Claimed | Window) -> tuple[Settled, str]:
        if isinstance(item, Window):
            return self._email(item)
        return self._post(self.senders[channel.name], item)

    def _count(self, channel: Channel, results: list[tuple[Settled, str]], report: Report) -> None:
        kind = channel_kind(channel.name)
        for settled, why in results:
            result = {"pending": "retried", "dead": "dead_lettered"}.get(
                settled.outcome, settled.outcome
            )
            report.counts[(kind, result)] += 1
            if why == "no email":
                report.no_email += 1
            elif why == "no change":
                report.no_change += 1

    def _lease(self) -> timedelta:
        timeout = max(self.settings.webhook_timeout, self.settings.smtp_timeout)
        rounds = -(-self.batch // self.workers)
        return timedelta(seconds=timeout * rounds + LEASE_MARGIN)

    # --- one delivery ---------------------------------------------------------------------

    def _post(self, sender: WebhookSender, claimed: Claimed) -> tuple[Settled, str]:
        answer = sender.send(claimed.event)
        if answer.accepted:
            return Settled(claimed.delivery, "delivered", answer.status, answer.text), ""
        if not answer.retry:
            return Settled(claimed.delivery, "dead", answer.status, answer.text), ""
        return self._again(claimed, answer.status, answer.text, answer.retry_after), ""

    def _email(self, window: Window) -> tuple[Settled, str]:
        head, members = window.head, window.members
        notice = net_change(window.events)
        if not notice.lines:
            why = "no net change in the window"
            return Settled(head.delivery, "skipped", None, why, members=members), "no change"
        if not notice.email:
            why = "the customer has no email address"
            return Settled(head.delivery, "skipped", None, why, members=members), "no email"
        assert self.mailer is not None, "email deliveries without an SMTP server"
        try:
            message = self.templates.message(notice, self.sender)
        except jinja2.TemplateError as exc:
            # A brand's template that does not render: tried again once it is fixed.
            return self._again(head, None, f"template: {exc}", None, members), ""
        sent = self.mailer.send(message)
        if sent.accepted:
            return Settled(head.delivery, "delivered", sent.code, members=members), ""
        if not sent.retry:
            return Settled(head.delivery, "dead", sent.code, sent.text, members=members), ""
        return self._again(head, sent.code, sent.text, None, members), ""

    def _again(
        self,
        claimed: Claimed,
        status: int | None,
        text: str | None,
        retry_after: float | None,
        members: Sequence[int] = (),
    ) -> Settled:
        """Tried again later, or dead-lettered (with the ``members`` an email covers) when
        that would be past the maximum age."""
        now = self.clock()
        wait = retry_after if retry_after is not None else backoff(claimed.attempts, self.rng)
        retry_at = now + timedelta(seconds=max(SOONEST, wait))
        if retry_at - claimed.first_attempt_at > self.settings.webhook_max_age:
            return Settled(claimed.delivery, "dead", status, text, members=members)
        return Settled(claimed.delivery, "pending", status, text, retry_at=retry_at)
