"""Connections and transactions for SQLite (embedded default) and PostgreSQL (production).

A ``Database`` is given its URL: reading it from the configuration is the entry point's job
(``engine.settings.EngineSettings``, read once by the command line or the service)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from engine.errors import StorageError
from engine.redact import shown_url
from engine.timeouts import Timeouts, answering_connect, postgres_connect

T = TypeVar("T")

# The embedded default: a file in the working directory.
DEFAULT_URL = "sqlite:///preorder.db"

# PostgreSQL SQLSTATEs worth retrying: serialization_failure and deadlock_detected.
_RETRY_SQLSTATES = {"40001", "40P01"}
# unique_violation, retried only where a caller says a race makes it expected: two imports
# inserting the same new order at once (the loser retries and sees an update). Elsewhere it
# would turn a real double allocation into a quiet retry, so it surfaces.
UNIQUE_VIOLATION = "23505"
MAX_ATTEMPTS = 8
# The newest migration in engine/migrations/versions; a test keeps the two in step. Kept here so
# that checking the schema at every command start does not load Alembic.
SCHEMA_REVISION = "0002"


class Database:
    """One database: a SQLAlchemy engine plus the transaction discipline of the operations."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        clock: Callable[[], datetime] | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.url = url
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        # Every wait on the database is bounded (see engine.timeouts): an unreachable server
        # or one that stops answering fails a request in seconds (a 503 the sender retries)
        # rather than holding its thread for the outage.
        self.timeouts = timeouts or Timeouts()
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url, echo=echo, checkout=self.timeouts.checkout)
        elif self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            parsed, connect_args = postgres_connect(parsed, self.timeouts)
            self.engine = create_engine(
                parsed,
                echo=echo,
                pool_pre_ping=True,
                pool_timeout=self.timeouts.checkout,
                connect_args=connect_args,
            )
            connect = answering_connect(self.timeouts.answer)
            event.listen(
                self.engine, "do_connect", lambda _d, _r, args, kwargs: connect(*args, **kwargs)
            )
        else:
            raise StorageError(
                f"unsupported database {shown_url(self.url)!r}: use sqlite or postgresql"
            )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: one consistent view (rolled back at the end)."""
        with self.engine.connect() as conn:
            if self.is_postgres:
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def write(self, *, commit: bool = True) -> Iterator[Connection]:
        """One write transaction; ``commit=False`` rolls it back (dry runs)."""
        with self.engine.connect() as conn:
            if not self.is_postgres:
                # Take SQLite's write lock up front so two writers queue instead of one of them
                # failing half way with SQLITE_BUSY on lock upgrade.
                conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
            conn.begin()
            try:
                yield conn
            except BaseException:
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
    ) -> T:
        """Run ``work`` in one write transaction, retrying it whole on transient conflicts."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.write(commit=commit) as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt == MAX_ATTEMPTS or not _is_transient(exc, retry_unique):
                    raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None: no schema), read without Alembic."""
        if not inspect(self.engine).has_table("alembic_version"):
            return None
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def schema_is_current(self) -> bool:
        return self.schema_revision() == SCHEMA_REVISION

    def has_schema(self) -> bool:
        return inspect(self.engine).has_table("so_lines")


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


def _is_transient(exc: DBAPIError, retry_unique: bool) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES or (retry_unique and sqlstate == UNIQUE_VIOLATION):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)
