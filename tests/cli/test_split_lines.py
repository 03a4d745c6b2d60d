"""Split lines (rule 10) on the command line: PREORDER_SPLIT_LINES read at start, allow_split
in an import file, parts in review and order (tables and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import engine as e
from tests.cli.helpers import error_line, ok, run, said, write

POS = "po,line,sku,quantity,arrival_date\nPO-1,1,A,10,2027-01-10\nPO-2,1,A,8,2027-02-01\n"
ORDERS = "order,line,sku,quantity,placed_at\nSO-1,1,A,15,2026-11-02T09:00:00Z\n"


def test_the_setting_splits_a_line_and_review_and_order_show_its_parts(
    db: e.Database, tmp_path: Path
) -> None:
    ok(db, "import", write(tmp_path, "p.csv", POS))
    result = run(db, "import", write(tmp_path, "o.csv", ORDERS), env={"PREORDER_SPLIT_LINES": "1"})
    assert result.exit_code == 0, result.stderr
    early = json.loads(ok(db, "review", "PO-1", "1", "--json").stdout)
    assert [
        (a["order"], a["quantity"], a["split"], a["line_quantity"]) for a in early["allocations"]
    ] == [("SO-1", 10, True, 15)]
    assert "10 of 15" in said(db, "review", "PO-1", "1")
    view = json.loads(ok(db, "order", "SO-1", "--json").stdout)
    [line] = view["lines"]
    assert (line["state"], line["po"], line["po_line"], line["promised_date"]) == (
        "allocated",
        "PO-2",
        1,
        "2027-02-01",
    )
    assert line["parts"] == [
        {"po": "PO-1", "po_line": 1, "quantity": 10, "arrival_date": "2027-01-10"},
        {"po": "PO-2", "po_line": 1, "quantity": 5, "arrival_date": "2027-02-01"},
    ]
    assert "PO-1:1 (10) + PO-2:1 (5)" in said(db, "order", "SO-1")


def test_without_the_setting_a_line_that_fits_no_po_line_waits(
    db: e.Database, tmp_path: Path
) -> None:
    ok(db, "import", write(tmp_path, "p.csv", POS), write(tmp_path, "o.csv", ORDERS))
    [queued] = json.loads(ok(db, "unallocated", "--json").stdout)
    assert queued["order"] == "SO-1"
    [line] = json.loads(ok(db, "order", "SO-1", "--json").stdout)["lines"]
    assert "parts" not in line


def test_an_import_column_asks_it_per_order(db: e.Database, tmp_path: Path) -> None:
    orders = "order,line,sku,quantity,placed_at,allow_split\nSO-1,1,A,15,2026-11-02T09:00:00Z,yes\n"
    ok(db, "import", write(tmp_path, "p.csv", POS), write(tmp_path, "o.csv", orders))
    assert json.loads(ok(db, "unallocated", "--json").stdout) == []


def test_a_bad_setting_is_one_error_line(db: e.Database, tmp_path: Path) -> None:
    result = run(db, "import", write(tmp_path, "p.csv", POS), env={"PREORDER_SPLIT_LINES": "maybe"})
    assert result.exit_code == 1
    assert error_line(result).startswith("error: bad settings: PREORDER_SPLIT_LINES:")
