"""The import file parser (DESIGN.md section 3, "Import formats"): no database involved."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import engine as e
from engine.importer import parse_files, parse_text
from tests.cli.helpers import write

PO_CSV = """po,line,sku,quantity,arrival_date,supplier
PO-1,1,A,10,2027-01-10,Acme
PO-1,2,B,5,2027-01-20,Acme
PO-2,1,A,6,2027-02-10,Other
"""

SO_CSV = """order,line,sku,quantity,placed_at,customer
SO-1,1,A,4,2026-11-02T09:00:00Z,Ann
SO-2,1,A,3,2026-11-02T10:00:00+01:00,Bob
SO-2,2,B,1,2026-11-02T10:00:00+01:00,Bob
"""


def problems_of(*files: str) -> list[str]:
    with pytest.raises(e.InvalidInput) as caught:
        parse_files(files)
    assert "nothing was imported" in caught.value.message
    return caught.value.problems


def test_csv_rows_of_one_po_or_order_group_into_one_record(tmp_path: Path) -> None:
    batch = parse_files([write(tmp_path, "pos.csv", PO_CSV), write(tmp_path, "so.csv", SO_CSV)])
    assert [(p.po, p.supplier, [ln.line for ln in p.lines]) for p in batch.purchase] == [
        ("PO-1", "Acme", [1, 2]),
        ("PO-2", "Other", [1]),
    ]
    assert batch.purchase[0].lines[1] == e.POLineRecord(
        line=2, sku="B", quantity=5, arrival_date=date(2027, 1, 20)
    )
    so2 = batch.sales[1]
    assert (so2.order, so2.customer, len(so2.lines)) == ("SO-2", "Bob", 2)
    assert so2.placed_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert batch.count == 4


def test_csv_columns_in_any_order_optional_column_absent_bom_and_blank_lines(
    tmp_path: Path,
) -> None:
    text = "\ufeffSKU, Quantity ,placed_at,order,line\r\nA,2,2026-11-02T09:00:00Z,SO-9,1\r\n\r\n"
    batch = parse_files([write(tmp_path, "orders.csv", text)])
    (record,) = batch.sales
    # An absent optional column means "not given": a re-import keeps the stored customer.
    assert (record.order, record.customer, record.lines[0].quantity) == ("SO-9", None, 2)


def test_a_bad_quantity_is_reported_with_file_row_and_reason(tmp_path: Path) -> None:
    rows = SO_CSV + "SO-3,1,A,x,2026-11-02T11:00:00Z,Cy\n"
    path = write(tmp_path, "orders.csv", rows)
    assert problems_of(path) == [f"{path} row 5: quantity 'x' is not a whole number"]


def test_row_numbers_count_file_lines_with_the_header_as_row_1(tmp_path: Path) -> None:
    text = (
        "order,line,sku,quantity,placed_at,customer\n"
        "\n"  # row 2: blank
        'SO-1,1,A,1,2026-11-02T09:00:00Z,"two\nlines"\n'  # rows 3-4: one quoted value
        "SO-2,0,A,1,2026-11-02T09:00:00Z,x\n"  # row 5
    )
    path = write(tmp_path, "o.csv", text)
    assert problems_of(path) == [f"{path} row 5: line 0 must be at least 1"]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        (
            'SO-Q2,1,A,1,2026-11-02T09:00:00Z,"Smith\n'
            "SO-Q3,1,A,1,2026-11-02T09:00:00Z,Bob\n"
            "SO-Q4,1,A,1,2026-11-02T09:00:00Z,Cy\n",
            'row 3: a quoted value starts on this row and is never closed (no closing ")',
        ),
        (
            'SO-Q2,1,A,1,2026-11-02T09:00:00Z,"Smith\nSO-Q3,1,A,1,2026-11-02T09:00:00Z,"Bob"\n',
            'row 3: a quote (") inside a quoted value must be doubled',
        ),
        ('SO-Q2,1,A,1,2026-11-02T09:00:00Z,"Smith" Jr\n', "row 3: a quote"),
        (  # a big file: the open value outgrows what csv takes before the file ends
            'SO-Q2,1,A,1,2026-11-02T09:00:00Z,"Smith\n'
            + "".join(f"SO-{i},1,A,1,2026-11-02T09:00:00Z,Someone\n" for i in range(5000)),
            "row 3: a value runs over 131,072 characters: a quoted value that starts on this "
            "row is probably never closed",
        ),
    ],
    ids=["open-at-the-end", "closed-too-late", "text-after-the-quote", "open-in-a-big-file"],
)
def test_a_quote_left_open_is_a_bad_row_not_rows_swallowed(
    tmp_path: Path, rows: str, reason: str
) -> None:
    text = "order,line,sku,quantity,placed_at,customer\nSO-Q1,1,A,1,2026-11-02T09:00:00Z,Ann\n"
    path = write(tmp_path, "orders.csv", text + rows)
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path} {reason}"), problem


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("PO-3,1,A,5,2027-13-01,Acme", "arrival_date '2027-13-01' does not exist"),
        ("PO-3,1,A,5,1/2/2027,Acme", "arrival_date '1/2/2027' is not YYYY-MM-DD"),
        ("PO-3,1,A,-1,2027-01-01,Acme", "quantity -1 must be at least 0"),
        ("PO 3,1,A,5,2027-01-01,Acme", "PO number 'PO 3' must be 1-64 letters"),
        ("PO-3,1,A b,5,2027-01-01,Acme", "SKU 'A b' must be 1-64 letters"),
        ("PO-3,1,,5,2027-01-01,Acme", "sku is empty"),
        ("PO-3,1,A,5,2027-01-01", "has 5 values but the header has 6 columns"),
        ("PO-3,1,A,2.5,2027-01-01,x", "quantity '2.5' is not a whole number"),
    ],
)
def test_each_kind_of_bad_csv_row_has_a_short_reason(tmp_path: Path, row: str, reason: str) -> None:
    path = write(tmp_path, "pos.csv", PO_CSV + row + "\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path} row 5: {reason}"), problem


def test_rows_of_one_order_that_disagree_are_bad_rows(tmp_path: Path) -> None:
    text = SO_CSV + (
        "SO-1,2,B,1,2026-11-03T09:00:00Z,Ann\n"  # another placed_at
        "SO-1,3,B,1,2026-11-02T09:00:00Z,Zed\n"  # another customer
        "SO-2,1,C,1,2026-11-02T09:00:00Z,Bob\n"  # line 1 again
    )
    path = write(tmp_path, "o.csv", text)
    assert problems_of(path) == [
        f"{path} row 5: order SO-1 has placed_at '2026-11-03T09:00:00+00:00' here but "
        "'2026-11-02T09:00:00+00:00' on row 2",
        f"{path} row 6: order SO-1 has customer 'Zed' here but 'Ann' on row 2",
        f"{path} row 7: order SO-2 line 1 is also on row 3",
    ]


def test_rows_of_one_po_with_another_supplier_are_bad(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", PO_CSV + "PO-2,2,A,1,2027-01-01,Acme\n")
    assert problems_of(path) == [
        f"{path} row 5: PO PO-2 has supplier 'Acme' here but 'Other' on row 4"
    ]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("po,line,sku,qty,arrival_date", "unknown column 'qty' and missing column 'quantity'"),
        ("order,line,sku,quantity", "missing column 'placed_at'"),
        ("order,line,sku,quantity,placed_at,customer,notes", "unknown column 'notes'"),
        ("po,po,line,sku,quantity,arrival_date", "repeated column 'po'"),
        ("a,b,c", "is not an import header"),
    ],
)
def test_a_bad_header_names_the_file_and_the_expected_header(
    tmp_path: Path, header: str, says: str
) -> None:
    path = write(tmp_path, "f.csv", header + "\n1,2,3\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path} row 1: ")
    assert says in problem
    assert "po,line,sku,quantity,arrival_date[,supplier]" in problem or (
        "order,line,sku,quantity,placed_at[,customer]" in problem
    )


def test_json_both_keys_optional_and_ints_accepted_as_numbers(tmp_path: Path) -> None:
    data = {
        "purchase_orders": [
            {"po": 1001, "supplier": "S", "lines": [
                {"line": 1, "sku": "A", "quantity": 3, "arrival_date": "2027-01-01"}
            ]},
        ]
    }  # fmt: skip
    batch = parse_files([write(tmp_path, "p.json", json.dumps(data))])
    assert batch.purchase[0].po == "1001"
    assert parse_files([write(tmp_path, "empty.json", "{}")]).count == 0


def test_json_problems_are_reported_with_a_path(tmp_path: Path) -> None:
    data = {
        "sales_orders": [
            {"order": "SO-1", "placed_at": "2026-11-02T09:00:00Z",
             "lines": [{"line": 1, "sku": "A", "quantity": 1}]},
            {"order": "SO-2", "placed_at": "2026-11-02T09:00:00",
             "lines": [{"line": 1, "sku": "A", "quantity": "x", "colour": "red"}]},
            {"order": "SO-1", "placed_at": "2026-11-02T09:00:00Z",
             "lines": [{"line": 1, "sku": "A", "quantity": 1}]},
            {"order": "SO-3", "placed_at": "2026-11-02T09:00:00Z", "lines": []},
            5,
        ],
        "returns": [],
    }  # fmt: skip
    path = write(tmp_path, "orders.json", json.dumps(data))
    assert problems_of(path) == [
        f"{path}: unknown key 'returns'; expected purchase_orders and/or sales_orders",
        f"{path} sales_orders[1].placed_at: placed_at '2026-11-02T09:00:00' has no UTC offset "
        "(add Z or +HH:MM)",
        f"{path} sales_orders[1].lines[0].quantity: quantity 'x' is not a whole number",
        f"{path} sales_orders[1].lines[0].colour: unknown field 'colour'",
        f"{path} sales_orders[2]: order SO-1 is also at sales_orders[0]; give each one once",
        f"{path} sales_orders[3].lines: lines is empty; give at least one line",
        f"{path} sales_orders[4]: expected an object, found a number",
    ]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("x.json", "[1, 2]", 'expected an object {"purchase_orders"'),
        ("x.json", '{"sales_orders": {}}', "sales_orders: expected a list, found an object"),
        ("x.json", '{"sales_orders": [', "not valid JSON"),
        ("x.json", "  \n", "the file is empty"),
        ("x.csv", "", "the file is empty"),
        ("x.txt", "po,line\n", "unknown file type '.txt'; use .json or .csv"),
        ("x.csv", b"order,line\n\xff\xfe\n", "not UTF-8 text (byte 0xff at offset 11)"),
        (
            "x.json",
            b'{"sales_orders": [{"order": "\xff"}]}',
            "not UTF-8 text (byte 0xff at offset 29)",
        ),
        ("x.json", '{"sales_orders": []} x', "not valid JSON: Extra data (line 1 column 22)"),
        ("x.json", '{"sales_orders": [{"order": "SO-1", "lines": [}]}', "not valid JSON"),
    ],
)
def test_unreadable_files_get_one_clear_problem(
    tmp_path: Path, name: str, content: str | bytes, says: str
) -> None:
    path = write(tmp_path, name, content)
    (problem,) = problems_of(path)
    assert problem.startswith(path)
    assert says in problem


def test_a_json_file_is_read_a_record_at_a_time_with_the_same_checks(tmp_path: Path) -> None:
    # A byte order mark, unknown keys wherever they are, a list given twice, and records of
    # both lists validated and staged as they come.
    orders = [
        {"order": f"SO-{i}", "placed_at": "2026-11-02T09:00:00Z",
         "lines": [{"line": 1, "sku": "A", "quantity": 1}]}
        for i in range(3)
    ]  # fmt: skip
    text = (
        '\ufeff{"notes": {"a": [1, {"b": 2}]}, "sales_orders": ' + json.dumps(orders)
        + ', "purchase_orders": [], "sales_orders": []}'
    )  # fmt: skip
    path = write(tmp_path, "o.json", text)
    assert problems_of(path) == [
        f"{path}: unknown key 'notes'; expected purchase_orders and/or sales_orders",
        f"{path}: key 'sales_orders' is given twice; give each list once",
    ]
    good = write(tmp_path, "g.json", "\ufeff" + json.dumps({"sales_orders": orders}))
    assert [s.order for s in parse_files([good]).sales] == ["SO-0", "SO-1", "SO-2"]


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    assert problems_of(str(tmp_path / "gone.csv")) == [f"{tmp_path / 'gone.csv'}: no such file"]


def test_every_problem_of_every_file_is_collected_before_anything_is_refused(
    tmp_path: Path,
) -> None:
    good = write(tmp_path, "good.csv", PO_CSV)
    bad_csv = write(tmp_path, "bad.csv", SO_CSV + "SO-3,1,A,x,2026-11-02T11:00:00Z,Cy\n")
    bad_json = write(tmp_path, "bad.json", '{"purchase_orders": [{"po": "P"}]}')
    with pytest.raises(e.InvalidInput) as caught:
        parse_files([good, bad_csv, bad_json])
    assert caught.value.message == (
        f"2 problems in {good}, {bad_csv}, {bad_json}; nothing was imported"
    )
    assert caught.value.problems == [
        f"{bad_csv} row 5: quantity 'x' is not a whole number",
        f"{bad_json} purchase_orders[0].lines: lines is missing",
    ]


def test_a_record_in_a_later_file_updates_the_earlier_one_line_by_line(tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", PO_CSV)
    later = write(
        tmp_path,
        "b.csv",
        "po,line,sku,quantity,arrival_date,supplier\n"
        "PO-1,2,B,9,2027-03-01,Acme\n"
        "PO-1,3,C,1,2027-03-01,Acme\n",
    )
    (po1, _po2) = parse_files([first, later]).purchase
    assert [(ln.line, ln.quantity) for ln in po1.lines] == [(1, 10), (2, 9), (3, 1)]


def test_parse_text_chooses_the_format_by_extension() -> None:
    batch, problems = parse_text("orders.CSV", SO_CSV)
    assert problems == [] and len(batch.sales) == 2


def test_reimport_without_the_customer_column_keeps_the_stored_customer(
    db: e.Database, actor: e.Actor, tmp_path: Path
) -> None:
    with_names = write(
        tmp_path,
        "a.csv",
        "order,line,sku,quantity,placed_at,customer\nSO-1,1,A,2,2026-11-02T09:00:00Z,Ada\n",
    )
    without = write(
        tmp_path, "b.csv", "order,line,sku,quantity,placed_at\nSO-1,1,A,3,2026-11-02T09:00:00Z\n"
    )
    for path in (with_names, without):
        batch = parse_files([path])
        e.apply_records(db, actor, batch.purchase, batch.sales)
    (line,) = e.unallocated(db)
    assert (line.customer, line.quantity) == ("Ada", 3)
