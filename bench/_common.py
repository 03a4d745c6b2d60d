"""Shared plumbing of the benchmark scripts: databases, fresh copies of seeded data, child
processes for memory figures, and the statistics they print.

Every database a benchmark touches is its own: a SQLite file in a scratch folder, or a PostgreSQL
schema ``bench_<random>`` created for the run and dropped at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlalchemy import JSON, Table, create_engine, insert, text
from sqlalchemy.exc import OperationalError

import engine as e
from engine.config import load
from engine.models import metadata
from engine.queue_tallies import recount
from engine.settings import Settings
from engine.types import UTCDateTime


class BenchSettings(Settings):
    """The benchmarks' own variable, read as the app's are."""

    bench_postgres_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        description="the PostgreSQL server the benchmarks use (`--pg-url` overrides it)",
    )


DEFAULT_PG_URL = load(BenchSettings).bench_postgres_url

# Tables in foreign-key order; a seed names the rows it has for each.
TABLES: list[Table] = list(metadata.sorted_tables)


def add_pg_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL server to use; the benchmark works in a schema of its own and drops it "
        "at the end (default: $PREORDER_BENCH_POSTGRES_URL or %(default)s)",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="which database to measure (default: both)",
    )
    add_pg_url(parser)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for the SQLite files (default: a temporary folder, removed at the end)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data (default: 1)")


def backends(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


# --- fresh copies of one seeded data set --------------------------------------------------------


class Store:
    """A seeded template plus a way to make fresh, identical copies of it for each measurement."""

    backend: str

    def fresh(self) -> str:
        """Reset the working database to the seeded state; return its URL."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteStore(Store):
    """SQLite: the seeded template is a file; a fresh copy is a byte copy of it."""

    backend = "sqlite"

    def __init__(
        self, folder: Path, name: str, rows: Mapping[str, Sequence[dict[str, Any]]]
    ) -> None:
        self.folder = folder
        self.template = folder / f"{name}-template.db"
        self.work = folder / f"{name}.db"
        for path in (self.template, self.work):
            _remove_sqlite(path)
        db = e.Database(f"sqlite:///{self.template}")
        e.upgrade(db)
        with db.engine.begin() as conn:
            for table in TABLES:
                data = rows.get(table.name)
                if data:
                    conn.execute(insert(table), data)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()

    def fresh(self) -> str:
        _remove_sqlite(self.work)
        shutil.copyfile(self.template, self.work)
        os.sync()
        return f"sqlite:///{self.work}"

    def close(self) -> None:
        for path in (self.template, self.work):
            _remove_sqlite(path)


class PostgresStore(Store):
    """PostgreSQL: the seeded template is a schema; a fresh copy is a second schema emptied and
    refilled from it server-side (INSERT ... SELECT), then vacuumed and analysed as autovacuum
    would have done, and checkpointed so that no seeding writes spill into the measurement."""

    backend = "postgresql"

    def __init__(self, url: str, name: str, rows: Mapping[str, Sequence[dict[str, Any]]]) -> None:
        tag = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        self.base_url = url
        self.admin = create_engine(url)
        self.template = f"{tag}_tpl"
        self.schema = tag
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.template}"'))
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        try:
            self._seed(rows)
        except BaseException:
            self.close()
            raise

    def _seed(self, rows: Mapping[str, Sequence[dict[str, Any]]]) -> None:
        for schema in (self.template, self.schema):
            db = e.Database(self.url(schema))
            e.upgrade(db)
            db.dispose()
        with self.admin.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                cur.execute(f'SET search_path TO "{self.template}"')
                # The rows are consistent by construction: skip the per-row foreign-key triggers.
                cur.execute("SET session_replication_role = replica")
                for table in TABLES:
                    data = rows.get(table.name)
                    if not data:
                        continue
                    columns = list(data[0])
                    names = ", ".join(f'"{c}"' for c in columns)
                    types = [table.c[c].type for c in columns]
                    with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                        for row in data:
                            copy.write_row(
                                [_pg_value(row[c], t) for c, t in zip(columns, types, strict=True)]
                            )
            raw.commit()
        # The triggers that keep the queue's tallies were off for the COPY: count them once.
        db = e.Database(self.url(self.template))
        with db.engine.begin() as conn:
            recount(conn)
        db.dispose()

    def url(self, schema: str) -> str:
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}options=-csearch_path%3D{schema}"

    def fresh(self) -> str:
        names = [t.name for t in TABLES]
        with self.admin.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            listing = ", ".join(f'"{self.schema}"."{n}"' for n in names)
            conn.execute(text(f"TRUNCATE {listing} RESTART IDENTITY"))
            for name in names:
                conn.execute(
                    text(
                        f'INSERT INTO "{self.schema}"."{name}" '
                        f'SELECT * FROM "{self.template}"."{name}"'
                    )
                )
            for table in TABLES:
                if "id" in table.c:
                    qualified = f'"{self.schema}"."{table.name}"'
                    seq = f'"{self.schema}"."{table.name}_id_seq"'
                    top = f"COALESCE((SELECT MAX(id) FROM {qualified}), 0) + 1"
                    conn.execute(text(f"SELECT setval('{seq}', {top}, false)"))
        with self.admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.execute(text(f'VACUUM ANALYZE "{self.schema}"."{name}"'))
            conn.execute(text("CHECKPOINT"))
        return self.url(self.schema)

    def close(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.template}" CASCADE'))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self.admin.dispose()


def _pg_value(value: Any, type_: Any) -> Any:
    # COPY takes Python values as they are, except instants (stored as naive UTC) and JSON.
    if value is None:
        return None
    if isinstance(type_, UTCDateTime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(type_, JSON):
        return json.dumps(value)
    return value


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def open_store(
    backend: str,
    args: argparse.Namespace,
    folder: Path,
    name: str,
    rows: Mapping[str, Sequence[dict[str, Any]]],
) -> Iterator[Store]:
    started = time.perf_counter()
    store: Store
    if backend == "sqlite":
        store = SqliteStore(folder, name, rows)
    else:
        try:
            store = PostgresStore(args.pg_url, name, rows)
        except OperationalError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            raise SystemExit(f"error: PostgreSQL at {args.pg_url} unusable: {reason}") from None
    try:
        say(f"  seeded {name} on {backend} in {time.perf_counter() - started:.1f} s")
        yield store
    finally:
        store.close()


@contextmanager
def scratch_folder(chosen: Path | None) -> Iterator[Path]:
    if chosen is not None:
        chosen.mkdir(parents=True, exist_ok=True)
        yield chosen
        return
    folder = Path(tempfile.mkdtemp(prefix="preorder-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- child processes ------------------------------------------------------------------------------


@dataclass
class ChildResult:
    """What a measurement run in a child process reports back."""

    seconds: float
    baseline_rss_mb: float  # RSS high-water mark before the measured call (imports, connection)
    peak_rss_mb: float  # RSS high-water mark of the whole child, the measured call included
    extra: dict[str, Any] = field(default_factory=dict)


def in_child(fn: Callable[..., tuple[float, dict[str, Any]]], *args: Any) -> ChildResult:
    """Run ``fn(*args)`` in a fresh process and return its time and memory figures.

    ``fn`` returns (seconds, extra). The process is spawned (a new interpreter, not a fork of this
    one), and its RSS high-water mark is read from ``VmHWM`` in ``/proc/self/status``, which
    belongs to the child's own address space. (``ru_maxrss`` would not do: Linux carries the
    parent's high-water mark over a fork and exec into the child's.)
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_child_main, fn, *args).result()


def _child_main(fn: Callable[..., tuple[float, dict[str, Any]]], *args: Any) -> ChildResult:
    gc.collect()
    before = peak_rss_mb()
    seconds, extra = fn(*args)
    return ChildResult(seconds, before, peak_rss_mb(), extra)


def peak_rss_mb() -> float:
    """This process's RSS high-water mark in MB (Linux ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def warm(db: e.Database) -> None:
    """Open the pooled connection before a measurement so that it does not count."""
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


# --- figures ------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def runs(values: Sequence[float], unit: str = "s", digits: int = 2) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values) + (f" {unit}" if unit else "")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def python_info() -> str:
    return (
        f"python {sys.version.split()[0]}, SQLAlchemy {__import__('sqlalchemy').__version__}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} CPUs"
    )


# --- CPU of other processes ----------------------------------------------------------------------


def _cpu_seconds(stat: str) -> tuple[str, float]:
    """A process's name and CPU seconds so far (utime + stime, fields 14 and 15), from the text
    of its /proc/PID/stat (the name in brackets may hold spaces and brackets itself)."""
    name, _, rest = stat.rpartition(") ")
    fields = rest.split()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return name.partition(" (")[2], (int(fields[11]) + int(fields[12])) / tick


def process_cpu(pid: int | None) -> float:
    """CPU seconds used so far by process ``pid``, from /proc (0 where it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        return _cpu_seconds(Path(f"/proc/{pid}/stat").read_text())[1]
    except OSError:
        return 0.0


def postgres_cpu() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL processes (every backend and
    background process, whoever they serve), from /proc; None where there is no /proc to read."""
    total = 0.0
    found = False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, seconds = _cpu_seconds(stat.read_text())
        except OSError:  # the process ended meanwhile
            continue
        if name != "postgres":
            continue
        total += seconds
        found = True
    return total if found else None
