"""How long the database may keep a caller waiting.

A PostgreSQL server (or the network to it) can stop answering without closing anything: the
connections stay open and every caller waits on its socket for a reply that never comes, which
in a service means every request thread, job and health check held for the whole outage. So,
for PostgreSQL:

* ``connect``: opening a connection (libpq's ``connect_timeout``: the whole handshake);
* ``checkout``: waiting for a free connection of the pool (SQLAlchemy's ``pool_timeout``);
* ``lock``: waiting for a lock another transaction holds (``lock_timeout``, server side);
* ``statement``: one statement's run (``statement_timeout``, server side);
* ``answer``: no reply at all on an open connection for ``statement`` + ``answer_grace``: the
  server would have cancelled the statement by then, so nobody is listening; the connection is
  closed and the wait fails (client side, in the driver's wait for the socket).

SQLite has no network: its one wait, for the write lock, is bounded by its busy timeout.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

# psycopg's own interval between checks for Ctrl-C while it waits.
_WAIT_INTERVAL = 0.1


@dataclass(frozen=True)
class Timeouts:
    """Seconds; None: no limit. The defaults suit the command line, where a person watches
    and a big import or migration may run long; ``SERVICE`` suits ``preorder serve``."""

    connect: float = 10.0
    checkout: float = 30.0
    lock: float | None = None
    statement: float | None = None
    answer_grace: float = 5.0

    @property
    def answer(self) -> float | None:
        """How long a reply may take before the connection is given up (None: no limit)."""
        return None if self.statement is None else self.statement + self.answer_grace


# The service: an intake request, a Slack listener, a health check or a job is never held by
# the database for longer than this, so the service keeps answering (503 with Retry-After)
# while the database does not.
SERVICE = Timeouts(connect=5.0, checkout=5.0, lock=10.0, statement=30.0)


def postgres_connect(url: URL, timeouts: Timeouts) -> tuple[URL, dict[str, Any]]:
    """``url`` and the connect arguments that put ``timeouts`` in force (what the URL sets
    itself wins: ``connect_timeout``, or a setting in its ``options``)."""
    args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        # libpq counts whole seconds, and takes less than 2 as 2.
        args["connect_timeout"] = max(2, math.ceil(timeouts.connect))
    given = url.query.get("options", "")
    options = [given] if isinstance(given, str) else list(given)
    for name, seconds in (("statement_timeout", timeouts.statement),
                          ("lock_timeout", timeouts.lock)):  # fmt: skip
        if seconds is not None and not any(name in o for o in options):
            options.append(f"-c {name}={round(seconds * 1000)}")
    if any(options):
        args["options"] = " ".join(o for o in options if o)
        url = url.difference_update_query(["options"])
    return url, args


def answering_connect(answer: float | None) -> Callable[..., Any]:
    """``psycopg.connect`` for connections that give up on a reply after ``answer`` seconds
    (``AnsweringConnection``; psycopg is imported only here, when PostgreSQL is used)."""
    cls = _answering_connection()

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = cls.connect(*args, **kwargs)
        conn.answer = answer
        return conn

    return connect


@functools.cache
def _answering_connection() -> type[Any]:
    import psycopg
    from psycopg.abc import PQGen

    class AnsweringConnection(psycopg.Connection[Any]):
        """A psycopg connection whose every wait for the server (a statement, a commit, a
        ping) gives up after ``answer`` seconds without a reply: it closes the connection
        (the exchange is cut half way, so it cannot be used again) and raises
        ``OperationalError``, which SQLAlchemy takes for a lost connection."""

        answer: float | None = None

        def wait(
            self, gen: PQGen[Any], interval: float = _WAIT_INTERVAL, timeout: float | None = None
        ) -> Any:
            deadline = self.answer
            if timeout is not None or deadline is None:
                return super().wait(gen, interval, timeout)
            started = time.monotonic()
            try:
                return super().wait(gen, interval, deadline)
            except psycopg.OperationalError:
                if time.monotonic() - started < deadline:
                    raise  # the server's own error
                self.pgconn.finish()
                raise psycopg.OperationalError(
                    f"the database did not answer within {deadline:g} s; connection closed"
                ) from None

    return AnsweringConnection
