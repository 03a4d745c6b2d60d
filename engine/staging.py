"""Validated import rows kept on disk between reading the files and applying them.

An import file may hold millions of lines; held in memory as records they took gigabytes. Each
valid line is written here as it is read (a scratch SQLite file, removed afterwards), the checks
that span rows (rows of one PO or order that disagree, a line given twice) run as queries, and
the records go to the engine in batches, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from pathlib import Path
from typing import Any, Literal

from engine.records import POLineRecord, PORecord, SOLineRecord, SORecord

Kind = Literal["po", "order"]
# Rows written per statement, and records handed on per batch.
WRITE_BATCH = 5000
READ_BATCH = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE lines (
    kind TEXT NOT NULL,       -- 'po' or 'order'
    key TEXT NOT NULL,        -- the PO or order number
    file INTEGER NOT NULL,    -- the file's place among those imported together
    row INTEGER NOT NULL,     -- its row (CSV) or record (JSON) in that file
    line INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    arrival TEXT,             -- a PO line's arrival date, ISO
    placed_at TEXT,           -- an order's placed_at, ISO 8601 as given
    placed_us INTEGER,        -- the same instant in microseconds since 1970 (to compare)
    text TEXT,                -- the supplier or customer; NULL: not given
    email TEXT,               -- an order's email; NULL: not given
    received INTEGER,         -- a PO line's received quantity; NULL: not given
    status TEXT,              -- an order line's status; NULL: not given
    allow_split INTEGER       -- an order's allow_split, 1 or 0; NULL: not given
);
CREATE INDEX lines_by_file ON lines (file, kind, key, row);
CREATE INDEX lines_by_key ON lines (kind, key, line, file);
"""

# Per file, the rows that disagree with the first row of their PO or order (``head_row``), or
# repeat a line number given on an earlier row (``line_row``).
_CONFLICTS = """
SELECT row, kind, key, line, placed_at, text, head_row, head_placed_at, head_text,
       placed_us IS NOT head_placed_us AS other_placed_at, text IS NOT head_text AS other_text,
       email IS NOT head_email AS other_email,
       allow_split IS NOT head_allow_split AS other_split, line_row
FROM (
    SELECT *,
        first_value(row) OVER head AS head_row,
        first_value(placed_at) OVER head AS head_placed_at,
        first_value(placed_us) OVER head AS head_placed_us,
        first_value(text) OVER head AS head_text,
        first_value(email) OVER head AS head_email,
        first_value(allow_split) OVER head AS head_allow_split,
        min(row) OVER (PARTITION BY kind, key, line) AS line_row
    FROM lines WHERE file = ?
    WINDOW head AS (PARTITION BY kind, key ORDER BY row)
)
WHERE row > line_row
   OR (row > head_row AND (placed_us IS NOT head_placed_us OR text IS NOT head_text
                           OR email IS NOT head_email
                           OR allow_split IS NOT head_allow_split))
ORDER BY row
"""

# Per JSON file, the records that give a PO or order number an earlier record gave.
_REPEATED = """
SELECT kind, key, row, first_row FROM (
    SELECT kind, key, row, min(row) OVER (PARTITION BY kind, key) AS first_row
    FROM (SELECT DISTINCT kind, key, row FROM lines WHERE file = ?)
)
WHERE row > first_row
ORDER BY kind, row
"""

# Every line of one kind, by record; a line given in several files comes from the last one.
_RECORDS = """
SELECT key, line, file, row, sku, quantity, arrival, placed_at, text, email, received, status,
       allow_split
FROM lines WHERE kind = ? ORDER BY key, line, file DESC, row
"""


class Conflict:
    """A staged row that disagrees with an earlier row of its PO or order in the same file."""

    def __init__(self, found: sqlite3.Row) -> None:
        self.row: int = found["row"]
        self.issues: list[str] = []
        kind, key = found["kind"], found["key"]
        what = "PO" if kind == "po" else "order"
        heads = []
        if found["other_placed_at"] and found["row"] > found["head_row"]:
            heads.append(("placed_at", found["placed_at"], found["head_placed_at"]))
        if found["other_text"] and found["row"] > found["head_row"]:
            name = "supplier" if kind == "po" else "customer"
            heads.append((name, found["text"], found["head_text"]))
        for name, mine, theirs in heads:
            self.issues.append(
                f"{what} {key} has {name} {mine!r} here but {theirs!r} on row {found['head_row']}"
            )
        if found["other_email"] and found["row"] > found["head_row"]:
            # Not quoted: addresses stay out of messages, which reach logs.
            self.issues.append(
                f"{what} {key} has another email here than on row {found['head_row']}"
            )
        if found["other_split"] and found["row"] > found["head_row"]:
            self.issues.append(
                f"{what} {key} has another allow_split here than on row {found['head_row']}"
            )
        if found["row"] > found["line_row"]:
            self.issues.append(
                f"{what} {key} line {found['line']} is also on row {found['line_row']}"
            )


class Staging:
    """A scratch store of validated import lines; a context manager that removes it at exit."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="preorder-import-")
        self._conn = sqlite3.connect(Path(self._folder.name) / "staged.db")
        self._conn.row_factory = sqlite3.Row
        # A scratch file: nothing to keep if the process dies, so no journal and no syncing.
        # Sorts spill to temporary files rather than grow in memory.
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=FILE",
            "cache_size=-16384",
        ):
            self._conn.execute(f"PRAGMA {pragma}")
        self._conn.executescript(_SCHEMA)
        self._pending: list[tuple[Any, ...]] = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
        self._folder.cleanup()

    # --- writing ----------------------------------------------------------------------------

    def add(self, file: int, row: int, record: PORecord | SORecord) -> None:
        """Stage every line of a validated record read at ``row`` of ``file``."""
        if isinstance(record, PORecord):
            for ln in record.lines:
                self._pending.append(
                    ("po", record.po, file, row, ln.line, ln.sku, ln.quantity,
                     ln.arrival_date.isoformat(), None, None, record.supplier, None,
                     ln.received_quantity, None, None)
                )  # fmt: skip
        else:
            at, us = record.placed_at.isoformat(), (record.placed_at - _EPOCH) // _MICROSECOND
            for sln in record.lines:
                self._pending.append(
                    ("order", record.order, file, row, sln.line, sln.sku, sln.quantity,
                     None, at, us, record.customer, record.email, None, sln.status,
                     record.allow_split)
                )  # fmt: skip
        if len(self._pending) >= WRITE_BATCH:
            self._write()

    def _write(self) -> None:
        if self._pending:
            self._conn.executemany(
                "INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._pending,
            )
            self._pending.clear()

    def conflicts(self, file: int) -> Iterator[Conflict]:
        """The rows of ``file`` (staged from CSV, a row per line) that disagree with an earlier
        row of their PO or order, in row order."""
        self._write()
        for found in self._conn.execute(_CONFLICTS, (file,)):
            yield Conflict(found)

    def repeated(self, file: int) -> Iterator[tuple[Kind, str, int, int]]:
        """Records of ``file`` (staged from JSON, a row per record) whose PO or order number
        an earlier record of the file has: (kind, number, record, first record)."""
        self._write()
        yield from self._conn.execute(_REPEATED, (file,))

    def forget(self, file: int) -> None:
        """Drop what was staged of ``file`` (it turned out unreadable further on)."""
        self._write()
        self._conn.execute("DELETE FROM lines WHERE file = ?", (file,))

    # --- reading ----------------------------------------------------------------------------

    def count(self, kind: Kind) -> int:
        self._write()
        query = "SELECT count(*) FROM (SELECT DISTINCT key FROM lines WHERE kind = ?)"
        return int(self._conn.execute(query, (kind,)).fetchone()[0])

    def skus(self) -> set[str]:
        self._write()
        return {r[0] for r in self._conn.execute("SELECT DISTINCT sku FROM lines")}

    def numbers(self, kind: Kind) -> Iterator[str]:
        """The PO or order numbers staged, in order."""
        self._write()
        cursor = self._conn.execute(
            "SELECT DISTINCT key FROM lines WHERE kind = ? ORDER BY key", (kind,)
        )
        while rows := cursor.fetchmany(READ_BATCH):
            yield from (r[0] for r in rows)

    def purchase_orders(self) -> Iterator[list[PORecord]]:
        return self._records("po")  # type: ignore[return-value]

    def sales_orders(self) -> Iterator[list[SORecord]]:
        return self._records("order")  # type: ignore[return-value]

    def _records(self, kind: Kind) -> Iterator[list[PORecord | SORecord]]:
        """Each PO or order once, in number order, in batches. A record given in several
        files takes its header from the last of them and each line from the last that has it
        (as importing the files one by one would)."""
        self._write()
        cursor = self._conn.execute(_RECORDS, (kind,))
        batch: list[PORecord | SORecord] = []
        for key, rows in groupby(_rows(cursor), key=lambda r: r["key"]):
            batch.append(_record(kind, key, list(rows)))
            if len(batch) >= READ_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _rows(cursor: sqlite3.Cursor) -> Iterator[sqlite3.Row]:
    while rows := cursor.fetchmany(READ_BATCH):
        yield from rows


def _record(kind: Kind, key: str, rows: list[sqlite3.Row]) -> PORecord | SORecord:
    # Rows come by line, the last file first: the first row of each line is the one that counts.
    latest: dict[int, sqlite3.Row] = {}
    for r in rows:
        latest.setdefault(r["line"], r)
    last_file = max(r["file"] for r in rows)
    head = min((r for r in rows if r["file"] == last_file), key=lambda r: r["row"])
    # Validated when staged: built again without validating (a tenth of the cost).
    if kind == "po":
        return PORecord.model_construct(
            po=key,
            supplier=head["text"],
            lines=[
                POLineRecord.model_construct(
                    line=r["line"],
                    sku=r["sku"],
                    quantity=r["quantity"],
                    arrival_date=date.fromisoformat(r["arrival"]),
                    received_quantity=r["received"],
                )
                for r in latest.values()
            ],
        )
    return SORecord.model_construct(
        order=key,
        customer=head["text"],
        email=head["email"],
        allow_split=None if head["allow_split"] is None else bool(head["allow_split"]),
        placed_at=datetime.fromisoformat(head["placed_at"]),
        lines=[
            SOLineRecord.model_construct(
                line=r["line"], sku=r["sku"], quantity=r["quantity"], status=r["status"]
            )
            for r in latest.values()
        ],
    )
