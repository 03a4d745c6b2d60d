"""Column types and enumerations shared by the schema and the operations, and the binding of a
list of ids as one parameter."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, DateTime, Select, String, any_, bindparam, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, UserDefinedType


class POStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    RECEIVED = "received"


class SOStatus(enum.StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"


class Source(enum.StrEnum):
    """Where a change came from; every audit event names one."""

    SLACK = "slack"
    SHEET = "sheet"
    CLI = "cli"
    SCHEDULER = "scheduler"
    API = "api"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC so that SQLite and PostgreSQL order them the same way.

    FIFO compares instants: ``10:00+02:00`` comes before ``09:30+00:00``. Normalising on the way in
    makes a plain index on the column sort by instant on both databases.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no UTC offset")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL results on SQLite
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


class IdList(UserDefinedType[list[int]]):
    """A list of integer ids bound on PostgreSQL as one array literal (``{1,2,3}``).

    A Python list is adapted element by element by the driver: for the 200,000 SO line ids of a
    sweep, three times over, that was half a second of Python; joining them into one text is a
    tenth of it. The text goes as a parameter of no type and the statement says
    ``:ids::INTEGER[]``, so that the server reads the parameter as an integer array when it
    binds it. (A parameter of type text cast in SQL instead is not folded into a constant: the
    array is parsed again for every row tested.)"""

    cache_ok = True
    render_bind_cast = True

    def get_col_spec(self, **kw: Any) -> str:
        return "INTEGER[]"

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str]:
        def process(value: Iterable[int]) -> str:
            return "{" + ",".join(map(str, value)) + "}"

        return process


def bound_ids(postgres: bool, name: str) -> Select[Any]:
    """A select of the ids bound as ``name``: a list (``IdList``) on PostgreSQL, JSON text on
    SQLite (``json.dumps`` of the list)."""
    if postgres:
        return select(func.unnest(bindparam(name, type_=IdList())))
    each = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return select(each.c.value)


def in_bound(col: ColumnElement[Any], name: str, postgres: bool) -> ColumnElement[bool]:
    """``col`` among the values bound as ``name`` (a list): on PostgreSQL ``= ANY`` of one
    array parameter, so that the statement's text is the same however many values there are
    (the driver prepares it once and the server plans it once); elsewhere an expanding IN."""
    if postgres:
        return col == any_(bindparam(name, type_=ARRAY(String())))
    return col.in_(bindparam(name, expanding=True))
