"""CSV that spreadsheets open as data, never as formulas (OWASP's CSV injection advice).

Every CSV kb writes goes through ``writer``: a text cell that a spreadsheet would read as a
formula (it starts with =, +, -, @, a tab, a carriage return or a line feed, or their
full-width forms, which some East Asian editions of Excel also take for formulas) gets a
leading single quote, and every cell is quoted, so that a separator inside a cell (a `;`
where the spreadsheet splits on it) cannot start a new cell that is a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def cell(value: object) -> object:
    """The value as a CSV cell: text a spreadsheet would evaluate is prefixed with ``'``;
    numbers and other values are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """``csv.writer`` with every cell quoted and neutralised by ``cell``."""

    def __init__(self, fh: IO[str]) -> None:
        self._writer = csv.writer(fh, quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([cell(value) for value in row])


def writer(fh: IO[str]) -> Writer:
    """A CSV writer for anything kb exports."""
    return Writer(fh)
