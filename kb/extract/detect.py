"""What a file is, from its bytes: magic numbers, and the parts inside ZIP-based formats."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

from defusedxml import ElementTree as SafeET

from kb.errors import ExtractionError
from kb.extract import (
    DOCX,
    EPUB,
    HTML,
    KINDS,
    MARKDOWN,
    ODP,
    ODS,
    ODT,
    PDF,
    PPTX,
    RTF,
    TEXT,
    XLSX,
    Sniffed,
    text,
    zipguard,
)

HEAD_BYTES = 8192
# Parts read to tell ZIP-based formats apart are tiny; a larger one is not what we look for.
_MAX_SNIFF_PART = 1024 * 1024

# The main part's content type in [Content_Types].xml -> our MIME type.
_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
# The `mimetype` entry of ODF and EPUB files names the type itself.
_MIMETYPE_ENTRY = {ODT, ODS, ODP, EPUB}

# Endings of types we do not read: readable content under one of them is worth a word.
_OTHER_EXTENSIONS = frozenset({".doc", ".xls", ".ppt", ".zip", ".jpg", ".jpeg", ".png",
                               ".gif", ".tif", ".tiff"})
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_START = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>/]", re.IGNORECASE)
_LEADING_NOISE = re.compile(r"(?:\s+|<\?xml[^>]*\?>|<!--.*?-->)*", re.DOTALL)


def _extension(filename: str | None) -> str:
    return PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()


def _known_extensions() -> dict[str, str]:
    return {ext: mime for mime, kind in KINDS.items() for ext in kind.extensions}


def _zip_type(path: Path) -> str | None:
    """The type of a ZIP-based document from its parts, or None when it is none we read."""
    zipguard.check_directory(path)
    with zipfile.ZipFile(path) as zf:
        entries = {info.filename: info for info in zf.infolist()}
        mimetype = entries.get("mimetype")
        if mimetype is not None and mimetype.file_size <= 200:
            declared = zf.read(mimetype).decode("ascii", "replace").strip()
            if declared in _MIMETYPE_ENTRY:
                return declared
        types = entries.get("[Content_Types].xml")
        if types is not None and types.file_size <= _MAX_SNIFF_PART:
            root = SafeET.fromstring(zf.read(types))
            for element in root:
                if element.tag.endswith("Override"):
                    mime = _OOXML_MAIN.get(element.get("ContentType", ""))
                    if mime is not None:
                        return mime
    return None


def _zip_type_or_name(path: Path, filename: str | None) -> str | None:
    try:
        return _zip_type(path)
    except (ExtractionError, zipfile.BadZipFile, OSError, ValueError, EOFError,
            NotImplementedError, SafeET.ParseError):
        # A ZIP too odd or too big to look into here (defusedxml's refusals are
        # ValueErrors): if its name says it is one of the ZIP-based types, take the name's
        # word for it, so that the file is kept and its extraction ends in a named failure
        # the user can read, rather than in a refusal that hides the reason.
        named = _known_extensions().get(_extension(filename))
        return named if named in (DOCX, XLSX, PPTX, ODT, ODS, ODP, EPUB) else None


def _looks_like_html(head: bytes) -> bool:
    encoding = text.bom_encoding(head) or "latin-1"
    start = head[:4096].decode(encoding, "ignore")
    noise = _LEADING_NOISE.match(start)
    return _HTML_START.match(start, noise.end() if noise else 0) is not None


def _mismatch(filename: str | None, mime: str) -> str | None:
    ext = _extension(filename)
    named = _known_extensions().get(ext)
    if (named is None and ext not in _OTHER_EXTENSIONS) or named == mime:
        return None
    if {named, mime} <= {TEXT, MARKDOWN}:
        return None
    return f"The name says {ext} but the content is {KINDS[mime].label}."


def _content_type(path: Path, head: bytes, filename: str | None) -> str | None:
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type_or_name(path, filename)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
        return RTF
    if head.startswith(_OLE):
        return None
    if not text.looks_like_text(head):
        return None
    if _looks_like_html(head):
        return HTML
    if _extension(filename) in KINDS[MARKDOWN].extensions:
        return MARKDOWN
    return TEXT


def sniff(path: Path, filename: str | None) -> Sniffed:
    """The type of a file from its bytes, with a sentence when its name says otherwise."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    mime = _content_type(path, head, filename)
    if mime is None:
        detail = None
        if head.startswith(_OLE):
            detail = ("It looks like an older Office file (.doc, .xls, .ppt) or a "
                      "password-protected one: save it as DOCX, XLSX or PPTX without a "
                      "password and upload that.")
        elif head.startswith(b"PK\x03\x04"):
            detail = "It is a ZIP archive, but not a document of a kind that can be read."
        return Sniffed(mime=None, detail=detail)
    return Sniffed(mime=mime, mismatch=_mismatch(filename, mime))
