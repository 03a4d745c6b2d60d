"""The ``preorder`` command line, happy paths, on SQLite and PostgreSQL (DESIGN.md section 3)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

import engine as e
from bot.cli import COMMANDS, cli
from bot.cli.context import default_actor
from engine.staging import READ_BATCH
from tests.cli.helpers import dump, ok, run, said, seed, write
from tests.helpers import allocation_map, po, so
from tests.invariants import check_invariants

REVIEW_KEYS = {
    "po", "line", "sku", "status", "arrival_date", "quantity", "store_hold", "allocated", "atp",
    "orders", "allocations",
}  # fmt: skip
# DESIGN.md section 3's keys, and the order's email (None when it has none).
REVIEW_LINE_KEYS = {
    "order", "line", "customer", "placed_at", "quantity", "promised_date", "in_sync", "email"
}  # fmt: skip
QUEUE_KEYS = {"order", "line", "sku", "quantity", "placed_at", "customer", "parked"}


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


# --- setup and import -------------------------------------------------------------------------


def test_init_creates_the_schema_and_is_safe_to_rerun(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    first = ok(url, "init")
    assert "(none) →" in first.stdout
    again = ok(url, "init")
    assert "already at revision" in again.stdout
    assert e.Database(url).has_schema()


def test_init_on_a_current_database_changes_nothing(db: e.Database) -> None:
    assert "nothing to do" in said(db, "init")


def test_import_csv_and_json_allocates_fifo_and_reimport_is_an_update(
    db: e.Database, tmp_path: Path
) -> None:
    pos = write(tmp_path, "pos.csv", "po,line,sku,quantity,arrival_date,supplier\n"
                                     "PO-1,1,A,5,2027-01-10,Acme\n")  # fmt: skip
    orders = {
        "sales_orders": [
            {"order": f"SO-{i}", "customer": "C", "placed_at": f"2026-11-02T09:0{i}:00Z",
             "lines": [{"line": 1, "sku": "A", "quantity": 2}]}
            for i in range(1, 4)
        ]
    }  # fmt: skip
    sos = write(tmp_path, "orders.json", json.dumps(orders))
    out = said(db, "import", pos, sos)
    assert "Read 2 files: 1 purchase order, 3 sales orders." in out
    assert "Created: 1 PO (1 line), 3 orders (3 lines)." in out
    assert "Auto-allocated 2 order lines (4 units) first in, first out." in out
    assert allocation_map(db) == {("SO-1", 1): ("PO-1", 1), ("SO-2", 1): ("PO-1", 1)}

    write(tmp_path, "pos.csv", "po,line,sku,quantity,arrival_date,supplier\n"
                               "PO-1,1,A,6,2027-01-10,Acme\n")  # fmt: skip
    again = as_json(ok(db, "import", pos, sos, "--json"))
    assert again["created"] == dict.fromkeys(again["created"], 0)
    assert again["updated"] == {
        "purchase_orders": 0, "po_lines": 1, "sales_orders": 0, "so_lines": 0
    }  # fmt: skip
    assert again["allocated_count"] == 1  # the grown line takes SO-3
    assert len(dump(db)["so_lines"]) == 3


def test_an_import_bigger_than_a_batch_goes_in_whole_or_not_at_all(
    db: e.Database, tmp_path: Path
) -> None:
    seed(db)  # SO-1..SO-5 stored: the file updates some of them and adds the others
    n = READ_BATCH * 2 + 7
    rows = "".join(
        f"SO-{i},{ln},A,1,2026-11-03T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,C{i}\n"
        for i in range(1, n + 1)
        for ln in (1, 2)
    )
    header = "order,line,sku,quantity,placed_at,customer\n"
    pos = write(tmp_path, "p.csv", f"po,line,sku,quantity,arrival_date\nPO-9,1,A,{n},2027-01-01\n")
    bad = write(tmp_path, "bad.csv", header + rows + "SO-X,1,A,0,2026-11-03T09:00:00Z,C\n")
    before = dump(db)
    result = run(db, "import", pos, bad)
    assert result.exit_code == 1
    assert f"{bad} row {2 * n + 2}: quantity 0 must be at least 1" in result.stderr
    assert dump(db) == before

    good = write(tmp_path, "good.csv", header + rows)
    data = as_json(ok(db, "import", pos, good, "--json"))
    assert data["created"] == {
        "purchase_orders": 1, "po_lines": 1, "sales_orders": n - 5, "so_lines": 2 * n - 6
    }  # fmt: skip
    assert data["updated"]["sales_orders"] == 5
    assert len(dump(db)["so_lines"]) == 2 * n
    check_invariants(db)
    # PO-9:1, the earliest to arrive, holds the first n lines of the queue, one unit each.
    assert as_json(ok(db, "review", "PO-9", "1", "--json"))["allocated"] == n


def test_import_dry_run_says_so_and_changes_nothing(db: e.Database, tmp_path: Path) -> None:
    pos = write(tmp_path, "p.csv", "po,line,sku,quantity,arrival_date\nPO-7,1,A,5,2027-01-10\n")
    before = dump(db)
    out = said(db, "import", "--dry-run", pos)
    assert out.startswith("Dry run: nothing was changed.")
    assert "Would create: 1 PO (1 line)" in out
    assert dump(db) == before


# --- reading ----------------------------------------------------------------------------------


def test_review_json_has_exactly_the_contract_keys_in_fifo_order(db: e.Database) -> None:
    seed(db)
    data = as_json(ok(db, "review", "PO-1", "1", "--json"))
    assert set(data) == REVIEW_KEYS
    assert {k: data[k] for k in REVIEW_KEYS - {"allocations"}} == {
        "po": "PO-1", "line": 1, "sku": "A", "status": "open", "arrival_date": "2027-01-10",
        "quantity": 10, "store_hold": 0, "allocated": 9, "atp": 1, "orders": 3,
    }  # fmt: skip
    assert all(set(a) == REVIEW_LINE_KEYS for a in data["allocations"])
    assert [(a["order"], a["line"]) for a in data["allocations"]] == [
        ("SO-1", 1), ("SO-2", 1), ("SO-3", 1)
    ]  # fmt: skip
    first = data["allocations"][0]
    assert first["placed_at"] == "2026-11-02T09:01:00+00:00"
    assert (first["promised_date"], first["in_sync"]) == ("2027-01-10", True)


def test_review_shows_header_totals_and_allocations(db: e.Database) -> None:
    seed(db)
    out = said(db, "review", "PO-1", "1")
    for text in ("PO-1:1 from Acme (open)", "Allocated 9, ATP 1", "3 order lines, 9 units",
                 "all in sync", "SO-1", "customer of SO-3", "2027-01-10", "✓"):  # fmt: skip
        assert text in out, text
    limited = said(db, "review", "PO-1", "1", "--limit", "2")
    assert "SO-2" in limited and "SO-3" not in limited and "--limit 0" in limited


def test_names_print_as_written_even_when_they_look_like_markup(db: e.Database) -> None:
    e.apply_records(
        db,
        e.Actor("t", e.Source.CLI),
        [po("PO-1", (1, "A", 5, "2027-01-10"), supplier="[bold]Acme[/]")],
        [so("SO-1", 1, (1, "A", 1), customer="Bob [/x] [red]"), so("SO-2", 2, (1, "A", 9))],
    )
    assert "Bob [/x] [red]" in said(db, "review", "PO-1", "1")
    assert "PO-1 from [bold]Acme[/] (open)" in said(db, "po", "PO-1")
    assert "customer of SO-2" in said(db, "unallocated")


def test_unallocated_json_is_the_fifo_queue_with_the_contract_keys(db: e.Database) -> None:
    seed(db)
    ok(db, "remove", "PO-1", "1", "SO-2")  # parked, and now ahead of SO-5 in FIFO order
    data = as_json(ok(db, "unallocated", "--json"))
    assert all(set(q) == QUEUE_KEYS for q in data)
    assert [(q["order"], q["line"], q["parked"]) for q in data] == [
        ("SO-2", 1, True), ("SO-5", 1, False)
    ]  # fmt: skip
    assert data[1] == {
        "order": "SO-5", "line": 1, "sku": "A", "quantity": 4,
        "placed_at": "2026-11-02T09:05:00+00:00", "customer": "customer of SO-5", "parked": False,
    }  # fmt: skip
    assert as_json(ok(db, "unallocated", "--sku", "B", "--json")) == []
    table = said(db, "unallocated", "--sku", "A")
    assert "SO-2" in table and "parked" in table and "2 lines, 7 units, 1 parked" in table
    assert "No unallocated order lines of SKU B." in said(db, "unallocated", "--sku", "B")


def test_po_shows_each_line_with_allocated_atp_and_out_of_sync(db: e.Database) -> None:
    seed(db)
    out = said(db, "po", "PO-1")
    assert "PO-1 from Acme (open)" in out
    assert "PO-1:1" in out and "PO-1:2" in out
    data = as_json(ok(db, "po", "PO-1", "--json"))
    assert [(ln["line"], ln["allocated"], ln["atp"]) for ln in data["lines"]] == [
        (1, 9, 1), (2, 1, 4)
    ]  # fmt: skip


def test_digest_lists_the_queue_by_sku_and_out_of_sync_lines(db: e.Database) -> None:
    seed(db)
    ok(db, "set-arrival", "PO-2", "1", "2027-03-01")
    data = as_json(ok(db, "digest", "--json"))
    assert data["unallocated"] == [
        {"sku": "A", "lines": 1, "units": 4, "parked": 0,
         "oldest_placed_at": "2026-11-02T09:05:00+00:00", "parked_units": 0, "atp_open": 2,
         "atp_line": {"po": "PO-1", "line": 1, "arrival_date": "2027-01-10", "atp": 1}}
    ]  # fmt: skip
    assert data["out_of_sync"] == [
        {"po": "PO-2", "line": 1, "sku": "A", "arrival_date": "2027-03-01", "lines": 1,
         "units": 5, "earliest_promise": "2027-02-10", "latest_promise": "2027-02-10"}
    ]  # fmt: skip
    out = said(db, "digest")
    assert "Unallocated order lines by SKU" in out and "PO-2:1" in out


def test_digest_of_a_quiet_database_says_nothing_needs_attention(db: e.Database) -> None:
    assert "Nothing needs attention" in said(db, "digest")


# --- changing ---------------------------------------------------------------------------------


def test_allocate_says_what_changed_and_the_atp_left(db: e.Database) -> None:
    seed(db)
    ok(db, "remove", "PO-2", "1", "SO-4")  # parked; ATP 6: room for SO-5 (4)
    before = dump(db)
    preview = said(db, "allocate", "PO-2", "1", "SO-5", "--dry-run")
    assert preview.startswith("Dry run: nothing was changed.")
    assert "Would allocate 1 order line (4 units) to PO-2:1; ATP left 2" in preview
    assert dump(db) == before
    out = said(db, "allocate", "PO-2", "1", "SO-5:1")
    assert "Allocated 1 order line (4 units) to PO-2:1; ATP left 2" in out
    assert "promised date" not in out  # the first promise is the allocation's, told once
    assert allocation_map(db)[("SO-5", 1)] == ("PO-2", 1)


def test_allocate_json_prints_the_outcome(db: e.Database) -> None:
    seed(db)
    ok(db, "cancel-order", "SO-4")  # frees 5 units on PO-2:1, which SO-5 then takes
    ok(db, "remove", "PO-2", "1", "SO-5")
    data = as_json(ok(db, "allocate", "PO-2", "1", "SO-5", "--json"))
    # "operation" is the id that 'preorder undo' takes; the name is "operation_name".
    assert data["operation"] == data["operation_id"] and len(data["operation"]) == 36
    assert data["operation_name"] == "allocate" and data["actor"] == "tester"
    assert data["source"] == "cli" and data["dry_run"] is False
    assert [(a["order"], a["po"], a["promised_date"]) for a in data["allocated"]] == [
        ("SO-5", "PO-2", "2027-02-10")
    ]
    assert data["unparked"] == [{"order": "SO-5", "line": 1}]
    # The promise the allocation made is listed, as remove lists the ones it clears.
    assert data["promises"] == [
        {"order": "SO-5", "line": 1, "old": None, "new": "2027-02-10", "reason": "manual"}
    ]
    # The PO line as the change left it (the ATP the text output tells) rides along.
    head = e.po_line(db, "PO-2", 1)
    assert [(h["po"], h["line"], h["allocated"], h["atp"]) for h in data["po_lines"]] == [
        ("PO-2", 1, head.allocated, head.atp)
    ]


def test_auto_allocate_places_orders_stranded_by_a_cancelled_line(db: e.Database) -> None:
    seed(db)
    e.apply_records(db, e.Actor("t", e.Source.CLI), [po("PO-3", (1, "A", 20, "2027-03-01"))])
    ok(db, "cancel-po", "PO-1", "--line", "1")  # SO-1, SO-2, SO-3:1 wait, unparked
    before = dump(db)
    preview = as_json(ok(db, "auto-allocate", "--dry-run", "--json"))
    assert (preview["dry_run"], preview["allocated_count"]) == (True, 3)
    assert dump(db) == before
    out = said(db, "auto-allocate", "--sku", "A")
    assert "Allocated 3 order lines (9 units) to PO-3:1" in out
    assert "Still unallocated: 0 order lines (0 units), 0 of them parked." in out
    assert "Nothing to change." in said(db, "auto-allocate")


def test_remove_parks_the_lines_and_can_hold_the_units_for_the_store(db: e.Database) -> None:
    seed(db)
    out = said(db, "remove", "PO-1", "1", "SO-1", "SO-2:1", "--hold-for-store")
    assert "Released 2 order lines (7 units) from PO-1:1" in out
    assert "parked" in out
    assert "store hold from 0 to 7" in out
    assert "PO-1:1 now: quantity 10, store hold 7, allocated 2, ATP 1" in out
    queue = as_json(ok(db, "unallocated", "--json"))
    assert [(q["order"], q["parked"]) for q in queue] == [
        ("SO-1", True), ("SO-2", True), ("SO-5", False)
    ]  # fmt: skip


def test_set_arrival_leaves_promises_out_of_sync_until_synced(db: e.Database) -> None:
    seed(db)
    out = said(db, "set-arrival", "PO-1", "1", "2027-02-01")
    assert "Changed PO-1:1 arrival date from 2027-01-10 to 2027-02-01" in out
    assert "3 allocated lines out of sync; 'preorder sync-date PO-1 1'" in out
    review = as_json(ok(db, "review", "PO-1", "1", "--json"))
    assert [a["in_sync"] for a in review["allocations"]] == [False] * 3
    preview = said(db, "sync-date", "PO-1", "1", "--dry-run")
    assert "Would change 3 promised dates" in preview
    synced = said(db, "sync-date", "PO-1", "1")
    assert "Changed 3 promised dates to the arrival date" in synced
    assert "0 out of sync" in synced
    json_sync = as_json(ok(db, "set-arrival", "PO-1", "1", "2027-02-02", "--sync", "--json"))
    assert [p["new"] for p in json_sync["promises"]] == ["2027-02-02"] * 3


def test_set_arrival_refuses_a_past_date_unless_allow_past(db: e.Database) -> None:
    seed(db)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    result = run(db, "set-arrival", "PO-1", "1", yesterday)
    assert result.exit_code == 1
    assert result.stderr == f"error: arrival date {yesterday} is in the past\n"
    ok(db, "set-arrival", "PO-1", "1", yesterday, "--allow-past")
    assert as_json(ok(db, "review", "PO-1", "1", "--json"))["arrival_date"] == yesterday


def test_set_arrival_earlier_with_rebalance_moves_orders(db: e.Database) -> None:
    seed(db)
    ok(db, "set-quantity", "PO-2", "1", "12")  # the sweep places SO-5 (4): ATP 3
    out = said(db, "set-arrival", "PO-2", "1", "2027-01-01", "--rebalance")
    assert "Moved 1 order line (3 units) to earlier PO lines: PO-1:1 → PO-2:1 (1)" in out
    assert allocation_map(db)[("SO-2", 1)] == ("PO-2", 1)


def test_cancel_po_line_then_po_strands_orders_unparked(db: e.Database) -> None:
    seed(db)
    line = said(db, "cancel-po", "PO-1", "--line", "2")
    assert "Cancelled PO-1 line 2" in line
    assert "Released 1 order line (1 unit) from PO-1:2: SO-3:2" in line
    whole = said(db, "cancel-po", "PO-1")
    assert "Cancelled PO-1 (line 1)" in whole
    assert "Released 3 order lines (9 units) from PO-1:1" in whole
    assert "'preorder unallocated' lists them" in whole
    queue = as_json(ok(db, "unallocated", "--json"))
    assert {q["order"] for q in queue} == {"SO-1", "SO-2", "SO-3", "SO-5"}
    assert not any(q["parked"] for q in queue)


def test_set_quantity_cut_releases_latest_orders_first(db: e.Database) -> None:
    seed(db)
    out = said(db, "set-quantity", "PO-1", "1", "6")
    assert "Released 2 order lines (5 units) from PO-1:1: SO-3:1, SO-2:1" in out
    assert "back in the unallocated queue" in out
    assert "quantity from 10 to 6" in out
    assert "PO-1:1 now: quantity 6, store hold 0, allocated 4, ATP 2" in out


def test_cancel_order_unpark_and_rebalance(db: e.Database) -> None:
    seed(db)
    out = said(db, "cancel-order", "SO-3")
    assert "Cancelled 2 order lines: SO-3:1, SO-3:2" in out
    ok(db, "remove", "PO-1", "1", "SO-2")
    unparked = said(db, "unpark", "SO-2:1")
    assert "Unparked 1 order line: SO-2:1" in unparked
    assert "Allocated 1 order line (3 units) to PO-1:1" in unparked
    assert "Nothing to change." in said(db, "rebalance", "--sku", "A")


# --- the program as a whole -------------------------------------------------------------------


def test_help_lists_every_command_and_each_has_an_example() -> None:
    top = run(None, "--help")
    assert top.exit_code == 0
    for name, entry in COMMANDS.items():
        assert f"{name} " in top.stdout and entry.summary in " ".join(top.stdout.split())
        sub = run(None, name, "--help")
        assert sub.exit_code == 0, name
        assert "Example:" in sub.stdout and "preorder " in sub.stdout, name


def test_the_command_table_names_every_command_of_every_command_module() -> None:
    """``--help`` lists the commands from a static table (their modules load on first use):
    each module's ``COMMANDS`` are all in it, under their own names, and nothing else is."""
    import importlib

    found = {}
    for module in {entry.module for entry in COMMANDS.values()}:
        for command in importlib.import_module(f"bot.cli.{module}").COMMANDS:
            found[command.name] = (module, command)
    assert set(found) == set(COMMANDS)
    for name, entry in COMMANDS.items():
        module, command = found[name]
        assert (entry.module, cli.get_command(click.Context(cli), name)) == (module, command)


def test_the_installed_console_script_runs(sqlite_template: Path, tmp_path: Path) -> None:
    """One real process (SQLite only: starting Python is the slow part): exit codes and
    streams as a shell sees them."""
    script = shutil.which("preorder")
    assert script, "the preorder console script is not installed (pip install -e .)"
    path = tmp_path / "p.db"
    shutil.copyfile(sqlite_template, path)
    db = e.Database(f"sqlite:///{path}")
    seed(db)
    db.dispose()
    shown = subprocess.run(
        [script, "--db", db.url, "unallocated", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert [q["order"] for q in json.loads(shown.stdout)] == ["SO-5"]
    failed = subprocess.run(
        [script, "--db", db.url, "review", "PO-404", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (failed.returncode, failed.stdout, failed.stderr) == (
        1, "", "error: unknown PO PO-404\n"
    )  # fmt: skip


def test_demo_runs_end_to_end_in_a_fresh_directory_and_is_deterministic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The demo needs no configuration and never touches the configured database.
    env = {"PREORDER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    started = time.monotonic()
    first = run(None, "demo", env=env)
    assert first.exit_code == 0, first.stderr
    assert time.monotonic() - started < 20
    assert (tmp_path / "preorder-demo.db").exists()
    out = " ".join(first.stdout.split())
    for step in (
        "1. Import purchase orders and pre-orders",
        "2. FIFO auto-allocation",
        "3. Review a PO line",
        "4. Cancel a PO: its orders are stranded",
        "5. Allocate stranded orders by hand",
        "6. An arrival date moves",
        "7. Remove allocations for in-store sales",
        "8. The periodic sweep skips parked lines",
    ):
        assert step in out, step
    assert "error: cannot allocate to PO-1006:1" in out  # the refused over-ATP attempt
    assert "The sweep skipped all 5 parked lines" in out
    second = run(None, "demo", env=env)  # recreates the file
    assert second.exit_code == 0 and second.stdout == first.stdout


def test_demo_runs_on_a_given_empty_database_and_refuses_one_with_data(db: e.Database) -> None:
    result = run(None, "demo", "--db", db.url, "--seed", "3")
    assert result.exit_code == 0, result.stderr
    assert "(seed 3)" in result.stdout
    again = run(None, "demo", "--db", db.url)
    assert again.exit_code == 1
    assert again.stderr.startswith("error: the demo needs an empty database")


def test_db_option_overrides_the_configured_url_which_is_the_default(db: e.Database) -> None:
    seed(db)
    elsewhere = {"PREORDER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    assert run(db, "unallocated", "--json", env=elsewhere).exit_code == 0
    configured = run(None, "unallocated", "--json", env={"PREORDER_DATABASE_URL": db.url})
    assert [q["order"] for q in json.loads(configured.stdout)] == ["SO-5"]


def test_the_actor_defaults_to_the_os_user(db: e.Database) -> None:
    seed(db)
    result = CliRunner().invoke(cli, ["--db", db.url, "remove", "PO-1", "1", "SO-1", "--json"])
    assert result.exit_code == 0, result.stderr
    assert as_json(result)["actor"] == default_actor()


def test_digest_prints_every_part(
    db: e.Database, load: Callable[..., e.Outcome], actor: e.Actor
) -> None:
    today = datetime.now(UTC).date()
    soon, far = (str(today + timedelta(days=n)) for n in (2, 60))
    load(
        po("PO-1", (1, "A", 10, soon), (2, "B", 2, far)),
        po("PO-2", (1, "C", 5, far)),
        so("SO-1", 1, (1, "A", 2), (2, "B", 2)),
        so("SO-2", 2, (1, "A", 20), (2, "C", 3)),
    )
    e.remove(db, actor, "PO-1", 2, [e.LineRef("SO-1", 2)])
    e.set_arrival(db, actor, "PO-1", 1, today + timedelta(days=3))
    e.cancel_po(db, actor, "PO-2")
    out = " ".join(run(db, "digest").stdout.split())
    for part in ("Unallocated order lines by SKU", "Parked order lines", "Promises out of sync",
                 "with ATP left", "Cancelled POs: orders still waiting"):  # fmt: skip
        assert part in out, out
    assert "PO-1:1" in out and "PO-2 cancelled 1 3 1" in out
    data = json.loads(run(db, "digest", "--json").stdout)
    assert data["nothing_needs_attention"] is False
    assert [a["po"] for a in data["arriving"]] == ["PO-1"]
    assert data["parked"]["lines"] == 1 and data["stranded"][0]["po"] == "PO-2"
