"""Rule 1 as a pure function: who gets which PO line, first in, first out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


Parts = list[tuple[S, int]]


def plan_split(
    supply: Sequence[S], queue: Iterable[D], may_split: Callable[[D], bool]
) -> tuple[list[tuple[D, S]], list[tuple[D, Parts[S]]]]:
    """``plan`` with rule 10: a line that fits no single PO line and ``may_split`` takes, when
    the SKU's ATP left over all its lines covers it, units from the PO lines in ``supply``'s
    order, earliest first, each as much as it has, until the line is covered. A whole fit
    always wins; a line the ATP left cannot cover stays queued whole (never in part), keeping
    its place, and later lines may still be placed. Returns the whole pairs and the split lines
    (each with its parts in ``supply``'s order), both in FIFO order."""
    left = [s.atp for s in supply]
    pairs: list[tuple[D, S]] = []
    splits: list[tuple[D, Parts[S]]] = []
    total = sum(left)
    for demand in queue:
        need = demand.quantity
        if need > total:
            continue
        placed = False
        for i, atp in enumerate(left):
            if atp >= need:
                left[i] = atp - need
                pairs.append((demand, supply[i]))
                placed = True
                break
        if placed:
            total -= need
            continue
        if not may_split(demand):
            continue
        parts: Parts[S] = []
        for i, atp in enumerate(left):
            if atp <= 0:
                continue
            take = min(atp, need)
            left[i] = atp - take
            parts.append((supply[i], take))
            need -= take
            if need == 0:
                break
        total -= demand.quantity
        splits.append((demand, parts))
    return pairs, splits
