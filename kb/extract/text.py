"""Plain text and Markdown: UTF-8 (with or without BOM), UTF-16/32 with BOM, else the
detected encoding."""

from __future__ import annotations

import codecs
from pathlib import Path

from charset_normalizer import from_bytes

from kb.errors import ExtractionError
from kb.extract import Extracted

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte order mark at the start names (the codec consumes the mark)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file read as text in some encoding."""
    if bom_encoding(head):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if e.start >= len(head) - 3:
            return True
    best = from_bytes(head).best()
    return best is not None


def decode(data: bytes) -> str:
    """Decode text bytes, trusting a BOM, then strict UTF-8, then detection."""
    encoding = bom_encoding(data)
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as e:
            raise ExtractionError(
                f"The text starts with a {encoding.upper()} byte order mark but is not valid "
                f"{encoding.upper()}; save it as UTF-8 and upload again.", code="corrupt",
            ) from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise ExtractionError(
            "The text's encoding could not be recognised; save it as UTF-8 and upload again.",
            code="corrupt",
        )
    return str(best)


def extract(path: Path) -> Extracted:
    """A text file is one page, or several where it holds form feeds."""
    text = decode(path.read_bytes()).replace("\r\n", "\n")
    pages = tuple(p.strip("\n") for p in text.split("\f")) or ("",)
    return Extracted(pages=pages)
