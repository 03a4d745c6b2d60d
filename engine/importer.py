"""Import files (DESIGN.md section 3) read, checked and staged; nothing of ours is written here.

A file with any bad row must change nothing, so reading is all or nothing and separate from
applying: every problem of every file is collected first and reported in one ``InvalidInput``
(one entry per bad row or record, each naming its file and row), and only a clean import goes
to the engine (``engine.apply_import``). Files apply in the order given: a record that appears
again in a later file updates the earlier one line by line, as importing the files one by one
would.

A file is read a row (CSV) or a record (JSON, ``engine.import_json``) at a time and each valid
one staged on disk (``engine.staging``), so that an import of millions of lines takes no more
memory than one of a thousand.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from engine.errors import InvalidInput
from engine.import_json import stage_json
from engine.records import PORecord, SORecord, error_reason, parse_flag
from engine.staging import Staging

PO_COLUMNS = ("po", "line", "sku", "quantity", "arrival_date")
SO_COLUMNS = ("order", "line", "sku", "quantity", "placed_at")
PO_HEADER = ",".join(PO_COLUMNS) + "[,supplier][,received]"
SO_HEADER = ",".join(SO_COLUMNS) + "[,customer][,email][,status][,allow_split]"
JSON_KEYS = ("purchase_orders", "sales_orders")
_BLANK = b" \t\r\n\x0b\x0c"


@dataclass
class ImportBatch:
    """The records of one or more files, in memory (small imports, tests)."""

    purchase: list[PORecord] = field(default_factory=list)
    sales: list[SORecord] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.purchase) + len(self.sales)


@contextmanager
def staged_files(paths: Sequence[str | Path]) -> Iterator[Staging]:
    """Read and check every file, staging its records for ``engine.apply_import``; or raise
    one ``InvalidInput`` listing every problem in all of them. The staged records are removed
    when the block ends."""
    with Staging() as staging:
        problems: list[str] = []
        for number, path in enumerate(paths):
            problems.extend(_stage_path(staging, number, Path(path)))
        if problems:
            names = ", ".join(str(p) for p in paths)
            noun = "problem" if len(problems) == 1 else "problems"
            raise InvalidInput(f"{len(problems)} {noun} in {names}; nothing was imported", problems)
        yield staging


def parse_files(paths: Sequence[str | Path]) -> ImportBatch:
    """Every record of the files in memory, or one ``InvalidInput`` listing every problem."""
    with staged_files(paths) as staging:
        return _in_memory(staging)


def parse_text(name: str, text: str) -> tuple[ImportBatch, list[str]]:
    """Parse one file's text, its format chosen by the extension of ``name``."""
    with Staging() as staging:
        problems = _stage_stream(staging, 0, name, io.BytesIO(text.encode()))
        return _in_memory(staging), problems


def _in_memory(staging: Staging) -> ImportBatch:
    return ImportBatch(
        [r for batch in staging.purchase_orders() for r in batch],
        [r for batch in staging.sales_orders() for r in batch],
    )


def _stage_path(staging: Staging, number: int, path: Path) -> list[str]:
    name = str(path)
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        return [f"{name}: no such file"]
    except IsADirectoryError:
        return [f"{name}: is a directory, not a file"]
    except OSError as exc:
        return [f"{name}: cannot read it ({exc.strerror or exc})"]
    with stream:
        try:
            return _stage_stream(staging, number, name, stream)
        except OSError as exc:
            staging.forget(number)
            return [f"{name}: cannot read it ({exc.strerror or exc})"]


class _NotUtf8(Exception):
    def __init__(self, offset: int, byte: bytes) -> None:
        super().__init__(offset)
        self.offset = offset
        self.byte = byte


def _stage_stream(staging: Staging, number: int, name: str, stream: IO[bytes]) -> list[str]:
    if _is_blank(stream):
        return [f"{name}: the file is empty"]
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".json":
            return stage_json(staging, number, name, stream)
        if suffix == ".csv":
            return _stage_csv(staging, number, name, stream)
    except _NotUtf8 as exc:
        staging.forget(number)  # what was read before the bad byte
        return [
            f"{name}: not UTF-8 text (byte 0x{exc.byte.hex()} at offset {exc.offset}); "
            "save it as UTF-8"
        ]
    return [f"{name}: unknown file type {suffix or '(none)'!r}; use .json or .csv"]


def _is_blank(stream: IO[bytes]) -> bool:
    """Whether the file holds nothing but white space (read only as far as the first thing
    that is not)."""
    first = True
    blank = True
    while chunk := stream.read(65536):
        if first:
            chunk, first = chunk.removeprefix(b"\xef\xbb\xbf"), False
        if chunk.strip(_BLANK):
            blank = False
            break
    stream.seek(0)
    return blank


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, decoded one at a time (a byte that is not UTF-8 raises
    ``_NotUtf8`` with its offset in the file). Lines keep their line breaks, as csv wants."""
    offset = 0
    for raw in stream:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _NotUtf8(offset + exc.start, raw[exc.start : exc.start + 1]) from None
        if offset == 0:
            text = text.removeprefix("\ufeff")
        offset += len(raw)
        yield text


# --- CSV --------------------------------------------------------------------------------------


def _stage_csv(staging: Staging, number: int, name: str, stream: IO[bytes]) -> list[str]:
    # Strict: a quote left open must be an error naming its row, not swallow the rows after it.
    lines = _decoded_lines(stream)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        problem = _csv_reason(exc)
    else:
        columns = [c.strip().lower() for c in header]
        kind, problem = _header_kind(columns)
    if problem:
        for _ in lines:  # the rest is not read as rows, but text that is not UTF-8 is told
            pass
        return [f"{name} row 1: {problem}"]
    model: type[PORecord | SORecord] = PORecord if kind == "po" else SORecord
    problems: list[tuple[int, str]] = []
    row = reader.line_num + 1
    try:
        for values in reader:
            start, row = row, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue  # a blank line
            record, issues = _csv_row(columns, values, model)
            if issues:
                problems.append((start, f"{name} row {start}: " + " and ".join(issues)))
            elif record is not None:
                staging.add(number, start, record)
    except csv.Error as exc:
        problems.append((row, f"{name} row {row}: {_csv_reason(exc)}"))
    conflicts = [
        (c.row, f"{name} row {c.row}: " + " and ".join(c.issues)) for c in staging.conflicts(number)
    ]
    return [text for _, text in heapq.merge(problems, conflicts)]


def _csv_reason(exc: csv.Error) -> str:
    """What went wrong reading CSV, in words (the row is the one the bad value starts on)."""
    said = str(exc)
    if said.startswith("unexpected end of data"):
        return (
            'a quoted value starts on this row and is never closed (no closing "), so the '
            "rows after it cannot be read"
        )
    if said.startswith("field larger than field limit"):
        return (
            f"a value runs over {csv.field_size_limit():,} characters: a quoted value that "
            "starts on this row is probably never closed"
        )
    if "expected after" in said:
        return (
            'a quote (") inside a quoted value must be doubled (""), or a quoted value that '
            "starts on this row is not closed where it should be"
        )
    return said


def _header_kind(columns: list[str]) -> tuple[str, str]:
    optional: tuple[str, ...]
    if "po" in columns:
        kind, required, optional, text = "po", PO_COLUMNS, ("supplier", "received"), PO_HEADER
    elif "order" in columns:
        kind, required = "order", SO_COLUMNS
        optional = ("customer", "email", "status", "allow_split")
        text = SO_HEADER
    else:
        return "", (
            f"header {','.join(columns)!r} is not an import header; expected {PO_HEADER} "
            f"or {SO_HEADER}"
        )
    issues = []
    unknown = [c for c in columns if c not in (*required, *optional)]
    missing = [c for c in required if c not in columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if unknown:
        issues.append("unknown column " + ", ".join(repr(c) for c in unknown))
    if missing:
        issues.append("missing column " + ", ".join(repr(c) for c in missing))
    if twice:
        issues.append("repeated column " + ", ".join(repr(c) for c in twice))
    if issues:
        return kind, f"header has {' and '.join(issues)}; expected {text}"
    return kind, ""


def _csv_row(
    columns: list[str], values: list[str], model: type[PORecord | SORecord]
) -> tuple[PORecord | SORecord | None, list[str]]:
    if len(values) != len(columns):
        return None, [f"has {len(values)} values but the header has {len(columns)} columns"]
    cells = {c: v.strip() for c, v in zip(columns, values, strict=True)}
    optional = {"supplier", "customer", "email", "received", "status", "allow_split"}
    empty = [c for c, v in cells.items() if not v and c not in optional]
    if empty:
        return None, [f"{c} is empty" for c in empty]
    data: dict[str, Any]
    if model is PORecord:
        data = {
            "po": cells["po"],
            "supplier": cells.get("supplier"),
            "lines": [
                {
                    **{k: cells[k] for k in ("line", "sku", "quantity", "arrival_date")},
                    "received_quantity": cells.get("received"),
                }
            ],
        }
    else:
        try:
            allow_split = parse_flag(cells.get("allow_split", ""), "allow_split")
        except ValueError as exc:
            return None, [str(exc)]
        data = {
            "allow_split": allow_split,
            "order": cells["order"],
            "customer": cells.get("customer"),
            "email": cells.get("email"),
            "placed_at": cells["placed_at"],
            "lines": [
                {
                    **{k: cells[k] for k in ("line", "sku", "quantity")},
                    "status": cells.get("status"),
                }
            ],
        }
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [error_reason(err) for err in exc.errors()]


def _what(kind: str) -> str:
    return "PO" if kind == "po" else "order"
