"""``spreadsheets.get`` and ``spreadsheets:batchUpdate`` for the Sheets stand-in, and developer
metadata (created by batchUpdate, found with ``developerMetadata:search``).

A batchUpdate runs on a copy of the spreadsheet that replaces it only when every request
succeeded, as Google applies a batch atomically. Errors name the request the way Google does
(``Invalid requests[2].deleteDimension: ...``); a request kind Google does not know is refused as
unknown JSON; one Google knows but the stand-in does not model raises NotImplementedError, which
the stand-in reports as its own failure rather than pretending.

Formatting (borders, colours, conditional formats, banding) is accepted and kept but has no effect
on values, except number formats of type DATE/DATE_TIME/TIME, which make numbers read as dates.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

from tests.standins.sheets.cells import (
    ApiError,
    DateCell,
    Formula,
    cell_data_value,
    date_pattern_of,
    entered_value,
    invalid,
    render,
)
from tests.standins.sheets.grid import DEFAULT_COLUMNS, DEFAULT_ROWS, Book, Sheet, exceeds

Handler = Callable[[Book, dict[str, Any]], dict[str, Any] | None]
HANDLERS: dict[str, Handler] = {}
NOT_MODELLED = {
    "addChart", "addDataSource", "addDimensionGroup", "addFilterView", "addSlicer", "addTable",
    "appendCells", "autoFill", "cancelDataSourceRefresh", "copyPaste", "cutPaste",
    "deleteDataSource", "deleteDimensionGroup", "deleteDuplicates", "deleteEmbeddedObject",
    "deleteFilterView", "deleteRange", "deleteTable", "duplicateFilterView", "duplicateSheet",
    "findReplace", "insertRange", "pasteData", "randomizeRange", "refreshDataSource",
    "textToColumns", "trimWhitespace", "updateChartSpec", "updateDataSource",
    "updateBanding", "updateConditionalFormatRule", "updateDimensionGroup",
    "updateEmbeddedObjectBorder", "updateEmbeddedObjectPosition", "updateNamedRange",
    "updateFilterView", "updateSlicerSpec", "updateTable",
}  # fmt: skip
_SHEET_BASICS = ("sheetId", "title", "index", "sheetType", "gridProperties")


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in kinds:
            HANDLERS[kind] = handler
        return handler

    return register


def batch_update(book: Book, body: dict[str, Any]) -> tuple[Book, dict[str, Any]]:
    """Apply ``body["requests"]`` to a copy of ``book``: (the new book, the response)."""
    work = book.clone()
    replies = []
    for i, request in enumerate(body.get("requests") or []):
        if not isinstance(request, dict) or len(request) != 1:
            raise invalid(f"Invalid requests[{i}]: exactly one kind of request must be set.")
        ((kind, params),) = request.items()
        handler = HANDLERS.get(kind)
        if handler is None:
            if kind in NOT_MODELLED:
                raise NotImplementedError(f"the Sheets stand-in does not model {kind}")
            raise invalid(
                f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{i}]': "
                "Cannot find field."
            )
        try:
            reply = handler(work, params or {})
        except ApiError as error:
            raise invalid(f"Invalid requests[{i}].{kind}: {error.message}") from None
        replies.append({kind: reply} if reply is not None else {})
    answer: dict[str, Any] = {"spreadsheetId": work.id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        answer["updatedSpreadsheet"] = describe(
            work, grid=bool(body.get("responseIncludeGridData"))
        )
    return work, answer


# --- spreadsheets.get --------------------------------------------------------------------------


def describe(
    book: Book, *, ranges: list[str] | None = None, fields: str = "", grid: bool = False
) -> dict[str, Any]:
    """The Spreadsheet resource. ``fields`` is not applied (a superset is returned), except that
    the grid metadata (``data``) is only included when asked for, as Google does."""
    sheets = book.sheets
    if ranges:
        wanted = {id(book.parse_range(r).sheet) for r in ranges}
        sheets = [s for s in sheets if id(s) in wanted]
    with_data = grid or any(w in fields for w in ("data", "rowMetadata", "columnMetadata"))
    answer: dict[str, Any] = {
        "spreadsheetId": book.id,
        "properties": copy.deepcopy(book.props),
        "sheets": [_describe_sheet(book, s, with_data, grid) for s in sheets],
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit",
    }
    if book.named_ranges:
        answer["namedRanges"] = copy.deepcopy(book.named_ranges)
    if book.metadata:
        answer["developerMetadata"] = copy.deepcopy(book.metadata)
    return answer


def _describe_sheet(book: Book, sheet: Sheet, with_data: bool, grid: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"properties": sheet.properties(book.index_of(sheet))}
    for key, value in (
        ("protectedRanges", sheet.protected),
        ("conditionalFormats", sheet.conditional),
        ("merges", sheet.merges),
        ("bandedRanges", sheet.banded),
        ("basicFilter", sheet.basic_filter),
        ("developerMetadata", [m for m in sheet.metadata if "sheetId" in m["location"]]),
    ):
        if value:
            entry[key] = copy.deepcopy(value)
    if with_data:
        entry["data"] = [_grid_data(sheet, grid)]
    return entry


def _grid_data(sheet: Sheet, with_values: bool) -> dict[str, Any]:
    """Row and column properties (and, with ``includeGridData``, cells) of a whole tab."""
    data: dict[str, Any] = {}
    for dimension, key, pixels in (("ROWS", "rowMetadata", 21), ("COLUMNS", "columnMetadata", 100)):
        attached: dict[int, list[dict[str, Any]]] = {}
        for md in sheet.metadata:
            where = md["location"].get("dimensionRange")
            if where and where["dimension"] == dimension:
                for i in range(where.get("startIndex", 0), where["endIndex"]):
                    attached.setdefault(i, []).append(copy.deepcopy(md))
        entries = []
        for i, props in enumerate(sheet.dimension_props(dimension)):
            entry = {"pixelSize": pixels, **(props or {})}
            if i in attached:
                entry["developerMetadata"] = attached[i]
            entries.append(entry)
        data[key] = entries
    if with_values:
        rows = sheet.stored(0, sheet.row_count, 0, sheet.col_count)
        data["rowData"] = [{"values": [_cell_data(v) for v in row]} if row else {} for row in rows]
    return data


def _cell_data(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    result = value.value if isinstance(value, Formula) else value
    effective = entered_value(result.serial if isinstance(result, DateCell) else result)
    data: dict[str, Any] = {
        "userEnteredValue": entered_value(value),
        "effectiveValue": effective,
        "formattedValue": render(value, "FORMATTED_VALUE", "SERIAL_NUMBER"),
    }
    if isinstance(value, DateCell):
        data["userEnteredFormat"] = {"numberFormat": {"type": "DATE", "pattern": value.pattern}}
    return data


# --- field masks -------------------------------------------------------------------------------


def mask_paths(fields: str | None, source: dict[str, Any]) -> list[str]:
    """``"title,gridProperties(frozenRowCount)"`` -> ["title", "gridProperties.frozenRowCount"]."""
    if fields is None or not fields.strip():
        raise invalid("At least one field must be specified in 'fields'.")
    if fields.strip() == "*":
        return list(source)
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(fields):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(fields[start:i])
            start = i + 1
    parts.append(fields[start:])
    paths = []
    for part in (p.strip() for p in parts):
        if "(" in part:
            head, inner = part.split("(", 1)
            paths += [f"{head}.{p}" for p in mask_paths(inner.rstrip(")"), {})]
        elif part:
            paths.append(part)
    return paths


def apply_mask(source: dict[str, Any], target: dict[str, Any], paths: list[str]) -> None:
    """Copy each masked path from source to target; a path absent in source resets it."""
    for path in paths:
        keys = path.split(".")
        src: Any = source
        dst = target
        for key in keys[:-1]:
            src = src.get(key) if isinstance(src, dict) else None
            dst = dst.setdefault(key, {})
        if isinstance(src, dict) and keys[-1] in src:
            dst[keys[-1]] = copy.deepcopy(src[keys[-1]])
        else:
            dst.pop(keys[-1], None)


# --- sheets and the spreadsheet ------------------------------------------------------------------


@handles("addSheet")
def _add_sheet(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    props = p.get("properties") or {}
    grid = props.get("gridProperties") or {}
    title = props.get("title") or next(
        f"Sheet{n}" for n in range(1, len(book.sheets) + 2) if book.by_title(f"Sheet{n}") is None
    )
    if any(s.title.casefold() == title.casefold() for s in book.sheets):
        raise invalid(f'A sheet with the name "{title}" already exists. Please enter another name.')
    index = props.get("index")
    sheet = book.add_sheet(
        title,
        grid.get("rowCount", DEFAULT_ROWS),
        grid.get("columnCount", DEFAULT_COLUMNS),
        sheet_id=props.get("sheetId"),
        index=None if index is None else max(0, min(index, len(book.sheets))),
    )
    merged = sheet.properties(book.index_of(sheet))
    apply_mask(props, merged, [k for k in props if k not in ("sheetId", "title", "index")])
    set_sheet_properties(book, sheet, merged)
    return {"properties": sheet.properties(book.index_of(sheet))}


@handles("deleteSheet")
def _delete_sheet(book: Book, p: dict[str, Any]) -> None:
    sheet = book.sheet(p.get("sheetId", 0))
    if len(book.sheets) == 1:
        raise invalid("You can't remove all the sheets in a document.")
    book.sheets.remove(sheet)


@handles("updateSheetProperties")
def _update_sheet_properties(book: Book, p: dict[str, Any]) -> None:
    props = p.get("properties") or {}
    sheet = book.sheet(props.get("sheetId", 0))
    current = sheet.properties(book.index_of(sheet))
    paths = mask_paths(p.get("fields"), {k: v for k, v in props.items() if k != "sheetId"})
    apply_mask(props, current, paths)
    set_sheet_properties(book, sheet, current)


def set_sheet_properties(book: Book, sheet: Sheet, new: dict[str, Any]) -> None:
    title = new.get("title") or ""
    if not title.strip():
        raise invalid("The sheet name cannot be empty.")
    if any(s is not sheet and s.title.casefold() == title.casefold() for s in book.sheets):
        raise invalid(f'A sheet with the name "{title}" already exists. Please enter another name.')
    grid = new.get("gridProperties") or {}
    rows = grid.get("rowCount") or sheet.row_count
    cols = grid.get("columnCount") or sheet.col_count
    book.check_growth(rows * cols - sheet.row_count * sheet.col_count)
    if grid.get("frozenRowCount", 0) >= rows:
        raise invalid("You can't freeze all visible rows on the sheet.")
    if grid.get("frozenColumnCount", 0) >= cols:
        raise invalid("You can't freeze all visible columns on the sheet.")
    if new.get("hidden") and all(s.extra.get("hidden") for s in book.sheets if s is not sheet):
        raise invalid("You can't hide all the sheets in a document.")
    index = new.get("index", book.index_of(sheet))
    book.sheets.remove(sheet)
    book.sheets.insert(max(0, min(index, len(book.sheets))), sheet)
    sheet.title = title
    sheet.resize(rows, cols)
    sheet.grid_extra = {
        k: v for k, v in grid.items() if k not in ("rowCount", "columnCount") and v
    }  # Google leaves zero and false values out of its answers
    sheet.extra = {k: v for k, v in new.items() if k not in _SHEET_BASICS and v}


@handles("updateSpreadsheetProperties")
def _update_spreadsheet_properties(book: Book, p: dict[str, Any]) -> None:
    props = p.get("properties") or {}
    updated = copy.deepcopy(book.props)
    apply_mask(props, updated, mask_paths(p.get("fields"), props))
    if not str(updated.get("title", "")).strip():
        raise invalid("The spreadsheet title cannot be empty.")
    book.props = updated


# --- rows and columns ----------------------------------------------------------------------------


def dimension_range(book: Book, where: dict[str, Any] | None) -> tuple[Sheet, str, int, int]:
    where = where or {}
    sheet = book.sheet(where.get("sheetId", 0))
    dimension = where.get("dimension")
    if dimension not in ("ROWS", "COLUMNS"):
        raise invalid("range.dimension must be ROWS or COLUMNS.")
    size = sheet.size(dimension)
    start, end = where.get("startIndex", 0), where.get("endIndex", size)
    if start < 0 or end <= start:
        raise invalid("range.startIndex must be less than range.endIndex.")
    if end > size:
        box = f"{dimension.lower()} {start}:{end}"
        raise exceeds(sheet.title, box, sheet.row_count, sheet.col_count)
    return sheet, dimension, start, end


@handles("appendDimension")
def _append_dimension(book: Book, p: dict[str, Any]) -> None:
    sheet = book.sheet(p.get("sheetId", 0))
    dimension, length = p.get("dimension"), p.get("length", 0)
    if dimension not in ("ROWS", "COLUMNS") or length <= 0:
        raise invalid("dimension must be ROWS or COLUMNS and length must be positive.")
    other = sheet.col_count if dimension == "ROWS" else sheet.row_count
    book.check_growth(length * other)
    sheet.insert(dimension, sheet.size(dimension), length)


@handles("insertDimension")
def _insert_dimension(book: Book, p: dict[str, Any]) -> None:
    where = p.get("range") or {}
    sheet = book.sheet(where.get("sheetId", 0))
    dimension = where.get("dimension")
    start, end = where.get("startIndex", 0), where.get("endIndex", 0)
    if dimension not in ("ROWS", "COLUMNS") or start < 0 or end <= start:
        raise invalid("range must name ROWS or COLUMNS with startIndex < endIndex.")
    if start > sheet.size(dimension):
        raise invalid(f"range.startIndex {start} is past the end of the sheet.")
    before = bool(p.get("inheritFromBefore"))
    if before and start == 0:
        raise invalid("Cannot inherit properties from before the first row or column.")
    other = sheet.col_count if dimension == "ROWS" else sheet.row_count
    book.check_growth((end - start) * other)
    sheet.insert(dimension, start, end - start, inherit="before" if before else "after")


@handles("deleteDimension")
def _delete_dimension(book: Book, p: dict[str, Any]) -> None:
    sheet, dimension, start, end = dimension_range(book, p.get("range"))
    frozen = sheet.grid_extra.get("frozenRowCount" if dimension == "ROWS" else "frozenColumnCount")
    if sheet.size(dimension) - (end - start) <= (frozen or 0):
        raise invalid(f"Sorry, it is not possible to delete all non-frozen {dimension.lower()}.")
    sheet.delete(dimension, start, end)


@handles("moveDimension")
def _move_dimension(book: Book, p: dict[str, Any]) -> None:
    sheet, dimension, start, end = dimension_range(book, p.get("source"))
    dest = p.get("destinationIndex", 0)
    if not 0 <= dest <= sheet.size(dimension):
        raise invalid(f"destinationIndex {dest} is outside the sheet.")
    sheet.move(dimension, start, end, dest)


@handles("updateDimensionProperties")
def _update_dimension_properties(book: Book, p: dict[str, Any]) -> None:
    sheet, dimension, start, end = dimension_range(book, p.get("range"))
    props = p.get("properties") or {}
    paths = mask_paths(p.get("fields"), props)
    items = sheet.dimension_props(dimension)
    for i in range(start, end):
        updated = dict(items[i] or {})
        apply_mask(props, updated, paths)
        items[i] = {k: v for k, v in updated.items() if v} or None


@handles("autoResizeDimensions")
def _auto_resize(book: Book, p: dict[str, Any]) -> None:
    dimension_range(book, p.get("dimensions"))


# --- cells ---------------------------------------------------------------------------------------


@handles("repeatCell")
def _repeat_cell(book: Book, p: dict[str, Any]) -> None:
    sheet, r0, r1, c0, c1 = book.grid_bounds(p.get("range") or {})
    cell = p.get("cell") or {}
    paths = mask_paths(p.get("fields"), cell)
    if any(path.startswith("userEnteredValue") for path in paths):
        value = cell_data_value(cell)
        sheet.write(r0, c0, [[value] * (c1 - c0) for _ in range(r0, r1)])
    if any(path in ("userEnteredFormat", "userEnteredFormat.numberFormat") for path in paths):
        pattern = date_pattern_of(cell.get("userEnteredFormat", {}).get("numberFormat"))
        sheet.formats.append({"range": copy.deepcopy(p["range"]), "pattern": pattern})
        _reformat(sheet, r0, r1, c0, c1, pattern)


def _reformat(sheet: Sheet, r0: int, r1: int, c0: int, c1: int, pattern: str | None) -> None:
    """A new number format on cells already holding dates."""
    for row in sheet.cells[r0:r1]:
        for j in range(c0, min(c1, len(row))):
            if isinstance(row[j], DateCell):
                row[j] = DateCell(row[j].serial, pattern) if pattern else row[j].serial


@handles("updateCells")
def _update_cells(book: Book, p: dict[str, Any]) -> None:
    if "range" in p:
        sheet, r0, _, c0, _ = book.grid_bounds(p["range"])
    else:
        start = p.get("start") or {}
        sheet = book.sheet(start.get("sheetId", 0))
        r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
    rows = p.get("rows") or []
    paths = mask_paths(p.get("fields"), {"userEnteredValue": None})
    width = max((len(r.get("values") or []) for r in rows), default=0)
    if r0 + len(rows) > sheet.row_count or c0 + width > sheet.col_count:
        box = f"R{r0 + 1}C{c0 + 1}:R{r0 + len(rows)}C{c0 + width}"
        raise exceeds(sheet.title, box, sheet.row_count, sheet.col_count)
    if any(path.startswith("userEnteredValue") for path in paths):
        sheet.write(r0, c0, [[cell_data_value(c) for c in r.get("values") or []] for r in rows])


@handles("sortRange")
def _sort_range(book: Book, p: dict[str, Any]) -> None:
    sheet, r0, r1, c0, c1 = book.grid_bounds(p.get("range") or {})
    specs = [
        (s.get("dimensionIndex", 0), s.get("sortOrder") == "DESCENDING")
        for s in p.get("sortSpecs") or []
    ]
    sheet.sort(r0, r1, c0, c1, specs)


@handles("setDataValidation")
def _set_data_validation(book: Book, p: dict[str, Any]) -> None:
    book.grid_bounds(p.get("range") or {})
    rule = p.get("rule")
    if rule is not None and not (rule.get("condition") or {}).get("type"):
        raise invalid("rule.condition.type is required.")
    sheet = book.sheet(p["range"].get("sheetId", 0))
    sheet.validations.append({"range": copy.deepcopy(p["range"]), "rule": copy.deepcopy(rule)})


@handles("updateBorders", "mergeCells", "unmergeCells")
def _formatting(book: Book, p: dict[str, Any]) -> None:
    sheet, *_ = book.grid_bounds(p.get("range") or {})
    if "mergeType" in p:
        sheet.merges.append(copy.deepcopy(p["range"]))


@handles("setBasicFilter")
def _set_basic_filter(book: Book, p: dict[str, Any]) -> None:
    found = p.get("filter") or {}
    sheet, *_ = book.grid_bounds(found.get("range") or {})
    sheet.basic_filter = copy.deepcopy(found)


@handles("clearBasicFilter")
def _clear_basic_filter(book: Book, p: dict[str, Any]) -> None:
    book.sheet(p.get("sheetId", 0)).basic_filter = None


@handles("addConditionalFormatRule")
def _add_conditional(book: Book, p: dict[str, Any]) -> None:
    rule = copy.deepcopy(p.get("rule") or {})
    if not rule.get("ranges"):
        raise invalid("rule.ranges must not be empty.")
    sheet, *_ = book.grid_bounds(rule["ranges"][0])
    sheet.conditional.insert(p.get("index", len(sheet.conditional)), rule)


@handles("deleteConditionalFormatRule")
def _delete_conditional(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    sheet = book.sheet(p.get("sheetId", 0))
    index = p.get("index", 0)
    if not 0 <= index < len(sheet.conditional):
        raise invalid(f"No conditional format on sheet {sheet.sheet_id} at index {index}.")
    return {"rule": sheet.conditional.pop(index)}


@handles("addBanding")
def _add_banding(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    banded = copy.deepcopy(p.get("bandedRange") or {})
    sheet, *_ = book.grid_bounds(banded.get("range") or {})
    banded.setdefault("bandedRangeId", book.new_id())
    sheet.banded.append(banded)
    return {"bandedRange": copy.deepcopy(banded)}


@handles("deleteBanding")
def _delete_banding(book: Book, p: dict[str, Any]) -> None:
    for sheet in book.sheets:
        for banded in sheet.banded:
            if banded["bandedRangeId"] == p.get("bandedRangeId"):
                sheet.banded.remove(banded)
                return
    raise invalid(f"No banded range with id: {p.get('bandedRangeId')}")


# --- protection and named ranges -----------------------------------------------------------------


@handles("addProtectedRange")
def _add_protected_range(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    protected = copy.deepcopy(p.get("protectedRange") or {})
    if "range" not in protected:
        raise invalid("protectedRange.range is required.")
    sheet, *_ = book.grid_bounds(protected["range"])
    if "protectedRangeId" in protected:
        book.issued.add(protected["protectedRangeId"])
    protected.setdefault("protectedRangeId", book.new_id())
    protected["requestingUserCanEdit"] = True
    sheet.protected.append(protected)
    return {"protectedRange": copy.deepcopy(protected)}


def _find_protected(book: Book, protected_id: Any) -> tuple[Sheet, dict[str, Any]]:
    for sheet in book.sheets:
        for protected in sheet.protected:
            if protected["protectedRangeId"] == protected_id:
                return sheet, protected
    raise invalid(f"No protected range with id: {protected_id}")


@handles("updateProtectedRange")
def _update_protected_range(book: Book, p: dict[str, Any]) -> None:
    update = p.get("protectedRange") or {}
    _, protected = _find_protected(book, update.get("protectedRangeId"))
    apply_mask(update, protected, mask_paths(p.get("fields"), update))
    book.grid_bounds(protected["range"])


@handles("deleteProtectedRange")
def _delete_protected_range(book: Book, p: dict[str, Any]) -> None:
    sheet, protected = _find_protected(book, p.get("protectedRangeId"))
    sheet.protected.remove(protected)


@handles("addNamedRange")
def _add_named_range(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    named = copy.deepcopy(p.get("namedRange") or {})
    if not named.get("name") or any(n["name"] == named["name"] for n in book.named_ranges):
        raise invalid(f"Named range name {named.get('name')!r} is missing or already used.")
    book.grid_bounds(named.get("range") or {})
    named.setdefault("namedRangeId", secrets.token_hex(6))
    book.named_ranges.append(named)
    return {"namedRange": copy.deepcopy(named)}


@handles("deleteNamedRange")
def _delete_named_range(book: Book, p: dict[str, Any]) -> None:
    kept = [n for n in book.named_ranges if n["namedRangeId"] != p.get("namedRangeId")]
    if len(kept) == len(book.named_ranges):
        raise invalid(f"No named range with id: {p.get('namedRangeId')}")
    book.named_ranges = kept


# --- developer metadata --------------------------------------------------------------------------


@handles("createDeveloperMetadata")
def _create_metadata(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    md = copy.deepcopy(p.get("developerMetadata") or {})
    if not md.get("metadataKey"):
        raise invalid("developerMetadata.metadataKey is required.")
    if md.get("visibility") not in ("DOCUMENT", "PROJECT"):
        raise invalid("developerMetadata.visibility must be DOCUMENT or PROJECT.")
    location = md.get("location") or {}
    holder: list[dict[str, Any]]
    if location.get("spreadsheet"):
        holder, where = book.metadata, {"locationType": "SPREADSHEET", "spreadsheet": True}
    elif "sheetId" in location:
        holder = book.sheet(location["sheetId"]).metadata
        where = {"locationType": "SHEET", "sheetId": location["sheetId"]}
    elif "dimensionRange" in location:
        sheet, dimension, start, end = dimension_range(book, location["dimensionRange"])
        holder = sheet.metadata
        span = {"sheetId": sheet.sheet_id, "dimension": dimension}
        span.update(startIndex=start, endIndex=end)
        where = {"locationType": dimension[:-1], "dimensionRange": span}
    else:
        raise invalid("developerMetadata.location must be set.")
    if "metadataId" in md and any(m["metadataId"] == md["metadataId"] for m in book.all_metadata()):
        raise invalid(f"Developer metadata with ID {md['metadataId']} already exists.")
    if "metadataId" in md:
        book.issued.add(md["metadataId"])
    md.setdefault("metadataId", book.new_id())
    md["location"] = where
    holder.append(md)
    return {"developerMetadata": copy.deepcopy(md)}


@handles("deleteDeveloperMetadata")
def _delete_metadata(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    found = [md for md in book.all_metadata() if matches(book, md, p.get("dataFilter") or {})]
    ids = {md["metadataId"] for md in found}
    book.metadata = [md for md in book.metadata if md["metadataId"] not in ids]
    for sheet in book.sheets:
        sheet.metadata = [md for md in sheet.metadata if md["metadataId"] not in ids]
    return {"deletedDeveloperMetadata": copy.deepcopy(found)}


@handles("updateDeveloperMetadata")
def _update_metadata(book: Book, p: dict[str, Any]) -> dict[str, Any]:
    update = p.get("developerMetadata") or {}
    paths = mask_paths(p.get("fields"), update)
    if any(path.startswith(("location", "metadataId")) for path in paths):
        raise NotImplementedError("the Sheets stand-in does not move developer metadata")
    found = [
        md
        for md in book.all_metadata()
        if any(matches(book, md, f) for f in p.get("dataFilters") or [])
    ]
    for md in found:
        apply_mask(update, md, paths)
    return {"developerMetadata": copy.deepcopy(found)}


def search_metadata(book: Book, body: dict[str, Any]) -> dict[str, Any]:
    """``developerMetadata:search``: each match with the filters it matched."""
    matched = []
    for md in book.all_metadata():
        hits = [f for f in body.get("dataFilters") or [] if matches(book, md, f)]
        if hits:
            matched.append({"developerMetadata": copy.deepcopy(md), "dataFilters": hits})
    return {"matchedDeveloperMetadata": matched} if matched else {}


def matches(book: Book, md: dict[str, Any], data_filter: dict[str, Any]) -> bool:
    lookup = data_filter.get("developerMetadataLookup")
    if lookup is None:
        raise NotImplementedError("the Sheets stand-in only filters metadata by lookup")
    for key in ("metadataId", "metadataKey", "metadataValue", "visibility"):
        if key in lookup and md.get(key) != lookup[key]:
            return False
    location = md["location"]
    if "locationType" in lookup and location["locationType"] != lookup["locationType"]:
        return False
    wanted = lookup.get("metadataLocation")
    if not wanted:
        return True
    exact = lookup.get("locationMatchingStrategy") == "EXACT_LOCATION"
    if wanted.get("spreadsheet"):
        return exact is False or location["locationType"] == "SPREADSHEET"
    if "sheetId" in wanted:
        on_sheet = location.get("sheetId", location.get("dimensionRange", {}).get("sheetId"))
        return on_sheet == wanted["sheetId"] and (not exact or "sheetId" in location)
    if "dimensionRange" in wanted:
        _, dimension, start, end = dimension_range(book, wanted["dimensionRange"])
        have = location.get("dimensionRange")
        if not have or have["dimension"] != dimension:
            return False
        if have["sheetId"] != wanted["dimensionRange"].get("sheetId", 0):
            return False
        if exact:
            return (have["startIndex"], have["endIndex"]) == (start, end)
        return have["startIndex"] < end and start < have["endIndex"]
    return True
