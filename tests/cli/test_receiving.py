"""``preorder receive``, ``fulfil``, ``ready``, ``reopen-po`` and ``remove --force`` (rules 9
and 11) on SQLite and PostgreSQL: --json carries the operation, --dry-run changes nothing, bad
input is one error line and exit 1 (bad usage exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import engine as e
from tests.cli.helpers import dump, ok, refused, run, said, seed, write
from tests.helpers import allocation_map
from tests.invariants import check_invariants


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def seeded(db: e.Database) -> e.Database:
    seed(db)  # PO-1:1 A 10 holds SO-1 (4), SO-2 (3), SO-3:1 (2); PO-2:1 A 6 holds SO-4 (5)
    return db


def test_receive_makes_lines_ready_and_ready_lists_them_fifo(seeded: e.Database) -> None:
    db = seeded
    out = said(db, "receive", "PO-1", "1", "7")
    assert "2 order lines now ready to ship (stock in): SO-1:1, SO-2:1" in out
    assert "PO-1:1 now: quantity 10" in out
    listed = as_json(ok(db, "ready", "--json"))
    assert [(r["order"], r["line"], r["po"], r["po_line"]) for r in listed] == [
        ("SO-1", 1, "PO-1", 1),
        ("SO-2", 1, "PO-1", 1),
    ]
    assert set(listed[0]) == {
        "order", "line", "sku", "quantity", "placed_at", "customer", "po", "po_line", "ready_at"
    }  # fmt: skip
    table = said(db, "ready", "--sku", "A")
    assert "Ready to ship" in table and "SO-2" in table and "2 lines, 7 units" in table
    assert "No order lines of SKU B ready to ship." in said(db, "ready", "--sku", "B")
    po_table = said(db, "po", "PO-1")
    assert "recv" in po_table


def test_receive_json_dry_run_final_and_receipt_ids(seeded: e.Database) -> None:
    db = seeded
    before = dump(db)
    dry = as_json(ok(db, "receive", "PO-1", "1", "5", "--final", "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["operation"] == "receive"
    assert dump(db) == before
    data = as_json(ok(db, "receive", "PO-1", "1", "5", "--final", "--json", "--key", "R-1"))
    assert data["operation_id"] and data["ready"] == [{"order": "SO-1", "line": 1}]
    # 5 units hold SO-1 (4); SO-3:1 then SO-2 (latest placed first) go back to the queue.
    assert [(p["order"], p["line"]) for p in data["released"]] == [("SO-3", 1), ("SO-2", 1)]
    [head] = data["po_lines"]
    assert (head["status"], head["atp"], head["received"]) == ("received", 0, 5)
    again = as_json(ok(db, "receive", "PO-1", "1", "5", "--key", "R-1", "--json"))
    assert again["replayed"] is True and again["operation_id"] == data["operation_id"]
    check_invariants(db)


def test_fulfil_and_remove_force(seeded: e.Database) -> None:
    db = seeded
    ok(db, "receive", "PO-1", "1", "4")
    assert "SO-2:1 is not ready" in refused(db, "fulfil", "SO-1", "SO-2", listed=True)
    assert "SO-1:1 is ready" in refused(db, "remove", "PO-1", "1", "SO-1", listed=True)
    forced = as_json(ok(db, "remove", "PO-1", "1", "SO-1", "--force", "--json"))
    assert forced["parked"] == [{"order": "SO-1", "line": 1}]
    assert ("SO-1", 1) not in allocation_map(db)
    ok(db, "unpark", "SO-1")
    ok(db, "receive", "PO-1", "1", "5")  # 9 received: SO-2, SO-3:1 and SO-1 (placed again)
    out = said(db, "fulfil", "SO-2", "SO-3:1")
    assert "Fulfilled 2 order lines: SO-2:1, SO-3:1" in out
    assert "SO-2:1 is fulfilled" in refused(db, "fulfil", "SO-2", listed=True)
    data = as_json(ok(db, "fulfil", "SO-1", "--json"))
    assert data["operation"] == "fulfil" and data["operation_id"]
    check_invariants(db)


def test_closed_lines_refuse_and_reopen_po(seeded: e.Database) -> None:
    db = seeded
    ok(db, "cancel-po", "PO-2")
    assert "PO PO-2 line 1 is cancelled: cannot change its quantity" in refused(
        db, "set-quantity", "PO-2", "1", "9"
    )
    assert "cannot change its arrival date" in refused(db, "set-arrival", "PO-2", "1", "2027-05-01")
    assert "cannot receive on it" in refused(db, "receive", "PO-2", "1", "3")
    data = as_json(ok(db, "reopen-po", "PO-2", "--json"))
    assert data["operation"] == "reopen-po"
    assert [p["order"] for p in data["allocated"]] == ["SO-4"]
    assert "PO PO-2 line 1 is open, not cancelled" in refused(
        db, "reopen-po", "PO-2", "--line", "1"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("receive", "PO-1", "1", "-2"), "quantity -2 must be at least 0"),
        (("receive", "PO-1", "1", "x"), "quantity 'x' is not a whole number"),
        (("receive", "PO-1", "1", "0"), "a receipt of 0 units changes nothing"),
        (("receive", "PO-1", "1", "2", "--date", "2999-01-01"), "is in the future"),
        (("receive", "PO-1", "1", "2", "--date", "soon"), "--date 'soon' is not YYYY-MM-DD"),
        (("receive", "PO-9", "1", "2"), "unknown PO PO-9"),
        (("fulfil", "SO-99"), "unknown order SO-99"),
        (("reopen-po", "PO-1"), "PO PO-1 has no cancelled line to reopen"),
        (("ready", "--sku", "A B"), "SKU 'A B' must be"),
    ],
)
def test_bad_input_is_one_error_line(seeded: e.Database, args: tuple[str, ...], says: str) -> None:
    assert says in refused(seeded, *args, listed=True)


@pytest.mark.parametrize(
    "command", ["receive", "fulfil", "ready", "reopen-po", "remove"]
)  # fmt: skip
def test_every_new_command_explains_itself(command: str) -> None:
    result = run(None, command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout


def test_missing_arguments_are_bad_usage(seeded: e.Database) -> None:
    assert run(seeded, "receive", "PO-1", "1").exit_code == 2
    assert run(seeded, "fulfil").exit_code == 2


def test_csv_and_json_imports_carry_received_and_status(seeded: e.Database, tmp_path: Path) -> None:
    db = seeded
    csv = "po,line,sku,quantity,arrival_date,received\nPO-1,1,A,10,2027-01-10,7\n"
    pos = write(tmp_path, "pos.csv", csv + "PO-1,2,B,5,2027-01-20,\n")
    data = as_json(ok(db, "import", pos, "--json"))
    assert data["ready"] == [{"order": "SO-1", "line": 1}, {"order": "SO-2", "line": 1}]
    assert e.po_line(db, "PO-1", 2).received == 0  # blank: not given
    orders = {"sales_orders": [{
        "order": "SO-1", "placed_at": "2026-11-02T09:01:00Z",
        "lines": [{"line": 1, "sku": "A", "quantity": 4, "status": "fulfilled"}],
    }]}  # fmt: skip
    ok(db, "import", write(tmp_path, "o.json", json.dumps(orders)))
    assert [ln.state for ln in e.order_lines(db, ["SO-1"])] == ["fulfilled"]
    bad = write(tmp_path, "bad.csv", "order,line,sku,quantity,placed_at,status\n"
                                     "SO-2,1,A,3,2026-11-02T09:02:00Z,gone\n")  # fmt: skip
    assert "status 'gone' is not one of open, fulfilled" in refused(db, "import", bad, listed=True)
    json_po = {"purchase_orders": [{"po": "PO-2", "lines": [
        {"line": 1, "sku": "A", "quantity": 6, "arrival_date": "2027-02-10",
         "received_quantity": -1}]}]}  # fmt: skip
    says = refused(db, "import", write(tmp_path, "p.json", json.dumps(json_po)), listed=True)
    assert "received_quantity -1 must be at least 0" in says


def test_review_marks_the_ready_lines_once_stock_is_in(seeded: e.Database) -> None:
    db = seeded
    assert "stock" not in said(db, "review", "PO-1", "1")  # nothing received: as before
    ok(db, "receive", "PO-1", "1", "4")
    out = said(db, "review", "PO-1", "1")
    assert "Received 4 (lines it covers are ready to ship)" in out
    assert "in sync stock" in out and "2027-01-10 ✓ ready" in out
