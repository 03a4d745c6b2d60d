"""``preorder order`` and ``preorder undo`` on the command line; every change names its
operation id; times in PREORDER_TIMEZONE with the zone in the heading."""

from __future__ import annotations

import json
import re
from typing import Any

import engine as e
from tests.cli.helpers import dump, error_line, ok, refused, run, said, seed
from tests.helpers import allocation_map, so

NY = {"PREORDER_TIMEZONE": "America/New_York"}
OPERATION = re.compile(r"Operation ([0-9a-f-]{36}); undo: preorder undo ([0-9a-f]{8})")


def as_json(text: str) -> Any:
    return json.loads(text)


def operation_of(stdout: str) -> str:
    found = OPERATION.search(stdout)
    assert found, stdout
    assert found.group(1).startswith(found.group(2))
    return found.group(1)


def test_order_shows_each_line_why_and_the_history(db: e.Database) -> None:
    seed(db)
    out = said(db, "order", "SO-5")
    assert "Order SO-5" in out and "customer of SO-5" in out
    assert "queued" in out and "needs 4 units" in out
    assert "History, oldest first" in out and "at (UTC)" in out
    assert "import: line 1 created: 4 units of A" in out
    out = said(db, "order", "SO-3")
    assert "allocated PO-1:1" in out and "first in, first out as it arrived" in out


def test_order_json_follows_the_contract(db: e.Database) -> None:
    seed(db)
    data = as_json(ok(db, "order", "SO-5", "--json").stdout)
    assert list(data) == ["order", "customer", "email", "placed_at", "lines", "history"]
    [line] = data["lines"]
    assert set(line) >= {
        "line", "sku", "quantity", "state", "po", "po_line", "promised_date", "in_sync", "why",
        "ahead",
    }  # fmt: skip
    assert (line["state"], line["ahead"]) == ("queued", {"lines": 0, "units": 0})
    assert set(data["history"][0]) >= {
        "at", "operation", "actor", "source", "what", "line", "promised_before", "promised_after",
    }  # fmt: skip
    assert data["placed_at"].endswith("+00:00")


def test_order_by_customer_and_email_lists_newest_first(db: e.Database) -> None:
    seed(db)
    e.apply_records(
        db,
        e.Actor("seed", e.Source.CLI),
        [],
        [
            so("SO-7", 7, (1, "A", 1), customer="Ada").model_copy(update={"email": "a@x.io"}),
            so("SO-8", 8, (1, "A", 1), customer="Ada"),
        ],
    )
    data = as_json(ok(db, "order", "--customer", "Ada", "--json").stdout)
    assert [d["order"] for d in data] == ["SO-8", "SO-7"]
    data = as_json(ok(db, "order", "--email", "a@x.io", "--json").stdout)
    assert [d["order"] for d in data] == ["SO-7"]
    out = said(db, "order", "--customer", "Ada")
    assert out.index("Order SO-8") < out.index("Order SO-7")
    assert as_json(ok(db, "order", "--email", "nobody@x.io", "--json").stdout) == []
    assert refused(db, "order", "--customer", "Nobody") == "error: no order of customer 'Nobody'"


def test_order_refuses_unknown_orders_and_bad_usage(db: e.Database) -> None:
    seed(db)
    assert refused(db, "order", "SO-404") == "error: unknown order SO-404"
    for args in ((), ("SO-1", "--customer", "x")):
        result = run(db, "order", *args)
        assert result.exit_code == 2, result.stderr
    assert "--customer" in ok(None, "order", "--help").stdout
    assert "first 8 characters" in " ".join(ok(None, "undo", "--help").stdout.split())


def test_every_change_names_its_operation_and_undo_sets_it_back(db: e.Database) -> None:
    seed(db)
    removed = ok(db, "remove", "PO-1", "1", "SO-1")
    op = operation_of(removed.stdout)
    data = as_json(ok(db, "remove", "PO-1", "1", "SO-2", "--dry-run", "--json").stdout)
    assert data["dry_run"] is True
    assert "Operation" not in ok(db, "remove", "PO-1", "1", "SO-2", "--dry-run").stdout
    before = dump(db)
    preview = said(db, "undo", op[:8], "--dry-run")
    assert dump(db) == before
    assert f"Would undo operation {op}" in preview
    data = as_json(ok(db, "undo", op[:8], "--json").stdout)
    assert data["operation_name"] == "undo" and data["undid"] == op
    assert len(data["operation"]) == 36
    assert allocation_map(db)[("SO-1", 1)] == ("PO-1", 1)
    line = refused(db, "undo", op)
    assert line == f"error: operation {op} (remove) was already undone by {data['operation']}"
    redo = ok(db, "undo", data["operation"])
    assert "Undid operation" in redo.stdout
    operation_of(redo.stdout)
    assert ("SO-1", 1) not in allocation_map(db)


def test_undo_refusals_are_one_error_line_and_change_nothing(db: e.Database) -> None:
    seed(db)
    imported = as_json(
        ok(db, "set-quantity", "PO-1", "2", "9", "--json").stdout
    )  # a change to undo later
    ok(db, "set-quantity", "PO-1", "2", "1")  # and its value moved on since
    listed = refused(db, "undo", imported["operation"], listed=True)
    assert "the state has moved on since" in listed
    assert "PO-1:2 quantity is 1 now, not 9" in listed
    assert refused(db, "undo", "0000000000") == (
        "error: unknown operation 0000000000 (no change of it is recorded)"
    )
    result = run(db, "undo", "abc")
    assert result.exit_code == 1
    assert "too short" in error_line(result)


def test_tables_show_times_in_the_teams_zone_and_say_which(db: e.Database) -> None:
    seed(db)
    queue = run(db, "unallocated", env=NY)
    assert queue.exit_code == 0
    text = " ".join(queue.stdout.split())
    assert "placed (America/New_York)" in text
    assert "2026-11-02 04:05" in text  # SO-5, placed 09:05 UTC
    assert "placed (UTC)" in said(db, "unallocated")
    review = " ".join(run(db, "review", "PO-1", "1", env=NY).stdout.split())
    assert "placed (America/New_York)" in review
    order = " ".join(run(db, "order", "SO-5", env=NY).stdout.split())
    assert "at (America/New_York)" in order and "(America/New_York)" in order
    digest = " ".join(run(db, "digest", env=NY).stdout.split())
    assert "oldest placed (America/New_York)" in digest
    # JSON keeps instants with their offset, whatever the zone.
    data = as_json(run(db, "unallocated", "--json", env=NY).stdout)
    assert data[0]["placed_at"].endswith("+00:00")
    bad = run(db, "unallocated", env={"PREORDER_TIMEZONE": "Mars/Olympus"})
    assert bad.exit_code == 1
    assert error_line(bad).startswith(
        "error: bad settings: PREORDER_TIMEZONE: unknown time zone 'Mars/Olympus'"
    )
