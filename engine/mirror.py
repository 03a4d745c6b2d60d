"""Snapshots of outside mirrors of the data (a spreadsheet): the rows as last written there.

The engine stores them and knows nothing of what they mean; ``sheets`` keeps in them what it
last pushed, which is how it tells a person's edit from a change in the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, delete, insert, select

from engine.db import Database
from engine.ledger import chunks
from engine.models import mirror_rows

Rows = dict[str, Any]


def load(db: Database, mirror: str) -> dict[str, Rows]:
    """Every stored row of ``mirror``: tab -> key -> row."""
    found: dict[str, Rows] = {}
    with db.read() as conn:
        rows = conn.execute(
            select(mirror_rows.c.tab, mirror_rows.c.key, mirror_rows.c.data).where(
                mirror_rows.c.mirror == mirror
            )
        )
        for tab, key, data in rows:
            found.setdefault(tab, {})[key] = data
    return found


def save(db: Database, mirror: str, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Store rows of ``mirror`` in one transaction: tab -> key -> the row, or None to forget it."""
    with db.write() as conn:
        for tab, rows in changes.items():
            keys = sorted(rows)
            for chunk in chunks(keys):
                conn.execute(
                    delete(mirror_rows).where(
                        and_(
                            mirror_rows.c.mirror == mirror,
                            mirror_rows.c.tab == tab,
                            mirror_rows.c.key.in_(chunk),
                        )
                    )
                )
            fresh = [
                {"mirror": mirror, "tab": tab, "key": k, "data": rows[k]}
                for k in keys
                if rows[k] is not None
            ]
            for chunk in chunks(fresh, 5000):
                conn.execute(insert(mirror_rows), list(chunk))


def forget(db: Database, mirror: str) -> int:
    """Drop everything stored for ``mirror``; returns how many rows went."""
    with db.write() as conn:
        return conn.execute(delete(mirror_rows).where(mirror_rows.c.mirror == mirror)).rowcount
