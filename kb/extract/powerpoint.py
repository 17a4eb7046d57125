"""PowerPoint (PPTX) with python-pptx: one page per slide, its speaker notes included."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pptx
from pptx.shapes.group import GroupShape

from kb.errors import ExtractionError
from kb.extract import Extracted, meta, zipguard


def _shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shape_texts(shape.shapes)
            continue
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                yield "\t".join(cell.text for cell in row.cells)


def slide_text(slide: Any) -> str:
    """The text of a slide's shapes in their order, then its notes."""
    parts = [t for t in _shape_texts(slide.shapes) if t.strip()]
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            parts.append(notes.text)
    return "\n".join(parts)


def extract(path: Path) -> Extracted:
    """Each slide's text as one page (slide 3 is page 3), with the core properties."""
    zipguard.check_document(path)
    try:
        presentation = pptx.Presentation(str(path))
        pages = tuple(slide_text(slide) for slide in presentation.slides)
    except ExtractionError:
        raise
    except Exception as e:  # python-pptx and lxml raise many unrelated types
        raise ExtractionError(
            f"The presentation could not be read ({type(e).__name__}); it may be damaged. "
            "Open it in PowerPoint or LibreOffice, save a new copy and upload that.",
            code="corrupt",
        ) from e
    return Extracted(pages=pages or ("",), metadata=meta.ooxml_core(path), unit="slide")

