from collections.abc import Callable

import engine as e
from tests.helpers import allocation_map, po, so

Load = Callable[..., e.Outcome]


def test_fifo_intake_allocates_in_order_on_both_databases(
    db: e.Database, actor: e.Actor, load: Load
) -> None:
    load(po("PO-1", (1, "A", 6, "2027-01-10")), *[so(f"SO-{i}", i, (1, "A", 2)) for i in range(4)])
    assert allocation_map(db) == {(f"SO-{i}", 1): ("PO-1", 1) for i in range(3)}
    assert [q.order for q in e.unallocated(db)] == ["SO-3"]
