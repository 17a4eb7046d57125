"""Text extraction: one module per format, chosen by the MIME type sniffed from the bytes."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kb.errors import ExtractionError

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
EPUB = "application/epub+zip"
RTF = "application/rtf"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"


@dataclass(frozen=True)
class Kind:
    """A readable type: how to name it to a person, and the file name endings it goes by."""

    label: str
    extensions: tuple[str, ...]
    unit: str = "page"


KINDS: dict[str, Kind] = {
    PDF: Kind("a PDF", (".pdf",)),
    DOCX: Kind("a Word document (DOCX)", (".docx",)),
    ODT: Kind("an OpenDocument text (ODT)", (".odt",)),
    ODS: Kind("an OpenDocument spreadsheet (ODS)", (".ods",), "sheet"),
    ODP: Kind("an OpenDocument presentation (ODP)", (".odp",), "slide"),
    PPTX: Kind("a PowerPoint presentation (PPTX)", (".pptx",), "slide"),
    XLSX: Kind("an Excel workbook (XLSX)", (".xlsx",), "sheet"),
    HTML: Kind("an HTML page", (".html", ".htm", ".xhtml")),
    RTF: Kind("an RTF document", (".rtf",)),
    EPUB: Kind("an EPUB book", (".epub",)),
    MARKDOWN: Kind("Markdown text", (".md", ".markdown")),
    TEXT: Kind("plain text", (".txt", ".text", ".csv", ".tsv", ".log")),
}

SUPPORTED = tuple(KINDS)

# What the upload form and the 415 answer tell people they may send.
ACCEPTED_KINDS = ("PDF, Word (DOCX), OpenDocument (ODT, ODS, ODP), PowerPoint (PPTX), "
                  "Excel (XLSX), HTML, RTF, EPUB, Markdown or plain text")


@dataclass(frozen=True)
class Extracted:
    """The text of a file, page by page (pages numbered from 1 in order).

    ``unit`` says what a page is to the reader: "page", "slide" (PPTX, ODP) or "sheet"
    (XLSX, ODS). ``metadata`` holds what the file says about itself, under the keys
    title, author, created, modified (ISO 8601) and language (ISO 639-1), where present.
    """

    pages: tuple[str, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    language: str | None = None
    # A notice for the user that is not a failure (e.g. no text layer).
    notice: str | None = None
    notice_code: str | None = None
    unit: str = "page"

    def __post_init__(self) -> None:
        # A NUL character is never text, and PostgreSQL refuses it in a text column.
        if any("\x00" in page for page in self.pages):
            object.__setattr__(self, "pages",
                               tuple(page.replace("\x00", "") for page in self.pages))
        if any("\x00" in value for value in self.metadata.values()):
            object.__setattr__(self, "metadata", {k: v.replace("\x00", "")
                                                  for k, v in self.metadata.items()})


class Extractor(Protocol):
    def __call__(self, path: Path) -> Extracted: ...


@dataclass(frozen=True)
class Sniffed:
    """A file's type read from its bytes; ``mismatch`` is a sentence for the user when the
    name's extension says otherwise, ``detail`` says what an unreadable file seems to be."""

    mime: str | None
    mismatch: str | None = None
    detail: str | None = None


def sniff(path: Path, filename: str | None = None) -> Sniffed:
    """The type of a stored file from its content (a file name decides only Markdown)."""
    from kb.extract import detect

    return detect.sniff(path, filename)


def unit_for(mime: str) -> str:
    """What one page of a file of this type is called: page, slide or sheet."""
    kind = KINDS.get(mime)
    return kind.unit if kind else "page"


# MIME type -> the module whose ``extract`` reads it; imported on first use, so that a
# process reading text never loads lxml, python-docx and the rest.
_MODULES = {
    PDF: "pdf",
    DOCX: "word",
    ODT: "opendocument",
    ODS: "opendocument",
    ODP: "opendocument",
    PPTX: "powerpoint",
    XLSX: "excel",
    HTML: "webpage",
    RTF: "rtf",
    EPUB: "epub",
    MARKDOWN: "markdown",
    TEXT: "text",
}


def extractor_for(mime: str) -> Extractor | None:
    """The extract function for a MIME type, or None when no module reads it."""
    name = _MODULES.get(mime)
    if name is None:
        return None
    extractor: Extractor = importlib.import_module(f"kb.extract.{name}").extract
    return extractor


def extract(path: Path, mime: str) -> Extracted:
    """Read the text of a stored file; raises ``ExtractionError`` with a named code."""
    extractor = extractor_for(mime)
    if extractor is None:
        raise ExtractionError(f"Files of type {mime} cannot be read yet.", code="unsupported")
    return extractor(path)


def preview(path: Path, mime: str) -> Extracted:
    """What a file says about itself and the text to tell its language by, read as quickly
    as its format allows (a PDF's first pages only); raises ``ExtractionError``."""
    if mime == PDF:
        from kb.extract import pdf

        return pdf.preview(path)
    return extract(path, mime)


def leading_text(pages: Sequence[str], limit: int) -> str:
    """The text of the first pages, up to ``limit`` characters (no join of a whole book)."""
    taken: list[str] = []
    size = 0
    for page in pages:
        if size >= limit:
            break
        taken.append(page)
        size += len(page) + 1
    return "\n".join(taken)[:limit]
