"""Connections and transactions for SQLite (embedded default) and PostgreSQL (production), and
the one place where the database's errors become the engine's ``StorageError``.

A ``Database`` is given its URL: reading it from the configuration is the entry point's job
(``engine.settings.EngineSettings``, read once by the command line or the service)."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from engine.errors import ConstraintViolation, StorageError
from engine.redact import password_of, redact, shown_url
from engine.timeouts import Timeouts, answering_connect, postgres_connect

T = TypeVar("T")
log = logging.getLogger("engine")

# The embedded default: a file in the working directory.
DEFAULT_URL = "sqlite:///preorder.db"
# Operations write events to the outbox unless told not to (PREORDER_EVENTS=0).
DEFAULT_EVENTS = True
# Lines are allocated whole unless told otherwise (PREORDER_SPLIT_LINES=1, an order's allow_split).
DEFAULT_SPLIT_LINES = False

# PostgreSQL SQLSTATEs worth retrying: serialization_failure and deadlock_detected.
_RETRY_SQLSTATES = {"40001", "40P01"}
# unique_violation, retried only where a caller says a race makes it expected: two imports
# inserting the same new order at once (the loser retries and sees an update). Elsewhere it
# would turn a real double allocation into a quiet retry, so it surfaces.
UNIQUE_VIOLATION = "23505"
MAX_ATTEMPTS = 8
# The newest migration in engine/migrations/versions; a test keeps the two in step. Kept here so
# that checking the schema at every command start does not load Alembic.
SCHEMA_REVISION = "0008"


class Database:
    """One database: a SQLAlchemy engine plus the transaction discipline of the operations."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        clock: Callable[[], datetime] | None = None,
        timeouts: Timeouts | None = None,
        events: bool = DEFAULT_EVENTS,
        split_lines: bool = DEFAULT_SPLIT_LINES,
    ) -> None:
        self.url = url
        # Whether operations write events to the outbox (DESIGN.md section 5): the entry
        # point's reading of PREORDER_EVENTS (engine.settings.EventSettings), default on.
        self.events = events
        # Whether every line may be split across PO lines (rule 10; an order's allow_split asks
        # it for its own lines): the entry point's reading of PREORDER_SPLIT_LINES
        # (engine.settings.AllocationSettings), default off.
        self.split_lines = split_lines
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        # Every wait on the database is bounded (see engine.timeouts): an unreachable server
        # or one that stops answering fails a request in seconds (a 503 the sender retries)
        # rather than holding its thread for the outage.
        self.timeouts = timeouts or Timeouts()
        self._password = password_of(self.url)
        try:
            parsed = make_url(self.url)
            self.dialect = parsed.get_backend_name()
            self.engine = self._create_engine(parsed, echo=echo)
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
            raise StorageError(
                self._said(f"bad database URL {shown_url(self.url)!r}: {exc}")
            ) from None
        except ImportError as exc:
            raise StorageError(
                self._said(f"no driver for database URL {shown_url(self.url)!r}: {exc}")
            ) from None

    def _create_engine(self, parsed: URL, *, echo: bool) -> Engine:
        if self.dialect == "sqlite":
            return _sqlite_engine(self.url, echo=echo, checkout=self.timeouts.checkout)
        if self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            parsed, connect_args = postgres_connect(parsed, self.timeouts)
            engine = create_engine(
                parsed,
                echo=echo,
                pool_pre_ping=True,
                pool_timeout=self.timeouts.checkout,
                connect_args=connect_args,
            )
            connect = answering_connect(self.timeouts.answer)
            event.listen(
                engine, "do_connect", lambda _d, _r, args, kwargs: connect(*args, **kwargs)
            )
            event.listen(engine, "after_cursor_execute", _answer_when_read)
            return engine
        raise StorageError(
            f"unsupported database {shown_url(self.url)!r}: use sqlite or postgresql"
        )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def dispose(self) -> None:
        self.engine.dispose()

    def _said(self, message: str) -> str:
        """``message`` on one line, without the database's password wherever it appears."""
        return redact(" ".join(message.split()), self._password)

    @contextmanager
    def storage_errors(self, what: str = "database error") -> Iterator[None]:
        """Turn the database's errors raised in the block into ``StorageError`` (its message
        ``what: `` and the driver's first line; ``ConstraintViolation`` for a broken
        constraint), so that no caller outside the engine meets SQLAlchemy's."""
        try:
            yield
        except IntegrityError as exc:
            raise ConstraintViolation(self._said(f"{what}: {_first_line(exc.orig)}")) from exc
        except DBAPIError as exc:
            raise StorageError(self._said(f"{what}: {_first_line(exc.orig)}")) from exc
        except PoolTimeout as exc:  # every pooled connection busy for the checkout timeout
            raise StorageError(self._said(f"{what}: {_first_line(exc)}")) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: one consistent view (rolled back at the end). A database
        error in it reaches the caller as ``StorageError``."""
        with self.storage_errors(), self.engine.connect() as conn:
            if self.is_postgres:
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def write(self, *, commit: bool = True) -> Iterator[Connection]:
        """One write transaction; ``commit=False`` rolls it back (dry runs). A database error
        in it reaches the caller as ``StorageError`` (``run`` retries the transient ones)."""
        with self.storage_errors(), self._transaction(commit=commit) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, commit: bool, pipeline: bool = False) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if not self.is_postgres:
                # Take SQLite's write lock up front so two writers queue instead of one of them
                # failing half way with SQLITE_BUSY on lock upgrade.
                conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            with _pipelined(conn, pipeline and self.is_postgres) as piped:
                conn.begin()
                try:
                    yield conn
                except BaseException:
                    _settle(piped)
                    conn.rollback()
                    raise
                if commit:
                    conn.commit()
                else:
                    conn.rollback()

    def run(
        self,
        work: Callable[[Connection], T],
        *,
        commit: bool = True,
        retry_unique: bool = False,
        pipeline: bool = False,
    ) -> T:
        """Run ``work`` in one write transaction, retrying it whole on transient conflicts; a
        database error that outlasts the retries reaches the caller as ``StorageError``.

        ``pipeline`` (PostgreSQL): the transaction's statements go in psycopg's pipeline mode
        (see ``_pipelined``): a write whose answer nobody reads is sent without waiting for
        it, so a transaction of many small writes takes a few round trips, not one each."""
        with self.storage_errors():
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    with self._transaction(commit=commit, pipeline=pipeline) as conn:
                        return work(conn)
                except DBAPIError as exc:
                    if attempt == MAX_ATTEMPTS or not _is_transient(exc, retry_unique):
                        raise
                    time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    def ping(self) -> None:
        """Check the database answers (a health check): ``StorageError`` when it does not."""
        with self.storage_errors("cannot connect to the database"), self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            conn.rollback()

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None: no schema), read without Alembic."""
        with self.storage_errors():
            if not inspect(self.engine).has_table("alembic_version"):
                return None
            with self.engine.connect() as conn:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def schema_is_current(self) -> bool:
        return self.schema_revision() == SCHEMA_REVISION

    def has_schema(self) -> bool:
        with self.storage_errors():
            return inspect(self.engine).has_table("so_lines")


def sqlite_file(url: str) -> Path | None:
    """The database file a SQLite URL names; None for an in-memory database, another kind of
    database, or a URL that cannot be read."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if parsed.query.get("uri") and database.startswith("file:"):
        if "mode=memory" in database:
            return None
        database = database.removeprefix("file:").split("?", 1)[0]
    if database in ("", ":memory:"):
        return None
    return Path(database).expanduser().resolve()


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _sqlite_engine(url: str, *, echo: bool, checkout: float) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    memory = not parsed.database or parsed.database == ":memory:"
    # An in-memory database has one connection for good (SingletonThreadPool): no checkout.
    pooled = {} if memory else {"pool_timeout": checkout}
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30}, **pooled)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN (pysqlite's implicit transactions would
        # otherwise defeat BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # 32 MiB of page cache (the default is 2 MiB): a sweep or import touching hundreds of
        # thousands of rows otherwise re-reads index pages it just wrote. Grown only as used.
        cur.execute("PRAGMA cache_size=-32768")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.info.pop("sqlite_begin", "BEGIN"))

    return engine


# The execution option a statement given as text carries to say that nothing reads its answer
# (a pipelined transaction then sends it without waiting; see ``_pipelined``).
UNREAD = "preorder_unread"
# The key in a connection's ``info`` of the psycopg pipeline its transaction runs in.
_PIPELINE = "preorder_pipeline"


@contextmanager
def _pipelined(conn: Connection, on: bool) -> Iterator[Any]:
    """Run the block's statements on ``conn`` in psycopg's pipeline mode when ``on``.

    In that mode psycopg sends a statement and goes on without its answer; the answers come
    at the next sync. ``_answer_when_read`` syncs after every statement whose answer is read
    (rows, or a row count asked for), so the code in the block runs as it would without a
    pipeline, and the writes between two reads (and those before the commit) cost one round
    trip together. The transaction's semantics do not change: the statements run in the order
    sent, and the first that fails aborts the transaction; its error is raised at the next
    sync (a later statement's or the commit's), as SQLAlchemy's, and the block fails whole.
    Yields the pipeline (None when off)."""
    if not on:
        yield None
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    # Kept aside: once the connection is lost, SQLAlchemy refuses to hand out ``conn.info``
    # until the rollback, and the mark must go whatever happened.
    info = conn.info
    with raw.pipeline() as pipeline:
        info[_PIPELINE] = pipeline
        try:
            yield pipeline
        finally:
            info.pop(_PIPELINE, None)


def scalar_later(
    conn: Connection, query: Select[Any], params: dict[str, Any] | None = None
) -> Callable[[], Any]:
    """Send ``query`` (one row, one column) now; the returned function gives its value.

    In a pipelined transaction (``_pipelined``) the query goes without a sync, and its answer
    is taken when the function is first called, by then usually arrived with a later read's:
    a value needed only at the end (the outbox's mark) costs no round trip of its own. The
    query runs where it is sent, in the transaction's order, whenever it is read."""
    rows = rows_later(conn, query, params or {})
    return lambda: rows()[0][0]


def rows_later(
    conn: Connection, query: Select[Any], params: dict[str, Any]
) -> Callable[[], list[tuple[Any, ...]]]:
    """``scalar_later`` for a query of any number of rows: sent now, its rows (plain tuples,
    as the driver gives them: for columns of no type processing) read when the returned
    function is first called, in a pipelined transaction with the answer of the next read."""
    if conn.info.get(_PIPELINE) is None:
        rows = [tuple(row) for row in conn.execute(query, params)]
        return lambda: rows
    statement, bound = _compiled(query, conn.dialect)
    raw = conn.connection.driver_connection
    assert raw is not None
    cursor = raw.cursor()
    cursor.execute(statement, {**bound, **params})

    @functools.cache
    def read() -> list[tuple[Any, ...]]:
        found = cursor.fetchall()  # psycopg syncs the pipeline if the answer is not in yet
        cursor.close()
        return found

    return read


@functools.lru_cache(maxsize=64)
def _compiled(query: Select[Any], dialect: Any) -> tuple[str, dict[str, Any]]:
    """``query``'s text and bound values for ``dialect``'s driver (a statement built once is
    compiled once)."""
    compiled = query.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


def _settle(pipeline: Any) -> None:
    """After a failure in a pipelined transaction (``pipeline``; None: not pipelined): take
    the answers still due (the statements sent after the one that failed are answered
    "aborted", which is no news), so that the rollback that follows meets a pipeline at rest
    rather than raising those instead of the error that failed the transaction."""
    if pipeline is None:
        return
    try:
        pipeline.sync()
    except Exception:  # the transaction's error is raised already; these follow from it
        log.debug("answers after a failed pipelined statement dropped", exc_info=True)


def _answer_when_read(
    conn: Connection,
    _cursor: Any,
    _statement: str,
    _parameters: Any,
    context: DefaultExecutionContext | None,
    _many: bool,
) -> None:
    """In a pipelined transaction, wait for the answers of the statements sent so far unless
    this one's answer is never read: a write with no RETURNING and no row count kept. Called
    by SQLAlchemy right after it sends a statement and before it looks at the answer, so an
    error from the database raised here is SQLAlchemy's, as any statement's."""
    pipeline = conn.info.get(_PIPELINE)
    if pipeline is None:
        return
    if context is not None and _unread(context):
        return
    pipeline.sync()


def _unread(context: DefaultExecutionContext) -> bool:
    if context.execution_options.get(UNREAD):
        return True  # SQL as text that says so (a write whose answer is not read)
    compiled = getattr(context, "compiled", None)
    if compiled is None or not (context.isinsert or context.isupdate or context.isdelete):
        return False  # a query, or SQL as text: its rows may be read
    # Rows returned, or a row count kept (SQLAlchemy reads it at once): answers read. A write
    # whose row count is read in a pipelined transaction must ask for it so (an UPDATE's too).
    kept = context.execution_options.get("preserve_rowcount", False)
    return not (compiled.effective_returning or kept)


def _is_transient(exc: DBAPIError, retry_unique: bool) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES or (retry_unique and sqlstate == UNIQUE_VIOLATION):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)
