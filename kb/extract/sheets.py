"""A spreadsheet's sheet as a page of text: cells tab-separated, one row per line."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from kb.errors import ExtractionError

# Far more than a real workbook holds; what stops ODF's repeated rows and columns from
# turning a small file into gigabytes of text.
MAX_CELLS = 5_000_000
MAX_CHARS = 50_000_000


def cell_text(value: object) -> str:
    """A cell's value as a person reads it: whole numbers without ".0", dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return " ".join(str(value).split())


class SheetText:
    """Collects the rows of one workbook's sheets, counting cells and characters."""

    def __init__(self) -> None:
        self.cells = 0
        self.chars = 0

    def row(self, values: Iterable[str]) -> str:
        """One line: empty cells at the end of the row dropped."""
        cells = list(values)
        while cells and not cells[-1]:
            cells.pop()
        line = "\t".join(cells)
        self.count(len(cells), len(line))
        return line

    def count(self, cells: int, chars: int) -> None:
        """Add to the workbook's counts; past ``MAX_CELLS`` or ``MAX_CHARS`` it is refused."""
        self.cells += cells
        self.chars += chars
        if self.cells > MAX_CELLS or self.chars > MAX_CHARS:
            raise ExtractionError(
                f"The spreadsheet holds more than {MAX_CELLS:,} cells or {MAX_CHARS:,} "
                "characters, more than can be indexed; split it into smaller files and "
                "upload those.", code="too-large")

    def page(self, lines: Iterable[str]) -> str:
        """The sheet's non-empty lines."""
        return "\n".join(line for line in lines if line)
