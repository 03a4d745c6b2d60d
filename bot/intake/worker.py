"""The order intake's transactions in a process of their own (PostgreSQL).

In the server's process the batcher's thread (``bot.intake.batch``), which makes every intake
transaction one after another, shares one interpreter lock with the HTTP threads that read,
check and answer the requests: the lock is released at each of the ~25 waits on the database
of a transaction, and retaking it means waiting for whichever HTTP thread took it meanwhile.
So the batcher hands each batch to a child process that runs ``engine.apply_orders`` and sends
back what it returns. Measured (``bench/README.md``, "the intake's transactions in a process of
their own"): a 10-order transaction took 11.4-11.5 ms beside four threads doing what HTTP
threads do and 9.4-10.0 ms beside the same in processes (8.0-8.2 ms alone); under 20 senders
12.5-12.7 ms against 14.1-14.9 ms in the server's thread, and the intake took 1.15x the orders
a second.

What does not change: one transaction at a time, the batcher's batching and its errors (each
request still gets its own answer), and what the engine writes. A worker that dies (or is
killed) fails the batch it held with ``StorageError`` (a 503: the orders may have been stored,
and sending them again is safe) and the next batch starts another. (One that dies after its
commit was sent leaves the lines it queued for its follow-up sweep to the next scheduled
sweep, as a server that dies there would.) The ``engine.on_commit``
listeners of the server's process are told of each batch the worker committed
(``engine.announce``), as they would have been had it run here. The worker's log records go to
the server's handlers. It ignores SIGINT and SIGTERM (the server drains its requests first)
and ends when the server closes it, or goes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from logging.handlers import QueueHandler
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from queue import Empty
from typing import Any

import engine
from engine import (
    Actor,
    ConstraintViolation,
    Database,
    EngineError,
    OrderLineState,
    Outcome,
    SORecord,
    StorageError,
)
from engine.timeouts import Timeouts

log = logging.getLogger("bot.intake")

# Spawning imports the engine afresh: a second or two, longer on a busy machine.
START_TIMEOUT = 60.0
# How long close() waits for the worker to end by itself before it is terminated.
STOP_TIMEOUT = 5.0

Answer = tuple[Outcome, list[OrderLineState]]


@dataclass(frozen=True)
class _Recipe:
    """What the worker builds its own ``Database`` from (a connection pool cannot cross
    processes), who it acts as, and the log level of the server's root logger."""

    url: str
    events: bool
    split_lines: bool
    timeouts: Timeouts
    actor: Actor
    level: int


class IntakeWorker:
    """``engine.apply_orders(db, actor, orders, headers=False)`` run in a child process, one
    call at a time; a call is made as a ``bot.intake.batch.Apply``. The process is spawned at
    once (so that the first order does not wait for its imports) and ended by ``close``. Its
    database is ``db``'s URL with ``db``'s settings (events, split lines, timeouts); a clock
    given to ``db`` stays in this process (the worker's is the real one)."""

    def __init__(self, db: Database, actor: Actor) -> None:
        if not db.is_postgres:
            raise ValueError("the intake's worker process runs on PostgreSQL only")
        self._recipe = _Recipe(
            db.url,
            db.events,
            db.split_lines,
            db.timeouts,
            actor,
            logging.getLogger().getEffectiveLevel(),
        )
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._closed = False
        self._logs: Any = self._context.Queue()
        self._relay = threading.Thread(
            target=self._relay_logs, name="intake-worker-logs", daemon=True
        )
        self._relay.start()
        with self._lock:
            self._start()

    @property
    def pid(self) -> int | None:
        """The worker's process id (None: none is running)."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def __call__(self, orders: Sequence[SORecord]) -> Answer:
        with self._lock:
            conn = self._running()
            try:
                conn.send(list(orders))
                kind, value = conn.recv()
            except (EOFError, OSError) as exc:
                self._stop(kill=True)
                raise StorageError(
                    "the intake's worker process stopped while it stored orders (they may be "
                    "stored: sending them again is safe); the next batch starts another"
                ) from exc
        if kind != "done":
            raise value
        outcome, lines = value
        engine.announce(outcome)
        return outcome, lines

    def close(self) -> None:
        """End the worker (it finishes the batch it holds first) and stop relaying its logs."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop(kill=False)
        self._logs.put(None)
        self._relay.join(timeout=STOP_TIMEOUT)
        self._logs.close()

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(self._recipe, child, self._logs),
            name="preorder-intake-worker",
            daemon=True,  # never outlives the server, however it ends
        )
        process.start()
        # Only the worker holds its end now: its exit is an end of file here.
        child.close()
        self._process, self._conn, self._ready = process, parent, False

    def _running(self) -> Connection:
        """The connection to a worker ready for a batch, started (again) if it is not. One
        that died before it said it was ready (killed while idle) is replaced once more at
        once: it had no batch yet."""
        if self._closed:
            raise StorageError("the order intake is closed")
        for attempt in (1, 2):
            if self._process is None or not self._process.is_alive():
                self._stop(kill=True)
                self._start()
            conn = self._conn
            assert conn is not None
            if self._ready:
                return conn
            died = False
            try:
                started = conn.poll(START_TIMEOUT)
                kind, value = conn.recv() if started else ("error", None)
            except (EOFError, OSError):
                kind, value, died = "error", None, True
            if kind == "ready":
                self._ready = True
                return conn
            self._stop(kill=True)
            if isinstance(value, BaseException):
                raise value
            if not (died and attempt == 1):
                break
        raise StorageError("the intake's worker process did not start")

    def _stop(self, *, kill: bool) -> None:
        process, conn = self._process, self._conn
        self._process, self._conn, self._ready = None, None, False
        if conn is not None:
            conn.close()  # the worker's next read ends it
        if process is None:
            return
        if kill:
            process.kill()
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            log.warning(
                "intake: the worker process did not end in %.0f s; killing it", STOP_TIMEOUT
            )
            process.kill()
            process.join(STOP_TIMEOUT)

    def _relay_logs(self) -> None:
        """Hand each of the worker's log records to this process's logger of the same name."""
        while True:
            try:
                record = self._logs.get()
            except (EOFError, OSError, Empty):
                return
            if record is None:
                return
            logging.getLogger(record.name).handle(record)


def _serve(recipe: _Recipe, conn: Connection, logs: Any) -> None:
    """The worker: build the database, say so, then answer each batch of orders until the
    server closes its end."""
    # The server drains its requests on a signal and then closes this end; a signal here would
    # end a batch half way instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    root = logging.getLogger()
    root.handlers[:] = [QueueHandler(logs)]
    root.setLevel(recipe.level)
    try:
        db = Database(
            recipe.url,
            events=recipe.events,
            split_lines=recipe.split_lines,
            timeouts=recipe.timeouts,
        )
    except Exception as exc:
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ready", None))
    log.info("intake: worker process %d ready", os.getpid())
    try:
        while True:
            try:
                orders = conn.recv()
            except (EOFError, OSError):  # the server closed its end, or went
                return
            answer: tuple[str, Any]
            try:
                answer = ("done", engine.apply_orders(db, recipe.actor, orders, headers=False))
            except Exception as exc:
                answer = ("error", _portable(exc))
            try:
                conn.send(answer)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                # Nothing was written: the answer is pickled before it is sent.
                conn.send(("error", _portable(exc)))
    finally:
        db.dispose()


def _portable(exc: Exception) -> Exception:
    """``exc`` as it can cross to the server: a refusal or an outage as it is (its message is
    what the sender is told), any other fault with this process's traceback as a note (the
    server logs it), or, when it does not pickle, a ``RuntimeError`` saying what it was."""
    if not isinstance(exc, EngineError | StorageError) or isinstance(exc, ConstraintViolation):
        trace = "".join(traceback.format_exception(exc)).rstrip()
        exc.add_note(f"in the intake's worker process:\n{trace}")
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        plain = RuntimeError(f"{type(exc).__name__}: {exc}")
        for note in getattr(exc, "__notes__", ()):
            plain.add_note(note)
        return plain
    return exc
