"""A JSON import file read as a stream (ijson): one record at a time is built, validated and
staged, so a file of a million lines takes no more memory than one of a thousand.

The problems it reports are those a whole-document parse would: an unknown top-level key, a
list that is not one, each bad field of each record with its path (``sales_orders[3].lines[0]
.quantity``) and a record given twice in one file.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator, Sequence
from typing import IO, Any

import ijson
from ijson.common import ObjectBuilder
from pydantic import ValidationError

from engine.records import PORecord, SORecord, error_reason, field_path
from engine.staging import Staging

LISTS: dict[str, tuple[type[PORecord | SORecord], str]] = {
    "purchase_orders": (PORecord, "PO"),
    "sales_orders": (SORecord, "order"),
}
EXPECTED = 'an object {"purchase_orders": [...], "sales_orders": [...]}'
# A syntax error in a file up to this size is located by line and column (by parsing it again
# whole, which a bigger file would cost too much memory for).
LOCATE_UP_TO = 16 * 2**20
_KINDS = {
    "start_map": "an object",
    "start_array": "a list",
    "string": "a string",
    "number": "a number",
    "boolean": "true/false",
    "null": "null",
}


class _NotUtf8(Exception):
    def __init__(self, offset: int, byte: bytes) -> None:
        super().__init__(offset)
        self.offset = offset
        self.byte = byte


def stage_json(staging: Staging, number: int, name: str, stream: IO[bytes]) -> list[str]:
    """Stage every valid record of the file as file ``number``; return its problems."""
    checked = _Utf8Reader(stream)
    try:
        return _stage(staging, number, name, ijson.parse(checked, use_float=True))
    except _NotUtf8 as exc:
        problem = (
            f"{name}: not UTF-8 text (byte 0x{exc.byte.hex()} at offset {exc.offset}); "
            "save it as UTF-8"
        )
    except ijson.JSONError as exc:
        problem = f"{name}: not valid JSON: {_where(stream, exc)}"
    staging.forget(number)
    return [problem]


def _stage(staging: Staging, number: int, name: str, events: Iterator[Any]) -> list[str]:
    _, event, _ = next(events)
    if event != "start_map":
        _drain(events)  # a document that is not JSON at all says so first
        return [f"{name}: expected {EXPECTED}, found {_KINDS.get(event, event)}"]
    unknown: list[str] = []
    problems: list[tuple[int, int, str]] = []  # (list, record, text), in that order
    given: set[str] = set()
    for _, event, key in events:
        if event == "end_map":
            break
        value = next(events)[1]
        if key not in LISTS:
            unknown.append(f"{name}: unknown key {key!r}; expected {' and/or '.join(LISTS)}")
            _skip(value, events)
        elif key in given:
            unknown.append(f"{name}: key {key!r} is given twice; give each list once")
            _skip(value, events)
        elif value != "start_array":
            problems.append((list(LISTS).index(key), -1, f"{name} {key}: expected a list, found "
                                                       f"{_KINDS.get(value, value)}"))  # fmt: skip
            _skip(value, events)
        else:
            given.add(key)
            problems.extend(_stage_list(staging, number, name, key, events))
    _drain(events)  # anything after the object is a syntax error
    for kind, key, row, first in staging.repeated(number):
        where = "purchase_orders" if kind == "po" else "sales_orders"
        what = LISTS[where][1]
        problems.append(
            (
                list(LISTS).index(where),
                row,
                f"{name} {where}[{row}]: {what} {key} is also at {where}[{first}]; give each "
                "one once",
            )
        )
    return unknown + [text for _, _, text in sorted(problems, key=lambda p: p[:2])]


def _stage_list(
    staging: Staging, number: int, name: str, key: str, events: Iterator[Any]
) -> Iterator[tuple[int, int, str]]:
    """Each item of the list ``key``, built from its events, validated and staged."""
    model, _ = LISTS[key]
    order = list(LISTS).index(key)
    for i, item in enumerate(_items(events)):
        where = f"{key}[{i}]"
        try:
            record = model.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                yield order, i, f"{name} {_path(where, err['loc'])}: {error_reason(err)}"
            continue
        staging.add(number, i, record)


def _items(events: Iterator[Any]) -> Iterator[Any]:
    """The values of the list whose ``start_array`` was just read, one at a time."""
    for _, event, value in events:
        if event == "end_array":
            return
        builder = ObjectBuilder()
        builder.event(event, value)
        depth = 1 if event in ("start_map", "start_array") else 0
        while depth:
            _, event, value = next(events)
            builder.event(event, value)
            depth += event in ("start_map", "start_array")
            depth -= event in ("end_map", "end_array")
        yield builder.value


def _skip(first: str, events: Iterator[Any]) -> None:
    depth = 1 if first in ("start_map", "start_array") else 0
    while depth:
        event = next(events)[1]
        depth += event in ("start_map", "start_array")
        depth -= event in ("end_map", "end_array")


def _drain(events: Iterator[Any]) -> None:
    for _ in events:
        pass


def _path(where: str, loc: Sequence[int | str]) -> str:
    path = field_path(loc)
    return f"{where}.{path}" if path else where


def _where(stream: IO[bytes], exc: Exception) -> str:
    """A syntax error in words, by line and column when the file is small enough to parse
    whole again (the streaming parser tells its place only by an excerpt)."""
    stream.seek(0, io.SEEK_END)
    if stream.tell() <= LOCATE_UP_TO:
        stream.seek(0)
        try:
            json.loads(stream.read().decode("utf-8-sig"))
        except json.JSONDecodeError as located:
            return f"{located.msg} (line {located.lineno} column {located.colno})"
        except UnicodeDecodeError:
            pass
    said = exc.args[0] if exc.args else exc
    if isinstance(said, bytes):
        said = said.decode("utf-8", "replace")
    return str(said).strip().splitlines()[0]


class _Utf8Reader:
    """The file's bytes as they are, less a leading byte order mark, checked to be UTF-8 as
    they pass (raising ``_NotUtf8`` with the offset of the first bad byte)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0
        self._start = True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._start and data:  # (a reader may first ask for 0 bytes, to see their type)
            self._start = False
            if data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
                self._offset = len(codecs.BOM_UTF8)
        # The decoder holds back a sequence cut by the end of the last chunk: the bytes it
        # checks now start that many bytes before this chunk.
        held = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            bad = self._offset - held + exc.start
            raise _NotUtf8(bad, exc.object[exc.start : exc.start + 1]) from None
        self._offset += len(data)
        return data
