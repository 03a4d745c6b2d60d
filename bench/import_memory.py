"""Peak memory of ``preorder import`` on a big CSV file: the command line as a person runs it,
in a fresh process per measurement, on SQLite and on PostgreSQL.

Writes an order file of ``--lines`` lines (orders of 1-3 lines over ``--skus`` SKUs; about 60 MB
for a million lines) and a PO file with supply for most of them, imports the POs (not measured),
then measures the import of the same order file with one bad row at its end (it must exit 1 and
change nothing) and of the good file (its lines must all be stored), each in a new process whose
RSS high-water mark is read from ``VmHWM``.

    python bench/import_memory.py [--lines N] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as c
from sqlalchemy import create_engine, func, select, text

import engine as e
from engine.models import so_lines

TARGET_MB = 500


def write_files(folder: Path, lines: int, skus: int, seed: int) -> dict[str, Path]:
    """The PO file, the order file and the same order file with a bad last row."""
    rng = random.Random(seed)
    names = [f"SKU-{i:05d}" for i in range(skus)]
    pos = folder / "purchase-orders.csv"
    with pos.open("w") as out:
        out.write("po,line,sku,quantity,arrival_date,supplier\n")
        for i, sku in enumerate(names * 4):
            arrival = datetime(2027, 1, 4) + timedelta(days=7 * (i // skus))
            # Supply for about 92% of the units ordered (two on average per line).
            units = lines * 2 * 92 // 100 // (skus * 4) + 1
            out.write(f"PO-{i:06d},1,{sku},{units},{arrival:%Y-%m-%d},Supplier {i % 37}\n")
    orders = folder / "orders.csv"
    placed = datetime(2026, 10, 1, tzinfo=UTC)
    with orders.open("w") as out:
        out.write("order,line,sku,quantity,placed_at,customer\n")
        written = number = 0
        while written < lines:
            number += 1
            placed += timedelta(seconds=rng.randint(1, 20))
            at = placed.strftime("%Y-%m-%dT%H:%M:%SZ")
            customer = f"Customer {rng.randrange(100_000)}"
            for line in range(1, min(rng.choice((1, 1, 2, 3)), lines - written) + 1):
                sku = rng.choice(names)
                out.write(f"SO-{number:08d},{line},{sku},{rng.choice((1, 2, 3))},{at},{customer}\n")
                written += 1
    bad = folder / "orders-bad.csv"
    with orders.open("rb") as src, bad.open("wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
        out.write(b"SO-LAST,1,SKU-00000,x,2026-12-01T09:00:00Z,Bad\n")
    return {"pos": pos, "orders": orders, "bad": bad}


def run_cli(url: str, args: list[str]) -> tuple[float, dict[str, Any]]:
    """``preorder --db URL ARGS`` in this (child) process: its time, exit code and error."""
    from bot.cli import cli

    started = time.perf_counter()
    code, error = 0, ""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            cli.main(["--db", url, "--actor", "bench", *args], standalone_mode=False)
    except e.EngineError as exc:
        code, error = 1, str(exc)[:500]
    except Exception as exc:  # a CliError: click.ClickException
        code, error = int(getattr(exc, "exit_code", 1)), str(exc)[:500]
    return time.perf_counter() - started, {"code": code, "error": error}


def stored_lines(url: str) -> int:
    db = e.Database(url)
    with db.read() as conn:
        found = int(conn.execute(select(func.count()).select_from(so_lines)).scalar_one())
    db.dispose()
    return found


@contextmanager
def database(backend: str, folder: Path, pg_url: str) -> Iterator[str]:
    if backend == "sqlite":
        path = folder / "import.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        e.upgrade(e.Database(url))
        yield url
        return
    schema = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in pg_url else "?"
        url = f"{pg_url}{sep}options=-csearch_path%3D{schema}"
        db = e.Database(url)
        e.upgrade(db)
        db.dispose()
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python bench/import_memory.py",
        description="Peak memory (RSS) of 'preorder import' on a big CSV file, and its time.",
    )
    c.add_common_arguments(parser)
    parser.add_argument(
        "--lines", type=int, default=1_000_000, help="order lines (default: 1000000)"
    )
    parser.add_argument("--skus", type=int, default=500, help="SKUs (default: 500)")
    args = parser.parse_args(argv)
    if args.lines < 1 or args.skus < 1:
        parser.error("need --lines and --skus >= 1")
    c.say(f"import memory benchmark: {args.lines:,} order lines; {c.python_info()}")
    summary = []
    with c.scratch_folder(args.workdir) as folder:
        started = time.perf_counter()
        files = write_files(folder, args.lines, args.skus, args.seed)
        size = files["orders"].stat().st_size / 1e6
        c.say(f"files written in {time.perf_counter() - started:.1f} s: orders.csv {size:.1f} MB")
        for backend in c.backends(args.db):
            c.say(f"\n-- {backend} --")
            with database(backend, folder, args.pg_url) as url:
                pos = c.in_child(run_cli, url, ["import", str(files["pos"])])
                assert pos.extra["code"] == 0, pos.extra
                bad = c.in_child(run_cli, url, ["import", str(files["bad"])])
                unchanged = bad.extra["code"] == 1 and stored_lines(url) == 0
                c.say(
                    f"  bad last row: exit {bad.extra['code']}, {bad.seconds:.1f} s, peak RSS "
                    f"{bad.peak_rss_mb:.0f} MB (before: {bad.baseline_rss_mb:.0f} MB), "
                    f"nothing stored: {unchanged}; "
                    + bad.extra["error"].rsplit("nothing was imported: ", 1)[-1]
                )
                good = c.in_child(run_cli, url, ["import", str(files["orders"])])
                stored = stored_lines(url)
                c.say(
                    f"  good file: exit {good.extra['code']}, {good.seconds:.1f} s, peak RSS "
                    f"{good.peak_rss_mb:.0f} MB (before: {good.baseline_rss_mb:.0f} MB), "
                    f"{stored:,} lines stored"
                )
                worst = max(bad.peak_rss_mb, good.peak_rss_mb)
                ok = worst < TARGET_MB and unchanged and stored == args.lines
                summary.append(
                    f"{backend}: peak RSS {worst:.0f} MB for {args.lines:,} lines ({size:.0f} MB "
                    f"file), target < {TARGET_MB} MB with a bad row changing nothing: "
                    f"{c.verdict(ok)}"
                )
    c.say("\nsummary")
    for line in summary:
        c.say(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
