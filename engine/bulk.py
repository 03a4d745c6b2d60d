"""Many rows in one statement on PostgreSQL: the rows go as one JSON parameter that the server
unpacks (``json_to_recordset``), where an executemany sends and runs one statement per row.

Per row, an executemany costs the driver's adaptation of each parameter in Python, and
PostgreSQL an execution of its own: its executor start-up and, on ``so_lines``, the
statement-level triggers that keep the queue's tallies (``engine.queue_tallies``), fired once
per row with transition tables of one row each. One statement whose text never changes is
parsed and prepared once per connection, and its triggers fire once. On SQLite an executemany
is one loop in C and stays as it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Select, Table, bindparam, column, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import ColumnClause, TableValuedAlias
from sqlalchemy.types import UserDefinedType


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, the table's column names) into ``table``."""
    if not rows:
        return
    if len(rows) == 1 or conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    names = tuple(rows[0])
    conn.execute(
        _insert_from_json(table, names), {"rows": as_json(table, names, rows, conn.dialect)}
    )


def as_json(
    table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]], dialect: Dialect
) -> str:
    """``rows`` as the JSON text ``records`` unpacks: each value as the column's type binds it
    (an instant as naive UTC, see ``engine.types.UTCDateTime``), a JSON column's value as it is."""
    processors: list[tuple[str, Callable[[Any], Any]]] = []
    for name in names:
        col = table.c[name]
        if isinstance(col.type, JSON):
            continue
        process = col.type.bind_processor(dialect)
        if process is not None:
            processors.append((name, process))
    if processors:
        rows = [{**row, **{n: p(row[n]) for n, p in processors}} for row in rows]
    return json.dumps(rows, default=_plain, separators=(",", ":"))


def _plain(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def records(*cols: ColumnClause[Any], name: str = "rows") -> TableValuedAlias:
    """The rows bound as JSON text ``name`` (a list of objects), as a table of ``cols``."""
    return (
        func.json_to_recordset(bindparam(name, type_=JsonText()))
        .table_valued(*cols)
        .render_derived(name="r", with_types=True)
    )


class JsonText(UserDefinedType[str]):
    """JSON text bound as it is (``as_json`` made it) and read by the server as ``json``: the
    statement says ``:rows::JSON``, so the text is parsed once, where it is bound."""

    cache_ok = True
    render_bind_cast = True

    def get_col_spec(self, **kw: Any) -> str:
        return "JSON"


def rows_of(table: Table, names: Sequence[str]) -> Select[Any]:
    """A select of the rows bound as JSON text ``rows`` (``as_json``), ``names``' columns of
    ``table`` in that order: what an ``INSERT ... SELECT`` into ``table`` takes."""
    rows = records(*(column(n, table.c[n].type) for n in names))
    return select(*(rows.c[n] for n in names))


@functools.cache
def _insert_from_json(table: Table, names: tuple[str, ...]) -> Any:
    return insert(table).from_select(list(names), rows_of(table, names))
