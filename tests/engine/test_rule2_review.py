"""Rule 2: review a PO line (header, allocations in FIFO order, totals) and the queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

import engine as e
from tests.helpers import T0, po, so

Load = Callable[..., e.Outcome]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_review_shows_header_allocations_in_fifo_order_and_totals(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 10, "2027-01-10"), supplier="Acme"))
    e.set_store_hold(db, actor, "PO-1", 1, 2)
    load(
        so("SO-2", 2, (1, "A", 3), customer="Bo"),
        so("SO-1", 1, (2, "A", 1), (1, "A", 1), customer="Al"),
        so("SO-0", 0, (1, "A", 2), customer="Cy"),
    )

    assert e.review(db, "PO-1", 1) == e.Review(
        head=e.POLineHeader(
            po="PO-1",
            line=1,
            sku="A",
            status="open",
            arrival_date=date(2027, 1, 10),
            quantity=10,
            store_hold=2,
            allocated=7,
            atp=1,
            orders=4,  # order lines: SO-1 has two here
            out_of_sync=0,
        ),
        supplier="Acme",
        allocations=[
            e.ReviewLine("SO-0", 1, "Cy", at(0), 2, date(2027, 1, 10), True),
            e.ReviewLine("SO-1", 1, "Al", at(1), 1, date(2027, 1, 10), True),
            e.ReviewLine("SO-1", 2, "Al", at(1), 1, date(2027, 1, 10), True),
            e.ReviewLine("SO-2", 1, "Bo", at(2), 3, date(2027, 1, 10), True),
        ],
    )


def test_review_json_follows_the_cli_contract(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 4, "2027-01-10")), so("SO-1", T0, (1, "A", 3), customer="Al"))

    assert e.review(db, "PO-1", 1).to_dict() == {
        "po": "PO-1",
        "line": 1,
        "sku": "A",
        "status": "open",
        "arrival_date": "2027-01-10",
        "quantity": 4,
        "store_hold": 0,
        "allocated": 3,
        "atp": 1,
        "orders": 1,
        "allocations": [
            {
                "order": "SO-1",
                "line": 1,
                "customer": "Al",
                "placed_at": "2026-11-02T09:00:00+00:00",
                "quantity": 3,
                "promised_date": "2027-01-10",
                "in_sync": True,
                "email": None,  # the order's email, when it has one
            }
        ],
    }


def test_review_marks_lines_out_of_sync_after_the_arrival_date_moves(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 5, "2027-01-10")), so("SO-1", 1, (1, "A", 1)))
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 20))
    load(so("SO-2", 2, (1, "A", 1)))

    review = e.review(db, "PO-1", 1)
    assert review.head.out_of_sync == 1
    assert [(a.order, a.promised_date, a.in_sync) for a in review.allocations] == [
        ("SO-1", date(2027, 1, 10), False),
        ("SO-2", date(2027, 1, 20), True),
    ]


def test_review_pages_by_keyset_through_ties_and_utc_offsets(db: e.Database, load: Load) -> None:
    load(
        po("PO-1", (1, "A", 20, "2027-01-10")),
        so("SO-5", 5, (1, "A", 1)),
        so("SO-1", 1, (1, "A", 1), (2, "A", 1), (3, "A", 1)),
        so("SO-3", 1, (1, "A", 1)),
        # 09:03+01:00 is 08:03 UTC: first, whatever its wall-clock time says.
        so("SO-9", datetime.fromisoformat("2026-11-02T09:03:00+01:00"), (1, "A", 1)),
    )
    full = e.review(db, "PO-1", 1)
    assert [(a.order, a.line) for a in full.allocations] == [
        ("SO-9", 1),
        ("SO-1", 1),
        ("SO-1", 2),
        ("SO-1", 3),
        ("SO-3", 1),
        ("SO-5", 1),
    ]

    pages: list[list[e.ReviewLine]] = []
    after: tuple[datetime, str, int] | None = None
    while True:
        page = e.review(db, "PO-1", 1, limit=2, after=after)
        assert (page.head.orders, page.head.allocated, page.head.out_of_sync) == (6, 6, 0)
        if not page.allocations:
            break
        pages.append(page.allocations)
        last = page.allocations[-1]
        after = (last.placed_at, last.order, last.line)

    assert [len(p) for p in pages] == [2, 2, 2]
    assert [a for p in pages for a in p] == full.allocations
    tail = e.review(db, "PO-1", 1, after=(at(1), "SO-1", 2))
    assert [(a.order, a.line) for a in tail.allocations] == [("SO-1", 3), ("SO-3", 1), ("SO-5", 1)]

    # Backwards from the last page's first line: the pages again, each in FIFO order.
    back: list[list[e.ReviewLine]] = []
    before = (pages[-1][0].placed_at, pages[-1][0].order, pages[-1][0].line)
    while True:
        page = e.review(db, "PO-1", 1, limit=2, before=before)
        if not page.allocations:
            break
        back.append(page.allocations)
        first = page.allocations[0]
        before = (first.placed_at, first.order, first.line)
    assert back == [pages[1], pages[0]]


def test_review_of_an_unknown_po_or_line_names_what_is_missing(db: e.Database, load: Load) -> None:
    load(po("PO-1", (1, "A", 5, "2027-01-10")))

    with pytest.raises(e.NotFound, match=r"^unknown PO PO-9$"):
        e.review(db, "PO-9", 1)
    with pytest.raises(e.NotFound, match=r"^PO PO-1 has no line 2$"):
        e.review(db, "PO-1", 2)


def test_review_of_a_cancelled_po_shows_its_status_and_no_allocations(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 5, "2027-01-10")), so("SO-1", 1, (1, "A", 2)))
    e.cancel_po(db, actor, "PO-1")

    review = e.review(db, "PO-1", 1)
    head = review.head
    assert (head.status, head.allocated, head.atp, head.orders) == ("cancelled", 0, 0, 0)  # rule 11
    assert review.allocations == []


def test_unallocated_lists_open_unallocated_lines_in_fifo_order_with_parked_marked(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 2, "2027-01-10")),
        so("SO-1", 1, (1, "A", 2), customer="Al"),
        so("SO-2", 2, (1, "A", 5), (2, "B", 1), customer="Bo"),
        so("SO-3", 0, (1, "B", 2), customer="Cy"),
        so("SO-4", 4, (1, "A", 1), customer="Di"),
    )
    e.remove(db, actor, "PO-1", 1, [e.LineRef("SO-1")])
    e.cancel_order(db, actor, [e.LineRef("SO-4")])

    assert e.unallocated(db) == [
        e.QueuedLine("SO-3", 1, "B", 2, at(0), "Cy", False),
        e.QueuedLine("SO-1", 1, "A", 2, at(1), "Al", True),
        e.QueuedLine("SO-2", 1, "A", 5, at(2), "Bo", False),
        e.QueuedLine("SO-2", 2, "B", 1, at(2), "Bo", False),
    ]
    assert [(q.order, q.line) for q in e.unallocated(db, sku="B")] == [("SO-3", 1), ("SO-2", 2)]
    assert [(q.order, q.line) for q in e.unallocated(db, limit=2)] == [("SO-3", 1), ("SO-1", 1)]
    # Only the parked lines (the unpark choice), or only those the sweep may take.
    assert [(q.order, q.line) for q in e.unallocated(db, parked=True)] == [("SO-1", 1)]
    assert [q.order for q in e.unallocated(db, sku="A", parked=False)] == ["SO-2"]
    assert e.unallocated_count(db, parked=True) == 1
    assert e.unallocated_count(db, sku="B", parked=False) == 2
    assert e.unallocated_count(db, sku="B", parked=True) == 0
    assert e.unallocated(db, sku="B")[0].to_dict() == {
        "order": "SO-3",
        "line": 1,
        "sku": "B",
        "quantity": 2,
        "placed_at": "2026-11-02T09:00:00+00:00",
        "customer": "Cy",
        "parked": False,
    }


def test_purchase_order_summarises_each_line_and_sku_lines_come_in_rule_1_order(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (2, "A", 4, "2027-02-01"), (1, "B", 3, "2027-01-05"), supplier="Acme"),
        po("PO-0", (1, "A", 2, "2027-01-20")),
        so("SO-1", 1, (1, "A", 2), (2, "B", 1)),
        so("SO-2", 2, (1, "A", 3)),
    )
    e.set_arrival(db, actor, "PO-1", 1, date(2027, 1, 6))

    assert e.purchase_order(db, "PO-1") == e.PODetail(
        po="PO-1",
        supplier="Acme",
        status="open",
        lines=[
            e.POLineHeader("PO-1", 1, "B", "open", date(2027, 1, 6), 3, 0, 1, 2, 1, 1),
            e.POLineHeader("PO-1", 2, "A", "open", date(2027, 2, 1), 4, 0, 3, 1, 1, 0),
        ],
    )
    assert [(s.po, s.line, s.allocated) for s in e.po_lines_of_sku(db, "A")] == [
        ("PO-0", 1, 2),
        ("PO-1", 2, 3),
    ]
    with pytest.raises(e.NotFound, match=r"^unknown PO PO-9$"):
        e.purchase_order(db, "PO-9")


def test_unallocated_search_matches_order_number_or_customer_in_any_case(
    db: e.Database, load: Load
) -> None:
    load(
        so("SO-100", 1, (1, "A", 1), customer="Ada Lovelace"),
        so("SO-200", 2, (1, "A", 1), customer="Grace Hopper"),
        so("XY_5", 3, (1, "B", 1), customer="100% wool club"),
    )
    found = lambda q, **kw: [x.order for x in e.unallocated(db, search=q, **kw)]  # noqa: E731
    assert found("so-1") == ["SO-100"]
    assert found("HOPPER") == ["SO-200"]
    assert found("100") == ["SO-100", "XY_5"]
    assert found("%") == ["XY_5"]  # a literal percent sign, not a wildcard
    assert found("_") == ["XY_5"]
    assert found("100", sku="A") == ["SO-100"]


def test_open_po_lines_come_in_arrival_order_and_can_be_limited_to_those_with_atp(
    db: e.Database, load: Load
) -> None:
    load(
        po("PO-2", (1, "A", 1, "2027-02-10")),
        po("PO-1", (1, "A", 5, "2027-01-10"), (2, "B", 3, "2027-03-01")),
        so("SO-1", 1, (1, "A", 5)),
    )
    assert [(x.po, x.line) for x in e.open_po_lines(db)] == [("PO-1", 1), ("PO-2", 1), ("PO-1", 2)]
    assert [(x.po, x.line) for x in e.open_po_lines(db, with_atp=True)] == [
        ("PO-2", 1),
        ("PO-1", 2),
    ]
    assert len(e.open_po_lines(db, limit=1)) == 1


def test_unallocated_count_counts_open_unallocated_lines_parked_included(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(
        po("PO-1", (1, "A", 1, "2027-01-10")),
        so("SO-1", 1, (1, "A", 1)),
        so("SO-2", 2, (1, "A", 1), (2, "B", 1)),
        so("SO-3", 3, (1, "A", 1)),
    )
    e.remove(db, actor, "PO-1", 1, [e.LineRef("SO-1", 1)])  # parked, still unallocated
    e.cancel_order(db, actor, [e.LineRef("SO-3", 1)])
    assert e.unallocated_count(db) == 3
    assert e.unallocated_count(db, sku="A") == 2
    assert e.unallocated_count(db, sku="B") == 1
