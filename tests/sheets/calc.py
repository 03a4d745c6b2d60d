"""A workbook as LibreOffice Calc saves it, made with openpyxl so the tests need no Calc.

What Calc 7.4 does to a workbook the sync wrote, seen in the files it saves (a push's workbook
opened and saved in Calc, and converted by ``soffice --headless --convert-to xlsx``):

- every TRUE or FALSE cell it loaded is saved as the formula ``=TRUE()`` or ``=FALSE()`` with
  its value, ``<c t="b"><f>FALSE()</f><v>0</v></c>`` (one typed in Calc is saved plain, and is
  a formula after the file's next open and save in Calc);
- the frozen header row can be lost;
- the grey shading rule's formula ``TRUE`` comes back as ``1``;
- each validation covers only the rows up to 1003, not every row of the sheet.

Sheet protection and each cell's lock survive its save.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

CALC_LAST_ROW = 1003
BOOLEAN = re.compile(r'<c ([^>]*)t="b"([^>]*)><v>([01])</v></c>')


def calc_save(path: Path) -> None:
    """Rewrite the workbook at ``path`` as Calc would save it."""
    book = openpyxl.load_workbook(path, rich_text=True)
    for sheet in book.worksheets:
        sheet.freeze_panes = None
        for entry in sheet.conditional_formatting:
            for rule in entry.rules:
                if rule.formula == ["TRUE"]:
                    rule.formula = ["1"]
        for validation in sheet.data_validations.dataValidation:
            validation.sqref = " ".join(
                f"{get_column_letter(r.min_col)}{r.min_row}:"
                f"{get_column_letter(r.max_col)}{min(r.max_row, CALC_LAST_ROW)}"
                for r in validation.sqref.ranges
            )
    book.save(path)
    # openpyxl saves no formula with its value: the boolean cells are rewritten in the XML.
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    for name, data in parts.items():
        if name.startswith("xl/worksheets/sheet"):
            parts[name] = BOOLEAN.sub(_as_formula, data.decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def _as_formula(match: re.Match[str]) -> str:
    before, after, value = match.groups()
    formula = "TRUE()" if value == "1" else "FALSE()"
    return f'<c {before}t="b"{after}><f>{formula}</f><v>{value}</v></c>'
