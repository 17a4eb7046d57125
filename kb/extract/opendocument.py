"""OpenDocument text, spreadsheets and presentations (ODT, ODS, ODP).

content.xml is streamed with defusedxml's parser (entities refused) rather than loaded
with odfpy, whose ``load`` builds the whole document in memory and reads every embedded
picture too. Text documents are one page; each sheet of a spreadsheet and each slide of
a presentation is a page.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from defusedxml import ElementTree as SafeET

from kb.errors import ExtractionError
from kb.extract import ODP, ODS, ODT, Extracted, meta, zipguard
from kb.extract.sheets import SheetText

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"

P, H = f"{{{_TEXT}}}p", f"{{{_TEXT}}}h"
SPACE, TAB, BREAK = f"{{{_TEXT}}}s", f"{{{_TEXT}}}tab", f"{{{_TEXT}}}line-break"
TABLE, ROW = f"{{{_TABLE}}}table", f"{{{_TABLE}}}table-row"
CELLS = (f"{{{_TABLE}}}table-cell", f"{{{_TABLE}}}covered-table-cell")
SLIDE = f"{{{_DRAW}}}page"
ANNOTATION = f"{{{_OFFICE}}}annotation"
ROWS_REPEATED = f"{{{_TABLE}}}number-rows-repeated"
COLUMNS_REPEATED = f"{{{_TABLE}}}number-columns-repeated"
# The widest sheet LibreOffice makes: a repeat beyond it is padding or hostile.
MAX_COLUMNS = 16_384


def paragraph_text(element: Any) -> str:
    """A paragraph's text with ODF's spaces, tabs and line breaks written out."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == SPACE:
            parts.append(" " * min(int(child.get(f"{{{_TEXT}}}c", "1") or 1), 1000))
        elif child.tag == TAB:
            parts.append("\t")
        elif child.tag == BREAK:
            parts.append("\n")
        elif child.tag != ANNOTATION:
            parts.append(paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _repeat(element: Any, name: str, cap: int) -> int:
    try:
        return max(1, min(int(element.get(name, "1")), cap))
    except ValueError:
        return 1


def _clear(element: Any) -> None:
    """Free a finished element but keep its tail, which belongs to the parent's text."""
    tail = element.tail
    element.clear()
    element.tail = tail


class _Reader:
    """Turns the stream of content.xml's elements into pages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pages: list[str] = []
        self.lines: list[str] = []
        self.sheets = SheetText()
        self.row: list[str] = []
        self.cell: list[str] | None = None
        self.table_depth = 0

    def start(self, element: Any) -> None:
        if self.kind == ODS and element.tag == TABLE:
            self.table_depth += 1
        elif self.kind == ODS and element.tag in CELLS and self.table_depth == 1:
            self.cell = []

    def end(self, element: Any) -> None:
        tag = element.tag
        if tag in (P, H):
            found = paragraph_text(element)
            if self.cell is not None:
                self.cell.append(found)
            else:
                self.lines.append(found)
            _clear(element)
        elif self.kind == ODS and tag in CELLS and self.cell is not None:
            value = " ".join(" ".join(self.cell).split())
            self.row.extend([value] * _repeat(element, COLUMNS_REPEATED, MAX_COLUMNS))
            if len(self.row) > MAX_COLUMNS:
                del self.row[MAX_COLUMNS:]
            self.cell = None
            _clear(element)
        elif self.kind == ODS and tag == ROW and self.table_depth == 1:
            line = self.sheets.row(self.row)
            self.row = []
            if line:
                # Rows repeated: counted as written out, so that a few bytes of XML cannot
                # stand for gigabytes of text.
                times = _repeat(element, ROWS_REPEATED, 1_048_576)
                self.sheets.count((line.count("\t") + 1) * (times - 1), len(line) * (times - 1))
                self.lines.extend([line] * times)
            _clear(element)
        elif self.kind == ODS and tag == TABLE:
            self.table_depth -= 1
            if self.table_depth == 0:
                self.pages.append(self.sheets.page(self.lines))
                self.lines = []
                _clear(element)
        elif self.kind == ODP and tag == SLIDE:
            self.pages.append("\n".join(line for line in self.lines if line.strip()))
            self.lines = []
            _clear(element)

    def result(self) -> tuple[str, ...]:
        if self.kind == ODT:
            return ("\n".join(self.lines).strip("\n"),)
        return tuple(self.pages) or ("",)


def _events(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    return SafeET.iterparse(stream, events=("start", "end"))


def read_content(zf: zipfile.ZipFile, kind: str) -> tuple[str, ...]:
    """The pages of content.xml for a document of this kind."""
    reader = _Reader(kind)
    with zf.open("content.xml") as stream:
        for event, element in _events(stream):
            if event == "start":
                reader.start(element)
            else:
                reader.end(element)
    return reader.result()


def read_meta(zf: zipfile.ZipFile) -> dict[str, str]:
    """meta.xml: title, initial creator (else last editor), dates and language."""
    try:
        root = meta.xml_part(zf, "meta.xml")
    except (ValueError, SafeET.ParseError):
        return {}
    if root is None:
        return {}
    office_meta = root.find(f"{{{_OFFICE}}}meta")
    if office_meta is None:
        return {}
    dc = "{http://purl.org/dc/elements/1.1/}"
    return meta.build(
        title=office_meta.findtext(f"{dc}title"),
        author=(office_meta.findtext(f"{{{_META}}}initial-creator")
                or office_meta.findtext(f"{dc}creator")),
        created=office_meta.findtext(f"{{{_META}}}creation-date"),
        modified=office_meta.findtext(f"{dc}date"),
        language=office_meta.findtext(f"{dc}language"),
    )


def extract(path: Path) -> Extracted:
    """An ODT as one page, an ODS one page per sheet, an ODP one page per slide."""
    zipguard.check_document(path)
    try:
        with zipfile.ZipFile(path) as zf:
            kind = zf.read("mimetype").decode("ascii", "replace").strip()
            if kind not in (ODT, ODS, ODP):
                raise ExtractionError(
                    f"The OpenDocument file is of a kind that cannot be read ({kind[:80]}); "
                    "save it as ODT, ODS or ODP and upload that.", code="unsupported")
            pages = read_content(zf, kind)
            metadata = read_meta(zf)
    except ExtractionError:
        raise
    except KeyError as e:
        raise ExtractionError(
            f"The OpenDocument file lacks a required part ({e}); it may be damaged. Open it "
            "in LibreOffice, save a new copy and upload that.", code="corrupt") from e
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RecursionError,
            SafeET.ParseError) as e:
        raise ExtractionError(
            f"The OpenDocument file could not be read ({type(e).__name__}); it may be "
            "damaged. Open it in LibreOffice, save a new copy and upload that.",
            code="corrupt") from e
    unit = {ODS: "sheet", ODP: "slide"}.get(kind, "page")
    return Extracted(pages=pages, metadata=metadata, unit=unit)
