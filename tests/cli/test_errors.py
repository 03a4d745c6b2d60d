"""Failures of the ``preorder`` command line: a refused operation or bad input exits 1 with
exactly one ``error:`` line naming the problem and leaves every table as it was; bad usage
exits 2; a missing schema or an unreachable database is one clear line, never a traceback."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import engine as e
from tests.cli.helpers import dump, error_line, refused, run, seed, write
from tests.fixtures.databases import PG_URL

PO_HEADER = "po,line,sku,quantity,arrival_date,supplier\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # unknown things
        (("review", "PO-9", "1"), "error: unknown PO PO-9"),
        (("review", "PO-1", "7"), "error: PO PO-1 has no line 7"),
        (("allocate", "PO-9", "1", "SO-5"), "error: unknown PO PO-9"),
        (("allocate", "PO-2", "1", "SO-99"), "unknown order SO-99"),
        (("allocate", "PO-2", "1", "SO-5:3"), "order SO-5 has no line 3"),
        (("po", "PO-9"), "error: unknown PO PO-9"),
        (("cancel-order", "SO-99"), "unknown order SO-99"),
        # rules
        (("allocate", "PO-1", "2", "SO-5"), "order SO-5 has no line of SKU B"),
        (("allocate", "PO-1", "2", "SO-5:1"), "SO-5:1 is SKU A, not B"),
        (("allocate", "PO-2", "1", "SO-5"), "4 units asked, 1 ATP left on PO-2:1 (short by 3)"),
        (("allocate", "PO-2", "1", "SO-1"), "SO-1:1 is already allocated to PO-1:1"),
        (("allocate", "PO-2", "1", "SO-5", "SO-5:1"), "SO-5:1 is named twice"),
        (("remove", "PO-2", "1", "SO-1"), "SO-1:1 is not allocated to PO-2:1"),
        (("unpark", "SO-5"), "SO-5:1 is not parked"),
        (("set-store-hold", "PO-1", "1", "11"), "store hold 11 exceeds the quantity 10"),
        (("set-quantity", "PO-1", "1", "-5"), "quantity -5 must be at least 0"),
        # malformed input
        (("review", "PO-1", "x"), "error: line 'x' is not a whole number"),
        (("review", "PO-1", "0"), "error: line 0 must be at least 1"),
        (("set-arrival", "PO-1", "1", "2027-13-01"), "arrival date '2027-13-01' does not exist"),
        (("set-arrival", "PO-1", "1", "next week"), "arrival date 'next week' is not YYYY-MM-DD"),
        (("set-quantity", "PO-1", "1", "ten"), "error: quantity 'ten' is not a whole number"),
        (("set-store-hold", "PO-1", "1", "1.5"), "store hold '1.5' is not a whole number"),
        (("allocate", "PO-2", "1", "SO-5:x"), "order line 'SO-5:x' is not ORDER:LINE"),
        (("allocate", "PO-2", "1", "SO-5:0"), "order line 'SO-5:0' is not ORDER:LINE"),
        (("allocate", "PO-2", "1", ":1"), "order line ':1' is not ORDER:LINE"),
        (("remove", "PO-1", "1", "SO-1:1:1"), "order line 'SO-1:1:1' is not ORDER:LINE"),
        (("cancel-po", "PO-1", "--line", "two"), "error: --line 'two' is not a whole number"),
        (("unallocated", "--limit", "-1"), "error: --limit -1 must be at least 0"),
        (("unallocated", "--sku", "A B"), "SKU 'A B' must be 1-64 letters"),
        (("digest", "--post"), "error: posting the digest needs PREORDER_SLACK_BOT_TOKEN"),
        # numbers the database's INTEGER columns cannot hold, and digits that are not ASCII
        (
            ("review", "PO-1", "99999999999"),
            "error: line 99999999999 must be at most 2,147,483,647",
        ),
        (("review", "PO-1", "1", "--limit", "2147483648"), "error: --limit 2147483648 must be at"),
        (("set-quantity", "PO-1", "1", "99999999999"), "error: quantity 99999999999 must be at"),
        (("set-store-hold", "PO-1", "1", "2147483648"), "error: store hold 2147483648 must be at"),
        (("set-arrival", "PO-1", "99999999999", "2027-02-01"), "error: line 99999999999 must be"),
        (("sync-date", "PO-1", "99999999999"), "error: line 99999999999 must be at most"),
        (("cancel-po", "PO-1", "--line", "99999999999"), "error: --line 99999999999 must be at"),
        (
            ("allocate", "PO-2", "1", "SO-5:99999999999"),
            "the line must be a whole number from 1 to",
        ),
        (("remove", "PO-1", "99999999999", "SO-1"), "error: line 99999999999 must be at most"),
        (("review", "PO-1", "²"), "error: line '²' is not a whole number"),
        (("set-store-hold", "PO-1", "1", "--2"), "error: store hold '--2' is not a whole number"),
        (("demo", "--seed", "99999999999"), "error: --seed 99999999999 must be at most"),
    ],
)
def test_refused_or_malformed_commands_exit_1_with_one_error_line_and_change_nothing(
    db: e.Database, args: tuple[str, ...], says: str
) -> None:
    seed(db)
    assert says in refused(db, *args, listed=True)


def test_allocate_lists_every_offending_line_once_below_the_error_line(db: e.Database) -> None:
    seed(db)
    before = dump(db)
    result = run(db, "allocate", "PO-2", "1", "SO-99", "SO-1", "SO-5")
    assert result.exit_code == 1
    # The problems are listed once: below the error line, not on it and again below it.
    assert result.stderr.splitlines() == [
        "error: cannot allocate to PO-2:1:",
        "  unknown order SO-99",
        "  SO-1:1 is already allocated to PO-1:1",
        "  4 units asked, 1 ATP left on PO-2:1 (short by 3)",
    ]
    assert dump(db) == before


def test_several_malformed_order_lines_are_all_named(db: e.Database) -> None:
    seed(db)
    line = refused(db, "allocate", "PO-2", "1", "SO-5:x", "a b", "SO-5", listed=True)
    assert "'SO-5:x'" in line and "'a b'" in line


def test_cancelling_twice_is_refused(db: e.Database) -> None:
    seed(db)
    run(db, "cancel-po", "PO-2")
    assert "error: PO PO-2 is already cancelled" in refused(db, "cancel-po", "PO-2")
    run(db, "cancel-order", "SO-5")
    assert "SO-5:1 is already cancelled" in refused(db, "cancel-order", "SO-5:1")


def test_a_dry_run_of_a_refused_operation_is_refused_the_same_way(db: e.Database) -> None:
    seed(db)
    assert "short by 3" in refused(db, "allocate", "PO-2", "1", "SO-5", "--dry-run", "--json")


# --- import -----------------------------------------------------------------------------------


def test_an_import_with_one_bad_row_imports_nothing_and_names_file_row_and_reason(
    db: e.Database, tmp_path: Path
) -> None:
    seed(db)
    good = write(tmp_path, "pos.csv", PO_HEADER + "PO-7,1,A,5,2027-01-10,Acme\n")
    bad = write(
        tmp_path,
        "orders.csv",
        "order,line,sku,quantity,placed_at,customer\n"
        + "".join(f"SO-{i},1,A,1,2026-11-03T09:00:00Z,C\n" for i in range(10, 15))
        + "SO-15,1,A,x,2026-11-03T09:00:00Z,C\n",
    )
    line = refused(db, "import", good, bad)
    assert line == (
        f"error: 1 problem in {good}, {bad}; nothing was imported: "
        f"{bad} row 7: quantity 'x' is not a whole number"
    )


def test_an_import_refuses_a_placed_at_before_2000_or_days_ahead_unless_told(
    db: e.Database, tmp_path: Path
) -> None:
    seed(db)
    header = "order,line,sku,quantity,placed_at,customer\n"
    early = write(
        tmp_path,
        "orders.csv",
        header + "SO-10,1,A,1,0001-01-01T00:00:00+14:00,C\n"
        "SO-11,1,A,1,9999-12-31T23:59:59-23:59,C\n"
        "SO-12,1,A,1,1999-06-01T09:00:00Z,C\n",
    )
    before = dump(db)

    result = run(db, "import", early)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        f"  {early} row 2: placed_at '0001-01-01T00:00:00+14:00' is before 2000-01-01",
        f"  {early} row 3: placed_at '9999-12-31T23:59:59-23:59' is more than a day in the future",
        f"  {early} row 4: placed_at '1999-06-01T09:00:00Z' is before 2000-01-01",
    ]
    assert dump(db) == before
    # Told to take any placed_at (old history), the import still refuses an instant that no
    # column holds, by name; the rest imports.
    told = run(db, "import", "--any-placed-at", early)
    assert told.exit_code == 1
    assert told.stderr.splitlines()[1:] == [
        f"  {early} row 2: placed_at '0001-01-01T00:00:00+14:00' is out of range in UTC",
        f"  {early} row 3: placed_at '9999-12-31T23:59:59-23:59' is out of range in UTC",
    ]
    history = write(tmp_path, "history.csv", header + "SO-12,1,A,1,1999-06-01T09:00:00Z,C\n")
    assert run(db, "import", "--any-placed-at", history).exit_code == 0
    assert e.order_lines(db, ["SO-12"])[0].sku == "A"


def test_an_import_lists_every_bad_row_of_every_file(db: e.Database, tmp_path: Path) -> None:
    seed(db)
    bad_csv = write(tmp_path, "p.csv", PO_HEADER + "PO-7,1,A,five,2027-01-10,Acme\n"
                                       "PO-7,2,A,5,2027-02-30,Acme\n")  # fmt: skip
    bad_json = write(tmp_path, "o.json", '{"sales_orders": [{"order": "SO-9"}]}')
    before = dump(db)
    result = run(db, "import", bad_csv, bad_json)
    assert result.exit_code == 1
    assert error_line(result).startswith("error: 4 problems in")
    assert result.stderr.splitlines()[1:] == [
        f"  {bad_csv} row 2: quantity 'five' is not a whole number",
        f"  {bad_csv} row 3: arrival_date '2027-02-30' does not exist",
        f"  {bad_json} sales_orders[0].placed_at: placed_at is missing",
        f"  {bad_json} sales_orders[0].lines: lines is missing",
    ]
    assert dump(db) == before


def test_a_csv_with_a_quote_left_open_imports_nothing_and_names_its_row(
    db: e.Database, tmp_path: Path
) -> None:
    seed(db)
    path = write(
        tmp_path,
        "orders.csv",
        "order,line,sku,quantity,placed_at,customer\n"
        "SO-Q1,1,A,1,2026-11-03T09:00:00Z,Ann\n"
        'SO-Q2,1,A,1,2026-11-03T09:01:00Z,"Smith\n'
        "SO-Q3,1,A,1,2026-11-03T09:02:00Z,Bob\n"
        "SO-Q4,1,A,1,2026-11-03T09:03:00Z,Cy\n",
    )
    line = refused(db, "import", path)
    assert line == (
        f"error: 1 problem in {path}; nothing was imported: {path} row 3: a quoted value "
        'starts on this row and is never closed (no closing "), so the rows after it cannot '
        "be read"
    )


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("pos.csv", "po,line,sku,qty,arrival_date\nPO-7,1,A,5,2027-01-10\n",
         "row 1: header has unknown column 'qty' and missing column 'quantity'; expected "
         "po,line,sku,quantity,arrival_date[,supplier]"),
        ("stuff.csv", "a,b\n1,2\n", "is not an import header"),
        ("pos.xlsx", "whatever", "unknown file type '.xlsx'; use .json or .csv"),
        ("empty.csv", "", "the file is empty"),
        ("latin1.csv", b"order,line,sku,quantity,placed_at,customer\nS,1,A,1,x,Jos\xe9\n",
         "not UTF-8 text"),
    ],
)  # fmt: skip
def test_unusable_import_files_are_refused_with_their_name(
    db: e.Database, tmp_path: Path, name: str, content: str | bytes, says: str
) -> None:
    path = write(tmp_path, name, content)
    line = refused(db, "import", path)
    assert path in line and says in line


def test_a_missing_import_file_is_bad_input_not_bad_usage(db: e.Database, tmp_path: Path) -> None:
    assert "no such file" in refused(db, "import", str(tmp_path / "nope.csv"))


# --- usage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("review",),
        ("review", "PO-1"),
        ("allocate", "PO-1", "1"),
        ("review", "PO-1", "1", "--bogus"),
        ("frobnicate",),
        ("set-arrival", "PO-1", "1"),
        ("import",),
    ],
)
def test_bad_usage_exits_2(db: e.Database, args: tuple[str, ...]) -> None:
    before = dump(db)
    result = run(db, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Usage:" in result.stderr
    assert dump(db) == before


# --- the database itself ----------------------------------------------------------------------


def test_a_missing_sqlite_file_has_no_schema_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    result = run(f"sqlite:///{path}", "unallocated")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: database at sqlite:///{path} has no schema; run 'preorder init'\n"
    )
    assert not path.exists()


@pytest.mark.parametrize(
    "args", [("review", "PO-1", "1"), ("import", "x.csv"), ("digest",), ("auto-allocate",)]
)
def test_an_empty_sqlite_database_asks_for_init(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    result = run(f"sqlite:///{path}", *args)
    assert result.exit_code == 1
    assert error_line(result) == (
        f"error: database at sqlite:///{path} has no schema; run 'preorder init'"
    )


@pytest.mark.postgres
def test_an_empty_postgres_schema_asks_for_init(pg_url: str) -> None:
    schema = f"preorder_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        result = run(url, "unallocated")
        assert result.exit_code == 1
        assert "has no schema; run 'preorder init'" in error_line(result)
        assert run(url, "init").exit_code == 0
        assert run(url, "unallocated", "--json").stdout.strip() == "[]"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_an_old_schema_revision_asks_for_init(db: e.Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000_old'"))
    try:
        line = error_line(run(db, "unallocated"))
        assert "is at schema revision 0000_old but this preorder needs" in line
        assert line.endswith("run 'preorder init'")
    finally:
        from engine.migrate import head_revision

        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE alembic_version SET version_num = :v"), {"v": head_revision()}
            )


@pytest.mark.parametrize("command", [("unallocated",), ("init",)])
def test_an_unreachable_database_is_one_error_line(command: tuple[str, ...]) -> None:
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/none", *command)
    assert result.exit_code == 1
    assert error_line(result).startswith("error: cannot connect to the database: ")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://x/y", "error: unsupported database 'mysql://x/y'"),
        ("not a url", "error: bad database URL 'not a url'"),
    ],
)
def test_an_unusable_database_url_is_one_error_line(url: str, says: str) -> None:
    result = run(url, "unallocated")
    assert result.exit_code == 1
    assert error_line(result).startswith(says)


def test_a_bad_configured_url_is_one_error_line() -> None:
    result = run(None, "unallocated", env={"PREORDER_DATABASE_URL": "oracle://x"})
    assert result.exit_code == 1
    assert error_line(result) == (
        "error: bad settings: PREORDER_DATABASE_URL: unsupported database 'oracle://x': use "
        "sqlite or postgresql"
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://me:s3cret@127.0.0.1:1/none",  # unreachable
        "mysql://me:s3cret@db.example/x",  # unsupported
        "postgresql://me:s3cret@db.example:port/x",  # unreadable (a port that is no number)
        "postgresql+nodriver://me:s3cret@db.example/x",  # no such driver
        "me:s3cret@db.example/x",  # no scheme
        "postgresql+psycopg://me:s3cret@127.0.0.1:1/none?bogus=s3cret",  # refused by the driver
    ],
)
def test_the_password_of_a_database_url_is_never_printed(url: str) -> None:
    for args in (("unallocated",), ("init",)):
        result = run(url, *args)
        assert result.exit_code == 1
        assert error_line(result)
        assert "s3cret" not in result.stderr
