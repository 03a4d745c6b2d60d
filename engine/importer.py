"""Import files (DESIGN.md section 3) parsed into validated records; no database here.

A file with any bad row must change nothing, so parsing is all-or-nothing and separate from
applying: every problem of every file is collected first and reported in one ``InvalidInput``
(one entry per bad row or record, each naming its file and row), and only a clean batch goes
to ``engine.apply_records``. Files apply in the order given: a record that appears again in a
later file updates the earlier one line by line, as importing the files one by one would.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import InvalidInput
from engine.records import PORecord, SORecord, error_reason, field_path, kind_of

PO_COLUMNS = ("po", "line", "sku", "quantity", "arrival_date")
SO_COLUMNS = ("order", "line", "sku", "quantity", "placed_at")
PO_HEADER = ",".join(PO_COLUMNS) + "[,supplier]"
SO_HEADER = ",".join(SO_COLUMNS) + "[,customer]"
JSON_KEYS = ("purchase_orders", "sales_orders")


@dataclass
class ImportBatch:
    """The records of one or more files, ready for ``engine.apply_records``."""

    purchase: list[PORecord] = field(default_factory=list)
    sales: list[SORecord] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.purchase) + len(self.sales)


def parse_files(paths: Sequence[str | Path]) -> ImportBatch:
    """Parse every file, or raise one ``InvalidInput`` listing every problem in all of them."""
    problems: list[str] = []
    batches: list[ImportBatch] = []
    for path in paths:
        batch, issues = _parse_path(Path(path))
        batches.append(batch)
        problems.extend(issues)
    if problems:
        names = ", ".join(str(p) for p in paths)
        noun = "problem" if len(problems) == 1 else "problems"
        raise InvalidInput(f"{len(problems)} {noun} in {names}; nothing was imported", problems)
    return merge(batches)


def parse_text(name: str, text: str) -> tuple[ImportBatch, list[str]]:
    """Parse one file's text, its format chosen by the extension of ``name``."""
    suffix = Path(name).suffix.lower()
    if not text.strip():
        return ImportBatch(), [f"{name}: the file is empty"]
    if suffix == ".json":
        return _parse_json(name, text)
    if suffix == ".csv":
        return _parse_csv(name, text)
    return ImportBatch(), [f"{name}: unknown file type {suffix or '(none)'!r}; use .json or .csv"]


def merge(batches: Iterable[ImportBatch]) -> ImportBatch:
    """One batch from several: a PO or order seen again takes the later header and lines."""
    purchase: dict[str, PORecord] = {}
    sales: dict[str, SORecord] = {}
    for batch in batches:
        for p in batch.purchase:
            old = purchase.get(p.po)
            purchase[p.po] = p if old is None else _merge_lines(old, p)
        for s in batch.sales:
            prev = sales.get(s.order)
            sales[s.order] = s if prev is None else _merge_lines(prev, s)
    return ImportBatch(list(purchase.values()), list(sales.values()))


def _merge_lines(old: Any, new: Any) -> Any:
    lines = {ln.line: ln for ln in old.lines} | {ln.line: ln for ln in new.lines}
    return new.model_copy(update={"lines": sorted(lines.values(), key=lambda ln: ln.line)})


def _parse_path(path: Path) -> tuple[ImportBatch, list[str]]:
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ImportBatch(), [f"{name}: no such file"]
    except IsADirectoryError:
        return ImportBatch(), [f"{name}: is a directory, not a file"]
    except OSError as exc:
        return ImportBatch(), [f"{name}: cannot read it ({exc.strerror or exc})"]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start : exc.start + 1].hex()
        return ImportBatch(), [
            f"{name}: not UTF-8 text (byte 0x{byte} at offset {exc.start}); save it as UTF-8"
        ]
    return parse_text(name, text)


# --- JSON -------------------------------------------------------------------------------------


def _parse_json(name: str, text: str) -> tuple[ImportBatch, list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return ImportBatch(), [
            f"{name}: not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ]
    expected = 'an object {"purchase_orders": [...], "sales_orders": [...]}'
    if not isinstance(data, dict):
        return ImportBatch(), [f"{name}: expected {expected}, found {kind_of(data)}"]
    problems = [
        f"{name}: unknown key {key!r}; expected {' and/or '.join(JSON_KEYS)}"
        for key in data
        if key not in JSON_KEYS
    ]
    batch = ImportBatch()
    for key, model, number in (
        ("purchase_orders", PORecord, "po"),
        ("sales_orders", SORecord, "order"),
    ):
        items = data.get(key, [])
        if not isinstance(items, list):
            problems.append(f"{name} {key}: expected a list, found {kind_of(items)}")
            continue
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            where = f"{key}[{i}]"
            try:
                record = model.model_validate(item)
            except ValidationError as exc:
                problems.extend(
                    f"{name} {_json_path(where, err['loc'])}: {error_reason(err)}"
                    for err in exc.errors()
                )
                continue
            key_value = getattr(record, number)
            if key_value in seen:
                problems.append(
                    f"{name} {where}: {_what(number)} {key_value} is also at "
                    f"{key}[{seen[key_value]}]; give each one once"
                )
                continue
            seen[key_value] = i
            if isinstance(record, PORecord):
                batch.purchase.append(record)
            elif isinstance(record, SORecord):
                batch.sales.append(record)
    return batch, problems


def _json_path(where: str, loc: Sequence[int | str]) -> str:
    path = field_path(loc)
    return f"{where}.{path}" if path else where


# --- CSV --------------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int  # the line of the file the row starts on; the header is row 1
    record: PORecord | SORecord


def _parse_csv(name: str, text: str) -> tuple[ImportBatch, list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        return ImportBatch(), [f"{name} row 1: {exc}"]
    columns = [c.strip().lower() for c in header]
    kind, problem = _header_kind(columns)
    if problem:
        return ImportBatch(), [f"{name} row 1: {problem}"]
    model: type[PORecord | SORecord] = PORecord if kind == "po" else SORecord
    rows: list[_Row] = []
    problems: list[tuple[int, str]] = []
    number = reader.line_num + 1
    try:
        for values in reader:
            start, number = number, reader.line_num + 1
            if not any(v.strip() for v in values):
                continue  # a blank line
            row, issues = _csv_row(columns, values, model)
            if issues:
                problems.append((start, f"{name} row {start}: " + " and ".join(issues)))
            elif row is not None:
                rows.append(_Row(start, row))
    except csv.Error as exc:
        problems.append((number, f"{name} row {number}: {exc}"))
    records, group_problems = _group(name, rows, kind)
    return (
        ImportBatch(
            purchase=[r for r in records if isinstance(r, PORecord)],
            sales=[r for r in records if isinstance(r, SORecord)],
        ),
        [text for _, text in sorted(problems + group_problems)],
    )


def _header_kind(columns: list[str]) -> tuple[str, str]:
    if "po" in columns:
        kind, required, optional, text = "po", PO_COLUMNS, "supplier", PO_HEADER
    elif "order" in columns:
        kind, required, optional, text = "order", SO_COLUMNS, "customer", SO_HEADER
    else:
        return "", (
            f"header {','.join(columns)!r} is not an import header; expected {PO_HEADER} "
            f"or {SO_HEADER}"
        )
    issues = []
    unknown = [c for c in columns if c not in (*required, optional)]
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
    optional = {"supplier", "customer"}
    empty = [c for c, v in cells.items() if not v and c not in optional]
    if empty:
        return None, [f"{c} is empty" for c in empty]
    if model is PORecord:
        data = {
            "po": cells["po"],
            "supplier": cells.get("supplier"),
            "lines": [{k: cells[k] for k in ("line", "sku", "quantity", "arrival_date")}],
        }
    else:
        data = {
            "order": cells["order"],
            "customer": cells.get("customer"),
            "placed_at": cells["placed_at"],
            "lines": [{k: cells[k] for k in ("line", "sku", "quantity")}],
        }
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [error_reason(err) for err in exc.errors()]


def _group(
    name: str, rows: list[_Row], kind: str
) -> tuple[list[PORecord | SORecord], list[tuple[int, str]]]:
    """Rows of one PO or order become one record; a row that disagrees with the first row of
    its group (another supplier, placed_at or customer, or a line number again) is bad."""
    heads = ("supplier",) if kind == "po" else ("placed_at", "customer")
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(getattr(row.record, kind), []).append(row)
    records: list[PORecord | SORecord] = []
    problems: list[tuple[int, str]] = []
    for key, members in groups.items():
        first = members[0]
        lines: dict[int, _Row] = {}
        clean = True
        for row in members:
            issues = []
            for head in heads if row is not first else ():
                mine, theirs = getattr(row.record, head), getattr(first.record, head)
                if mine != theirs:
                    issues.append(
                        f"{_what(kind)} {key} has {head} {_show(mine)} here but "
                        f"{_show(theirs)} on row {first.number}"
                    )
            line_no = row.record.lines[0].line
            if line_no in lines:
                issues.append(
                    f"{_what(kind)} {key} line {line_no} is also on row {lines[line_no].number}"
                )
            else:
                lines[line_no] = row
            if issues:
                clean = False
                problems.append((row.number, f"{name} row {row.number}: " + " and ".join(issues)))
        if clean:
            merged = [r.record.lines[0] for r in lines.values()]
            records.append(first.record.model_copy(update={"lines": merged}))
    return records, problems


def _what(kind: str) -> str:
    return "PO" if kind == "po" else "order"


def _show(value: Any) -> str:
    return repr(value.isoformat() if hasattr(value, "isoformat") else value)
