"""Excel (XLSX) with openpyxl, read-only and with cached values: one page per sheet."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import openpyxl

from kb.errors import ExtractionError
from kb.extract import Extracted, meta, zipguard
from kb.extract.sheets import SheetText, cell_text


def sheet_text(sheet: Any, sheets: SheetText) -> str:
    """A worksheet's rows; a chart sheet (no cells) is an empty page."""
    if not hasattr(sheet, "iter_rows"):
        return ""
    # The declared dimension may be wrong (or huge): read the rows that are really there.
    sheet.reset_dimensions()
    return sheets.page(sheets.row(cell_text(v) for v in row)
                       for row in sheet.iter_rows(values_only=True))


def extract(path: Path) -> Extracted:
    """Each sheet's cells as one page (the second tab is page 2), with the core properties.

    Formulas give the value Excel last saved with them; a file never opened in a
    spreadsheet program after its formulas were written has none to give.
    """
    zipguard.check_document(path)
    sheets = SheetText()
    try:
        # openpyxl warns about every feature it does not keep (data validation, slicers,
        # ...): irrelevant to the text, so not worth a line in the worker's log each time.
        # A file object, not the path: openpyxl refuses a path without an Excel extension,
        # and stored files have none.
        with warnings.catch_warnings(), path.open("rb") as stream:
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
            try:
                pages = tuple(sheet_text(workbook[name], sheets) for name in workbook.sheetnames)
            finally:
                workbook.close()
    except ExtractionError:
        raise
    except Exception as e:  # openpyxl raises many unrelated types
        raise ExtractionError(
            f"The workbook could not be read ({type(e).__name__}); it may be damaged. "
            "Open it in Excel or LibreOffice, save a new copy and upload that.",
            code="corrupt",
        ) from e
    return Extracted(pages=pages or ("",), metadata=meta.ooxml_core(path),
                     unit="sheet")

