"""PDF with pypdf, page by page."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from pathlib import Path

from pypdf import DocumentInformation, PageObject, PdfReader
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError
from pypdf.generic import ArrayObject
from pypdf.xmp import XmpInformation

from kb.errors import ExtractionError
from kb.extract import Extracted, meta

log = logging.getLogger(__name__)


def _quietly(read: Callable[[], object]) -> object:
    """One metadata field, or None where it is broken: metadata never costs the text."""
    try:
        return read()
    except Exception:  # pypdf's errors share no base class; broken fields are common
        return None


def _info(reader: PdfReader) -> dict[str, object]:
    """The document information dictionary's fields."""
    info = _quietly(lambda: reader.metadata)
    if not isinstance(info, DocumentInformation):
        return {}
    return {"title": _quietly(lambda: info.title), "author": _quietly(lambda: info.author),
            "subject": _quietly(lambda: info.subject),
            "created": _quietly(lambda: info.creation_date),
            "modified": _quietly(lambda: info.modification_date)}


def _first(values: object) -> object:
    """The first item of an XMP list (bag or sequence), or None."""
    return next(iter(values), None) if isinstance(values, list | tuple) else None


def _xmp(reader: PdfReader) -> dict[str, object]:
    """The XMP packet's Dublin Core and XMP fields, where the PDF has one."""
    xmp = _quietly(lambda: reader.xmp_metadata)
    if not isinstance(xmp, XmpInformation):
        return {}
    titles = _quietly(lambda: xmp.dc_title)
    creators = _quietly(lambda: xmp.dc_creator)
    return {
        "title": (titles.get("x-default") or _first(list(titles.values()))
                  if isinstance(titles, dict) else None),
        "author": "; ".join(map(str, creators)) if isinstance(creators, list) else None,
        "created": (_quietly(lambda: xmp.xmp_create_date)
                    or _first(_quietly(lambda: xmp.dc_date))),
        "modified": _quietly(lambda: xmp.xmp_modify_date),
        "language": _first(_quietly(lambda: xmp.dc_language)),
    }


def _metadata(reader: PdfReader) -> dict[str, str]:
    """Title, author, dates and language: the info dictionary first, XMP filling gaps."""
    found = {k: v for k, v in _xmp(reader).items() if v}
    found.update({k: v for k, v in _info(reader).items() if v})
    found.setdefault("language", _quietly(lambda: reader.root_object.get("/Lang")))
    out = meta.build(title=found.get("title"), author=found.get("author"),
                     created=found.get("created"), modified=found.get("modified"),
                     language=found.get("language"))
    subject = meta.clean(found.get("subject"))
    if subject:
        out["subject"] = subject
    return out


def _probe_contents(page: PageObject) -> None:
    """Decode the page's content streams first: pypdf's text extraction swallows its own
    decompression limit (a bomb would pass as an empty page)."""
    contents = page.get("/Contents")
    if contents is None:
        return
    contents = contents.get_object()
    streams = contents if isinstance(contents, ArrayObject) else [contents]
    for item in streams:
        stream = item.get_object()
        if hasattr(stream, "get_data"):
            stream.get_data()  # raises LimitReachedError past pypdf's limit


def extract(path: Path) -> Extracted:
    """Read each page's text; an encrypted file without an empty password is named so."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as e:
                raise ExtractionError(
                    "The PDF is password-protected; upload a copy without a password.",
                    code="encrypted",
                ) from e
            if not ok:
                raise ExtractionError(
                    "The PDF is password-protected; upload a copy without a password.",
                    code="encrypted",
                )
        pages = []
        for page in reader.pages:
            _probe_contents(page)
            try:
                # NFKC turns typographic ligatures (ﬁ, ﬀ) back into letters people type.
                pages.append(unicodedata.normalize("NFKC", page.extract_text() or ""))
            except (FileNotDecryptedError, PdfReadError, LimitReachedError):
                raise
            except Exception as e:  # one unreadable page must not lose the others
                log.warning("page of %s unreadable: %s", path.name, e)
                pages.append("")
    except ExtractionError:
        raise
    except LimitReachedError as e:
        # pypdf stops inflating a stream past its limit: a decompression bomb, or a page
        # too big to read; either way the text is not to be had.
        raise ExtractionError(
            "A part of the PDF inflates to more data than can be read (it may be a "
            "compression bomb or damaged). Save a new copy and upload that.", code="too-large"
        ) from e
    except FileNotDecryptedError as e:
        raise ExtractionError(
            "The PDF is password-protected; upload a copy without a password.", code="encrypted"
        ) from e
    except Exception as e:  # pypdf's errors share no base class
        raise ExtractionError(
            f"The PDF could not be read ({type(e).__name__}); it may be damaged. "
            "Open it in a PDF viewer, save a new copy and upload that.",
            code="corrupt",
        ) from e
    notice = code = None
    if pages and not any(p.strip() for p in pages):
        notice = ("The PDF has no text layer (it may be scanned): it is found by its metadata "
                  "only. Upload a version with text to make its content searchable.")
        code = "no-text-layer"
    return Extracted(pages=tuple(pages) or ("",), metadata=_metadata(reader),
                     notice=notice, notice_code=code)


def preview(path: Path, pages: int = 3) -> Extracted:
    """What the upload form is prefilled from, read quickly: the metadata, and the text of
    the first ``pages`` pages (for the language); never the whole of a long PDF."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("The PDF is password-protected; upload a copy without a "
                                  "password.", code="encrypted")
        texts = []
        for page in reader.pages[:pages]:
            _probe_contents(page)
            texts.append(unicodedata.normalize("NFKC", page.extract_text() or ""))
    except ExtractionError:
        raise
    except Exception as e:  # pypdf's errors share no base class
        raise ExtractionError(f"The PDF could not be read ({type(e).__name__}).",
                              code="corrupt") from e
    return Extracted(pages=tuple(texts) or ("",), metadata=_metadata(reader))
