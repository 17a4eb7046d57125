"""Text extraction: one module per format, chosen by the MIME type sniffed from the bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kb.errors import ExtractionError


@dataclass(frozen=True)
class Extracted:
    """The text of a file, page by page (pages numbered from 1 in order)."""

    pages: tuple[str, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    language: str | None = None
    # A notice for the user that is not a failure (e.g. no text layer).
    notice: str | None = None
    notice_code: str | None = None


class Extractor(Protocol):
    def __call__(self, path: Path) -> Extracted: ...


def sniff(head: bytes) -> str | None:
    """The MIME type of a file from its first bytes; None when we cannot read that type."""
    if head.lstrip(b"\x00\t\r\n ")[:5] == b"%PDF-" or b"%PDF-" in head[:1024]:
        return "application/pdf"
    from kb.extract import text

    if text.looks_like_text(head):
        return "text/plain"
    return None


def _registry() -> dict[str, Extractor]:
    from kb.extract import pdf, text

    return {"application/pdf": pdf.extract, "text/plain": text.extract}


SUPPORTED = ("application/pdf", "text/plain")


def extract(path: Path, mime: str) -> Extracted:
    """Read the text of a stored file; raises ``ExtractionError`` with a named code."""
    extractor = _registry().get(mime)
    if extractor is None:
        raise ExtractionError(f"Files of type {mime} cannot be read yet.", code="unsupported")
    return extractor(path)
