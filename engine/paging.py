"""Keyset paging of SO lines in FIFO order (rule 1's: placed_at, order number, line), so that
a review's page 500 costs what page 1 does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, literal, tuple_

from engine.models import so_lines
from engine.types import UTCDateTime

FIFO = (so_lines.c.placed_at, so_lines.c.order_number, so_lines.c.line)


def fifo_page(
    conn: Connection,
    query: Select[Any],
    *,
    limit: int | None,
    after: tuple[datetime, str, int] | None,
    before: tuple[datetime, str, int] | None,
) -> list[Row[Any]]:
    """A page of ``query``'s SO lines in FIFO order: at most ``limit``, after the FIFO key
    ``after`` (the last line shown) or before ``before`` (the first)."""
    if after is not None:
        query = query.where(tuple_(*FIFO) > tuple_(*_key_params(after)))
    if before is not None:
        # Walk the index backwards from the first line shown, then put the page in order.
        query = query.where(tuple_(*FIFO) < tuple_(*_key_params(before)))
        query = query.order_by(*(c.desc() for c in FIFO))
    else:
        query = query.order_by(*FIFO)
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query).all()) if limit != 0 else []
    return rows[::-1] if before is not None else rows


def _key_params(after: tuple[datetime, str, int]) -> tuple[object, ...]:
    placed_at, order, line = after
    return (literal(placed_at, UTCDateTime()), literal(order), literal(line))
