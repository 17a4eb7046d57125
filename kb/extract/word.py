"""Word (DOCX) with python-docx: the body's text, tables and text boxes, as one page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docx
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph

from kb.errors import ExtractionError
from kb.extract import Extracted, meta, zipguard

# Text boxes are written twice, once for new Word (mc:Choice) and once for old (mc:Fallback).
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _in_fallback(element: Any) -> bool:
    return any(a.tag == _FALLBACK for a in element.iterancestors())


def body_text(document: Any) -> str:
    """Every paragraph of the body in order: in tables, content controls and text boxes too."""
    body = document.element.body
    lines = []
    for p in body.iter(qn("w:p")):
        if _in_fallback(p):
            continue
        lines.append(Paragraph(p, document).text)
    return "\n".join(lines).strip("\n")


def extract(path: Path) -> Extracted:
    """A Word document's text as one page, with its core properties as metadata."""
    zipguard.check_document(path)
    try:
        document = docx.Document(str(path))
        text = body_text(document)
    except ExtractionError:
        raise
    except Exception as e:  # python-docx and lxml raise many unrelated types
        raise ExtractionError(
            f"The Word document could not be read ({type(e).__name__}); it may be damaged. "
            "Open it in Word or LibreOffice, save a new copy and upload that.",
            code="corrupt",
        ) from e
    return Extracted(pages=(text,), metadata=meta.ooxml_core(path))

