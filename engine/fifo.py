"""Rule 1 as a pure function: who gets which PO line, first in, first out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class _Supply(Protocol):
    @property
    def atp(self) -> int: ...


class _Demand(Protocol):
    @property
    def quantity(self) -> int: ...


S = TypeVar("S", bound=_Supply)
D = TypeVar("D", bound=_Demand)


def plan(supply: Sequence[S], queue: Iterable[D]) -> list[tuple[D, S]]:
    """Give each queued SO line, whole, to the first PO line that can hold it.

    ``supply`` is one SKU's open PO lines in rule 1's order (arrival date, PO number, line) and
    ``queue`` its unallocated, unparked SO lines in FIFO order. A line that fits nowhere is skipped
    and keeps its place; later, smaller lines may still fit. Returns the pairs in FIFO order; the
    caller applies them. ATP is tracked here, not read from ``supply``, so the inputs stay as given.
    """
    left = [s.atp for s in supply]
    pairs: list[tuple[D, S]] = []
    biggest = max(left, default=0)
    for demand in queue:
        need = demand.quantity
        if need > biggest:
            continue
        for i, atp in enumerate(left):
            if atp >= need:
                left[i] = atp - need
                pairs.append((demand, supply[i]))
                if atp == biggest:
                    biggest = max(left)
                break
    return pairs
