"""PDF with pypdf, page by page."""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from kb.errors import ExtractionError
from kb.extract import Extracted

log = logging.getLogger(__name__)


def _metadata(reader: PdfReader) -> dict[str, str]:
    try:
        info = reader.metadata
    except Exception:  # broken info dictionaries are common and never fatal
        return {}
    if not info:
        return {}
    out = {}
    for key, name in (("/Title", "title"), ("/Author", "author"), ("/Subject", "subject")):
        try:
            value = info.get(key)
        except Exception:
            continue
        if value and str(value).strip():
            out[name] = str(value).strip()
    return out


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
            try:
                # NFKC turns typographic ligatures (ﬁ, ﬀ) back into letters people type.
                pages.append(unicodedata.normalize("NFKC", page.extract_text() or ""))
            except (FileNotDecryptedError, PdfReadError):
                raise
            except Exception as e:  # one unreadable page must not lose the others
                log.warning("page of %s unreadable: %s", path.name, e)
                pages.append("")
    except ExtractionError:
        raise
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
